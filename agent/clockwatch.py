"""Detect a station clock that jumps, by comparing the wall clock with the monotonic clock.

Between two ticks both clocks should advance by the same amount. When the wall clock moves backwards, or
forwards by more than ``flagging.clock_jump_s`` beyond the monotonic clock, the clock was stepped (NTP step,
an operator, a dead RTC battery after a power cut). The jump is reported as a ``clock_jump`` event;
readings are neither reordered nor dropped (the outbox orders by row id, not by timestamp).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockJump:
    jump_s: float  # wall-clock step beyond the monotonic clock: negative = backwards
    wall_before: float  # epoch seconds at the previous tick
    wall_after: float  # epoch seconds now

    @property
    def backwards(self) -> bool:
        return self.jump_s < 0


class ClockWatch:
    """Pure logic: feed it (wall, monotonic) pairs, it returns a ClockJump when the wall clock stepped."""

    def __init__(self, forward_limit_s: float, backward_tolerance_s: float = 1.0) -> None:
        self.forward_limit_s = forward_limit_s
        self.backward_tolerance_s = backward_tolerance_s  # NTP slews and timer noise are not jumps
        self._last: tuple[float, float] | None = None

    def observe(self, wall: float, monotonic: float) -> ClockJump | None:
        last, self._last = self._last, (wall, monotonic)
        if last is None:
            return None
        drift = (wall - last[0]) - (monotonic - last[1])
        if drift < -self.backward_tolerance_s or drift > self.forward_limit_s:
            return ClockJump(jump_s=drift, wall_before=last[0], wall_after=wall)
        return None


async def watch_clock(
    watch: ClockWatch,
    report: Callable[[ClockJump], None],
    *,
    interval_s: float = 1.0,
    wall: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Tick until cancelled, reporting each jump."""
    while True:
        jump = watch.observe(wall(), monotonic())
        if jump is not None:
            report(jump)
        await asyncio.sleep(interval_s)
