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
from collector.timestamps import ONE_US, to_us
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


# A reading as the slot counting needs it: (sample time in µs since the epoch, valid flag N/T).
Mark = tuple[int, bool]


def marks_of(readings: Iterable[tuple[datetime, Flag | str]]) -> list[Mark]:
    """(sample time, flag) pairs as marks; ValueError for a naive time or an unknown flag."""
    marks = []
    for t, flag in readings:
        t = _aware(t, "reading time")
        try:
            is_valid = Flag(flag) in VALID_FLAGS
        except ValueError:
            raise ValueError(f"unknown HJ 212 flag {flag!r}") from None
        marks.append((to_us(t), is_valid))
    return marks


def capture_rates(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    readings: Iterable[tuple[datetime, Flag | str]],
    excluded: Iterable[tuple[datetime, datetime]] = (),
    early_s: float | None = None,
) -> CaptureFigures:
    """Figures for one stream (one station × parameter) over [start, end); ``excluded`` windows are [a, b)."""
    return capture_from_marks(schedule, start, end, marks_of(readings), excluded, early_s)


def capture_from_marks(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    marks: Iterable[Mark],
    excluded: Iterable[tuple[datetime, datetime]] = (),
    early_s: float | None = None,
) -> CaptureFigures:
    """``capture_rates`` of readings given as marks: the store can hand them over without making a datetime
    and an object of each reading (the fleet's 24 h figures read every reading of every station)."""
    start, end = _aware(start, "start"), _aware(end, "end")
    if end < start:
        raise ValueError("end must not be before start")
    early = default_early_s(schedule) if early_s is None else early_s
    if early < 0:
        raise ValueError("early_s must not be negative")
    shift = timedelta(seconds=early) // ONE_US  # whole µs, as a datetime + timedelta would round it
    # The slot after the range: readings stamped for it (early ones included) are not ours.
    after = schedule.expected_times(end, end + timedelta(seconds=2 * schedule.nominal_interval_s + 1))
    boundary = to_us(after[0] if after else end)
    times = schedule.expected_times(start, end)
    windows = _windows(excluded)
    skipped = {i for i, t in enumerate(times) if any(a <= t < b for a, b in windows)}
    # Slot i takes the readings whose time + shift lies in [its time, the next slot's) — the last one's up to
    # the boundary; before the first slot they are the previous range's. Walked slot by slot over the marks
    # in time order: two bisections a slot, not one a reading (a week of one-minute data is 10,080 readings
    # a parameter for 168 hourly slots).
    ordered = sorted(marks)
    stamps = [t for t, _ in ordered]
    valid_flags = [v for _, v in ordered]
    uppers = [to_us(t) for t in times[1:]] + [boundary]
    received = valid = 0
    lo = 0
    for i, t in enumerate(times):
        lo = bisect.bisect_left(stamps, to_us(t) - shift, lo)
        hi = bisect.bisect_left(stamps, uppers[i] - shift, lo)
        if hi > lo and i not in skipped:
            received += 1
            if True in valid_flags[lo:hi]:
                valid += 1
        lo = hi
    return CaptureFigures(
        expected=len(times) - len(skipped),
        received=received,
        valid=valid,
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
    return capture_by_day_from_marks(schedule, start, end, sorted(marks_of(readings)), excluded, tz, early_s)


def capture_by_day_from_marks(
    schedule: Schedule,
    start: date,
    end: date,
    marks: Sequence[Mark],
    excluded: Iterable[tuple[datetime, datetime]] = (),
    tz: str = "Asia/Shanghai",
    early_s: float | None = None,
) -> dict[date, CaptureFigures]:
    """``capture_by_day`` of marks sorted by time: each day counts only the marks that can fall in its slots
    (a bisected stretch), not every mark of the range again."""
    if end < start:
        raise ValueError("end day must not be before start day")
    zone = ZoneInfo(tz)
    windows = _windows(excluded)
    # A day's slots take marks up to the early shift before its first slot and up to its boundary: the next
    # expected time, at most two intervals past the day (capture_from_marks). A wider stretch is harmless.
    before = timedelta(seconds=max(default_early_s(schedule), early_s or 0.0)) // ONE_US + 1
    after = timedelta(seconds=2 * schedule.nominal_interval_s + 1) // ONE_US + 1
    times = [t for t, _ in marks]
    out: dict[date, CaptureFigures] = {}
    day = start
    while day <= end:
        a = datetime(day.year, day.month, day.day, tzinfo=zone)
        nxt = day + timedelta(days=1)
        b = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
        lo = bisect.bisect_left(times, to_us(a) - before)
        hi = bisect.bisect_left(times, to_us(b) + after)
        out[day] = capture_from_marks(schedule, a, b, marks[lo:hi], windows, early_s)
        day = nxt
    return out
