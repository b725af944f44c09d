"""The SQLite store: one file, WAL, synchronous=FULL (a commit is on disk before the applier deletes its
messages from the inbox, which is then the only other copy).

Times are INTEGER microseconds since the epoch, UTC. One connection guarded by a lock: the applier thread
batches many messages per transaction, so API reads wait at most one short commit.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from collector.alerts.model import Alert
from collector.store import sqlite_assessment
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
    from_us,
    summary_from_ranges,
    supersedes,
    to_us,
    value_key,
)
from collector.store.manual_rows import ManualRow, StoredManualResult
from collector.store.stats import DailyMean, ItemStats
from protocols.flags import Flag
from protocols.messages import Command, CommandReply, Event, Reading, ReadingBatch, StationState, Status

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS readings (
    station TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL,
    value REAL, flag TEXT NOT NULL, device TEXT, seq INTEGER, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, param, t)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_time ON readings (station, t);
CREATE TABLE IF NOT EXISTS latest (
    station TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL,
    value REAL, flag TEXT NOT NULL, device TEXT, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, param)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    station TEXT NOT NULL, seq INTEGER NOT NULL, lane TEXT NOT NULL, sent_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (station, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    station TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    body TEXT NOT NULL, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (station, at);
CREATE TABLE IF NOT EXISTS statuses (
    station TEXT PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL, received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT NOT NULL, at INTEGER NOT NULL,
    old TEXT, new TEXT NOT NULL, reasons TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_station ON transitions (station, id);
CREATE INDEX IF NOT EXISTS transitions_by_time ON transitions (station, at);
CREATE TABLE IF NOT EXISTS commands (
    station TEXT NOT NULL, id TEXT NOT NULL, issued_at INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, station TEXT NOT NULL, status TEXT NOT NULL, severity TEXT NOT NULL,
    opened_at INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (opened_at);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replies (
    station TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE IF NOT EXISTS suspect_readings (
    station TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL,
    value REAL, flag TEXT NOT NULL, device TEXT, seq INTEGER, received_at INTEGER NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (station, param, t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reading_revisions (
    station TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL, vkey TEXT NOT NULL, flag TEXT NOT NULL,
    value REAL, seq INTEGER, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, param, t, vkey, flag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS revisions_by_received ON reading_revisions (station, received_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, digest TEXT NOT NULL UNIQUE, topic TEXT NOT NULL, station TEXT,
    payload BLOB NOT NULL, reason TEXT NOT NULL, error TEXT NOT NULL,
    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter_totals (reason TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""


_FLAG_TEXT = {flag: flag.value for flag in Flag}  # Enum.value is a slow property; this runs per reading


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._db.executescript(sqlite_assessment.SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
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

    # -- writing ---------------------------------------------------------------------------------------------

    def apply(self, items: Sequence[Received]) -> ApplyResult:
        result = ApplyResult()
        rows: list[tuple[Any, ...]] = []  # every reading of every batch: one executemany per call
        suspects: list[tuple[Any, ...]] = []  # readings outside the time window
        newest: dict[tuple[str, str], tuple[Reading, int]] = {}  # (station, param) → newest reading, received
        with self._transaction() as db:
            for item in items:
                message, received = item.message, to_us(item.received_at)
                if isinstance(message, ReadingBatch):
                    self._apply_batch(db, message, received, result, rows, newest, item.suspect, suspects)
                elif isinstance(message, Status):
                    body = checked_body(message)
                    row = db.execute(
                        "SELECT body FROM statuses WHERE station = ?", (message.station,)
                    ).fetchone()
                    held = self._held_status(message.station, row[0]) if row is not None else None
                    if supersedes(message, held):
                        db.execute(
                            "INSERT OR REPLACE INTO statuses VALUES (?, ?, ?, ?)",
                            (message.station, to_us(message.at), body, received),
                        )
                        result.statuses_saved += 1
                    else:
                        result.statuses_stale += 1
                elif isinstance(message, Event):
                    before = db.total_changes
                    db.execute(
                        "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            message.station,
                            message.id,
                            to_us(message.at),
                            message.kind.value,
                            message.severity.value,
                            checked_body(message),
                            received,
                        ),
                    )
                    if db.total_changes > before:
                        result.events_inserted += 1
                    else:
                        result.events_duplicate += 1
                elif isinstance(message, CommandReply):
                    before = db.total_changes
                    db.execute(
                        "INSERT OR IGNORE INTO replies VALUES (?, ?, ?, ?)",
                        (message.station, message.id, checked_body(message), received),
                    )
                    if db.total_changes > before:
                        result.replies_inserted += 1
                    else:
                        result.replies_duplicate += 1
            if rows:
                # Readings are deduplicated on their own identity: a resend carries old readings under a new seq.
                before = db.total_changes
                db.executemany("INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                inserted = db.total_changes - before
                result.readings_inserted += inserted
                result.readings_duplicate += len(rows) - inserted
                if inserted < len(rows):  # only then can a row differ from the one stored
                    self._keep_revisions(db, rows, result)
                # The latest value per parameter is kept in its own small table so the dashboard never scans
                # history: one row per (station, param) of this call, the newest; a newer t wins over the table.
                db.executemany(
                    "INSERT INTO latest VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station, param) DO UPDATE SET"
                    " t = excluded.t, value = excluded.value, flag = excluded.flag, device = excluded.device,"
                    " received_at = excluded.received_at WHERE excluded.t > latest.t",
                    [
                        (station, param, to_us(r.t), r.value, _FLAG_TEXT[r.flag], r.device, received)
                        for (station, param), (r, received) in newest.items()
                    ],
                )
            if suspects:
                before = db.total_changes
                db.executemany(
                    "INSERT OR IGNORE INTO suspect_readings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", suspects
                )
                inserted = db.total_changes - before
                result.suspect_inserted += inserted
                result.suspect_duplicate += len(suspects) - inserted
        self._remember_latest(newest)  # after the commit: idempotent, newer t wins
        return result

    def _held_status(self, station: str, body: str) -> Status | None:
        """The stored status of ``station``; None when it no longer reads back (any new status replaces it)."""
        return self._read_back.parse("statuses", station, lambda: Status.model_validate_json(body))

    @staticmethod
    def _keep_revisions(db: sqlite3.Connection, rows: list[tuple[Any, ...]], result: ApplyResult) -> None:
        """Rows whose identity is stored with another value or flag go to ``reading_revisions`` (the stored
        value stays as it is); an identical re-send is a plain duplicate."""
        revised: list[tuple[Any, ...]] = []
        for station, param, t, value, flag, _device, seq, received in rows:
            held = db.execute(
                "SELECT value, flag FROM readings WHERE station = ? AND param = ? AND t = ?",
                (station, param, t),
            ).fetchone()
            if held is not None and (held[0] != value or held[1] != flag):
                revised.append((station, param, t, value_key(value), flag, value, seq, received))
        for row in revised:
            before = db.total_changes
            db.execute("INSERT OR IGNORE INTO reading_revisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            if db.total_changes > before:
                result.readings_revised += 1
                result.revisions[row[0]] = result.revisions.get(row[0], 0) + 1

    def _remember_latest(self, newest: dict[tuple[str, str], tuple[Reading, int]]) -> None:
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

    @staticmethod
    def _apply_batch(
        db: sqlite3.Connection,
        batch: ReadingBatch,
        received: int,
        result: ApplyResult,
        rows: list[tuple[Any, ...]],
        newest: dict[tuple[str, str], tuple[Reading, int]],
        suspect: Mapping[int, str],
        suspects: list[tuple[Any, ...]],
    ) -> None:
        """Store the message record now; queue its readings in ``rows`` and its newest values in ``newest``;
        readings outside the time window (``suspect``) in ``suspects``, never in ``newest``."""
        station, seq = batch.station, batch.seq
        before = db.total_changes
        db.execute(
            "INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?, ?)",
            (station, seq, batch.lane.value, to_us(batch.sent_at), received, len(batch.readings)),
        )
        if db.total_changes > before:
            result.messages_inserted += 1
            result.new_batches.add((station, seq))
        else:
            result.messages_duplicate += 1
        flag_text = _FLAG_TEXT
        if suspect:
            for i, r in enumerate(batch.readings):
                reason = suspect.get(i)
                if reason is not None:
                    suspects.append(
                        (
                            station,
                            r.param,
                            to_us(r.t),
                            r.value,
                            flag_text[r.flag],
                            r.device,
                            seq,
                            received,
                            reason,
                        )
                    )
            readings = [r for i, r in enumerate(batch.readings) if i not in suspect]
        else:
            readings = batch.readings
        for r in readings:
            rows.append((station, r.param, to_us(r.t), r.value, flag_text[r.flag], r.device, seq, received))
            key = (station, r.param)
            held = newest.get(key)
            if held is None or r.t > held[0].t:  # the first of equal times wins, as in the table
                newest[key] = (r, received)

    def add_transitions(self, transitions: Sequence[Transition]) -> None:
        if not transitions:
            return
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO transitions (station, at, old, new, reasons) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        t.station,
                        to_us(t.at),
                        t.old.value if t.old else None,
                        t.new.value,
                        json.dumps(t.reasons),
                    )
                    for t in transitions
                ],
            )

    def save_command(self, command: Command) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO commands VALUES (?, ?, ?, ?)",
                (command.station, command.id, to_us(command.issued_at), command.model_dump_json()),
            )

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
        sql = "SELECT station, param, t, value, flag, device, received_at FROM readings WHERE station = ?"
        args: list[object] = [station]
        if param is not None:
            sql += " AND param = ?"
            args.append(param)
        if start is not None:
            sql += " AND t >= ?"
            args.append(to_us(start))
        if end is not None:
            sql += " AND t < ?"
            args.append(to_us(end))
        sql += f" ORDER BY t {'DESC' if newest else 'ASC'}, param LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        found = [self._reading(row) for row in rows]
        return found[::-1] if newest else found

    @staticmethod
    def _reading(row: tuple[Any, ...]) -> StoredReading:
        station, param, t, value, flag, device, received = row
        return StoredReading(
            str(station),
            str(param),
            from_us(int(t)),
            None if value is None else float(value),
            str(flag),
            None if device is None else str(device),
            from_us(int(received)),
        )

    def latest(self, station: str) -> dict[str, StoredReading]:
        with self._lock:
            if self._latest is None:
                rows = self._db.execute(
                    "SELECT station, param, t, value, flag, device, received_at FROM latest"
                ).fetchall()
                loaded: dict[str, dict[str, StoredReading]] = {}
                for row in rows:
                    loaded.setdefault(str(row[0]), {})[str(row[1])] = self._reading(row)
                self._latest = loaded
            return dict(self._latest.get(station, {}))

    def last_reading_at(self, station: str) -> datetime | None:
        with self._lock:
            row = self._db.execute("SELECT MAX(t) FROM latest WHERE station = ?", (station,)).fetchone()
        return None if row is None or row[0] is None else from_us(int(row[0]))

    def statuses(self) -> dict[str, StoredStatus]:
        with self._lock:
            rows = self._db.execute("SELECT station, body, received_at FROM statuses").fetchall()
        found = {}
        for station, body, received in rows:
            status = self._read_back.parse("statuses", station, partial(Status.model_validate_json, body))
            if status is not None:  # unreadable: as if the station had sent none
                found[str(station)] = StoredStatus(status, from_us(int(received)))
        return found

    def transitions(self, station: str, *, limit: int = 50) -> list[Transition]:
        with self._lock:
            rows = self._db.execute(
                "SELECT station, at, old, new, reasons FROM transitions WHERE station = ? ORDER BY id DESC"
                " LIMIT ?",
                (station, limit),
            ).fetchall()
        return [self._transition(row) for row in rows]

    def transitions_between(
        self, station: str, start: datetime, end: datetime
    ) -> tuple[Transition | None, list[Transition]]:
        with self._lock:
            before = self._db.execute(
                "SELECT station, at, old, new, reasons FROM transitions WHERE station = ? AND at <= ?"
                " ORDER BY at DESC, id DESC LIMIT 1",
                (station, to_us(start)),
            ).fetchone()
            rows = self._db.execute(
                "SELECT station, at, old, new, reasons FROM transitions WHERE station = ? AND at > ? AND at < ?"
                " ORDER BY at, id",
                (station, to_us(start), to_us(end)),
            ).fetchall()
        return (self._transition(before) if before else None), [self._transition(r) for r in rows]

    def last_transitions(self) -> dict[str, Transition]:
        with self._lock:
            rows = self._db.execute(
                "SELECT station, at, old, new, reasons FROM transitions WHERE id IN"
                " (SELECT MAX(id) FROM transitions GROUP BY station)"
            ).fetchall()
        return {str(row[0]): self._transition(row) for row in rows}

    @staticmethod
    def _transition(row: tuple[Any, ...]) -> Transition:
        station, at, old, new, reasons = row
        return Transition(
            str(station),
            from_us(int(at)),
            StationState(old) if old else None,
            StationState(new),
            tuple(json.loads(str(reasons))),
        )

    def command(self, station: str, command_id: str) -> StoredCommand | None:
        with self._lock:
            row = self._db.execute(
                "SELECT c.body, r.body, r.received_at FROM commands c LEFT JOIN replies r"
                " ON r.station = c.station AND r.id = c.id WHERE c.station = ? AND c.id = ?",
                (station, command_id),
            ).fetchone()
        if row is None:
            return None
        key = f"{station}/{command_id}"
        command = self._read_back.parse("commands", key, lambda: Command.model_validate_json(row[0]))
        if command is None:
            return None
        reply = (
            self._read_back.parse("replies", key, lambda: CommandReply.model_validate_json(row[1]))
            if row[1] is not None
            else None
        )
        return StoredCommand(command, reply, from_us(int(row[2])) if reply is not None else None)

    def events(self, station: str, *, limit: int = 50) -> list[StoredEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, body, received_at FROM events WHERE station = ? ORDER BY at DESC LIMIT ?",
                (station, limit),
            ).fetchall()
        found = []
        for event_id, body, received in rows:
            event = self._read_back.parse(
                "events", f"{station}/{event_id}", partial(Event.model_validate_json, body)
            )
            if event is not None:
                found.append(StoredEvent(event, from_us(int(received))))
        return found

    def seq_summary(self, station: str) -> SeqSummary:
        # Islands of consecutive seq: seq - row_number is constant within one run.
        with self._lock:
            rows = self._db.execute(
                "SELECT MIN(seq), MAX(seq) FROM (SELECT seq, seq - ROW_NUMBER() OVER (ORDER BY seq) AS grp"
                " FROM messages WHERE station = ?) GROUP BY grp ORDER BY 1",
                (station,),
            ).fetchall()
        return summary_from_ranges([(int(lo), int(hi)) for lo, hi in rows])

    # -- alerts ----------------------------------------------------------------------------------------------

    def save_alerts(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        with self._transaction() as db:
            for a in alerts:
                db.execute(
                    "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                    " station = excluded.station, status = excluded.status, severity = excluded.severity,"
                    " opened_at = excluded.opened_at, body = excluded.body",
                    (
                        a.id,
                        a.station,
                        a.status.value,
                        a.severity.value,
                        to_us(a.opened_at),
                        a.model_dump_json(),
                    ),
                )

    def alerts(
        self,
        *,
        state: str | None = None,
        station: str | None = None,
        severity: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        sql, args = alerts_query(state=state, station=station, severity=severity, limit=limit, mark="?")
        found = [self._alert(row[0]) for row in self._select(sql, args)]
        return [a for a in found if a is not None]

    def alert(self, alert_id: str) -> Alert | None:
        rows = self._select("SELECT body FROM alerts WHERE id = ?", (alert_id,))
        return self._alert(rows[0][0]) if rows else None

    def _alert(self, body: str) -> Alert | None:
        return self._read_back.parse("alerts", hash(body), lambda: Alert.model_validate_json(body))

    def save_blob(self, key: str, text: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO blobs VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, text),
            )

    def load_blob(self, key: str) -> str | None:
        rows = self._select("SELECT value FROM blobs WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def _select(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    # -- quarantine, suspects, revisions ---------------------------------------------------------------------

    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        if not letters:
            return 0
        added = 0
        with self._transaction() as db:
            for d in letters:
                seen = to_us(d.seen_at)
                before = db.total_changes
                db.execute(
                    "INSERT INTO dead_letters (digest, topic, station, payload, reason, error, first_seen,"
                    " last_seen, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (digest) DO NOTHING",
                    (d.digest, d.topic, d.station, d.payload, d.reason, d.error, seen, seen),
                )
                if db.total_changes > before:
                    added += 1
                else:
                    db.execute(
                        "UPDATE dead_letters SET count = count + 1, last_seen = MAX(last_seen, ?), reason = ?,"
                        " error = ? WHERE digest = ?",
                        (seen, d.reason, d.error, d.digest),
                    )
                db.execute(
                    "INSERT INTO dead_letter_totals VALUES (?, 1) ON CONFLICT (reason) DO UPDATE SET n = n + 1",
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
            " WHERE 1 = 1"
        )
        args: list[Any] = []
        if station is not None:
            sql += " AND station = ?"
            args.append(station)
        if reason is not None:
            sql += " AND reason = ?"
            args.append(reason)
        if ids is not None:
            sql += f" AND id IN ({', '.join('?' * len(ids))})" if ids else " AND 0"
            args += [int(i) for i in ids]
        sql += " ORDER BY last_seen DESC, id DESC LIMIT ?"
        args.append(limit)
        return [
            StoredDeadLetter(
                int(i),
                st,
                str(topic),
                bytes(payload),
                str(r),
                str(err),
                from_us(int(f)),
                from_us(int(la)),
                int(n),
            )
            for i, st, topic, payload, r, err, f, la, n in self._select(sql, args)
        ]

    def remove_dead_letters(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        with self._transaction() as db:
            before = db.total_changes
            db.executemany("DELETE FROM dead_letters WHERE id = ?", [(int(i),) for i in ids])
            return db.total_changes - before

    def dead_letter_counts(self) -> dict[str, int]:
        return {
            str(r): int(n)
            for r, n in self._select("SELECT reason, n FROM dead_letter_totals ORDER BY reason")
        }

    def suspect_readings(self, station: str, *, limit: int = 100) -> list[SuspectReading]:
        rows = self._select(
            "SELECT station, param, t, value, flag, seq, received_at, reason FROM suspect_readings"
            " WHERE station = ? ORDER BY t DESC LIMIT ?",
            (station, limit),
        )
        return [
            SuspectReading(st, p, from_us(int(t)), v, f, seq, from_us(int(rec)), reason)
            for st, p, t, v, f, seq, rec, reason in rows
        ]

    def revisions(self, station: str, *, limit: int = 100) -> list[Revision]:
        rows = self._select(
            "SELECT station, param, t, value, flag, seq, received_at FROM reading_revisions"
            " WHERE station = ? ORDER BY received_at DESC LIMIT ?",
            (station, limit),
        )
        return [
            Revision(st, p, from_us(int(t)), v, f, seq, from_us(int(rec)))
            for st, p, t, v, f, seq, rec in rows
        ]

    # -- assessment: manual results and period aggregates (collector/store/sqlite_assessment.py) -------------

    def save_manual_results(
        self, rows: Sequence[ManualRow], *, imported_at: datetime | None = None
    ) -> tuple[int, int, int]:
        with self._transaction() as db:
            return sqlite_assessment.save_manual(db, rows, imported_at or datetime.now(UTC))

    def manual_results(
        self, section: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[StoredManualResult]:
        with self._lock:
            return sqlite_assessment.manual_results(self._db, section, start, end)

    def period_stats(
        self, stations: Sequence[str], start: datetime, end: datetime
    ) -> dict[tuple[str, str], ItemStats]:
        with self._lock:
            return sqlite_assessment.period_stats(self._db, stations, start, end)

    def manual_period_stats(
        self, sections: Sequence[str], start: datetime, end: datetime
    ) -> dict[tuple[str, str], ItemStats]:
        with self._lock:
            return sqlite_assessment.manual_period_stats(self._db, sections, start, end)

    def daily_means(
        self, station: str, param: str, start: datetime, end: datetime, tz: str = "Asia/Shanghai"
    ) -> list[DailyMean]:
        with self._lock:
            return sqlite_assessment.daily_means(self._db, station, param, start, end, tz)

    def unreadable(self) -> dict[str, int]:
        return self._read_back.snapshot()

    def counts(self) -> dict[str, int]:
        """Row counts per table (for /api/stats)."""
        with self._lock:
            return {
                table: int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in (
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
            }

    def ping(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock:
            self._db.close()
