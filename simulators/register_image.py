"""Model readings → register images, by the same profiles the agent decodes with; and the device that serves them.

Encoding is the exact inverse of the agent's decoding: raw = (value − offset) / scale, written with the field's
type and word order; "no result" is the field's missing sentinel; the status register carries the value the
profile maps to the state's flag; alarm bits are set by flag; the result time is Unix seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from protocols.errors import RegisterError
from protocols.flags import Flag
from protocols.profiles import FieldMap, Profile, StatusMap
from protocols.registers import encode
from simulators.analysers.base import STATE_FLAGS, AnalyserModel, DeviceState, Reading
from simulators.clock import Clock
from simulators.modbus.device import RegisterBank, Table

# Status register values of the shipped profiles, by model kind (see the comments in the profile TOML files).
STATUS_CODES: dict[str, dict[DeviceState, int]] = {
    "probe": {
        DeviceState.NORMAL: 0,
        DeviceState.CALIBRATION: 1,
        DeviceState.MAINTENANCE: 2,
        DeviceState.FAULT: 3,
        DeviceState.STOPPED: 4,
        DeviceState.NO_WATER: 4,
    },
    "nutrient": {
        DeviceState.NORMAL: 0,
        DeviceState.CALIBRATION: 2,
        DeviceState.MAINTENANCE: 3,
        DeviceState.FAULT: 4,
        DeviceState.STOPPED: 5,
        DeviceState.NO_WATER: 6,
    },
}
STATUS_CODES["cod"] = STATUS_CODES["nutrient"]
MEASURING = 1  # nutrient/COD status while a cycle runs (a normal state)


def status_value(profile: Profile, status: StatusMap, state: DeviceState, measuring: bool = False) -> int:
    """The status register value for ``state``: the profile family's code when the profile agrees with it,
    else the lowest value the profile maps to the state's flag (0 for normal)."""
    flag = STATE_FLAGS[state]
    codes = STATUS_CODES.get(profile.kind, {})
    if state == DeviceState.NORMAL:
        if measuring and MEASURING not in status.values and profile.kind in ("nutrient", "cod"):
            return MEASURING
        return 0 if 0 not in status.values else min(v for v in range(0x10000) if v not in status.values)
    code = codes.get(state)
    if code is not None and status.values.get(code) == flag:
        return code
    matching = sorted(v for v, f in status.values.items() if f == flag)
    if not matching:
        raise RegisterError(
            f"profile {profile.name!r} has no status value for {state} (flag {flag})", reason="status"
        )
    return matching[0]


def alarm_word(alarm: StatusMap, flags: frozenset[Flag]) -> int:
    word = 0
    for flag in flags:
        bits = sorted(bit for bit, f in alarm.bits.items() if f == flag)
        if bits:
            word |= 1 << bits[0]
    return word


def encode_field(field: FieldMap, value: float | None) -> list[int]:
    """The registers of one field. ``None`` (or NaN) is written as the missing sentinel."""
    if value is None or math.isnan(value):
        if field.missing is not None:
            return encode(field.missing, field.type, field.order)
        if field.type.startswith("float"):
            return encode(math.nan, field.type, field.order)
        raise RegisterError(
            f"field {field.param or field.signal} has no value and no missing sentinel", reason="missing"
        )
    raw = (value - field.offset) / field.scale
    return encode(raw, field.type, field.order)


def register_image(profile: Profile, reading: Reading) -> dict[int, int]:
    """Address → 16-bit word for every register the profile defines."""
    image: dict[int, int] = {}

    def put(address: int, words: list[int]) -> None:
        for i, word in enumerate(words):
            image[address + i] = word

    for field in profile.fields:
        key = field.param or field.signal or ""
        if key not in reading.values:
            raise RegisterError(
                f"the model gives no value for {key!r} of profile {profile.name!r}", reason="model"
            )
        put(field.address, encode_field(field, reading.values[key]))
    if profile.result_time is not None:
        seconds = 0 if reading.result_time is None else int(reading.result_time.timestamp())
        put(profile.result_time.address, encode(seconds, profile.result_time.type, profile.result_time.order))
    if profile.status is not None:
        put(profile.status.address, [status_value(profile, profile.status, reading.state, reading.measuring)])
    if profile.alarm is not None:
        put(profile.alarm.address, [alarm_word(profile.alarm, reading.alarms)])
    return image


def profile_span(profile: Profile) -> range:
    """The contiguous register range a device answers: from its first to its last register."""
    spans = [(f.address, f.address + f.width) for f in profile.fields]
    for reg_map in (profile.status, profile.alarm):
        if reg_map is not None:
            spans.append((reg_map.address, reg_map.address + 1))
    if profile.result_time is not None:
        spans.append((profile.result_time.address, profile.result_time.address + profile.result_time.width))
    return range(min(a for a, _ in spans), max(b for _, b in spans))


class SimulatedDevice(RegisterBank):
    """A RegisterDevice whose registers are refreshed from its model whenever a master reads.

    Registers between the profile's first and last address read as 0 where undefined (block reads work);
    anything outside, or in the other table, is refused with ILLEGAL DATA ADDRESS. Masters cannot write.
    """

    def __init__(
        self,
        unit_id: int,
        name: str,
        profile: Profile,
        model: AnalyserModel,
        clock: Clock,
        *,
        on_refresh: Callable[[datetime], None] | None = None,
    ) -> None:
        span = profile_span(profile)
        super().__init__(
            unit_id,
            holding=[span] if profile.table == "holding" else [],
            input=[span] if profile.table == "input" else [],
            writable=[],
        )
        self.name = name
        self.profile = profile
        self.model = model
        self.clock = clock
        self.on_refresh = on_refresh
        self.powered = True
        self.fault_spec = "none"  # the scenario's plan; a dark station overrides it with no_answer
        self.reads = 0

    def refresh(self, now: datetime | None = None) -> Reading:
        now = self.clock.now() if now is None else now
        if self.on_refresh is not None:
            self.on_refresh(now)
        reading = self.model.read(now)
        image = register_image(self.profile, reading)
        for address, word in image.items():
            self.set_registers(self.profile.table, address, [word])
        return reading

    def read(self, table: Table, address: int, count: int) -> list[int]:
        self.reads += 1
        self.refresh()
        return super().read(table, address, count)

    def set_fault(self, spec: str) -> None:
        """Apply a FaultPlan spec (``late:2.5``, ``no_answer`` …); ConfigError if malformed."""
        self.faults.set(spec)  # validates before anything changes
        self.fault_spec = spec
        self._apply_power()

    def set_powered(self, powered: bool) -> None:
        if powered != self.powered:
            self.powered = powered
            self._apply_power()

    def _apply_power(self) -> None:
        self.faults.set(self.fault_spec if self.powered else "no_answer")
