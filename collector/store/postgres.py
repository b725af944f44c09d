"""The PostgreSQL store (psycopg 3): the SQLite store's tables and identities, for a province or more.

Times are ``timestamptz`` (the session runs in UTC); message bodies are ``jsonb``. One connection guarded by a
lock, like the SQLite store: the collector has a single applier thread. What both engines do alike comes from
``EngineStore`` (engine.py); here are the connection (postgres_schema.py), ``apply`` (postgres_apply.py), dead
letters (postgres_quarantine.py), the month partitions of ``readings`` (postgres_partitions.py) and what
PostgreSQL reads its own way.
Install with ``pip install 'qingliu[postgres]'``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from collector.store import (
    postgres_apply,
    postgres_assessment,
    postgres_partitions,
    postgres_quarantine,
    postgres_schema,
    records,
)
from collector.store.base import ApplyResult, Received, StoredReading, Transition
from collector.store.dialect import POSTGRES
from collector.store.engine import TABLES, EngineStore
from collector.store.readback import ReadBack

__all__ = ["TABLES", "PostgresStore"]


class _UpkeepBusy(Exception):
    """The upkeep connection is in use by another thread (a retention pass)."""


class PostgresStore(EngineStore):
    def __init__(self, url: str, *, schema: str | None = None) -> None:
        import psycopg  # optional dependency: only a PostgreSQL deployment needs it

        self._lock = threading.RLock()
        self._read_back = ReadBack()
        self._db = postgres_schema.connect(url, schema)
        self._where = (url, schema)
        # Partition upkeep and whole-month retirement run on a connection of their own: aggregating a month takes
        # a while, and on the applier's connection it would hold the store's lock, hence ingest, all that time.
        self._upkeep_lock = threading.Lock()
        self._upkeep_db: Any = None
        self._prepared = postgres_partitions.month_start(datetime.now(UTC))  # its months made by connect
        self._dialect = POSTGRES
        self._assessment = postgres_assessment
        self._quarantine = postgres_quarantine
        self._driver_error = psycopg.Error

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock, self._db.transaction():
            yield self._db

    def apply(self, items: Sequence[Received]) -> ApplyResult:
        with self._transaction() as db:
            return postgres_apply.apply(db, self._read_back, items)

    def latest(self, station: str) -> dict[str, StoredReading]:
        rows = self._rows(f"SELECT {records.READING_COLUMNS} FROM latest WHERE station = %s", (station,))
        return {row[1]: records.reading(POSTGRES, row) for row in rows}

    def last_transitions(self) -> dict[str, Transition]:
        rows = self._rows(
            f"SELECT DISTINCT ON (station) {records.TRANSITION_COLUMNS} FROM transitions"
            " ORDER BY station, id DESC"
        )
        return {row[0]: records.transition(POSTGRES, row) for row in rows}

    # -- readings' month partitions (postgres_partitions.py): made ahead, old ones retired whole -----------------

    @contextmanager
    def _upkeep(self, *, wait: bool = True) -> Iterator[Any]:
        """A transaction on the upkeep connection (opened when first needed): the applier's goes on meanwhile,
        held up only by the PostgreSQL locks that postgres_partitions.py describes. ``wait=False``: raises
        ``_UpkeepBusy`` at once when another thread is using it."""
        if not self._upkeep_lock.acquire(blocking=wait):
            raise _UpkeepBusy
        try:
            if self._upkeep_db is None or self._upkeep_db.closed:
                self._upkeep_db = postgres_schema.session(*self._where)
            with self._upkeep_db.transaction():
                yield self._upkeep_db
        finally:
            self._upkeep_lock.release()

    def prepare_partitions(self, now: datetime) -> list[str]:
        with self._upkeep() as db:
            return postgres_partitions.prepare(db, now)

    def retirable_partitions(self, until: datetime) -> list[str]:
        with self._lock:
            return postgres_partitions.retirable(self._db, until)

    def retire_partition(self, name: str) -> int:
        """One partition, one transaction (see ``postgres_partitions.retire`` for the locks it takes)."""
        with self._upkeep() as db:
            return postgres_partitions.retire(db, name)

    def checkpoint(self) -> bool:
        """The service's ticker calls this every few minutes: when the month has turned since the partitions were
        last made, the coming months' are made, so that a collector that runs for months without retention does
        not pour everything into DEFAULT. False when it could not be done now (a retention pass is using the
        upkeep connection, or a lock was not had in time): the next call tries again."""
        now = datetime.now(UTC)
        if postgres_partitions.month_start(now) == self._prepared:
            return True
        try:
            with self._upkeep(wait=False) as db:
                postgres_partitions.prepare(db, now)
        except (_UpkeepBusy, self._driver_error):
            return False
        self._prepared = postgres_partitions.month_start(now)
        return True

    def close(self) -> None:
        with self._upkeep_lock:
            if self._upkeep_db is not None:
                self._upkeep_db.close()
        super().close()
