"""Declarative analyser register-map profiles, shipped as TOML in this package and validated here.

A profile says where each parameter lives in a device's registers, how to decode it (type, byte/word order,
scale, offset, missing-value sentinel), its measurement range, and which status/alarm register values map to
which HJ 212 flag. The agent decodes with it; the simulators encode with it, so both ends read one truth.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from protocols import catalogue, tomldoc
from protocols.flags import Flag
from protocols.registers import WIDTH, DataType, WordOrder
from protocols.tomldoc import load_builtin_or_file, parse_toml_model

RegisterTable = Literal["holding", "input"]


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """msgspec Structs: the agent and the simulators load profiles without pydantic (issue 17)."""


Address = Annotated[int, msgspec.Meta(ge=0, le=0xFFFF)]


class FieldMap(_Strict, kw_only=True, frozen=True):
    """One value: a catalogue parameter (``param``) or a named station signal (``signal``)."""

    param: str | None = None
    signal: str | None = None
    address: Address
    type: DataType = "float32"
    order: WordOrder = "ABCD"
    scale: float = 1.0
    offset: float = 0.0
    missing: float | None = None  # raw value the device sends when it has nothing (e.g. -9999 or 0xFFFF)
    range: tuple[float, float] | None = None  # measurement range; beyond it the value is flagged T

    def __post_init__(self) -> None:
        if (self.param is None) == (self.signal is None):
            raise ValueError("a field names exactly one of 'param' or 'signal'")
        if self.param is not None and not catalogue.is_known(self.param):
            raise ValueError(f"unknown parameter code {self.param!r}")
        if self.range is not None and self.range[0] >= self.range[1]:
            raise ValueError(f"range {self.range} must be (low, high) with low < high")

    @property
    def width(self) -> int:
        return WIDTH[self.type]


class StatusMap(_Strict, kw_only=True, frozen=True):
    """A status/alarm register. ``values`` maps a whole register value, ``bits`` a set bit, to a flag."""

    address: Address
    values: dict[int, Flag] = msgspec.field(default_factory=dict)
    bits: dict[int, Flag] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        for bit in self.bits:
            if not 0 <= bit <= 15:
                raise ValueError(f"status bit {bit} is outside 0-15")


class Profile(_Strict, kw_only=True, frozen=True):
    name: str
    vendor: str = "generic"
    kind: Literal["probe", "nutrient", "cod", "controller", "other"]
    description: str = ""
    table: RegisterTable = "holding"
    max_registers_per_request: Annotated[int, msgspec.Meta(ge=1, le=125)] = 125
    fields: Annotated[list[FieldMap], msgspec.Meta(min_length=1)]
    status: StatusMap | None = None  # operating state register (whole values → flag)
    alarm: StatusMap | None = None  # alarm bits register (set bits → flag)
    # Nutrient/COD analysers hold their last result; a new result time means a new sample.
    result_time: FieldMap | None = None
    default_interval_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0

    def __post_init__(self) -> None:
        taken: dict[int, str] = {}
        spans = [(f.address, f.width, f.param or f.signal or "?") for f in self.fields]
        for label, reg_map in (("status", self.status), ("alarm", self.alarm)):
            if reg_map is not None:
                spans.append((reg_map.address, 1, label))
        if self.result_time is not None:
            spans.append((self.result_time.address, self.result_time.width, "result_time"))
        for address, width, name in spans:
            for reg in range(address, address + width):
                if reg in taken:
                    raise ValueError(f"register {reg} is used by both {taken[reg]!r} and {name!r}")
                taken[reg] = name


def parse_profile(text: str, *, source: str = "<profile>") -> Profile:
    """Validate a profile document; ConfigError names the file and the field that is wrong."""
    return parse_toml_model(Profile, text, source=source, what="profile")


def builtin_names() -> list[str]:
    return tomldoc.builtin_names(__package__)


def load_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or a profile file by path."""
    text, source = load_builtin_or_file(__package__, name_or_path, what="analyser profile")
    return parse_profile(text, source=source)
