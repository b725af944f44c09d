"""Station events in the outbox: stored durably, published one per message, marked sent on their PUBACK.

An event arrives as an ``agent.sink.EventRecord``; here it gets the station, an id and (unless the record
has one) the time, and becomes a wire ``Event``. Health and alarm events (warning, critical) may use the
room the quota reserves; info events are refused (and counted) once the outbox is at its quota. An event
the disk refuses is counted (``events_lost_storage``): reporting a fault must not raise another.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.outbox.chunks import iso_utc, parse_iso
from agent.outbox.store import OutboxStore, meta_add
from agent.sink import EventRecord, StorageFailed
from protocols.messages import Event, EventKind, Severity

IMPORTANT_SEVERITIES = (Severity.WARNING, Severity.CRITICAL)


@dataclass(frozen=True)
class StoredEvent:
    row_id: int
    event: Event


class EventLog:
    """The ``events`` table. ``settle`` (the loss report's, set by the outbox) runs after a write succeeds,
    so that what a failing disk cost is recorded as soon as the disk takes writes again."""

    def __init__(self, store: OutboxStore) -> None:
        self.store = store
        self.settle: Callable[[], None] = lambda: None

    def add(self, record: EventRecord) -> Event | None:
        """Store an event durably. None when it was refused (quota, counted) or the disk refused it."""
        store = self.store
        event = self.stamp(record)
        try:
            with store.tx() as db:
                if record.severity not in IMPORTANT_SEVERITIES and store.used_for_quota(
                    0, store.config.max_bytes
                ) > (store.config.max_bytes):
                    meta_add(db, "count:events_dropped", 1)
                    return None
                self.insert(db, event)
        except StorageFailed:
            with store.lock:
                store.loss.events += 1
            return None
        if store.loss.pending:
            self.settle()
        return event

    def stamp(self, record: EventRecord) -> Event:
        """The wire event for ``record``: this station, a new id, its time (now unless it says)."""
        return Event(
            station=self.store.station,
            id=uuid.uuid4().hex,
            at=record.at or datetime.fromtimestamp(self.store.clock(), UTC),
            kind=record.kind,
            severity=record.severity,
            device=record.device,
            param=record.param,
            message=record.message[:1000],
            detail=dict(record.detail),
        )

    def insert(self, db: sqlite3.Connection, event: Event) -> None:
        db.execute(
            "INSERT INTO events(event_id, at, kind, severity, device, param, message, detail, "
            "stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.id,
                iso_utc(event.at),
                str(event.kind),
                str(event.severity),
                event.device,
                event.param,
                event.message,
                json.dumps(event.detail, default=str),
                self.store.now_ms(),
            ),
        )

    def unsent(self, limit: int = 50, exclude: Collection[int] = ()) -> list[StoredEvent]:
        with self.store.lock:
            rows = self.store.db.execute(
                "SELECT id, event_id, at, kind, severity, device, param, message, detail FROM events "
                "WHERE sent = 0 ORDER BY id LIMIT ?",
                (limit + len(exclude),),
            ).fetchall()
        out = []
        for row_id, event_id, at, kind, severity, device, param, message, detail in rows:
            if row_id in exclude:
                continue
            event = Event(
                station=self.store.station,
                id=event_id,
                at=parse_iso(at),
                kind=EventKind(kind),
                severity=Severity(severity),
                device=device,
                param=param,
                message=message,
                detail=json.loads(detail),
            )
            out.append(StoredEvent(row_id, event))
        return out[:limit]

    def mark_sent(self, row_id: int) -> None:
        with self.store.tx() as db:
            db.execute("UPDATE events SET sent = 1 WHERE id = ?", (row_id,))

    @staticmethod
    def forget_sent_before(db: sqlite3.Connection, cutoff_ms: int) -> None:
        db.execute("DELETE FROM events WHERE sent = 1 AND stored_at < ?", (cutoff_ms,))
