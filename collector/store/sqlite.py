"""The SQLite store: one file, WAL, synchronous=FULL (a commit is on disk before the applier deletes its
messages from the inbox, which is then the only other copy).

Times are INTEGER microseconds since the epoch, UTC. One connection guarded by a lock: the applier thread
batches many messages per transaction, so API reads wait at most one short commit. What both engines do alike
comes from ``EngineStore`` (engine.py); here are the connection (sqlite_schema.py), ``apply``
(sqlite_apply.py), dead letters (sqlite_quarantine.py) and the latest values mirrored in memory.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from collector.store import records, sqlite_apply, sqlite_assessment, sqlite_quarantine, sqlite_schema
from collector.store.base import ApplyResult, Received, StoredReading, Transition
from collector.store.dialect import SQLITE
from collector.store.engine import EngineStore
from collector.store.readback import ReadBack
from collector.timestamps import from_us

__all__ = ["SqliteStore"]


class SqliteStore(EngineStore):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite_schema.connect(path)
        self._dialect = SQLITE
        self._assessment = sqlite_assessment
        self._quarantine = sqlite_quarantine
        self._driver_error = sqlite3.Error
        # The latest table mirrored in memory (loaded on first use; this process is its only writer): the
        # fleet overview reads every station's latest values on each request.
        self._latest: dict[str, dict[str, StoredReading]] | None = None
        self._read_back = ReadBack()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def apply(self, items: Sequence[Received]) -> ApplyResult:
        with self._transaction() as db:
            result, newest = sqlite_apply.apply(db, self._read_back, items)
        self._remember_latest(newest)  # after the commit: idempotent, newer t wins
        return result

    def _remember_latest(self, newest: sqlite_apply.Newest) -> None:
        """The in-memory latest values follow the latest table (once loaded)."""
        with self._lock:
            if self._latest is None:
                return
            for (station, param), (r, received) in newest.items():
                held = self._latest.setdefault(station, {})
                old = held.get(param)
                if old is None or r.t > old.t:
                    held[param] = StoredReading(
                        station, param, r.t, r.value, r.flag.value, r.device, from_us(received)
                    )

    def latest(self, station: str) -> dict[str, StoredReading]:
        with self._lock:
            if self._latest is None:
                loaded: dict[str, dict[str, StoredReading]] = {}
                for row in self._rows(f"SELECT {records.READING_COLUMNS} FROM latest"):
                    loaded.setdefault(str(row[0]), {})[str(row[1])] = records.reading(SQLITE, row)
                self._latest = loaded
            return dict(self._latest.get(station, {}))

    def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it to nothing; False when a reader (the report maker's
        connection) holds it: tried again at the next call, never waited for (ingest shares the lock)."""
        with self._lock:
            if self._db.in_transaction:
                return False
            self._db.execute("PRAGMA busy_timeout=0")
            try:
                busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.OperationalError:  # locked by another connection's writer
                return False
            finally:
                self._db.execute(f"PRAGMA busy_timeout={sqlite_schema.BUSY_TIMEOUT_MS}")
        return not busy

    def last_transitions(self) -> dict[str, Transition]:
        rows = self._rows(
            f"SELECT {records.TRANSITION_COLUMNS} FROM transitions WHERE id IN"
            " (SELECT MAX(id) FROM transitions GROUP BY station)"
        )
        return {str(row[0]): records.transition(SQLITE, row) for row in rows}
