"""Retry and back-off for notification delivery, pure (the caller sleeps and draws the randomness).

The delay formula is the shared one (``protocols.backoff``); this module adds the attempt limit and
classifies the robots' answers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from protocols.backoff import exponential, proportional_jitter


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float = 2.0
    factor: float = 2.0
    cap_s: float = 300.0
    max_attempts: int = 6  # the first try included
    jitter: float = 0.2  # ± this fraction of the delay, scaled by the caller's draw

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.cap_s < 0:
            raise ValueError("back-off delays must not be negative")
        if self.factor < 1:
            raise ValueError("back-off factor must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay(self, attempt: int, draw: float = 0.5) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); None: give up.

        ``draw`` in [0, 1] is the caller's random number; 0.5 gives the nominal delay.
        """
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        if not 0 <= draw <= 1:
            raise ValueError("draw must be in [0, 1]")
        if attempt >= self.max_attempts:
            return None
        nominal = exponential(attempt - 1, self.base_s, self.cap_s, self.factor)
        return proportional_jitter(nominal, self.jitter, draw)

    def schedule(self) -> list[float]:
        """The nominal delays between all attempts (no jitter)."""
        out = []
        attempt = 1
        while (d := self.delay(attempt)) is not None:
            out.append(d)
            attempt += 1
        return out


class Outcome(StrEnum):
    OK = "ok"
    RETRY = "retry"  # worth another attempt later
    FAIL = "fail"  # retrying will not help (bad URL, bad token, bad payload)


# Robot rate limits: WeCom 45009 (api freq out of limit), DingTalk 130101 (send too fast).
_RATE_LIMITED = {45009, 130101}


def classify_response(status: int | None, body: Any = None) -> Outcome:
    """Judge one delivery attempt. ``status`` None means no HTTP answer (timeout, connection refused).

    The robots answer HTTP 200 with ``{"errcode": 0}`` on success and a non-zero errcode otherwise.
    """
    if status is None or status == 429 or status >= 500:
        return Outcome.RETRY
    if not 200 <= status < 300:
        return Outcome.FAIL
    if isinstance(body, dict) and "errcode" in body:
        code = body.get("errcode")
        if code == 0:
            return Outcome.OK
        return Outcome.RETRY if code in _RATE_LIMITED else Outcome.FAIL
    return Outcome.OK
