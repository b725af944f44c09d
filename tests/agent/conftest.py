"""Helpers for the agent's outbox/uplink/runtime tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import OutboxConfig
from agent.outbox import Outbox
from protocols.flags import Flag
from protocols.messages import Reading, decode_fragment

STATION = "hexicun"
# Every chunk's text in row order: a poll's chunk keeps it inline, a merged one in ``bodies``.
BODIES = "SELECT COALESCE(c.body, b.body) FROM chunks c LEFT JOIN bodies b ON b.id = c.id ORDER BY c.id"

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


def make(path: Path, clock: FakeClock | None = None, **settings: object) -> Outbox:
    """An outbox of STATION with ``settings`` over the OutboxConfig defaults, on a fake clock."""
    return Outbox(path, OutboxConfig(**settings), STATION, clock=clock or FakeClock())


def stored_readings(box: Outbox) -> list[Reading]:
    """Every reading the outbox holds (unsent and history), in row order, chunks decoded."""
    return [r for (body,) in box._db.execute(BODIES) for r in decode_fragment(body)]


def stored_values(box: Outbox) -> list[float | None]:
    return [r.value for r in stored_readings(box)]
