"""The public store methods that both engines answer alike, written once: ``EngineStore``.

``SqliteStore`` and ``PostgresStore`` inherit it and add what is their own: the connection and its
transaction, ``apply``, ``latest`` and ``last_transitions``. Each method here runs one shared query
(records.py, alert_rows.py, quarantine_rows.py) in the engine's ``Dialect``, or the engine's own module for
what it does its own way (``*_quarantine.py``, ``*_assessment.py``): reads through ``_rows`` (the fetch under
the lock), writes inside ``_transaction``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from collector.alerts.model import Alert
from collector.store import (
    alert_rows,
    auth_rows,
    quarantine_rows,
    records,
    report_rows,
    retention_rows,
    series,
)
from collector.store.base import (
    DeadLetter,
    Revision,
    SeqSummary,
    StoredCommand,
    StoredDeadLetter,
    StoredEvent,
    StoredReading,
    StoredStatus,
    SuspectReading,
    Transition,
    ValidRange,
)
from collector.store.dialect import Dialect
from collector.store.manual_rows import ManualRow, StoredManualResult
from collector.store.readback import ReadBack
from collector.store.report_rows import Arrivals, ReportRecord, StoredReport
from collector.store.series import ReadingBucket
from collector.store.stats import DailyMean, ItemStats, fixed_offset_us
from protocols.messages import Command

# Tables counted for /api/stats.
TABLES = (
    "readings",
    "messages",
    "events",
    "statuses",
    "transitions",
    "commands",
    "replies",
    "alerts",
    "suspect_readings",
    "reading_revisions",
    "manual_results",
)


class AssessmentSql(Protocol):
    """An engine's assessment module (sqlite_assessment.py, postgres_assessment.py)."""

    def save_manual(
        self, db: Any, rows: Sequence[ManualRow], imported_at: datetime
    ) -> tuple[int, int, int]: ...

    def manual_results(
        self, db: Any, section: str, start: datetime | None, end: datetime | None
    ) -> list[StoredManualResult]: ...

    def period_stats(
        self, db: Any, stations: Sequence[str], start: datetime, end: datetime, *, max_time: bool = True
    ) -> dict[tuple[str, str], ItemStats]: ...

    def manual_period_stats(
        self, db: Any, sections: Sequence[str], start: datetime, end: datetime, *, max_time: bool = True
    ) -> dict[tuple[str, str], ItemStats]: ...

    def daily_means(
        self, db: Any, station: str, param: str, start: datetime, end: datetime, tz: str
    ) -> list[DailyMean]: ...


class QuarantineSql(Protocol):
    """An engine's dead-letter writes (sqlite_quarantine.py, postgres_quarantine.py)."""

    def add_dead_letters(self, db: Any, letters: Sequence[DeadLetter]) -> int: ...

    def remove_dead_letters(self, db: Any, ids: Sequence[int]) -> int: ...

    def ids_clause(self, ids: Sequence[int]) -> tuple[str, list[Any]]: ...


class EngineStore:
    _db: Any  # the one connection (sqlite3 or psycopg), used under _lock
    _lock: threading.RLock
    _read_back: ReadBack
    _dialect: Dialect
    _assessment: AssessmentSql
    _quarantine: QuarantineSql
    _driver_error: type[Exception]  # what the driver raises when the store does not answer

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    # -- writing ---------------------------------------------------------------------------------------------

    def add_transitions(self, transitions: Sequence[Transition]) -> None:
        if not transitions:
            return
        with self._transaction() as db:
            records.add_transitions(db, self._dialect, transitions)

    def save_command(self, command: Command) -> None:
        with self._transaction() as db:
            records.save_command(db, self._dialect, command)

    def save_alerts(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        with self._transaction() as db:
            alert_rows.save_alerts(db, self._dialect, alerts)

    def save_blob(self, key: str, text: str) -> None:
        with self._transaction() as db:
            alert_rows.save_blob(db, self._dialect, key, text)

    # -- reading ---------------------------------------------------------------------------------------------

    def readings(
        self,
        station: str,
        *,
        param: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
        newest: bool = False,
    ) -> list[StoredReading]:
        return records.readings(
            self._rows, self._dialect, station, param=param, start=start, end=end, limit=limit, newest=newest
        )

    def reading_marks(
        self, station: str, start: datetime, end: datetime
    ) -> dict[str, list[tuple[int, bool]]]:
        return records.reading_marks(self._rows, self._dialect, station, start, end)

    def device_owners(self, station: str, start: datetime, end: datetime) -> dict[str, str]:
        return records.device_owners(self._rows, self._dialect, station, start, end)

    def latest_valid(self, station: str, start: datetime, end: datetime) -> dict[str, StoredReading]:
        return records.latest_valid(self._rows, self._dialect, station, start, end)

    def flag_counts(self, station: str, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
        return records.flag_counts(self._rows, self._dialect, station, start, end)

    def valid_ranges(
        self, station: str, params: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, ValidRange]:
        return records.valid_ranges(self._rows, self._dialect, station, params, start, end)

    def reading_buckets(
        self, station: str, param: str, start: datetime, end: datetime, points: int
    ) -> tuple[int | None, list[StoredReading] | list[ReadingBucket]]:
        if series.count(self._rows, self._dialect, station, param, start, end) <= points:
            return None, self.readings(station, param=param, start=start, end=end, limit=points)
        width = series.bucket_width(start, end, points)
        return width, series.buckets(self._rows, self._dialect, station, param, start, end, width)

    def last_reading_at(self, station: str) -> datetime | None:
        return records.last_reading_at(self._rows, self._dialect, station)

    def statuses(self) -> dict[str, StoredStatus]:
        return records.statuses(self._rows, self._dialect, self._read_back)

    def transitions(self, station: str, *, limit: int = 50) -> list[Transition]:
        return records.transitions(self._rows, self._dialect, station, limit)

    def transitions_between(
        self, station: str, start: datetime, end: datetime
    ) -> tuple[Transition | None, list[Transition]]:
        with self._lock:  # both reads see the same table
            return records.transitions_between(self._rows, self._dialect, station, start, end)

    def command(self, station: str, command_id: str) -> StoredCommand | None:
        return records.command(self._rows, self._dialect, self._read_back, station, command_id)

    def events(self, station: str, *, limit: int = 50) -> list[StoredEvent]:
        return records.events(self._rows, self._dialect, self._read_back, station, limit)

    def seq_summary(self, station: str) -> SeqSummary:
        return records.seq_summary(self._rows, self._dialect, station)

    def alerts(
        self,
        *,
        state: str | None = None,
        station: str | None = None,
        severity: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        return alert_rows.alerts(
            self._rows,
            self._dialect,
            self._read_back,
            state=state,
            station=station,
            severity=severity,
            limit=limit,
        )

    def alert(self, alert_id: str) -> Alert | None:
        return alert_rows.alert(self._rows, self._dialect, self._read_back, alert_id)

    def load_blob(self, key: str) -> str | None:
        return alert_rows.load_blob(self._rows, self._dialect, key)

    # -- quarantine, suspects, revisions ---------------------------------------------------------------------

    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        if not letters:
            return 0
        with self._transaction() as db:
            return self._quarantine.add_dead_letters(db, letters)

    def remove_dead_letters(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        with self._transaction() as db:
            return self._quarantine.remove_dead_letters(db, ids)

    def dead_letters(
        self,
        *,
        station: str | None = None,
        reason: str | None = None,
        ids: Sequence[int] | None = None,
        limit: int = 100,
    ) -> list[StoredDeadLetter]:
        return quarantine_rows.dead_letters(
            self._rows,
            self._dialect,
            self._quarantine.ids_clause,
            station=station,
            reason=reason,
            ids=ids,
            limit=limit,
        )

    def dead_letter_counts(self) -> dict[str, int]:
        return quarantine_rows.dead_letter_counts(self._rows)

    def suspect_readings(self, station: str, *, limit: int = 100) -> list[SuspectReading]:
        return quarantine_rows.suspect_readings(self._rows, self._dialect, station, limit)

    def revisions(self, station: str, *, limit: int = 100) -> list[Revision]:
        return quarantine_rows.revisions(self._rows, self._dialect, station, limit)

    # -- assessment: manual results and period aggregates (the engine's *_assessment.py) ---------------------

    def save_manual_results(
        self, rows: Sequence[ManualRow], *, imported_at: datetime | None = None
    ) -> tuple[int, int, int]:
        with self._transaction() as db:
            return self._assessment.save_manual(db, rows, imported_at or datetime.now(UTC))

    def manual_results(
        self, section: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[StoredManualResult]:
        with self._lock:
            return self._assessment.manual_results(self._db, section, start, end)

    def period_stats(
        self, stations: Sequence[str], start: datetime, end: datetime, *, max_time: bool = True
    ) -> dict[tuple[str, str], ItemStats]:
        """The raw readings' figures together with those of the hours retention moved into readings_hourly
        (a reading is in exactly one of the two: retention_rows.py)."""
        with self._lock:
            raw = self._assessment.period_stats(self._db, stations, start, end, max_time=max_time)
            retired = retention_rows.hourly_stats(
                self._db, self._dialect, stations, start, end, max_time=max_time
            )
        if not retired:
            return raw
        merged = {key: retention_rows.merge_stats(raw.get(key), retired.get(key)) for key in raw | retired}
        return {key: stats for key, stats in merged.items() if stats is not None}

    def manual_period_stats(
        self, sections: Sequence[str], start: datetime, end: datetime, *, max_time: bool = True
    ) -> dict[tuple[str, str], ItemStats]:
        with self._lock:
            return self._assessment.manual_period_stats(self._db, sections, start, end, max_time=max_time)

    def daily_means(
        self, station: str, param: str, start: datetime, end: datetime, tz: str = "Asia/Shanghai"
    ) -> list[DailyMean]:
        with self._lock:
            raw = self._assessment.daily_means(self._db, station, param, start, end, tz)
            shift = fixed_offset_us(tz, start, end)
            retired = retention_rows.hourly_days(self._db, self._dialect, station, param, start, end, shift)
        return retention_rows.merge_days(raw, retired) if retired else raw

    def hourly_sums(self, station: str, start: datetime, end: datetime) -> retention_rows.HourSums:
        with self._lock:
            return retention_rows.hourly_sums(self._db, self._dialect, station, start, end)

    # -- retention: old raw readings moved into hourly aggregates (retention_rows.py, collector/retention.py) --

    def retention_stations(self) -> list[str]:
        with self._lock:
            return retention_rows.stations(self._db)

    def oldest_raw(self, station: str) -> datetime | None:
        """The time of ``station``'s oldest raw reading (None: none)."""
        with self._lock:
            return retention_rows.oldest_raw(self._db, self._dialect, station)

    def retire_raw(self, station: str, start: datetime, end: datetime) -> int:
        """Move ``station``'s raw readings in [start, end) (whole hours) into hourly aggregates, in one short
        transaction; how many raw rows went."""
        with self._transaction() as db:
            return retention_rows.retire(db, self._dialect, station, start, end)

    # SQLite keeps readings in one table: no time partitions. PostgreSQL's (postgres_partitions.py) override these.

    def prepare_partitions(self, now: datetime) -> list[str]:
        return []

    def retirable_partitions(self, until: datetime) -> list[str]:
        return []

    def retire_partition(self, name: str) -> int:
        return 0

    # -- people, sessions, API tokens and the audit log (auth_rows.py) -------------------------------------------

    def auth(self) -> auth_rows.AuthRows:
        return auth_rows.AuthRows(self._transaction, self._rows, self._dialect)

    # -- the products' archive (report_rows.py) ---------------------------------------------------------------

    def save_report(self, record: ReportRecord) -> int:
        with self._transaction() as db:
            return report_rows.save_report(db, self._dialect, record)

    def report(self, kind: str, period: str) -> StoredReport | None:
        return report_rows.report(self._rows, self._dialect, kind, period)

    def reports(self, *, kind: str | None = None, limit: int = 100) -> list[StoredReport]:
        return report_rows.reports(self._rows, self._dialect, kind, limit)

    def report_history(self, kind: str, period: str, *, limit: int = 100) -> list[StoredReport]:
        return report_rows.history(self._rows, self._dialect, kind, period, limit)

    def arrivals(self, stations: Sequence[str], start: datetime, end: datetime, since: datetime) -> Arrivals:
        with self._lock:  # the three counts see the same tables
            return report_rows.arrivals(self._rows, self._dialect, stations, start, end, since)

    # -- the store itself ------------------------------------------------------------------------------------

    def unreadable(self) -> dict[str, int]:
        return self._read_back.snapshot()

    def counts(self) -> dict[str, int]:
        """Row counts per table (for /api/stats), read together under the lock."""
        with self._lock:
            return {
                table: int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in TABLES
            }

    def ping(self) -> bool:
        try:
            self._rows("SELECT 1")
            return True
        except self._driver_error:
            return False

    def checkpoint(self) -> bool:
        """Keep the write-ahead log from outgrowing its data, in a quiet moment (the service's ticker calls
        this every few minutes). Nothing to do here: PostgreSQL's checkpointer recycles its WAL; SQLite's store
        overrides it. False when it could not be done now."""
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()
