"""Helpers for the agent's outbox/uplink/runtime tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from protocols.flags import Flag
from protocols.messages import Reading

T0 = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)


def readings(
    n: int, *, start: datetime = T0, step_s: float = 60.0, param: str = "w21003", first_value: float = 0.0
) -> list[Reading]:
    return [
        Reading(
            param=param,
            t=start + timedelta(seconds=i * step_s),
            value=first_value + i,
            flag=Flag.NORMAL,
            device="nh3n",
        )
        for i in range(n)
    ]


class FakeClock:
    """Wall-clock seconds that tests move by hand."""

    def __init__(self, now: float = T0.timestamp()) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
