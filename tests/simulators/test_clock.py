from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from simulators.clock import ManualClock, SimClock

START = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_sim_clock_runs_speed_times_faster() -> None:
    mono = FakeMonotonic()
    clock = SimClock(START, speed=60.0, monotonic=mono)
    assert clock.now() == START
    mono.t += 2.5
    assert clock.now() == START + timedelta(seconds=150)


def test_sim_clock_returns_utc_from_any_zone() -> None:
    cst = timezone(timedelta(hours=8))
    clock = SimClock(datetime(2026, 1, 10, 8, 0, tzinfo=cst), monotonic=FakeMonotonic())
    assert clock.now() == START
    assert clock.now().utcoffset() == timedelta(0)


def test_clock_rejects_naive_start_and_bad_speed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="speed"):
        SimClock(START, speed=0)


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(START)
    clock.advance(minutes=5)
    assert clock.now() == START + timedelta(minutes=5)
    with pytest.raises(ValueError):
        clock.advance(-1)
