"""Data capture and valid-data rates (STANDARDS.md §7), with ice / no-water periods reported apart.

Each expected time owns the slot up to the next expected time; a reading counts for the slot its sample
time falls in, and a slot counts once however many readings land in it (duplicates and replays).
A reading up to ``early_s`` before an expected time counts for that slot (a station clock a little fast,
an analyser that stamps a result just before its slot); by default 10 % of the interval, at most 5 minutes.
Slots whose expected time lies in an excluded window (结冰/断流, from the station controller) are neither
expected nor missing: they are counted in ``excluded``.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from collector.health.schedule import Schedule, _aware
from protocols.flags import VALID_FLAGS, Flag

K = TypeVar("K", bound=Hashable)

EXCLUDED_LABEL_ZH = "结冰/断流"
EXCLUDED_LABEL_EN = "ice / no water"


@dataclass(frozen=True, slots=True)
class CaptureFigures:
    expected: int  # slots expected by the schedule, excluded ones removed
    received: int  # of those, slots with at least one value (any flag)
    valid: int  # of those, slots with at least one valid (N/T) value
    excluded: int  # slots inside ice / no-water windows

    @property
    def missing(self) -> int:
        return self.expected - self.received

    @property
    def capture_rate(self) -> float | None:
        return self.received / self.expected if self.expected else None

    @property
    def valid_rate(self) -> float | None:
        return self.valid / self.expected if self.expected else None

    def meets(self, threshold: float = 0.9) -> bool | None:
        """Both rates at or above ``threshold`` (90 % by default, config); None when nothing was expected."""
        if not self.expected:
            return None
        assert self.capture_rate is not None and self.valid_rate is not None
        return self.capture_rate >= threshold and self.valid_rate >= threshold

    def __add__(self, other: CaptureFigures) -> CaptureFigures:
        return CaptureFigures(
            self.expected + other.expected,
            self.received + other.received,
            self.valid + other.valid,
            self.excluded + other.excluded,
        )


ZERO = CaptureFigures(0, 0, 0, 0)


def combine(figures: Iterable[CaptureFigures]) -> CaptureFigures:
    """Roll parameters up to a device or a station: counts add, rates follow from the sums."""
    total = ZERO
    for f in figures:
        total = total + f
    return total


def default_early_s(schedule: Schedule) -> float:
    return min(300.0, 0.1 * schedule.nominal_interval_s)


def capture_streams(
    schedules: Mapping[K, Schedule],
    start: datetime,
    end: datetime,
    readings: Mapping[K, Sequence[tuple[datetime, Flag | str]]],
    excluded: Iterable[tuple[datetime, datetime]] = (),
) -> dict[K, CaptureFigures]:
    """Figures per stream key (e.g. (station, param)); a scheduled stream without readings scores zero.
    Roll up to a device or station with ``combine``."""
    windows = _windows(excluded)
    return {key: capture_rates(s, start, end, readings.get(key, ()), windows) for key, s in schedules.items()}


def _windows(excluded: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out = []
    for a, b in excluded:
        a, b = _aware(a, "window start"), _aware(b, "window end")
        if b < a:
            raise ValueError(f"excluded window ends before it starts: {a.isoformat()} > {b.isoformat()}")
        out.append((a, b))
    return out


def capture_rates(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    readings: Iterable[tuple[datetime, Flag | str]],
    excluded: Iterable[tuple[datetime, datetime]] = (),
    early_s: float | None = None,
) -> CaptureFigures:
    """Figures for one stream (one station × parameter) over [start, end); ``excluded`` windows are [a, b)."""
    start, end = _aware(start, "start"), _aware(end, "end")
    if end < start:
        raise ValueError("end must not be before start")
    early = default_early_s(schedule) if early_s is None else early_s
    if early < 0:
        raise ValueError("early_s must not be negative")
    shift = timedelta(seconds=early)
    # The slot after the range: readings stamped for it (early ones included) are not ours.
    after = schedule.expected_times(end, end + timedelta(seconds=2 * schedule.nominal_interval_s + 1))
    boundary = after[0] if after else end
    times = schedule.expected_times(start, end)
    windows = _windows(excluded)
    received: set[int] = set()
    valid: set[int] = set()
    for t, flag in readings:
        t = _aware(t, "reading time")
        try:
            is_valid = Flag(flag) in VALID_FLAGS
        except ValueError:
            raise ValueError(f"unknown HJ 212 flag {flag!r}") from None
        if t + shift >= boundary:
            continue  # belongs to the first slot of the next range
        index = bisect.bisect_right(times, t + shift) - 1
        if index < 0:
            continue  # belongs to the last slot of the previous range
        received.add(index)
        if is_valid:
            valid.add(index)
    skipped = {i for i, t in enumerate(times) if any(a <= t < b for a, b in windows)}
    return CaptureFigures(
        expected=len(times) - len(skipped),
        received=len(received - skipped),
        valid=len(valid - skipped),
        excluded=len(skipped),
    )


def capture_by_day(
    schedule: Schedule,
    start: date,
    end: date,
    readings: Sequence[tuple[datetime, Flag | str]],
    excluded: Iterable[tuple[datetime, datetime]] = (),
    tz: str = "Asia/Shanghai",
    early_s: float | None = None,
) -> dict[date, CaptureFigures]:
    """Figures per local day for days ``start`` .. ``end`` inclusive."""
    if end < start:
        raise ValueError("end day must not be before start day")
    zone = ZoneInfo(tz)
    windows = _windows(excluded)
    out: dict[date, CaptureFigures] = {}
    day = start
    while day <= end:
        a = datetime(day.year, day.month, day.day, tzinfo=zone)
        nxt = day + timedelta(days=1)
        b = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
        out[day] = capture_rates(schedule, a, b, readings, windows, early_s)
        day = nxt
    return out
