from __future__ import annotations

import asyncio
import itertools

from agent.clockwatch import ClockJump, ClockWatch, watch_clock


def test_steady_clock_reports_nothing() -> None:
    watch = ClockWatch(forward_limit_s=120)
    assert watch.observe(1000.0, 5.0) is None
    for i in range(1, 10):
        assert watch.observe(1000.0 + i + 0.01, 5.0 + i) is None


def test_backwards_step_is_reported() -> None:
    watch = ClockWatch(forward_limit_s=120)
    watch.observe(1000.0, 5.0)
    jump = watch.observe(940.0, 6.0)  # one second later by the monotonic clock, wall went back 60 s
    assert jump is not None and jump.backwards
    assert jump.jump_s == -61.0
    assert (jump.wall_before, jump.wall_after) == (1000.0, 940.0)


def test_small_backwards_slew_is_tolerated() -> None:
    watch = ClockWatch(forward_limit_s=120, backward_tolerance_s=1.0)
    watch.observe(1000.0, 5.0)
    assert watch.observe(1000.5, 6.0) is None  # -0.5 s drift


def test_forward_jump_only_beyond_limit() -> None:
    watch = ClockWatch(forward_limit_s=120)
    watch.observe(1000.0, 5.0)
    assert watch.observe(1100.0, 6.0) is None  # +99 s: under the limit
    jump = watch.observe(1100.0 + 1 + 121, 7.0)  # +121 s
    assert jump is not None and not jump.backwards and jump.jump_s == 121.0


def test_runner_reports_jump_from_injected_clocks() -> None:
    walls = itertools.chain([1000.0, 1001.0, 500.0], itertools.count(501.0))
    monos = itertools.chain([1.0, 2.0], itertools.count(3.0))
    seen: list[ClockJump] = []

    async def main() -> None:
        task = asyncio.create_task(
            watch_clock(
                ClockWatch(120),
                seen.append,
                interval_s=0.001,
                wall=lambda: next(walls),
                monotonic=lambda: next(monos),
            )
        )
        while len(seen) < 1:
            await asyncio.sleep(0.001)
        task.cancel()

    asyncio.run(asyncio.wait_for(main(), 5))
    assert len(seen) == 1 and seen[0].jump_s == -502.0
