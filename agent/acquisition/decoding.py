"""From a device's registers to values and flags, by its profile. Pure.

For each field: decode the registers, compare the RAW decoded value with the profile's ``missing`` sentinel,
then value = raw × scale + offset (never clamped). The device's flag is the worst of its status register's
whole-value flag and its alarm register's set-bit flags; each value's flag is the worst of the device flag,
T above the measurement range (the field's, else the catalogue's) and D for an impossible value (pH outside
0-14). A value the device marks missing is "no value": it becomes a reading only when the device flag says
why (value None, flag D/C/M/F); with a normal device flag it is skipped, since the analyser simply has no
result yet. A value that decodes to NaN/Inf, or that scaling takes beyond the float range (a finite raw
float64 times a scale can overflow to inf), is a decode error: value None, flag D, and an entry in
``errors``; a signal that is not finite is left out. Nothing here raises for a register's contents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent.flagging import range_flag, value_flag
from protocols import catalogue
from protocols.errors import RegisterError
from protocols.flags import Flag, worst
from protocols.planning import RegisterImage
from protocols.profiles import FieldMap, Profile, StatusMap
from protocols.registers import decode


@dataclass(frozen=True)
class ParamValue:
    param: str
    raw: float | None  # None: missing (sentinel) or undecodable
    value: float | None
    flag: Flag
    missing: bool = False
    error: str | None = None


@dataclass
class Sample:
    device_flag: Flag = Flag.NORMAL
    status: int | None = None
    alarm: int | None = None
    values: list[ParamValue] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)
    has_result_time: bool = False
    result_time: datetime | None = None  # None with has_result_time: the analyser has no result yet
    errors: list[str] = field(default_factory=list)


def status_flag(reg_map: StatusMap, word: int) -> Flag:
    flags = [reg_map.values[word]] if word in reg_map.values else []
    flags += [flag for bit, flag in reg_map.bits.items() if word >> bit & 1]
    return worst(*flags)


def _raw(fmap: FieldMap, image: RegisterImage) -> int | float:
    return decode(image.get(fmap.address, fmap.width), fmap.type, fmap.order)


def _is_missing(fmap: FieldMap, raw: float) -> bool:
    return fmap.missing is not None and raw == fmap.missing


def measurement_range(fmap: FieldMap) -> tuple[float, float] | None:
    if fmap.range is not None:
        return fmap.range
    if fmap.param is not None:
        entry = catalogue.get(fmap.param)
        return (entry.range_min, entry.range_max)
    return None


def flag_value(param: str, value: float, device_flag: Flag, rng: tuple[float, float] | None) -> Flag:
    return worst(device_flag, range_flag(value, rng), value_flag(param, value))


def decode_sample(profile: Profile, image: RegisterImage) -> Sample:
    """Decode everything the profile names. RegisterError only if a register was not read at all."""
    sample = Sample()
    flags: list[Flag] = []
    for name, reg_map in (("status", profile.status), ("alarm", profile.alarm)):
        if reg_map is not None:
            word = image.get(reg_map.address, 1)[0]
            setattr(sample, name, word)
            flags.append(status_flag(reg_map, word))
    sample.device_flag = worst(*flags)

    for fmap in profile.fields:
        raw = _raw(fmap, image)
        if fmap.signal is not None:
            if _is_missing(fmap, raw) or not math.isfinite(raw):
                continue
            signal = raw * fmap.scale + fmap.offset
            if math.isfinite(signal):
                sample.signals[fmap.signal] = signal
            else:
                sample.errors.append(f"{fmap.signal}: {raw!r} is not finite after scaling")
            continue
        assert fmap.param is not None
        if not math.isfinite(raw):
            sample.errors.append(f"{fmap.param}: register value is not a finite number")
            sample.values.append(ParamValue(fmap.param, None, None, Flag.FAULT, error="not finite"))
            continue
        if _is_missing(fmap, raw):
            sample.values.append(ParamValue(fmap.param, None, None, sample.device_flag, missing=True))
            continue
        value = raw * fmap.scale + fmap.offset
        if not math.isfinite(value):
            sample.errors.append(f"{fmap.param}: {raw!r} is not finite after scaling")
            sample.values.append(
                ParamValue(fmap.param, float(raw), None, Flag.FAULT, error="not finite after scaling")
            )
            continue
        flag = flag_value(fmap.param, value, sample.device_flag, measurement_range(fmap))
        sample.values.append(ParamValue(fmap.param, float(raw), value, flag))

    if profile.result_time is not None:
        sample.has_result_time = True
        rt = profile.result_time
        raw = _raw(rt, image)
        if not _is_missing(rt, raw) and math.isfinite(raw) and raw > 0:
            try:
                sample.result_time = datetime.fromtimestamp(raw * rt.scale + rt.offset, UTC)
            except (OverflowError, OSError, ValueError):
                sample.errors.append(f"result time {raw!r} is not a valid time")
    return sample


__all__ = ["ParamValue", "RegisterError", "Sample", "decode_sample", "flag_value", "measurement_range"]
