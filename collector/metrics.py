"""The applier's ingest counters: what it validated and applied, counted under a lock; /metrics reads them
(collector/exposition.py) and so does /api/stats."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.store.base import ApplyResult


@dataclass
class IngestCounters:
    """Thread-safe counters of the applier (collector/ingest.py): what it validated and applied to the store.

    The receiving process's own counters (accepted, refused, inbox commits, acknowledgements) live in the
    inbox (collector/inbox.py) and are read by ``exposition.ReceiverCollector``."""

    received: Counter[str] = field(default_factory=Counter)  # valid messages by type
    # Quarantined messages by reason (seeded from the store's persisted dead-letter totals at start).
    payload_errors: Counter[str] = field(default_factory=Counter)
    suspect: Counter[str] = field(default_factory=Counter)  # readings outside the time window, by reason
    stored: ApplyResult = field(default_factory=ApplyResult)
    commits: int = 0
    commit_errors: int = 0
    last_commit_at: datetime | None = None
    ingest_lag_s: float | None = None  # commit time − sent_at of the newest live batch in the last commit
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count_received(self, kind: str) -> None:
        with self._lock:
            self.received[kind] += 1

    def count_error(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.payload_errors[reason] += n

    def seed_errors(self, totals: dict[str, int]) -> None:
        """Start from the persisted totals (the store's dead-letter counts), so a restart does not reset them."""
        with self._lock:
            self.payload_errors = Counter(totals)

    def count_suspect(self, reason: str) -> None:
        with self._lock:
            self.suspect[reason] += 1

    def count_commit(self, result: ApplyResult, at: datetime, lag_s: float | None) -> None:
        with self._lock:
            self.stored.add(result)
            self.commits += 1
            self.last_commit_at = at
            if lag_s is not None:
                self.ingest_lag_s = lag_s

    def count_commit_error(self) -> None:
        with self._lock:
            self.commit_errors += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            stored = self.stored
            return {
                "received": dict(self.received),
                "payload_errors": dict(self.payload_errors),
                "suspect_readings": dict(self.suspect),
                "suspect_inserted": stored.suspect_inserted,
                "readings_revised": stored.readings_revised,
                "readings_inserted": stored.readings_inserted,
                "readings_duplicate": stored.readings_duplicate,
                "messages_inserted": stored.messages_inserted,
                "messages_duplicate": stored.messages_duplicate,
                "events_inserted": stored.events_inserted,
                "events_duplicate": stored.events_duplicate,
                "replies_inserted": stored.replies_inserted,
                "replies_duplicate": stored.replies_duplicate,
                "statuses_saved": stored.statuses_saved,
                "statuses_stale": stored.statuses_stale,
                "commits": self.commits,
                "commit_errors": self.commit_errors,
                "ingest_lag_s": self.ingest_lag_s,
                "last_commit_at": self.last_commit_at,
            }
