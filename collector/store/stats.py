"""Period aggregates for the assessment, computed by the engine (SQL), never by a Python loop over readings.

``period_stats`` gives, per (station, param) — or per (section, param) for manual results — the counts, the sum,
the extremes of the valid values (flags N and T, STANDARDS.md §5) and the time of the maximum (for the flood-season
intensity, §4). Each engine has its own query, because the plans that are fast differ
(collector/store/sqlite_assessment.py, postgres_assessment.py); this module holds what they share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from protocols.flags import VALID_FLAGS

_VALID_IN = ", ".join(f"'{f.value}'" for f in sorted(VALID_FLAGS))
# A value enters means only with a valid flag and a number (a NULL value is counted in n_all only).
VALID = f"r.flag IN ({_VALID_IN}) AND r.value IS NOT NULL"


@dataclass(frozen=True, slots=True)
class ItemStats:
    """One item of one station (or section) over a period."""

    n_all: int  # rows stored, any flag
    n_valid: int  # rows with flag N or T and a value
    sum_valid: float
    min_valid: float | None
    max_valid: float | None
    max_t: datetime | None  # the earliest time the maximum valid value occurred

    @property
    def mean(self) -> float | None:
        return self.sum_valid / self.n_valid if self.n_valid else None


@dataclass(frozen=True, slots=True)
class DailyMean:
    """The valid values of one local calendar day."""

    day: date
    n_all: int
    n_valid: int
    mean: float | None


def item_stats(n_all: Any, n_valid: Any, s: Any, mn: Any, mx: Any, max_t: datetime | None) -> ItemStats:
    """An ItemStats from one row of ``period_stats_sql`` (drivers give ints, floats or None)."""
    return ItemStats(
        int(n_all),
        int(n_valid or 0),
        float(s) if s is not None else 0.0,
        float(mn) if mn is not None else None,
        float(mx) if mx is not None else None,
        max_t,
    )


def fixed_offset_us(tz: str, start: datetime, end: datetime) -> int:
    """The UTC offset of ``tz`` in µs, when it is the same all through [start, end] (Asia/Shanghai always is).
    ValueError otherwise: a fixed shift would put some hours in the wrong local day."""
    zone = ZoneInfo(tz)
    offsets = set()
    t = start
    while t < end:
        offsets.add(t.astimezone(zone).utcoffset())
        t += timedelta(hours=12)
    offsets.add(end.astimezone(zone).utcoffset())
    if len(offsets) != 1:
        raise ValueError(f"time zone {tz} changes its UTC offset between {start} and {end}")
    offset = offsets.pop()
    assert offset is not None
    return offset // timedelta(microseconds=1)
