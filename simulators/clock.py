"""Simulated time: a start instant and a speed factor, so a day of river can pass in minutes.

Everything in the simulators asks a ``Clock`` for the time instead of the system, so tests drive time by hand
(``ManualClock``) and runs are repeatable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The simulated time, timezone-aware UTC."""
        ...


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


class SimClock:
    """Runs ``speed`` times faster than the monotonic clock, from ``start`` (default: the current UTC time)."""

    def __init__(
        self,
        start: datetime | None = None,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0, got {speed}")
        self.start = _utc(start) if start is not None else datetime.now(UTC)
        self.speed = speed
        self._monotonic = monotonic
        self._t0 = monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(self._monotonic() - self._t0) * self.speed)

    def sim_seconds(self, real_seconds: float) -> float:
        return real_seconds * self.speed


class ManualClock:
    """A clock that moves only when told: deterministic tests."""

    def __init__(self, start: datetime) -> None:
        self.start = _utc(start)
        self._now = self.start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        step = timedelta(seconds=seconds, **delta)
        if step < timedelta(0):
            raise ValueError("a manual clock does not go backwards")
        self._now += step
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = _utc(moment)
