"""Station state: online, degraded or offline, decided from what the station last said and when.

``evaluate`` is pure: it takes the last status, when anything was last heard, the clock and the thresholds,
and returns the state with the reasons for it. ``StationTracker`` keeps one record per station in memory
(thread-safe), feeds it from ingest and returns the transitions that the service writes to the store.

Rules:
- offline: never heard; the last status says offline (the agent's will or a clean shutdown); or nothing heard
  for ``offline_after_heartbeats`` × the station's heartbeat.
- degraded: the status says degraded, a device is down, the backlog is above a threshold and grew since
  the previous status, readings
  were dropped (ever), or the station clock is off by more than ``clock_offset_max_s``.
- online otherwise (including a station that sends readings but no status yet).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime

from collector.store.base import Transition, supersedes
from protocols.messages import StationState, Status


@dataclass(frozen=True, slots=True)
class Thresholds:
    offline_after_heartbeats: float = 3.0
    clock_offset_max_s: float = 60.0
    default_heartbeat_s: float = 30.0
    # A few batches in flight are normal traffic; a backlog above this that keeps growing is not.
    backlog_degraded_above: int = 100


@dataclass(frozen=True, slots=True)
class StationRecord:
    station: str
    status: Status | None = None
    status_received_at: datetime | None = None
    previous_backlog: int | None = None  # backlog of the status before this one
    last_heard_at: datetime | None = None  # any message (status, readings, event, reply)
    last_reading_at: datetime | None = None  # latest sample time stored
    state: StationState = StationState.OFFLINE
    reasons: tuple[str, ...] = ("never heard",)
    since: datetime | None = None


def evaluate(
    record: StationRecord, now: datetime, limits: Thresholds
) -> tuple[StationState, tuple[str, ...]]:
    status = record.status
    if record.last_heard_at is None:
        return StationState.OFFLINE, ("never heard",)
    if status is not None and status.state is StationState.OFFLINE:
        return StationState.OFFLINE, ("station reported offline",)
    heartbeat = status.heartbeat_s if status is not None else limits.default_heartbeat_s
    silent = (now - record.last_heard_at).total_seconds()
    if silent > limits.offline_after_heartbeats * heartbeat:
        return StationState.OFFLINE, (f"silent for {silent:.0f} s (heartbeat {heartbeat:g} s)",)
    if status is None:
        return StationState.ONLINE, ()
    reasons: list[str] = []
    if status.state is StationState.DEGRADED:
        reasons.append("station reported degraded")
    down = sorted(name for name, device in status.devices.items() if not device.up)
    if down:
        reasons.append("devices down: " + ", ".join(down))
    growing = record.previous_backlog is not None and status.backlog > record.previous_backlog
    if growing and status.backlog > limits.backlog_degraded_above:
        reasons.append(f"backlog growing ({record.previous_backlog} → {status.backlog})")
    if status.dropped > 0:
        reasons.append(f"{status.dropped} readings dropped")
    if status.clock_offset_s is not None and abs(status.clock_offset_s) > limits.clock_offset_max_s:
        reasons.append(f"clock offset {status.clock_offset_s:+.1f} s")
    if reasons:
        return StationState.DEGRADED, tuple(reasons)
    return StationState.ONLINE, ()


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


@dataclass
class StationTracker:
    """Per-station records; every method is safe to call from any thread."""

    limits: Thresholds = field(default_factory=Thresholds)
    _records: dict[str, StationRecord] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, station: str) -> None:
        with self._lock:
            self._records.setdefault(station, StationRecord(station))

    def restore(
        self,
        station: str,
        *,
        status: Status | None,
        status_received_at: datetime | None,
        last_reading_at: datetime | None,
        last: Transition | None,
    ) -> None:
        """Rebuild a record on start from the store: the state is the last one recorded."""
        with self._lock:
            record = self._records.get(station, StationRecord(station))
            record = replace(
                record,
                status=status,
                status_received_at=status_received_at,
                last_heard_at=_later(record.last_heard_at, status_received_at),
                last_reading_at=_later(record.last_reading_at, last_reading_at),
            )
            if last is not None:
                record = replace(record, state=last.new, reasons=last.reasons, since=last.at)
            self._records[station] = record

    def on_status(self, status: Status, received_at: datetime) -> None:
        with self._lock:
            record = self._records.get(status.station, StationRecord(status.station))
            if not supersedes(status, record.status):
                return  # a stale copy: keep the newer one
            previous = record.status.backlog if record.status is not None else None
            self._records[status.station] = replace(
                record,
                status=status,
                status_received_at=received_at,
                previous_backlog=previous,
                last_heard_at=_later(record.last_heard_at, received_at),
            )

    def on_message(
        self, station: str, received_at: datetime, last_reading_at: datetime | None = None
    ) -> None:
        with self._lock:
            record = self._records.get(station, StationRecord(station))
            self._records[station] = replace(
                record,
                last_heard_at=_later(record.last_heard_at, received_at),
                last_reading_at=_later(record.last_reading_at, last_reading_at),
            )

    def tick(self, now: datetime) -> list[Transition]:
        """Re-evaluate every station; return the changes of state (old → new) with their reasons."""
        changes: list[Transition] = []
        with self._lock:
            for station, record in self._records.items():
                state, reasons = evaluate(record, now, self.limits)
                if state is not record.state or record.since is None:
                    changes.append(
                        Transition(station, now, record.state if record.since else None, state, reasons)
                    )
                    self._records[station] = replace(record, state=state, reasons=reasons, since=now)
                elif reasons != record.reasons:
                    self._records[station] = replace(record, reasons=reasons)
        return changes

    def get(self, station: str) -> StationRecord | None:
        with self._lock:
            return self._records.get(station)

    def all(self) -> dict[str, StationRecord]:
        with self._lock:
            return dict(self._records)

    def count_by_state(self) -> dict[StationState, int]:
        with self._lock:
            counts = dict.fromkeys(StationState, 0)
            for record in self._records.values():
                counts[record.state] += 1
            return counts
