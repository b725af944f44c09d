"""HJ 212 period data (2051 minute, 2061 hourly, 2031 daily) from readings. Pure: no I/O, no clock.

A period's row per item: Avg, Min and Max of the period's valid readings (flags N and T, STANDARDS.md §5:
only those enter averages) and the flag N when there is at least one; without a valid reading the row has
no values and the flag of the period's most telling doubt (``protocols.flags.worst``: B over D over F …).
Periods are the station's local ones (Asia/Shanghai): an hour starts on the hour, a day at local midnight,
a minute period every ``minutes`` from the hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from protocols.flags import Flag, is_valid, worst
from protocols.hj212 import CN_DAILY, CN_HOURLY, CN_MINUTE, DEFAULT_ZONE
from protocols.zones import zone as zone_named

PeriodCn = Literal["2051", "2061", "2031"]
AVG_DECIMALS = 4  # an average is written rounded to this many decimals (Min/Max are readings, as read)


@dataclass(frozen=True, slots=True)
class PeriodRow:
    code: str
    avg: float | None
    min: float | None
    max: float | None
    flag: Flag
    count: int  # valid readings averaged


def period_start(cn: str, at: datetime, *, minutes: int = 10, zone: str = DEFAULT_ZONE) -> datetime:
    """The start of the period of ``cn`` that holds ``at`` (aware), in ``zone``."""
    local = at.astimezone(zone_named(zone))
    if cn == CN_HOURLY:
        return local.replace(minute=0, second=0, microsecond=0)
    if cn == CN_DAILY:
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    if cn == CN_MINUTE:
        return local.replace(minute=local.minute - local.minute % minutes, second=0, microsecond=0)
    raise ValueError(f"CN {cn} is not a period (2051, 2061, 2031)")


def period_end(cn: str, start: datetime, *, minutes: int = 10, zone: str = DEFAULT_ZONE) -> datetime:
    """The start of the next period (a local day is 24 h: Asia/Shanghai has no DST)."""
    if cn == CN_HOURLY:
        return start + timedelta(hours=1)
    if cn == CN_DAILY:
        local = start.astimezone(zone_named(zone))
        return (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if cn == CN_MINUTE:
        return start + timedelta(minutes=minutes)
    raise ValueError(f"CN {cn} is not a period (2051, 2061, 2031)")


def aggregate(readings: Iterable[tuple[str, float | None, Flag | str]]) -> list[PeriodRow]:
    """One row per item code, in the order the codes first appear."""
    values: dict[str, list[float]] = {}
    doubts: dict[str, list[Flag]] = {}
    for code, value, flag in readings:
        values.setdefault(code, [])
        doubts.setdefault(code, [])
        if value is not None and is_valid(flag):
            values[code].append(value)
        else:
            doubts[code].append(Flag(flag))
    rows = []
    for code, valid in values.items():
        if valid:
            avg = round(sum(valid) / len(valid), AVG_DECIMALS)
            rows.append(PeriodRow(code, avg, min(valid), max(valid), Flag.NORMAL, len(valid)))
        else:
            rows.append(PeriodRow(code, None, None, None, worst(*doubts[code]), 0))
    return rows
