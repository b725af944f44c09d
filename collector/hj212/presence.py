"""A data logger's place in the fleet: its connection state as the Status an agent would send. Pure.

A logger sends no status of its own. While it has a connection, the server writes this status every
``heartbeat_s`` (and at once when it connects) through the same inbox as the agents' statuses, so the station
tracker, uptime, capture and the offline alert treat it like an agent: when the logger goes away its statuses
stop, and the station is offline after ``offline_after_heartbeats`` silent heartbeats.

    started_at   when its current connection opened (uptime of the link)
    devices      "logger": up, failures (frames refused so far), last_ok (last good frame), last error
    intervals    "rtd": its real-time interval, once a get_config or set_interval told us
    clock_offset_s  from its last 1011 answer (logger clock minus the collector's)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.config import Hj212Logger
from protocols.messages import MAX_COUNT, DeviceStatus, StationState, Status

DEVICE = "logger"
VERSION = "hj212-2017"


@dataclass(slots=True)
class Presence:
    connections: int = 0
    connected_since: datetime | None = None
    last_frame_at: datetime | None = None
    last_error: str | None = None
    rtd_interval_s: float | None = None
    clock_offset_s: float | None = None
    last_status_at: float = 0.0  # monotonic, when the last status was written

    def connected(self, now: datetime) -> None:
        if self.connections == 0:
            self.connected_since = now
        self.connections += 1

    def disconnected(self) -> None:
        self.connections = max(0, self.connections - 1)

    def to_report(self) -> dict[str, Any]:
        """As JSON (the HJ 212 child reports it to the collector's main process)."""
        return {
            "connections": self.connections,
            "connected_since": _iso(self.connected_since),
            "last_frame_at": _iso(self.last_frame_at),
            "last_error": self.last_error,
            "rtd_interval_s": self.rtd_interval_s,
            "clock_offset_s": self.clock_offset_s,
        }

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> Presence:
        return cls(
            connections=int(report.get("connections") or 0),
            connected_since=_time(report.get("connected_since")),
            last_frame_at=_time(report.get("last_frame_at")),
            last_error=report.get("last_error"),
            rtd_interval_s=report.get("rtd_interval_s"),
            clock_offset_s=report.get("clock_offset_s"),
        )


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _time(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def status(logger: Hj212Logger, presence: Presence, now: datetime, failures: int) -> Status:
    """The status of ``logger``'s site now (online: only written while the logger is connected)."""
    device = DeviceStatus(
        up=True,
        failures=min(failures, MAX_COUNT),
        last_ok=presence.last_frame_at,
        error=presence.last_error[:500] if presence.last_error else None,
    )
    intervals = {"rtd": presence.rtd_interval_s} if presence.rtd_interval_s else {}
    return Status(
        station=logger.site,
        state=StationState.ONLINE,
        at=now,
        agent_version=VERSION,
        started_at=presence.connected_since,
        clock_offset_s=presence.clock_offset_s,
        devices={DEVICE: device},
        heartbeat_s=logger.heartbeat_s,
        intervals=intervals,
    )
