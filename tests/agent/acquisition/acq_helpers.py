"""Shared helpers for acquisition tests: configs, a stepping clock, running Acquisition for a while."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.acquisition import Acquisition
from agent.config import AgentConfig
from protocols.tomldoc import convert

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def make_config(buses: list[dict[str, Any]], devices: list[dict[str, Any]], **extra: Any) -> AgentConfig:
    return convert({"station": {"id": "hexicun"}, "bus": buses, "devices": devices, **extra}, AgentConfig)


class SteppingClock:
    """Each call returns a time ``step`` later than the previous one (UTC)."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


async def run_until(
    acq: Acquisition, predicate: Callable[[], bool], *, timeout: float = 5.0, at_least: float = 0.0
) -> float:
    """Run acquisition until ``predicate`` holds (and ``at_least`` seconds passed); returns elapsed seconds."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    start = loop.time()
    task = asyncio.create_task(acq.run(stop))
    try:
        while loop.time() - start < timeout:
            if predicate() and loop.time() - start >= at_least:
                break
            if task.done():
                task.result()
                raise AssertionError("acquisition ended by itself")
            await asyncio.sleep(0.01)
        return loop.time() - start
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
