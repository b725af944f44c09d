"""The station's durable outbox: every reading and event on disk before it is on the wire.

One SQLite file in WAL mode. A reading is committed by ``add_readings`` (invariant 1), bound to a message
sequence number when a batch is assembled, and marked sent only by ``mark_acked`` — called on the broker's
PUBACK for that message (invariant 2). Ordering is by row id, never by timestamp, so a station clock that
jumps reorders nothing and loses nothing.

Tables:
    readings   id, param, t (UTC ISO, fixed width), value, flag, device, msg_seq (NULL until batched),
               sent (0/1), acquired_at (wall clock ms when stored)
    messages   seq, lane, created_at, acked_at (NULL until PUBACK)
    resends    readings re-queued by a ``resend`` command, bound to their own message in the resend lane
    events     durable station events, published one per message
    commands   answered command ids and their replies (idempotence)
    intervals  poll-interval overrides set by command
    meta       next_seq, dropped and other counters

The next sequence number is also reserved ahead in a sidecar file (``<outbox>.seq``, written atomically) so
that a deleted or corrupt database never makes sequence numbers go backwards.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.config import OutboxConfig
from protocols.flags import Flag
from protocols.messages import Event, EventKind, Lane, Reading, Severity

log = logging.getLogger(__name__)

SEQ_RESERVE = 1000  # sequence numbers reserved per sidecar write
ENVELOPE_BYTES = 256  # room kept in a batch for the message envelope around the readings
READING_ESTIMATE_BYTES = 160  # a stored reading with its index entries, for the quota check
DROP_REPORT_INTERVAL_S = 60.0  # at most one readings_dropped event a minute while dropping continues
PURGE_CHUNK = 2000  # rows per purge transaction: keeps the writer lock short
IMPORTANT_SEVERITIES = (Severity.WARNING, Severity.CRITICAL)

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    param TEXT NOT NULL,
    t TEXT NOT NULL,
    value REAL,
    flag TEXT NOT NULL,
    device TEXT,
    msg_seq INTEGER,
    sent INTEGER NOT NULL DEFAULT 0,
    acquired_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_readings_pending ON readings(acquired_at) WHERE msg_seq IS NULL;
CREATE INDEX IF NOT EXISTS ix_readings_backlog ON readings(id) WHERE msg_seq IS NULL;
CREATE INDEX IF NOT EXISTS ix_readings_msg ON readings(msg_seq) WHERE msg_seq IS NOT NULL;
DROP INDEX IF EXISTS ix_readings_unsent;
CREATE INDEX IF NOT EXISTS ix_readings_unsent_id ON readings(id) WHERE sent = 0;
CREATE INDEX IF NOT EXISTS ix_readings_t ON readings(t);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    lane TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    acked_at INTEGER
);
CREATE INDEX IF NOT EXISTS ix_messages_unacked ON messages(seq) WHERE acked_at IS NULL;
CREATE TABLE IF NOT EXISTS resends (
    reading_id INTEGER PRIMARY KEY,
    msg_seq INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    device TEXT,
    param TEXT,
    message TEXT NOT NULL,
    detail TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    stored_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    answered_at INTEGER NOT NULL,
    reply BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS intervals (
    device TEXT PRIMARY KEY,
    seconds REAL NOT NULL,
    set_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class OutboxCorrupt(Exception):
    """The outbox file cannot be opened or fails its integrity check."""


@dataclass(frozen=True)
class Batch:
    """A message's worth of readings; ``seq`` was assigned in the transaction that bound them."""

    seq: int
    lane: Lane
    readings: list[Reading]


@dataclass(frozen=True)
class StoredEvent:
    row_id: int
    event: Event


@dataclass(frozen=True)
class OutboxStats:
    backlog: int  # readings not yet acknowledged by the broker
    oldest_unsent: datetime | None
    dropped: int  # readings dropped by quota or age, ever
    next_seq: int
    unacked_messages: int
    unsent_events: int
    stored_readings: int  # -1 unless asked for (stats(detail=True))
    used_bytes: int
    counters: dict[str, int] = field(default_factory=dict)


def iso_utc(value: datetime) -> str:
    """Fixed-width UTC ISO 8601, so that text order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(value: str) -> datetime:
    # fromisoformat (C) rather than strptime: this runs for every reading of every batch, and strptime
    # was the largest cost of draining a backlog. ``iso_utc`` always writes the fixed-width form.
    if not value.endswith("Z"):
        raise ValueError(f"not a stored UTC time: {value!r}")
    return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old or the new content after any crash."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class SeqSidecar:
    """The reserved sequence high-water mark, in a small file beside the outbox."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> int:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            return max(0, int(document["next_seq_reserved"]))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("sequence sidecar %s is unreadable (%s); relying on the database alone", self.path, exc)
            return 0

    def write(self, reserved: int) -> None:
        write_atomic(self.path, json.dumps({"next_seq_reserved": reserved}).encode("utf-8"))


class Outbox:
    """The SQLite outbox. Thread-safe (one lock): acquisition may call it from worker threads."""

    def __init__(
        self, path: str | Path, config: OutboxConfig, station: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.config = config
        self.station = station
        self._clock = clock
        self._lock = threading.RLock()
        self.sidecar = SeqSidecar(self.path.with_name(self.path.name + ".seq"))
        self.recovered_from: Path | None = None  # where a corrupt file was moved, when that happened
        self._last_drop_report = -math.inf
        self._unreported_drops = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        problem: str | None = None
        try:
            self._db = self._open()
        except (sqlite3.DatabaseError, OutboxCorrupt) as exc:
            problem = str(exc) or type(exc).__name__
            self.recovered_from = self._set_aside()
            log.error(
                "station %s: outbox %s failed its check (%s); moved it to %s and started a fresh outbox",
                station,
                self.path,
                problem,
                self.recovered_from,
            )
            fresh = True
            self._db = self._open()
        self._next_seq, self._seq_reserved = self._load_seq(fresh)
        if self.recovered_from is not None:
            self.add_event(
                EventKind.OUTBOX_RECOVERED,
                Severity.CRITICAL,
                f"outbox failed its check ({problem}); the old file was moved to "
                f"{self.recovered_from.name} and a fresh outbox started",
                detail={"moved_to": str(self.recovered_from), "problem": problem, "next_seq": self._next_seq},
            )
        elif fresh and self._next_seq > 0:
            log.error(
                "station %s: outbox file %s was missing; started a fresh outbox, sequence numbers continue "
                "from %d (readings not yet sent before it went are gone)",
                station,
                self.path,
                self._next_seq,
            )
            self.add_event(
                EventKind.OUTBOX_RECOVERED,
                Severity.CRITICAL,
                "outbox file was missing; a fresh outbox started and sequence numbers continue "
                f"from {self._next_seq}",
                detail={"next_seq": self._next_seq},
            )

    # ----------------------------------------------------------------- opening and recovery

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxCorrupt(f"cannot switch to WAL (journal_mode={mode})")
            # FULL, not NORMAL: in WAL mode NORMAL skips the fsync of the WAL at commit, so a power cut can
            # roll back transactions that had already committed — a reading that add_readings reported as
            # stored would be lost. FULL fsyncs the WAL on every commit; batching rows per commit keeps the
            # cost small (TOOLING.md: 185k rows/s at 100 rows per commit).
            db.execute("PRAGMA synchronous=FULL")
            result = db.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise OutboxCorrupt(f"quick_check: {result}")
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _set_aside(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            if source.exists():
                os.replace(source, Path(str(target) + suffix))
        _fsync_dir(self.path.parent)
        return target

    def _load_seq(self, fresh: bool) -> tuple[int, int]:
        meta = self._meta("next_seq")
        top = self._db.execute("SELECT MAX(seq) FROM messages").fetchone()[0]
        next_seq = max(meta, (top + 1) if top is not None else 0)
        if fresh:
            # A database we just created knows nothing: the sidecar says how far sequences may have gone.
            next_seq = max(next_seq, self.sidecar.read())
        return next_seq, next_seq

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ----------------------------------------------------------------- small helpers

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _meta_add(self, db: sqlite3.Connection, key: str, amount: int) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            (key, amount),
        )

    def count(self, key: str, amount: int = 1) -> None:
        """A persisted counter (malformed commands, refused publishes, ...)."""
        with self._tx() as db:
            self._meta_add(db, f"count:{key}", amount)

    def counters(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM meta WHERE key LIKE 'count:%'").fetchall()
        return {key[len("count:") :]: int(value) for key, value in rows}

    def used_bytes(self) -> int:
        # Pages in use: page_count less the free list, so that space freed by purges counts as free.
        with self._lock:
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    # ----------------------------------------------------------------- readings in

    def add_readings(self, readings: Sequence[Reading]) -> int:
        """Store ``readings``; when this returns they are on disk. Returns how many were stored."""
        if not readings:
            return 0
        now = self._now_ms()
        limit = self.config.max_bytes - self.config.reserve_bytes
        rows = [(r.param, iso_utc(r.t), r.value, str(r.flag), r.device, now) for r in readings]
        dropped = 0
        with self._tx() as db:
            if self.used_bytes() + len(rows) * READING_ESTIMATE_BYTES > limit:
                if self.config.full_policy == "drop_newest":
                    dropped, rows = len(rows), []
                else:
                    dropped = self._make_room(db, len(rows))
            db.executemany(
                "INSERT INTO readings(param, t, value, flag, device, acquired_at) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            if dropped:
                self._meta_add(db, "dropped", dropped)
                self._unreported_drops += dropped
        if dropped:
            self._report_drops(force=False)
        return len(rows)

    def _make_room(self, db: sqlite3.Connection, wanted: int) -> int:
        """Free room for ``wanted`` rows: sent history goes first (already delivered), then the oldest
        unsent readings that are not in a message awaiting its PUBACK.
        Returns how many unsent readings were dropped."""
        history = db.execute(
            "DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE sent = 1 "
            "AND id NOT IN (SELECT reading_id FROM resends) ORDER BY id LIMIT ?)",
            (max(wanted, PURGE_CHUNK // 4),),
        ).rowcount
        if history >= wanted:
            return 0
        return int(
            db.execute(
                "DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE msg_seq IS NULL "
                "ORDER BY id LIMIT ?)",
                (wanted - history,),
            ).rowcount
        )

    def _report_drops(self, *, force: bool) -> None:
        if self._unreported_drops <= 0:
            return
        now = time.monotonic()
        if not force and now - self._last_drop_report < DROP_REPORT_INTERVAL_S:
            return
        count, self._unreported_drops = self._unreported_drops, 0
        self._last_drop_report = now
        with self._lock:
            total = self._meta("dropped")
        log.warning(
            "station %s: outbox dropped %d readings (%d in all): quota or age limit",
            self.station,
            count,
            total,
        )
        self.add_event(
            EventKind.READINGS_DROPPED,
            Severity.WARNING,
            f"{count} readings dropped by the outbox quota or age limit ({total} in all)",
            detail={"dropped": count, "total": total, "policy": self.config.full_policy},
        )

    # ----------------------------------------------------------------- events

    def add_event(
        self,
        kind: EventKind,
        severity: Severity,
        message: str,
        *,
        device: str | None = None,
        param: str | None = None,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Event | None:
        """Store an event durably; it is published and marked sent on its PUBACK.

        Health and alarm events (warning, critical) may use the reserved room; info events are refused
        (and counted) once the outbox is at its quota.
        """
        event = Event(
            station=self.station,
            id=uuid.uuid4().hex,
            at=at or datetime.fromtimestamp(self._clock(), UTC),
            kind=kind,
            severity=severity,
            device=device,
            param=param,
            message=message[:1000],
            detail=dict(detail or {}),
        )
        with self._tx() as db:
            if severity not in IMPORTANT_SEVERITIES and self.used_bytes() > self.config.max_bytes:
                self._meta_add(db, "count:events_dropped", 1)
                return None
            db.execute(
                "INSERT INTO events(event_id, at, kind, severity, device, param, message, detail, "
                "stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.id,
                    iso_utc(event.at),
                    str(kind),
                    str(severity),
                    device,
                    param,
                    event.message,
                    json.dumps(event.detail, default=str),
                    self._now_ms(),
                ),
            )
        return event

    def unsent_events(self, limit: int = 50, exclude: Collection[int] = ()) -> list[StoredEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, event_id, at, kind, severity, device, param, message, detail FROM events "
                "WHERE sent = 0 ORDER BY id LIMIT ?",
                (limit + len(exclude),),
            ).fetchall()
        out = []
        for row_id, event_id, at, kind, severity, device, param, message, detail in rows:
            if row_id in exclude:
                continue
            event = Event(
                station=self.station,
                id=event_id,
                at=_parse_iso(at),
                kind=EventKind(kind),
                severity=Severity(severity),
                device=device,
                param=param,
                message=message,
                detail=json.loads(detail),
            )
            out.append(StoredEvent(row_id, event))
        return out[:limit]

    def mark_event_sent(self, row_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE events SET sent = 1 WHERE id = ?", (row_id,))

    # ----------------------------------------------------------------- batches out

    def _reserve_seq(self, count: int) -> int:
        """The first of ``count`` new sequence numbers; the sidecar is written ahead of their use."""
        first = self._next_seq
        if first + count > self._seq_reserved:
            self._seq_reserved = first + count + SEQ_RESERVE
            self.sidecar.write(self._seq_reserved)
        return first

    def next_batch(self, lane: Lane, *, max_readings: int | None = None) -> Batch | None:
        """Bind the next readings of ``lane`` to a new message, in one transaction with its seq.

        live: unbatched readings stored within ``live_window_s``; backfill: older ones, oldest first;
        resend: readings re-queued by a resend command. Bounded by count and encoded bytes.
        """
        limit = min(self.config.batch_max_readings, max_readings or self.config.batch_max_readings)
        if limit < 1:
            return None
        cutoff = self._now_ms() - int(self.config.live_window_s * 1000)
        with self._tx() as db:
            if lane is Lane.RESEND:
                rows = db.execute(
                    "SELECT r.id, r.param, r.t, r.value, r.flag, r.device FROM resends s "
                    "JOIN readings r ON r.id = s.reading_id WHERE s.msg_seq IS NULL ORDER BY s.reading_id "
                    "LIMIT ?",
                    (limit,),
                ).fetchall()
            else:
                # Live: the few recent readings, found by acquisition time. Backfill: the oldest unbatched
                # readings in id order, read from the front of an id index and stopped at the limit — sorting
                # the whole backlog for every batch made draining quadratic in its size.
                where, index = (
                    ("acquired_at >= ?", "ix_readings_pending")
                    if lane is Lane.LIVE
                    else ("acquired_at < ?", "ix_readings_backlog")
                )
                rows = db.execute(
                    f"SELECT id, param, t, value, flag, device FROM readings INDEXED BY {index} "
                    f"WHERE msg_seq IS NULL AND {where} "
                    "ORDER BY id LIMIT ?",
                    (cutoff, limit),
                ).fetchall()
            if not rows:
                return None
            ids, readings = self._fit(rows)
            seq = self._reserve_seq(1)
            db.execute(
                "INSERT INTO messages(seq, lane, created_at) VALUES (?, ?, ?)",
                (seq, str(lane), self._now_ms()),
            )
            table, column = ("resends", "reading_id") if lane is Lane.RESEND else ("readings", "id")
            db.executemany(f"UPDATE {table} SET msg_seq = ? WHERE {column} = ?", [(seq, i) for i in ids])
            db.execute(
                "INSERT INTO meta(key, value) VALUES ('next_seq', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (seq + 1,),
            )
        self._next_seq = seq + 1
        return Batch(seq, lane, readings)

    def _fit(self, rows: list[Any]) -> tuple[list[int], list[Reading]]:
        budget = self.config.batch_max_bytes - ENVELOPE_BYTES
        ids: list[int] = []
        readings: list[Reading] = []
        for row in rows:
            reading = _reading(row)
            size = _encoded_bound(row)
            if readings and size > budget:
                break
            budget -= size
            ids.append(row[0])
            readings.append(reading)
        return ids, readings

    def unacked(self, exclude: Collection[int] = ()) -> list[int]:
        """Sequence numbers of messages assembled but not acknowledged (e.g. in flight at a crash)."""
        with self._lock:
            rows = self._db.execute("SELECT seq FROM messages WHERE acked_at IS NULL ORDER BY seq").fetchall()
        return [r[0] for r in rows if r[0] not in exclude]

    def load_batch(self, seq: int) -> Batch | None:
        """The message ``seq`` rebuilt from its bound readings: a re-send keeps its seq and content."""
        with self._lock:
            row = self._db.execute("SELECT lane, acked_at FROM messages WHERE seq = ?", (seq,)).fetchone()
            if row is None or row[1] is not None:
                return None
            lane = Lane(row[0])
            if lane is Lane.RESEND:
                rows = self._db.execute(
                    "SELECT r.id, r.param, r.t, r.value, r.flag, r.device FROM resends s JOIN readings r "
                    "ON r.id = s.reading_id WHERE s.msg_seq = ? ORDER BY r.id",
                    (seq,),
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT id, param, t, value, flag, device FROM readings WHERE msg_seq = ? ORDER BY id",
                    (seq,),
                ).fetchall()
        if not rows:
            self.mark_acked(seq)  # nothing left to carry (its readings were purged): close it
            return None
        return Batch(seq, lane, [_reading(r) for r in rows])

    def mark_acked(self, seq: int) -> int:
        """The broker acknowledged message ``seq``: its readings are sent. Returns how many readings."""
        with self._tx() as db:
            row = db.execute(
                "SELECT lane FROM messages WHERE seq = ? AND acked_at IS NULL", (seq,)
            ).fetchone()
            if row is None:
                return 0
            db.execute("UPDATE messages SET acked_at = ? WHERE seq = ?", (self._now_ms(), seq))
            if row[0] == Lane.RESEND:
                return int(db.execute("DELETE FROM resends WHERE msg_seq = ?", (seq,)).rowcount)
            return int(db.execute("UPDATE readings SET sent = 1 WHERE msg_seq = ?", (seq,)).rowcount)

    def queue_resend(self, start: datetime, end: datetime) -> int:
        """Re-queue sent readings with ``start <= t < end`` from history; unsent ones go out anyway."""
        with self._tx() as db:
            return int(
                db.execute(
                    "INSERT OR IGNORE INTO resends(reading_id) SELECT id FROM readings "
                    "WHERE t >= ? AND t < ? AND sent = 1 ORDER BY id",
                    (iso_utc(start), iso_utc(end)),
                ).rowcount
            )

    def queue_resend_seqs(self, seq_from: int, seq_to: int) -> int:
        """Re-queue the sent readings first carried by messages ``seq_from..seq_to`` (inclusive).

        Readings of a message not yet acknowledged are not re-queued: that message goes again anyway,
        same seq. A reading already waiting in the resend lane is not queued twice.
        """
        with self._tx() as db:
            return int(
                db.execute(
                    "INSERT OR IGNORE INTO resends(reading_id) SELECT id FROM readings "
                    "WHERE msg_seq BETWEEN ? AND ? AND sent = 1 ORDER BY id",
                    (seq_from, seq_to),
                ).rowcount
            )

    def known_seqs(self, seq_from: int, seq_to: int) -> int:
        """How many of the sequence numbers ``seq_from..seq_to`` this outbox still has a message for (the
        others were never used here — reserved ahead before a lost outbox — or their history was purged)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM messages WHERE seq BETWEEN ? AND ?", (seq_from, seq_to)
            ).fetchone()
        return int(row[0])

    def pending_resends(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM resends WHERE msg_seq IS NULL").fetchone()[0])

    # ----------------------------------------------------------------- commands and overrides

    def command_reply(self, command_id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT reply FROM commands WHERE id = ?", (command_id,)).fetchone()
        return bytes(row[0]) if row else None

    def save_command_reply(self, command_id: str, kind: str, reply: bytes) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO commands(id, kind, answered_at, reply) VALUES (?, ?, ?, ?)",
                (command_id, kind, self._now_ms(), reply),
            )

    def set_interval(self, device: str, seconds: float) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO intervals(device, seconds, set_at) VALUES (?, ?, ?) ON CONFLICT(device) "
                "DO UPDATE SET seconds = excluded.seconds, set_at = excluded.set_at",
                (device, seconds, self._now_ms()),
            )

    def intervals(self) -> dict[str, float]:
        with self._lock:
            return {d: float(s) for d, s in self._db.execute("SELECT device, seconds FROM intervals")}

    # ----------------------------------------------------------------- housekeeping

    def housekeeping(self, *, max_chunks: int = 50) -> dict[str, int]:
        """Drop unsent readings past ``max_age_days``, purge history past ``history_days`` in small chunks,
        and report drops. Returns what was done."""
        now = self._now_ms()
        aged = self._chunked(
            "DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE msg_seq IS NULL "
            "AND acquired_at < ? ORDER BY id LIMIT ?)",
            now - int(self.config.max_age_days * 86_400_000),
            max_chunks,
            counter="dropped",
        )
        self._unreported_drops += aged
        history_cut = now - int(self.config.history_days * 86_400_000)
        purged = self._chunked(
            "DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE sent = 1 AND acquired_at < ? "
            "AND id NOT IN (SELECT reading_id FROM resends) ORDER BY id LIMIT ?)",
            history_cut,
            max_chunks,
        )
        with self._tx() as db:
            db.execute("DELETE FROM messages WHERE acked_at IS NOT NULL AND acked_at < ?", (history_cut,))
            db.execute("DELETE FROM events WHERE sent = 1 AND stored_at < ?", (history_cut,))
            db.execute("DELETE FROM commands WHERE answered_at < ?", (history_cut,))
        self._report_drops(force=True)
        return {"aged_out": aged, "purged": purged}

    def _chunked(self, sql: str, cutoff: int, max_chunks: int, counter: str | None = None) -> int:
        total = 0
        for _ in range(max_chunks):
            with self._tx() as db:
                n = int(db.execute(sql, (cutoff, PURGE_CHUNK)).rowcount)
                if n and counter:
                    self._meta_add(db, counter, n)
            total += n
            if n < PURGE_CHUNK:
                break
        return total

    # ----------------------------------------------------------------- what is queued

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def stats(self, *, detail: bool = False) -> OutboxStats:
        """What is queued. ``detail`` adds the count of all stored readings (a full scan: not per heartbeat)."""
        with self._lock:
            db = self._db
            backlog = db.execute("SELECT COUNT(*) FROM readings WHERE sent = 0").fetchone()[0]
            oldest = db.execute("SELECT t FROM readings WHERE sent = 0 ORDER BY id LIMIT 1").fetchone()
            unacked = db.execute("SELECT COUNT(*) FROM messages WHERE acked_at IS NULL").fetchone()[0]
            events = db.execute("SELECT COUNT(*) FROM events WHERE sent = 0").fetchone()[0]
            stored = db.execute("SELECT COUNT(*) FROM readings").fetchone()[0] if detail else -1
            dropped = self._meta("dropped")
        return OutboxStats(
            backlog=int(backlog),
            oldest_unsent=_parse_iso(oldest[0]) if oldest else None,
            dropped=dropped,
            next_seq=self._next_seq,
            unacked_messages=int(unacked),
            unsent_events=int(events),
            stored_readings=int(stored),
            used_bytes=self.used_bytes(),
            counters=self.counters(),
        )


READING_JSON_FIXED = len('{"param":"","t":"","value":,"flag":"","device":""},')
FLOAT_JSON_MAX = 24  # the longest JSON form of a float64 (e.g. -1.2345678901234567e-300)


def _encoded_bound(row: Any) -> int:
    """An upper bound of the encoded size of a stored reading, without encoding it (encoding each reading
    only to measure it cost more than the rest of assembling a batch)."""
    _, param, t, _, flag, device = row
    device_bytes = 4 if device is None else 2 * len(device.encode("utf-8"))  # null, or worst-case escaping
    return READING_JSON_FIXED + len(param) + len(t) + FLOAT_JSON_MAX + len(flag) + device_bytes


def _reading(row: Any) -> Reading:
    _, param, t, value, flag, device = row
    return Reading(param=param, t=_parse_iso(t), value=value, flag=Flag(flag), device=device)
