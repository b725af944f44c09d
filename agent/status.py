"""What the station says about itself: the state behind the retained Status message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from agent.outbox import OutboxStats
from protocols.messages import DeviceStatus, StationState, Status, UplinkStatus

AGENT_VERSION = "0.1.0"


@dataclass
class StatusBoard:
    """Device states, controller signals, clock offset and poll intervals, updated as they change."""

    station: str
    heartbeat_s: float
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    devices: dict[str, DeviceStatus] = field(default_factory=dict)
    controller: dict[str, float | bool | str] = field(default_factory=dict)
    clock_offset_s: float | None = None
    intervals: dict[str, float] = field(default_factory=dict)
    uplinks: Callable[[], dict[str, dict[str, Any]]] | None = None  # HJ 212 targets' state, when there are

    def state(self) -> StationState:
        return StationState.DEGRADED if any(not d.up for d in self.devices.values()) else StationState.ONLINE

    def status(self, stats: OutboxStats, *, now: datetime | None = None, offline: bool = False) -> Status:
        return Status(
            station=self.station,
            state=StationState.OFFLINE if offline else self.state(),
            at=now or datetime.now(UTC),
            agent_version=AGENT_VERSION,
            started_at=self.started_at,
            next_seq=stats.next_seq,
            backlog=stats.backlog,
            oldest_unsent=stats.oldest_unsent,
            dropped=stats.dropped,
            clock_offset_s=self.clock_offset_s,
            devices=dict(self.devices),
            controller=dict(self.controller),
            heartbeat_s=self.heartbeat_s,
            intervals=dict(self.intervals),
            uplinks=None if self.uplinks is None or offline else _uplinks(self.uplinks()),
        )


def _uplinks(views: dict[str, dict[str, Any]]) -> dict[str, UplinkStatus]:
    return {name: msgspec.convert(view, UplinkStatus) for name, view in views.items()}


def will_status(station: str, heartbeat_s: float) -> Status:
    """The will: what the broker publishes (retained) when the agent vanishes without a goodbye."""
    return Status(
        station=station,
        state=StationState.OFFLINE,
        at=datetime.now(UTC),
        agent_version=AGENT_VERSION,
        heartbeat_s=heartbeat_s,
    )
