"""The PostgreSQL store (psycopg 3): the same tables and identities as the SQLite store, for a province or more.

Times are ``timestamptz`` (the session runs in UTC); message bodies are ``jsonb``. Readings go in with one
``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`` per ``apply`` (all its batches), whose row count is
the number of new readings. One connection guarded by a lock, like the SQLite store: the collector has a single applier
thread.
Install with ``pip install 'qingliu[postgres]'``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from collector.alerts.model import Alert
from collector.store import postgres_assessment
from collector.store.base import (
    ApplyResult,
    DeadLetter,
    ReadBack,
    Received,
    Revision,
    SeqSummary,
    StoredCommand,
    StoredDeadLetter,
    StoredEvent,
    StoredReading,
    StoredStatus,
    SuspectReading,
    Transition,
    alerts_query,
    checked_body,
    summary_from_ranges,
    supersedes,
    utc,
    value_key,
)
from collector.store.manual_rows import ManualRow, StoredManualResult
from collector.store.stats import DailyMean, ItemStats
from protocols.flags import Flag
from protocols.messages import Command, CommandReply, Event, Reading, ReadingBatch, StationState, Status

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    station text NOT NULL, param text NOT NULL, t timestamptz NOT NULL,
    value double precision, flag text NOT NULL, device text, seq bigint, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, param, t)
);
CREATE INDEX IF NOT EXISTS readings_by_time ON readings (station, t);
CREATE TABLE IF NOT EXISTS latest (
    station text NOT NULL, param text NOT NULL, t timestamptz NOT NULL,
    value double precision, flag text NOT NULL, device text, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, param)
);
CREATE TABLE IF NOT EXISTS messages (
    station text NOT NULL, seq bigint NOT NULL, lane text NOT NULL, sent_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL, n integer NOT NULL,
    PRIMARY KEY (station, seq)
);
CREATE TABLE IF NOT EXISTS events (
    station text NOT NULL, id text NOT NULL, at timestamptz NOT NULL, kind text NOT NULL, severity text NOT NULL,
    body jsonb NOT NULL, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (station, at);
CREATE TABLE IF NOT EXISTS statuses (
    station text PRIMARY KEY, at timestamptz NOT NULL, body jsonb NOT NULL, received_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS transitions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, station text NOT NULL, at timestamptz NOT NULL,
    old text, new text NOT NULL, reasons jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_station ON transitions (station, id);
CREATE INDEX IF NOT EXISTS transitions_by_time ON transitions (station, at);
CREATE TABLE IF NOT EXISTS commands (
    station text NOT NULL, id text NOT NULL, issued_at timestamptz NOT NULL, body jsonb NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE IF NOT EXISTS alerts (
    id text PRIMARY KEY, station text NOT NULL, status text NOT NULL, severity text NOT NULL,
    opened_at timestamptz NOT NULL, body jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (opened_at);
CREATE TABLE IF NOT EXISTS blobs (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS replies (
    station text NOT NULL, id text NOT NULL, body jsonb NOT NULL, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE IF NOT EXISTS suspect_readings (
    station text NOT NULL, param text NOT NULL, t timestamptz NOT NULL,
    value double precision, flag text NOT NULL, device text, seq bigint, received_at timestamptz NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY (station, param, t)
);
CREATE TABLE IF NOT EXISTS reading_revisions (
    station text NOT NULL, param text NOT NULL, t timestamptz NOT NULL, vkey text NOT NULL, flag text NOT NULL,
    value double precision, seq bigint, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, param, t, vkey, flag)
);
CREATE INDEX IF NOT EXISTS revisions_by_received ON reading_revisions (station, received_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, digest text NOT NULL UNIQUE, topic text NOT NULL,
    station text, payload bytea NOT NULL, reason text NOT NULL, error text NOT NULL,
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL, count bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter_totals (reason text PRIMARY KEY, n bigint NOT NULL);
"""

_FLAG_TEXT = {flag: flag.value for flag in Flag}  # Enum.value is a slow property; this runs per reading


@dataclass(slots=True)
class _Rows:
    """Readings as columns, for one ``unnest`` insert."""

    station: list[str] = field(default_factory=list)
    param: list[str] = field(default_factory=list)
    t: list[datetime] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    flag: list[str] = field(default_factory=list)
    device: list[str | None] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    received: list[datetime] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)  # suspect readings only

    def add(self, station: str, r: Reading, seq: int, received: datetime) -> None:
        self.station.append(station)
        self.param.append(r.param)
        self.t.append(r.t)
        self.value.append(r.value)
        self.flag.append(_FLAG_TEXT[r.flag])
        self.device.append(r.device)
        self.seq.append(seq)
        self.received.append(received)


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
_UNNEST_READINGS = (
    "unnest(%s::text[], %s::text[], %s::timestamptz[], %s::float8[], %s::text[], %s::text[], %s::bigint[],"
    " %s::timestamptz[])"
)


class PostgresStore:
    def __init__(self, url: str, *, schema: str | None = None) -> None:
        import psycopg  # optional dependency: only a PostgreSQL deployment needs it

        self._psycopg = psycopg
        self._lock = threading.RLock()
        self._read_back = ReadBack()
        self._db = psycopg.connect(url, autocommit=True)
        self._db.execute("SET TIME ZONE 'UTC'")
        if schema is not None:
            self._db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self._db.execute(f'SET search_path TO "{schema}"')
        with self._db.transaction():
            for statement in (SCHEMA + postgres_assessment.SCHEMA).split(";"):
                if statement.strip():
                    self._db.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock, self._db.transaction():
            yield self._db

    # -- writing ---------------------------------------------------------------------------------------------

    def apply(self, items: Sequence[Received]) -> ApplyResult:
        result = ApplyResult()
        readings = _Rows()  # every reading of every batch: one INSERT per call
        suspects = _Rows()  # readings outside the time window
        newest: dict[tuple[str, str], tuple[Reading, datetime]] = {}  # (station, param) → newest, received
        with self._transaction() as db:
            for item in items:
                message, received = item.message, utc(item.received_at)
                if isinstance(message, ReadingBatch):
                    self._apply_batch(db, message, received, result, readings, newest, item.suspect, suspects)
                elif isinstance(message, Status):
                    body = checked_body(message)
                    row = db.execute(
                        "SELECT body FROM statuses WHERE station = %s FOR UPDATE", (message.station,)
                    ).fetchone()
                    held = self._held_status(message.station, row[0]) if row is not None else None
                    if supersedes(message, held):
                        db.execute(
                            "INSERT INTO statuses VALUES (%s, %s, %s, %s) ON CONFLICT (station) DO UPDATE SET"
                            " at = excluded.at, body = excluded.body, received_at = excluded.received_at",
                            (message.station, message.at, body, received),
                        )
                        result.statuses_saved += 1
                    else:
                        result.statuses_stale += 1
                elif isinstance(message, Event):
                    cur = db.execute(
                        "INSERT INTO events VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (
                            message.station,
                            message.id,
                            message.at,
                            message.kind.value,
                            message.severity.value,
                            checked_body(message),
                            received,
                        ),
                    )
                    if cur.rowcount:
                        result.events_inserted += 1
                    else:
                        result.events_duplicate += 1
                elif isinstance(message, CommandReply):
                    cur = db.execute(
                        "INSERT INTO replies VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (message.station, message.id, checked_body(message), received),
                    )
                    if cur.rowcount:
                        result.replies_inserted += 1
                    else:
                        result.replies_duplicate += 1
            if readings.station:
                self._insert_readings(db, readings, newest, result)
            if suspects.station:
                cur = db.execute(
                    "INSERT INTO suspect_readings SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[],"
                    " %s::float8[], %s::text[], %s::text[], %s::bigint[], %s::timestamptz[], %s::text[])"
                    " ON CONFLICT DO NOTHING",
                    (*_columns(suspects), suspects.reason),
                )
                result.suspect_inserted += cur.rowcount
                result.suspect_duplicate += len(suspects.station) - cur.rowcount
        return result

    def _held_status(self, station: str, body: Any) -> Status | None:
        """The stored status of ``station``; None when it no longer reads back (any new status replaces it)."""
        return self._read_back.parse("statuses", station, lambda: Status.model_validate(body))

    @staticmethod
    def _keep_revisions(db: Any, rows: _Rows, result: ApplyResult) -> None:
        """Rows whose identity is stored with another value or flag go to ``reading_revisions`` (the stored
        value stays as it is); an identical re-send is a plain duplicate."""
        revised = db.execute(
            f"SELECT x.station, x.param, x.t, x.value, x.flag, x.seq, x.received FROM {_UNNEST_READINGS}"
            " AS x (station, param, t, value, flag, device, seq, received) JOIN readings r"
            " ON r.station = x.station AND r.param = x.param AND r.t = x.t"
            " WHERE r.value IS DISTINCT FROM x.value OR r.flag <> x.flag",
            _columns(rows),
        ).fetchall()
        for station, param, t, value, flag, seq, received in revised:
            cur = db.execute(
                "INSERT INTO reading_revisions VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (station, param, t, value_key(value), flag, value, seq, received),
            )
            if cur.rowcount:
                result.readings_revised += 1
                result.revisions[station] = result.revisions.get(station, 0) + 1

    @staticmethod
    def _apply_batch(
        db: Any,
        batch: ReadingBatch,
        received: datetime,
        result: ApplyResult,
        readings: _Rows,
        newest: dict[tuple[str, str], tuple[Reading, datetime]],
        suspect: Mapping[int, str],
        suspects: _Rows,
    ) -> None:
        """Store the message record now; queue its readings and newest values for ``_insert_readings``;
        readings outside the time window (``suspect``) in ``suspects``, never in ``newest``."""
        cur = db.execute(
            "INSERT INTO messages VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (batch.station, batch.seq, batch.lane.value, batch.sent_at, received, len(batch.readings)),
        )
        if cur.rowcount:
            result.messages_inserted += 1
            result.new_batches.add((batch.station, batch.seq))
        else:
            result.messages_duplicate += 1
        station, seq = batch.station, batch.seq
        if suspect:
            for i, r in enumerate(batch.readings):
                reason = suspect.get(i)
                if reason is not None:
                    suspects.add(station, r, seq, received)
                    suspects.reason.append(reason)
            kept = [r for i, r in enumerate(batch.readings) if i not in suspect]
        else:
            kept = batch.readings
        for r in kept:
            readings.add(station, r, seq, received)
            key = (station, r.param)
            held = newest.get(key)
            if held is None or r.t > held[0].t:  # the first of equal times wins, as in the table
                newest[key] = (r, received)

    @staticmethod
    def _insert_readings(
        db: Any,
        rows: _Rows,
        newest: dict[tuple[str, str], tuple[Reading, datetime]],
        result: ApplyResult,
    ) -> None:
        # Readings are deduplicated on their own identity too: a resend carries old readings under a new seq.
        cur = db.execute(
            f"INSERT INTO readings SELECT * FROM {_UNNEST_READINGS} ON CONFLICT DO NOTHING", _columns(rows)
        )
        result.readings_inserted += cur.rowcount
        result.readings_duplicate += len(rows.station) - cur.rowcount
        if cur.rowcount < len(rows.station):  # only then can a row differ from the one stored
            PostgresStore._keep_revisions(db, rows, result)
        # The latest value per parameter, one row per (station, param) of this call (an upsert may not touch a
        # row twice); the newer t wins over the table's.
        latest = [(station, param, r, received) for (station, param), (r, received) in newest.items()]
        if not latest:
            return
        db.execute(
            "INSERT INTO latest SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::float8[],"
            " %s::text[], %s::text[], %s::timestamptz[]) ON CONFLICT (station, param) DO UPDATE SET"
            " t = excluded.t, value = excluded.value, flag = excluded.flag, device = excluded.device,"
            " received_at = excluded.received_at WHERE excluded.t > latest.t",
            (
                [x[0] for x in latest],
                [x[1] for x in latest],
                [x[2].t for x in latest],
                [x[2].value for x in latest],
                [_FLAG_TEXT[x[2].flag] for x in latest],
                [x[2].device for x in latest],
                [x[3] for x in latest],
            ),
        )

    def add_transitions(self, transitions: Sequence[Transition]) -> None:
        if not transitions:
            return
        with self._transaction() as db:
            for t in transitions:
                db.execute(
                    "INSERT INTO transitions (station, at, old, new, reasons) VALUES (%s, %s, %s, %s, %s)",
                    (
                        t.station,
                        t.at,
                        t.old.value if t.old else None,
                        t.new.value,
                        json.dumps(list(t.reasons)),
                    ),
                )

    def save_command(self, command: Command) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO commands VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (command.station, command.id, command.issued_at, command.model_dump_json()),
            )

    # -- reading ---------------------------------------------------------------------------------------------

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

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
        sql = "SELECT station, param, t, value, flag, device, received_at FROM readings WHERE station = %s"
        args: list[Any] = [station]
        if param is not None:
            sql += " AND param = %s"
            args.append(param)
        if start is not None:
            sql += " AND t >= %s"
            args.append(utc(start))
        if end is not None:
            sql += " AND t < %s"
            args.append(utc(end))
        sql += f" ORDER BY t {'DESC' if newest else 'ASC'}, param LIMIT %s"
        args.append(limit)
        found = [self._reading(row) for row in self._rows(sql, args)]
        return found[::-1] if newest else found

    @staticmethod
    def _reading(row: tuple[Any, ...]) -> StoredReading:
        station, param, t, value, flag, device, received = row
        return StoredReading(station, param, utc(t), value, flag, device, utc(received))

    def latest(self, station: str) -> dict[str, StoredReading]:
        rows = self._rows(
            "SELECT station, param, t, value, flag, device, received_at FROM latest WHERE station = %s",
            (station,),
        )
        return {row[1]: self._reading(row) for row in rows}

    def last_reading_at(self, station: str) -> datetime | None:
        rows = self._rows("SELECT MAX(t) FROM latest WHERE station = %s", (station,))
        return utc(rows[0][0]) if rows and rows[0][0] is not None else None

    def statuses(self) -> dict[str, StoredStatus]:
        found = {}
        for station, body, received in self._rows("SELECT station, body, received_at FROM statuses"):
            status = self._read_back.parse("statuses", station, partial(Status.model_validate, body))
            if status is not None:  # unreadable: as if the station had sent none
                found[station] = StoredStatus(status, utc(received))
        return found

    def transitions(self, station: str, *, limit: int = 50) -> list[Transition]:
        rows = self._rows(
            "SELECT station, at, old, new, reasons FROM transitions WHERE station = %s ORDER BY id DESC LIMIT %s",
            (station, limit),
        )
        return [self._transition(row) for row in rows]

    def transitions_between(
        self, station: str, start: datetime, end: datetime
    ) -> tuple[Transition | None, list[Transition]]:
        before = self._rows(
            "SELECT station, at, old, new, reasons FROM transitions WHERE station = %s AND at <= %s"
            " ORDER BY at DESC, id DESC LIMIT 1",
            (station, utc(start)),
        )
        rows = self._rows(
            "SELECT station, at, old, new, reasons FROM transitions WHERE station = %s AND at > %s AND at < %s"
            " ORDER BY at, id",
            (station, utc(start), utc(end)),
        )
        return (self._transition(before[0]) if before else None), [self._transition(r) for r in rows]

    def last_transitions(self) -> dict[str, Transition]:
        rows = self._rows(
            "SELECT DISTINCT ON (station) station, at, old, new, reasons FROM transitions ORDER BY station, id DESC"
        )
        return {row[0]: self._transition(row) for row in rows}

    @staticmethod
    def _transition(row: tuple[Any, ...]) -> Transition:
        station, at, old, new, reasons = row
        return Transition(
            station, utc(at), StationState(old) if old else None, StationState(new), tuple(reasons)
        )

    def command(self, station: str, command_id: str) -> StoredCommand | None:
        rows = self._rows(
            "SELECT c.body, r.body, r.received_at FROM commands c LEFT JOIN replies r"
            " ON r.station = c.station AND r.id = c.id WHERE c.station = %s AND c.id = %s",
            (station, command_id),
        )
        if not rows:
            return None
        command_body, reply_body, received = rows[0]
        key = f"{station}/{command_id}"
        command = self._read_back.parse("commands", key, lambda: Command.model_validate(command_body))
        if command is None:
            return None
        reply = (
            self._read_back.parse("replies", key, lambda: CommandReply.model_validate(reply_body))
            if reply_body is not None
            else None
        )
        return StoredCommand(command, reply, utc(received) if reply is not None else None)

    def events(self, station: str, *, limit: int = 50) -> list[StoredEvent]:
        rows = self._rows(
            "SELECT id, body, received_at FROM events WHERE station = %s ORDER BY at DESC LIMIT %s",
            (station, limit),
        )
        found = []
        for event_id, body, received in rows:
            event = self._read_back.parse(
                "events", f"{station}/{event_id}", partial(Event.model_validate, body)
            )
            if event is not None:
                found.append(StoredEvent(event, utc(received)))
        return found

    def seq_summary(self, station: str) -> SeqSummary:
        rows = self._rows(
            "SELECT MIN(seq), MAX(seq) FROM (SELECT seq, seq - ROW_NUMBER() OVER (ORDER BY seq) AS grp"
            " FROM messages WHERE station = %s) AS runs GROUP BY grp ORDER BY 1",
            (station,),
        )
        return summary_from_ranges([(int(lo), int(hi)) for lo, hi in rows])

    # -- alerts ----------------------------------------------------------------------------------------------

    def save_alerts(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        with self._transaction() as db:
            for a in alerts:
                db.execute(
                    "INSERT INTO alerts VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                    " station = excluded.station, status = excluded.status, severity = excluded.severity,"
                    " opened_at = excluded.opened_at, body = excluded.body",
                    (a.id, a.station, a.status.value, a.severity.value, a.opened_at, a.model_dump_json()),
                )

    def alerts(
        self,
        *,
        state: str | None = None,
        station: str | None = None,
        severity: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        sql, args = alerts_query(state=state, station=station, severity=severity, limit=limit, mark="%s")
        found = [self._alert(row[0]) for row in self._rows(sql, args)]
        return [a for a in found if a is not None]

    def alert(self, alert_id: str) -> Alert | None:
        rows = self._rows("SELECT body FROM alerts WHERE id = %s", (alert_id,))
        return self._alert(rows[0][0]) if rows else None

    def _alert(self, body: Any) -> Alert | None:
        key = body.get("id") if isinstance(body, dict) else None
        return self._read_back.parse("alerts", key, lambda: Alert.model_validate(body))

    def save_blob(self, key: str, text: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO blobs VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, text),
            )

    def load_blob(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM blobs WHERE key = %s", (key,))
        return str(rows[0][0]) if rows else None

    # -- quarantine, suspects, revisions ---------------------------------------------------------------------

    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        if not letters:
            return 0
        added = 0
        with self._transaction() as db:
            for d in letters:
                cur = db.execute(
                    "INSERT INTO dead_letters (digest, topic, station, payload, reason, error, first_seen,"
                    " last_seen, count) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1)"
                    " ON CONFLICT (digest) DO UPDATE SET count = dead_letters.count + 1,"
                    " last_seen = GREATEST(dead_letters.last_seen, excluded.last_seen),"
                    " reason = excluded.reason, error = excluded.error"
                    " RETURNING (xmax = 0)",
                    (d.digest, d.topic, d.station, d.payload, d.reason, d.error, d.seen_at, d.seen_at),
                )
                row = cur.fetchone()
                if row is not None and row[0]:
                    added += 1
                db.execute(
                    "INSERT INTO dead_letter_totals VALUES (%s, 1) ON CONFLICT (reason) DO UPDATE SET"
                    " n = dead_letter_totals.n + 1",
                    (d.reason,),
                )
        return added

    def dead_letters(
        self,
        *,
        station: str | None = None,
        reason: str | None = None,
        ids: Sequence[int] | None = None,
        limit: int = 100,
    ) -> list[StoredDeadLetter]:
        sql = (
            "SELECT id, station, topic, payload, reason, error, first_seen, last_seen, count FROM dead_letters"
            " WHERE true"
        )
        args: list[Any] = []
        if station is not None:
            sql += " AND station = %s"
            args.append(station)
        if reason is not None:
            sql += " AND reason = %s"
            args.append(reason)
        if ids is not None:
            sql += " AND id = ANY(%s::bigint[])"
            args.append([int(i) for i in ids])
        sql += " ORDER BY last_seen DESC, id DESC LIMIT %s"
        args.append(limit)
        return [
            StoredDeadLetter(int(i), st, topic, bytes(payload), r, err, utc(f), utc(la), int(n))
            for i, st, topic, payload, r, err, f, la, n in self._rows(sql, args)
        ]

    def remove_dead_letters(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        with self._transaction() as db:
            cur = db.execute(
                "DELETE FROM dead_letters WHERE id = ANY(%s::bigint[])", ([int(i) for i in ids],)
            )
            return int(cur.rowcount)

    def dead_letter_counts(self) -> dict[str, int]:
        return {r: int(n) for r, n in self._rows("SELECT reason, n FROM dead_letter_totals ORDER BY reason")}

    def suspect_readings(self, station: str, *, limit: int = 100) -> list[SuspectReading]:
        rows = self._rows(
            "SELECT station, param, t, value, flag, seq, received_at, reason FROM suspect_readings"
            " WHERE station = %s ORDER BY t DESC LIMIT %s",
            (station, limit),
        )
        return [
            SuspectReading(st, p, utc(t), v, f, seq, utc(rec), reason)
            for st, p, t, v, f, seq, rec, reason in rows
        ]

    def revisions(self, station: str, *, limit: int = 100) -> list[Revision]:
        rows = self._rows(
            "SELECT station, param, t, value, flag, seq, received_at FROM reading_revisions"
            " WHERE station = %s ORDER BY received_at DESC LIMIT %s",
            (station, limit),
        )
        return [Revision(st, p, utc(t), v, f, seq, utc(rec)) for st, p, t, v, f, seq, rec in rows]

    # -- assessment: manual results and period aggregates (collector/store/postgres_assessment.py) -----------

    def save_manual_results(
        self, rows: Sequence[ManualRow], *, imported_at: datetime | None = None
    ) -> tuple[int, int, int]:
        with self._transaction() as db:
            return postgres_assessment.save_manual(db, rows, imported_at or datetime.now(UTC))

    def manual_results(
        self, section: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[StoredManualResult]:
        with self._lock:
            return postgres_assessment.manual_results(self._db, section, start, end)

    def period_stats(
        self, stations: Sequence[str], start: datetime, end: datetime
    ) -> dict[tuple[str, str], ItemStats]:
        with self._lock:
            return postgres_assessment.period_stats(self._db, stations, start, end)

    def manual_period_stats(
        self, sections: Sequence[str], start: datetime, end: datetime
    ) -> dict[tuple[str, str], ItemStats]:
        with self._lock:
            return postgres_assessment.manual_period_stats(self._db, sections, start, end)

    def daily_means(
        self, station: str, param: str, start: datetime, end: datetime, tz: str = "Asia/Shanghai"
    ) -> list[DailyMean]:
        with self._lock:
            return postgres_assessment.daily_means(self._db, station, param, start, end, tz)

    def unreadable(self) -> dict[str, int]:
        return self._read_back.snapshot()

    def counts(self) -> dict[str, int]:
        return {table: int(self._rows(f"SELECT COUNT(*) FROM {table}")[0][0]) for table in TABLES}

    def ping(self) -> bool:
        try:
            self._rows("SELECT 1")
            return True
        except self._psycopg.Error:
            return False

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _columns(rows: _Rows) -> tuple[list[Any], ...]:
    """The readings columns in table order, for ``_UNNEST_READINGS``."""
    return (rows.station, rows.param, rows.t, rows.value, rows.flag, rows.device, rows.seq, rows.received)
