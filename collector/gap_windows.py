"""Interval arithmetic of the gap checks, pure: seq ranges (closed) and time windows (half-open, µs since the
epoch) merged, subtracted and split, and where expected samples are missing while a station was producing
(collector/gaps.py plans the re-send requests, collector/gap_check.py feeds both from the store)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from collector.health.schedule import Schedule
from collector.store.base import Transition
from collector.timestamps import from_us, to_us
from protocols.messages import StationState, Status

Span = tuple[int, int]  # closed seq range, or [a, b) in microseconds since the epoch for time windows
Window = tuple[datetime, datetime]  # [a, b)


def subtract(span: Span, covered: Sequence[Span], closed: int) -> list[Span]:
    """The parts of ``span`` not in ``covered``; ``closed`` 1 for closed ranges, 0 for half-open ones."""
    pieces = [span]
    for c_lo, c_hi in covered:
        out = []
        for lo, hi in pieces:
            if c_hi + closed <= lo or c_lo >= hi + closed:
                out.append((lo, hi))
                continue
            if lo < c_lo:
                out.append((lo, c_lo - closed))
            if c_hi + closed < hi + closed:
                out.append((c_hi + closed, hi))
        pieces = out
    return [(lo, hi) for lo, hi in pieces if hi + closed > lo]


def split_span(span: Span, size: int, closed: int) -> list[Span]:
    lo, hi = span
    out = []
    while lo < hi + closed:
        end = min(hi, lo + size - closed)
        out.append((lo, end))
        lo = end + closed
    return out


def merge_closed(spans: Iterable[Span]) -> list[Span]:
    """Union of closed seq ranges, sorted; adjacent ranges (5-7, 8-9) join."""
    return [(a, b - 1) for a, b in merge((lo, hi + 1) for lo, hi in spans)]


def split_recovered(missing: Iterable[Span], recovered: Sequence[Span]) -> tuple[list[Span], list[Span]]:
    """The seq holes ``missing`` (closed ranges) split into those still missing and those inside a
    ``recovered`` range (re-sent under new numbers). Pure."""
    still: list[Span] = []
    back: list[Span] = []
    for hole in missing:
        rest = subtract(hole, recovered, 1)
        still += rest
        back += subtract(hole, rest, 1)
    return still, merge_closed(back)


def merge(windows: Iterable[Span]) -> list[Span]:
    """Union of half-open windows, sorted; touching windows join."""
    out: list[Span] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


# -- missing expected samples ----------------------------------------------------------------------------------


def missing_windows(
    schedules: Mapping[str, Schedule],
    start: datetime,
    end: datetime,
    times: Mapping[str, Sequence[datetime]],
    producing: Sequence[tuple[datetime, datetime]],
    excluded: Sequence[tuple[datetime, datetime]] = (),
) -> list[Span]:
    """Windows [a, b) (µs) of expected samples in [start, end) with no reading, merged across parameters.

    Each expected time t_i owns [t_i − early, t_{i+1} − early) as in collector.health.capture (early: 10 %
    of the interval, at most 5 min); a slot is asked only when t_i lies in a ``producing`` window and in no
    ``excluded`` (ice / no water) one. Pure."""
    windows: list[Span] = []
    for param, schedule in schedules.items():
        interval = timedelta(seconds=schedule.nominal_interval_s)
        early = timedelta(seconds=min(300.0, 0.1 * schedule.nominal_interval_s))
        expected = schedule.expected_times(start, end)
        stamps = sorted(to_us(t + early) for t in times.get(param, ()))
        for i, t in enumerate(expected):
            if not any(a <= t < b for a, b in producing) or any(a <= t < b for a, b in excluded):
                continue
            slot_a = t - early
            slot_b = (expected[i + 1] if i + 1 < len(expected) else t + interval) - early
            lo = bisect.bisect_left(stamps, to_us(slot_a + early))
            if lo < len(stamps) and stamps[lo] < to_us(slot_b + early):
                continue  # a reading fell in the slot
            windows.append((to_us(slot_a), to_us(slot_b)))
    return merge(windows)


def producing_windows(
    online: Sequence[tuple[datetime, datetime]], sample_times: Iterable[datetime], pad_s: float
) -> list[tuple[datetime, datetime]]:
    """When the station was producing: its online periods, and ± ``pad_s`` around any reading it made
    (readings that arrived later through the backlog prove it was acquiring while offline). Pure."""
    pad = timedelta(seconds=pad_s)
    spans = [(to_us(a), to_us(b)) for a, b in online]
    spans += [(to_us(t - pad), to_us(t + pad)) for t in sample_times]
    return [(from_us(a), from_us(b)) for a, b in merge(spans)]


def sample_window(status: Status, now: datetime, grace_s: float, lookback_s: float) -> Window | None:
    """The window [start, end) in which missing samples may be asked: within ``lookback_s``, older than
    ``grace_s``, and only where the station has since delivered everything older (its backlog drained past
    it). None when there is none."""
    drained = status.at if status.backlog == 0 else status.oldest_unsent
    if drained is None:
        return None
    end = min(now - timedelta(seconds=grace_s), drained)
    start = now - timedelta(seconds=lookback_s)
    return (start, end) if end > start else None


def online_windows(
    initial: Transition | None, changes: Sequence[Transition], start: datetime, end: datetime
) -> list[Window]:
    """The periods of [start, end) a station was not offline, from the state it had at ``start``
    (``initial``: the last transition before it) and its transitions inside."""
    online: list[Window] = []
    since = start if initial is not None and initial.new is not StationState.OFFLINE else None
    for change in changes:
        if change.new is StationState.OFFLINE and since is not None:
            online.append((since, change.at))
            since = None
        elif change.new is not StationState.OFFLINE and since is None:
            since = change.at
    if since is not None:
        online.append((since, end))
    return online
