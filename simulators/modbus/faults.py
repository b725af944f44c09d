"""Fault injection plan for one simulated Modbus device, changeable while the server runs.

Spec strings (``FaultPlan.parse`` / ``FaultPlan.set``)::

    none | no_answer | crc_error | garbage | late:SECONDS | exception[:CODE]

each optionally followed by ``@PROBABILITY`` (0..1, default 1), e.g. ``late:2.5``, ``exception:4``,
``no_answer@0.3``. Whether a fault fires on a request is drawn from the plan's own seeded RNG, so a test
run is reproducible.

What each mode does to a request for the device:

- ``no_answer``: nothing is sent (the master times out).
- ``late``: the correct answer, sent ``delay_s`` later.
- ``exception``: an exception response with ``exception_code`` (default 4, server device failure).
- ``crc_error``: RTU: the correct answer with a corrupted CRC. TCP has no CRC: sent as ``garbage``.
- ``garbage``: random bytes as long as the correct answer (never a valid frame).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal, cast, get_args

from protocols.errors import ConfigError

FaultMode = Literal["none", "no_answer", "late", "exception", "crc_error", "garbage"]
FAULT_MODES: tuple[str, ...] = get_args(FaultMode)


@dataclass
class FaultPlan:
    mode: FaultMode = "none"
    delay_s: float = 1.0
    exception_code: int = 4
    probability: float = 1.0
    seed: int | None = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate()
        self._rng = random.Random(self.seed)

    def _validate(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ConfigError(f"fault mode {self.mode!r} not one of {', '.join(FAULT_MODES)}", reason="fault")
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(f"fault probability {self.probability} not in 0..1", reason="fault")
        if self.delay_s < 0:
            raise ConfigError(f"fault delay {self.delay_s} s is negative", reason="fault")
        if not 1 <= self.exception_code <= 255:
            raise ConfigError(f"exception code {self.exception_code} not in 1..255", reason="fault")

    @classmethod
    def parse(cls, spec: str, *, seed: int | None = 0) -> FaultPlan:
        plan = cls(seed=seed)
        plan.set(spec)
        return plan

    def set(self, spec: str) -> None:
        """Change the plan in place from a spec string (see module doc). Raises ConfigError if malformed;
        the plan is unchanged then."""
        text = spec.strip().lower()
        probability = 1.0
        if "@" in text:
            text, _, p_text = text.partition("@")
            probability = _number(p_text, spec, "probability")
        name, _, arg = text.partition(":")
        name = name.strip()
        arg = arg.strip()
        delay_s, code = self.delay_s, self.exception_code
        if name not in FAULT_MODES:
            raise ConfigError(
                f"fault spec {spec!r}: mode {name!r} not one of {', '.join(FAULT_MODES)}", reason="fault"
            )
        if name == "late":
            if not arg:
                raise ConfigError(f"fault spec {spec!r}: 'late' needs seconds, e.g. late:2.5", reason="fault")
            delay_s = _number(arg, spec, "delay")
        elif name == "exception":
            if arg and not arg.isdigit():
                raise ConfigError(f"fault spec {spec!r}: exception code must be an integer", reason="fault")
            code = int(arg) if arg else 4
        elif arg:
            raise ConfigError(f"fault spec {spec!r}: {name!r} takes no argument", reason="fault")
        candidate = FaultPlan(cast(FaultMode, name), delay_s, code, probability, seed=None)  # validates
        self.mode, self.delay_s = candidate.mode, candidate.delay_s
        self.exception_code, self.probability = candidate.exception_code, candidate.probability

    def clear(self) -> None:
        self.mode = "none"

    def draw(self) -> FaultMode:
        """The fault to apply to this request: the plan's mode if it fires, else "none"."""
        if self.mode == "none":
            return "none"
        if self.probability >= 1.0 or self._rng.random() < self.probability:
            return self.mode
        return "none"

    def garbage(self, length: int, *, avoid: bytes = b"") -> bytes:
        """``length`` random bytes (at least 1), guaranteed to differ from ``avoid``."""
        length = max(1, length)
        while True:
            data = self._rng.randbytes(length)
            if data != avoid[:length]:
                return data

    def __str__(self) -> str:
        text: str = self.mode
        if self.mode == "late":
            text += f":{self.delay_s:g}"
        elif self.mode == "exception":
            text += f":{self.exception_code}"
        if self.probability < 1.0:
            text += f"@{self.probability:g}"
        return text


def _number(text: str, spec: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"fault spec {spec!r}: {what} {text!r} is not a number", reason="fault") from None
