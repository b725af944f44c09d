"""Readings the outbox lost, made into a number, a log line and an event (never only a log line).

Two causes. The quota, the free-space floor and the age limit drop readings on purpose: each is counted in
``dropped`` where it happens and reported here as a ``readings_dropped`` event, at most one a minute while
dropping continues. A disk that refuses writes loses them: the store counts them in memory
(``StorageLoss``), ``stats()`` adds that count at once, and as soon as a write succeeds again ``settle``
persists it into ``dropped`` and ``count:lost_storage_full`` with one ``storage_failed`` event (critical).
Readings lost to the disk go into ``dropped``, the station's one number of readings lost before the wire,
so the collector's "dropped" alert rule fires for them too; the event and the counter say which cause.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime

from agent.outbox.events import EventLog
from agent.outbox.store import OutboxStore, meta_add
from agent.sink import EventRecord, StorageFailed
from protocols.messages import EventKind, Severity

log = logging.getLogger(__name__)

DROP_REPORT_INTERVAL_S = 60.0  # at most one readings_dropped event a minute while dropping continues


class LossReport:
    def __init__(self, store: OutboxStore, events: EventLog) -> None:
        self.store = store
        self.events = events
        self.unreported_drops = 0
        self._last_drop_report = -math.inf
        self._settling = False

    # ----------------------------------------------------------------- dropped on purpose

    def dropped(self, count: int) -> None:
        """``count`` readings were dropped (already added to ``dropped`` in their transaction)."""
        self.unreported_drops += count

    def report_drops(self, *, force: bool) -> None:
        if self.unreported_drops <= 0:
            return
        now = time.monotonic()
        if not force and now - self._last_drop_report < DROP_REPORT_INTERVAL_S:
            return
        count, self.unreported_drops = self.unreported_drops, 0
        self._last_drop_report = now
        store = self.store
        with store.lock:
            total = store.meta("dropped")
        log.warning(
            "station %s: outbox dropped %d readings (%d in all): quota, free-space floor or age limit",
            store.station,
            count,
            total,
        )
        self.events.add(
            EventRecord(
                EventKind.READINGS_DROPPED,
                Severity.WARNING,
                f"{count} readings dropped by the outbox quota, free-space floor or age limit ({total} in all)",
                detail={
                    "dropped": count,
                    "total": total,
                    "policy": store.config.full_policy,
                    "min_free_bytes": store.config.min_free_bytes,
                },
            )
        )

    # ----------------------------------------------------------------- lost to the disk

    def settle(self) -> None:
        """Writes work again: persist what the failing disk cost (into ``dropped`` and its own counters) with
        one storage_failed event, in one transaction. Still failing: kept in memory for the next try."""
        store = self.store
        with store.lock:
            loss = store.loss
            if not loss.pending or self._settling:
                return
            self._settling = True
            try:
                lost, events, counters = loss.readings, loss.events, dict(loss.counters)
                since = datetime.fromtimestamp(loss.first_at or store.clock(), UTC)
                total = store.meta("count:lost_storage_full") + lost
                event = self.events.stamp(
                    EventRecord(
                        EventKind.STORAGE_FAILED,
                        Severity.CRITICAL,
                        f"the outbox could not store {lost} readings and {events} events since "
                        f"{since.isoformat(timespec='seconds')} ({loss.last_error}); {total} readings lost "
                        "to storage failures in all",
                        detail={
                            "lost_readings": lost,
                            "lost_events": events,
                            "failed_writes": loss.failures,
                            "error": loss.last_error,
                            "since": since.isoformat(),
                            "total_lost_readings": total,
                        },
                    )
                )
                with store.tx() as db:
                    if lost:
                        meta_add(db, "dropped", lost)
                        meta_add(db, "count:lost_storage_full", lost)
                    if events:
                        meta_add(db, "count:events_lost_storage", events)
                    for key, amount in counters.items():
                        meta_add(db, f"count:{key}", amount)
                    self.events.insert(db, event)
            except StorageFailed:
                return
            finally:
                self._settling = False
            loss.settle()
        log.error(
            "station %s: the outbox writes again; %d readings and %d events were lost to storage failures "
            "(%d readings in all); event storage_failed recorded",
            store.station,
            lost,
            events,
            total,
        )
