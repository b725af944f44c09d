"""The PostgreSQL store (psycopg 3): the SQLite store's tables and identities, for a province or more.

Times are ``timestamptz`` (the session runs in UTC); message bodies are ``jsonb``. One connection guarded by a
lock, like the SQLite store: the collector has a single applier thread. What both engines do alike comes from
``EngineStore`` (engine.py); here are the connection (postgres_schema.py), ``apply`` (postgres_apply.py), dead
letters (postgres_quarantine.py) and what PostgreSQL reads its own way.
Install with ``pip install 'qingliu[postgres]'``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from collector.store import postgres_apply, postgres_assessment, postgres_quarantine, postgres_schema, records
from collector.store.base import ApplyResult, Received, StoredReading, Transition
from collector.store.dialect import POSTGRES
from collector.store.engine import TABLES, EngineStore
from collector.store.readback import ReadBack

__all__ = ["TABLES", "PostgresStore"]


class PostgresStore(EngineStore):
    def __init__(self, url: str, *, schema: str | None = None) -> None:
        import psycopg  # optional dependency: only a PostgreSQL deployment needs it

        self._lock = threading.RLock()
        self._read_back = ReadBack()
        self._db = postgres_schema.connect(url, schema)
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
