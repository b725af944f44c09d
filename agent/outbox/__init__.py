"""The station's durable outbox: every reading and event on disk before it is on the wire.

One SQLite file in WAL mode. Readings are committed by ``add_readings`` (invariant 1) as *chunks*: one row
holds up to a message's worth of readings as the exact JSON text the wire message carries
(``protocols.messages.encode_fragment``), so that draining a backlog moves whole rows into messages without
building or parsing a reading — a poll's readings are encoded once, when they are stored. A chunk is bound to
a message sequence number when a batch is assembled (whole chunks, never split) and marked sent only by
``mark_acked`` — called on the broker's PUBACK for that message (invariant 2). Ordering is by row id, never
by timestamp, so a station clock that jumps reorders nothing and loses nothing.

A poll adds a small chunk (1-6 readings). ``compact`` merges id-adjacent unbound chunks older than the live
window into full ones, a bounded step at a time (housekeeping runs it during an outage, and binding several
chunks into one message merges them too), so that a long backlog stays a few rows per message.

Tables:
    chunks     id, n (readings), size (UTF-8 bytes of body), t_min/t_max (UTC ISO, fixed width),
               msg_seq (NULL until batched), sent (0/1), acquired_at (wall clock ms when stored; the latest
               of the merged chunks), body (a small chunk's text — a poll's — or NULL: in ``bodies``)
    bodies     id (= chunks.id), body of a big (merged) chunk: kept apart so that binding and acknowledging
               it rewrite a small row, not tens of kilobytes of text (SQLite rewrites a whole row on UPDATE);
               a poll's chunk keeps its few hundred bytes inline, one row written per commit, not two
    messages   seq, lane, created_at, acked_at (NULL until PUBACK), n (readings carried)
    resends    chunks of history re-queued by a ``resend`` command, optionally limited to a time range,
               bound to their own message in the resend lane
    events     durable station events, published one per message
    commands   answered command ids and their replies (idempotence)
    intervals  poll-interval overrides set by command
    meta       next_seq, dropped and other counters

The backlog (unbound chunks) has no index — an index is one more page written and fsynced per poll. Binding
is one-way (msg_seq is never cleared), so the unbound chunks are the ones at or after an in-memory lower
bound, ``_unbound_from``, that moves up to the first unbound chunk whenever a scan finds it: backlog queries
walk the rowid from there.

A full disk (issue 10): the outbox keeps a free-space floor (``min_free_bytes``, statvfs through
``agent.diskguard.FreeSpace``) so that its quota dropping — sent history first, then the oldest unsent, every
reading counted in ``dropped`` — starts before the filesystem is full. A write that fails anyway (SQLITE_FULL,
ENOSPC, EIO) is rolled back, its readings are counted in memory (``StorageLoss``) and ``StorageFailed`` is
raised to the caller; the log says so once a minute; the WAL is checkpointed (TRUNCATE) to give its space
back. As soon as a write succeeds again the count goes into ``dropped`` and ``count:lost_storage_full`` with
one ``storage_failed`` event (critical). Until then ``stats()`` adds the count held in memory, so the status
message carries it even while nothing can be written. Readings lost to the disk go into ``dropped``, the
station's one number of readings lost before the wire, so the collector's "dropped" alert rule fires for them
too; the event and the counter say which cause. The WAL is kept small: checkpointed every
WAL_AUTOCHECKPOINT_PAGES, truncated to JOURNAL_SIZE_LIMIT, and truncated to nothing after housekeeping.

The next sequence number is also reserved ahead in a sidecar file (``<outbox>.seq``, written atomically) so
that a deleted or corrupt database never makes sequence numbers go backwards. An outbox of the first format
(one row per reading in ``readings``) is converted when it is opened, in one transaction.
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
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.config import OutboxConfig
from agent.diskguard import FreeSpace, StorageLoss, is_storage_error
from agent.sink import StorageFailed
from protocols.flags import Flag
from protocols.messages import (
    Event,
    EventKind,
    Lane,
    Reading,
    Severity,
    decode_fragment,
    encode_fragment,
)

log = logging.getLogger(__name__)

SEQ_RESERVE = 1000  # sequence numbers reserved per sidecar write
ENVELOPE_BYTES = 256  # room kept in a batch for the message envelope around the readings
CHUNK_OVERHEAD_BYTES = 64  # a stored chunk's row and index entries beyond its body, for the quota check
DROP_REPORT_INTERVAL_S = 60.0  # at most one readings_dropped event a minute while dropping continues
PURGE_ROWS = 100  # chunks per purge transaction (up to a message's worth of readings each): short lock
PURGE_MIN_READINGS = 500  # history freed at least, once the quota bites: not a purge per insert
COMPACT_ROWS = 400  # chunks examined per compaction step: a few ms, the writer lock is shared with polls
QUOTA_SLACK_BYTES = 2 << 20  # this close to the quota, its check reads the file's true size
QUOTA_TRUE_UP = 256  # further from it, the size is estimated and read again every this many checks
INLINE_BODY_BYTES = 2048  # a new chunk's body up to this stays in its chunks row (a poll: a few hundred)
IMPORTANT_SEVERITIES = (Severity.WARNING, Severity.CRITICAL)
# The WAL is checkpointed every this many pages (~1 MiB) rather than SQLite's 1000 (~4 MiB), and its file
# truncated to JOURNAL_SIZE_LIMIT when it restarts: on a small disk the WAL must not outgrow the data.
WAL_AUTOCHECKPOINT_PAGES = 256
JOURNAL_SIZE_LIMIT = 1 << 20
WAL_FRAME_BYTES = 4096 + 24  # what a commit adds to the WAL at least (a page and its frame header)

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    n INTEGER NOT NULL,
    size INTEGER NOT NULL,
    t_min TEXT NOT NULL,
    t_max TEXT NOT NULL,
    msg_seq INTEGER,
    sent INTEGER NOT NULL DEFAULT 0,
    acquired_at INTEGER NOT NULL,
    body TEXT
);
CREATE INDEX IF NOT EXISTS ix_chunks_msg ON chunks(msg_seq) WHERE msg_seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS bodies (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    lane TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    acked_at INTEGER,
    n INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_messages_unacked ON messages(seq) WHERE acked_at IS NULL;
CREATE TABLE IF NOT EXISTS resends (
    id INTEGER PRIMARY KEY,
    chunk_id INTEGER NOT NULL,
    t_from TEXT,
    t_to TEXT,
    n INTEGER NOT NULL,
    msg_seq INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_resends_pending ON resends(chunk_id) WHERE msg_seq IS NULL;
CREATE INDEX IF NOT EXISTS ix_resends_msg ON resends(msg_seq) WHERE msg_seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_resends_chunk ON resends(chunk_id);
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
# Indexes of earlier versions, dropped: every index a new chunk enters is one more page written and fsynced
# per poll's commit. Backlog queries walk the rowid from ``_unbound_from``, the unsent count is that walk
# plus the unacknowledged messages, and a time-range resend (a rare command) scans.
DROPPED_INDEXES = ("ix_chunks_pending", "ix_chunks_unsent", "ix_chunks_t_max", "ix_chunks_backlog")
# A chunk's text with its bounds; a body, inline or in ``bodies``.
CHUNK_COLUMNS = "c.id, c.n, c.size, COALESCE(c.body, b.body), c.acquired_at, c.t_min, c.t_max"
BODY_JOIN = "LEFT JOIN bodies b ON b.id = c.id"

# A chunk row as selected for batching: id, n, size, body, acquired_at, t_min, t_max.
ChunkRow = tuple[int, int, int, str, int, str, str]
# A chunk ready to insert: n, size, t_min, t_max, body.
NewChunk = tuple[int, int, str, str, str]


class OutboxCorrupt(Exception):
    """The outbox file cannot be opened or fails its integrity check."""


@dataclass(frozen=True)
class Batch:
    """A message's worth of readings as wire JSON (``encode_fragment`` text); ``seq`` was assigned in the
    transaction that bound them. ``protocols.messages.batch_payload`` makes the message from it."""

    seq: int
    lane: Lane
    body: str
    count: int

    def readings(self) -> list[Reading]:
        """The readings, decoded (for tools and tests: the publisher sends ``body`` as it is)."""
        return decode_fragment(self.body)


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
    # isoformat with its timespec (fixed width, "+00:00" cut) rather than strftime: half the time, once or
    # twice per poll's commit.
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


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
        self._compact_from = 0  # compaction resumes here: chunks before it are as merged as they get
        self._used_estimate: int | None = None  # bytes in use: the last true size plus what was stored since
        self._estimate_age = 0  # quota checks answered by the estimate since it was last read
        self._space = FreeSpace(self.path.parent, config.min_free_bytes)
        self.loss = StorageLoss(clock=clock)  # what a failing disk cost, until it is written
        self._settling = False
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
        # Every unbound chunk has an id >= _unbound_from (one scan now; moved up lazily, down by inserts);
        # the live lane's chunks are also >= _live_from (past what it last bound).
        first = self._db.execute("SELECT MIN(id) FROM chunks WHERE msg_seq IS NULL").fetchone()[0]
        if first is None:
            first = int(self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()[0])
        self._unbound_from = self._live_from = int(first)
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
            db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            db.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            result = db.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise OutboxCorrupt(f"quick_check: {result}")
            _rename_v1_resends(db)
            db.executescript(SCHEMA)
            for index in DROPPED_INDEXES:
                db.execute(f"DROP INDEX IF EXISTS {index}")
            if "body" not in _columns(db, "chunks"):
                # The earlier format kept every body in ``bodies``: NULL here says so.
                db.execute("ALTER TABLE chunks ADD COLUMN body TEXT")
            if "n" not in _columns(db, "messages"):
                db.execute("ALTER TABLE messages ADD COLUMN n INTEGER NOT NULL DEFAULT 0")
            if _columns(db, "readings"):
                self._migrate_v1(db)
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
    def _tx(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction. ``durable=False`` commits without the WAL fsync (synchronous=NORMAL for
        this commit only): a power cut may roll it back, a killed process cannot. Only for changes whose
        loss is harmless — a later durable commit fsyncs the WAL up to and including it anyway."""
        with self._lock:
            if not durable:
                self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException as exc:
                    self._rollback()
                    if is_storage_error(exc):
                        raise self._storage_failed(exc) from exc
                    raise
            finally:
                if not durable:
                    self._db.execute("PRAGMA synchronous=FULL")

    def _rollback(self) -> None:
        """Roll back what is open. After SQLITE_FULL SQLite may have rolled back already, or may not (a
        failed COMMIT leaves the transaction open): either way the connection is usable afterwards."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.debug("outbox rollback failed: %s", exc)

    def _storage_failed(self, exc: BaseException, *, readings: int = 0) -> StorageFailed:
        """A write failed for lack of space or an I/O error: count what it cost, log at a measured pace,
        give the WAL's space back. Returns the exception for the caller to raise."""
        with self._lock:
            line = self.loss.failed(exc, readings=readings)
            self._used_estimate = None
            self._space.forget()
            self.checkpoint()
        if line is not None:
            log.error("station %s: %s", self.station, line)
        return StorageFailed(f"outbox could not store {readings} readings: {self.loss.last_error}")

    def checkpoint(self) -> bool:
        """Move the WAL into the database and truncate it to nothing. False when it could not (the disk
        refused, or a reader holds it): it is tried again at the next housekeeping."""
        with self._lock:
            if self._db.in_transaction:
                return False
            try:
                busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.Error as exc:
                log.debug("outbox checkpoint failed: %s", exc)
                return False
        return not busy

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
        """A persisted counter (malformed commands, refused publishes, ...). While the disk refuses writes
        the increment is held in memory and written with the storage_failed bookkeeping."""
        try:
            with self._tx() as db:
                self._meta_add(db, f"count:{key}", amount)
        except StorageFailed:
            with self._lock:
                self.loss.add_counter(key, amount)

    def counters(self) -> dict[str, int]:
        """Persisted counters, plus what a failing disk holds in memory (``lost_storage_full`` readings,
        ``events_lost_storage``)."""
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM meta WHERE key LIKE 'count:%'").fetchall()
            out = {key[len("count:") :]: int(value) for key, value in rows}
            pending = dict(self.loss.counters)
            pending["lost_storage_full"] = self.loss.readings
            pending["events_lost_storage"] = self.loss.events
        for key, amount in pending.items():
            if amount:
                out[key] = out.get(key, 0) + amount
        return out

    def _room_on_disk(self, db: sqlite3.Connection, need: int) -> bool:
        """Whether ``need`` more bytes fit above the free-space floor: the filesystem has them, or the
        database's own free pages do (reused: the file does not grow)."""
        if self._space.above_floor(need + WAL_FRAME_BYTES):
            return True
        free_pages = int(db.execute("PRAGMA freelist_count").fetchone()[0])
        return free_pages * self._page_size >= need + WAL_FRAME_BYTES

    @property
    def _page_size(self) -> int:
        return int(self._db.execute("PRAGMA page_size").fetchone()[0])

    def _settle_loss(self) -> None:
        """Writes work again: persist what the failing disk cost (into ``dropped`` and its own counters) with
        one storage_failed event, in one transaction. Still failing: kept in memory for the next try."""
        with self._lock:
            loss = self.loss
            if not loss.pending or self._settling:
                return
            self._settling = True
            try:
                lost, events, counters = loss.readings, loss.events, dict(loss.counters)
                since = datetime.fromtimestamp(loss.first_at or self._clock(), UTC)
                total = self._meta("count:lost_storage_full") + lost
                event = self._new_event(
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
                with self._tx() as db:
                    if lost:
                        self._meta_add(db, "dropped", lost)
                        self._meta_add(db, "count:lost_storage_full", lost)
                    if events:
                        self._meta_add(db, "count:events_lost_storage", events)
                    for key, amount in counters.items():
                        self._meta_add(db, f"count:{key}", amount)
                    self._insert_event(db, event)
            except StorageFailed:
                return
            finally:
                self._settling = False
            loss.settle()
        log.error(
            "station %s: the outbox writes again; %d readings and %d events were lost to storage failures "
            "(%d readings in all); event storage_failed recorded",
            self.station,
            lost,
            events,
            total,
        )

    def used_bytes(self) -> int:
        # Pages in use: page_count less the free list, so that space freed by purges counts as free.
        with self._lock:
            row = self._db.execute(
                "SELECT (p.page_count - f.freelist_count) * s.page_size "
                "FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s"
            ).fetchone()
            self._used_estimate, self._estimate_age = int(row[0]), 0
        return int(row[0])

    def _used_for_quota(self, need: int, limit: int) -> int:
        """Bytes in use, for the check that ``need`` more fit under ``limit``: the true size near the limit
        (and every QUOTA_TRUE_UP checks), an estimate well below it — a poll's commit then runs no PRAGMA.
        The estimate adds what was stored and ignores what was freed, so it errs towards full."""
        estimate = self._used_estimate
        if (
            estimate is None
            or self._estimate_age >= QUOTA_TRUE_UP
            or estimate + need > limit - QUOTA_SLACK_BYTES
        ):
            return self.used_bytes()
        self._estimate_age += 1
        return estimate

    def _first_unbound(self, db: sqlite3.Connection) -> int:
        """Move ``_unbound_from`` up to the first unbound chunk (past the last chunk when there is none) and
        return it. Cheap: the bound chunks walked over are walked once, the bound then stands past them."""
        row = db.execute(
            "SELECT id FROM chunks WHERE id >= ? AND msg_seq IS NULL ORDER BY id LIMIT 1",
            (self._unbound_from,),
        ).fetchone()
        if row is None:
            row = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()
        self._unbound_from = int(row[0])
        return self._unbound_from

    # ----------------------------------------------------------------- readings in

    def _chunk_limits(self) -> tuple[int, int]:
        """(readings, body bytes) one chunk — and so one message — may hold."""
        return self.config.batch_max_readings, self.config.batch_max_bytes - ENVELOPE_BYTES

    def _encode_chunks(self, readings: Sequence[Reading]) -> list[NewChunk]:
        """``readings`` encoded once, split into chunks within the batch limits, in order."""
        max_n, max_bytes = self._chunk_limits()
        if len(readings) <= max_n:  # a poll: one chunk, unless its bytes need more
            group = readings if isinstance(readings, list) else list(readings)
            body = encode_fragment(group)
            size = len(body) if body.isascii() else len(body.encode("utf-8"))
            if size <= max_bytes:
                return [_new_chunk(group, body, size)]
        out: list[NewChunk] = []
        for start in range(0, len(readings), max_n):
            group = list(readings[start : start + max_n])
            body = encode_fragment(group)
            size = len(body) if body.isascii() else len(body.encode("utf-8"))
            if size <= max_bytes:
                out.append(_new_chunk(group, body, size))
                continue
            # Too many bytes for one message: pack reading by reading (rare: long device names).
            part: list[Reading] = []
            texts: list[str] = []
            used = 0
            for reading in group:
                text = encode_fragment([reading])
                cost = len(text.encode("utf-8")) + (1 if texts else 0)
                if texts and used + cost > max_bytes:
                    body = ",".join(texts)
                    out.append(_new_chunk(part, body, used))
                    part, texts, used = [], [], 0
                    cost -= 1
                part.append(reading)
                texts.append(text)
                used += cost
            if texts:
                out.append(_new_chunk(part, ",".join(texts), used))
        return out

    def add_readings(self, readings: Sequence[Reading]) -> int:
        """Store ``readings`` (one transaction); when this returns they are on disk. Returns how many.

        Raises StorageFailed when the disk refused them: they are counted as lost (see the module's
        docstring) and nothing else changed."""
        if not readings:
            return 0
        # Once per poll, and at a few thousand commits/s its Python time is a good part of each: hence no
        # ``_tx`` context manager here and no PRAGMA for the quota check far below the quota.
        chunks = self._encode_chunks(readings)
        count = len(readings)
        need = (
            chunks[0][1] + CHUNK_OVERHEAD_BYTES
            if len(chunks) == 1
            else sum(c[1] for c in chunks) + CHUNK_OVERHEAD_BYTES * len(chunks)
        )
        config = self.config
        limit = config.max_bytes - config.reserve_bytes
        dropped = 0
        with self._lock:
            db = self._db
            now = int(self._clock() * 1000)
            try:
                db.execute("BEGIN IMMEDIATE")
                # Over the quota, or the filesystem at its floor: room is made here, counted, before the
                # disk itself is full.
                if self._used_for_quota(need, limit) + need > limit or not self._room_on_disk(db, need):
                    if self.config.full_policy == "drop_newest":
                        dropped, chunks, count, need = count, [], 0, 0
                    else:
                        dropped = self._make_room(db, count)
                    self._used_estimate = None  # read again at the next check
                for chunk in chunks:
                    chunk_id = _insert_chunk(db, chunk, None, 0, now)
                    # A deleted newest id is reused: the new chunk may sit below the bounds.
                    if chunk_id < self._unbound_from:
                        self._unbound_from = chunk_id
                    if chunk_id < self._live_from:
                        self._live_from = chunk_id
                if dropped:
                    self._meta_add(db, "dropped", dropped)
                db.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                if is_storage_error(exc):
                    raise self._storage_failed(exc, readings=len(readings)) from exc
                raise
            self._unreported_drops += dropped
            if self._used_estimate is not None:
                self._used_estimate += need
            self._space.spend(need + WAL_FRAME_BYTES)
            if self.loss.pending:
                self._settle_loss()
        if dropped:
            self._report_drops(force=False)
        return count

    def _make_room(self, db: sqlite3.Connection, wanted: int) -> int:
        """Free room for ``wanted`` readings: sent history goes first (already delivered), then the oldest
        unsent chunks that are not in a message awaiting its PUBACK. Returns how many unsent readings were
        dropped (whole chunks: every one counted)."""
        history = _take_until(
            db.execute(
                "SELECT id, n FROM chunks WHERE sent = 1 AND id NOT IN (SELECT chunk_id FROM resends) "
                "ORDER BY id"
            ),
            max(wanted, PURGE_MIN_READINGS),
        )
        freed = _delete_chunks(db, history)
        if freed >= wanted:
            return 0
        oldest = _take_until(
            db.execute(
                "SELECT id, n FROM chunks WHERE id >= ? AND msg_seq IS NULL ORDER BY id",
                (self._first_unbound(db),),
            ),
            wanted - freed,
        )
        return _delete_chunks(db, oldest)

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
            "station %s: outbox dropped %d readings (%d in all): quota, free-space floor or age limit",
            self.station,
            count,
            total,
        )
        self.add_event(
            EventKind.READINGS_DROPPED,
            Severity.WARNING,
            f"{count} readings dropped by the outbox quota, free-space floor or age limit ({total} in all)",
            detail={
                "dropped": count,
                "total": total,
                "policy": self.config.full_policy,
                "min_free_bytes": self.config.min_free_bytes,
            },
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
        (and counted) once the outbox is at its quota. An event the disk refuses is counted
        (``events_lost_storage``) and None returned: reporting a fault must not raise another.
        """
        event = self._new_event(kind, severity, message, device=device, param=param, detail=detail, at=at)
        try:
            with self._tx() as db:
                if severity not in IMPORTANT_SEVERITIES and self._used_for_quota(0, self.config.max_bytes) > (
                    self.config.max_bytes
                ):
                    self._meta_add(db, "count:events_dropped", 1)
                    return None
                self._insert_event(db, event)
        except StorageFailed:
            with self._lock:
                self.loss.events += 1
            return None
        if self.loss.pending:
            self._settle_loss()
        return event

    def _new_event(
        self,
        kind: EventKind,
        severity: Severity,
        message: str,
        *,
        device: str | None = None,
        param: str | None = None,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Event:
        return Event(
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

    def _insert_event(self, db: sqlite3.Connection, event: Event) -> None:
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
                self._now_ms(),
            ),
        )

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

    # ----------------------------------------------------------------- compaction

    def compact(self, *, max_rows: int = COMPACT_ROWS) -> tuple[int, bool]:
        """One bounded step: merge id-adjacent unbound chunks older than the live window into chunks up to
        the batch limits (the first of a run takes the others' readings, the others are deleted, in one
        transaction). Returns (chunks merged away, done): done when the step reached the live window or
        the end of the backlog."""
        max_n, max_bytes = self._chunk_limits()
        cutoff = self._now_ms() - int(self.config.live_window_s * 1000)
        merged = 0
        with self._tx() as db:
            # All chunks from the bound, bound ones too (a few merged heads; no index to skip them), each
            # counted in ``max_rows``; a bound chunk ends a run, so that a step always gets past it.
            rows = db.execute(
                "SELECT id, n, size, acquired_at, msg_seq FROM chunks WHERE id >= ? ORDER BY id LIMIT ?",
                (max(self._compact_from, self._first_unbound(db)), max_rows),
            ).fetchall()
            done = len(rows) < max_rows
            runs: list[list[int]] = []
            run: list[int] = []
            run_n = run_size = 0
            resume = None
            for chunk_id, n, size, acquired_at, msg_seq in rows:
                if acquired_at >= cutoff:  # the live window: left for the live lane
                    done = True
                    break
                if msg_seq is not None:
                    if run:
                        runs.append(run)
                        run, run_n, run_size = [], 0, 0
                    resume = chunk_id + 1
                    continue
                if run and (run_n + n > max_n or run_size + 1 + size > max_bytes):
                    runs.append(run)
                    run, run_n, run_size = [], 0, 0
                run.append(chunk_id)
                run_n += n
                run_size += size + (1 if run_size else 0)
            if run:
                runs.append(run)
                resume = run[0]  # the last run may grow: start there next time
            for ids in runs:
                if len(ids) > 1:
                    _merge_chunks(db, ids)
                    merged += len(ids) - 1
            if resume is not None:
                self._compact_from = resume
        return merged, done

    def compact_all(self, *, max_steps: int = 1000) -> int:
        """Compaction steps until done (each its own short transaction). Returns chunks merged away."""
        total = 0
        for _ in range(max_steps):
            merged, done = self.compact()
            total += merged
            if done:
                break
        return total

    # ----------------------------------------------------------------- batches out

    def _reserve_seq(self, count: int) -> int:
        """The first of ``count`` new sequence numbers; the sidecar is written ahead of their use."""
        first = self._next_seq
        if first + count > self._seq_reserved:
            reserved = first + count + SEQ_RESERVE
            self.sidecar.write(reserved)  # may fail (disk full): then nothing is reserved, nor used
            self._seq_reserved = reserved
        return first

    def next_batch(self, lane: Lane, *, max_readings: int | None = None) -> Batch | None:
        """The next message of ``lane`` (see ``next_batches``), or None."""
        batches = self.next_batches(lane, max_messages=1, max_readings=max_readings)
        return batches[0] if batches else None

    def next_batches(
        self, lane: Lane, *, max_messages: int = 1, max_readings: int | None = None
    ) -> list[Batch]:
        """Bind the next chunks of ``lane`` to up to ``max_messages`` new messages, in one transaction
        with their seqs (one commit, one fsync, for all of them).

        live: unbound chunks stored within ``live_window_s``; backfill: older ones, oldest first; resend:
        history re-queued by a resend command. Each message is bounded by count and encoded bytes and
        takes whole chunks; several chunks bound to one message are merged into one row.
        ``max_readings`` (the rate limiter's tokens) bounds the readings of all the messages together,
        except that the first chunk is taken whatever its size when ``max_readings >= 1``: a rate below
        the size of a chunk then still works, the limiter going into debt.
        """
        allowance = math.inf if max_readings is None else max_readings
        if allowance < 1 or max_messages < 1:
            return []
        if lane is Lane.RESEND:
            return self._next_resends(max_messages, allowance)
        cutoff = self._now_ms() - int(self.config.live_window_s * 1000)
        with self._lock:
            # Most calls find nothing to bind (the publisher asks on every turn): found out by reading one
            # index entry, without taking the write lock.
            if not self._lane_has_chunks(lane, cutoff):
                return []
        with self._bind_rollback(), self._tx() as db:
            if lane is Lane.LIVE:
                groups = self._group(self._live_rows(db, cutoff), max_messages, allowance)
            else:
                # The oldest unbound chunks in id order, read along the rowid from the bound and stopped
                # when the messages are full (the cursor steps lazily: no more rows are read than taken).
                cursor = db.execute(
                    f"SELECT {CHUNK_COLUMNS} FROM chunks c {BODY_JOIN} "
                    "WHERE c.id >= ? AND c.msg_seq IS NULL AND c.acquired_at < ? ORDER BY c.id",
                    (self._first_unbound(db), cutoff),
                )
                groups = self._group(cursor, max_messages, allowance)
                cursor.close()
            if not groups:
                return []
            if lane is Lane.LIVE:
                self._live_from = max(self._live_from, groups[-1][-1][0] + 1)
            first = self._reserve_seq(len(groups))
            now = self._now_ms()
            batches = []
            for seq, group in enumerate(groups, start=first):
                count = sum(row[1] for row in group)
                body = ",".join(row[3] for row in group)
                db.execute(
                    "INSERT INTO messages(seq, lane, created_at, n) VALUES (?, ?, ?, ?)",
                    (seq, str(lane), now, count),
                )
                if len(group) == 1:
                    db.execute("UPDATE chunks SET msg_seq = ? WHERE id = ?", (seq, group[0][0]))
                else:
                    _store_merged(db, group, body, msg_seq=seq)
                batches.append(Batch(seq, lane, body, count))
            self._set_next_seq(db, first + len(groups))
        return batches

    def _lane_has_chunks(self, lane: Lane, cutoff: int) -> bool:
        """Whether ``lane`` (live or backfill) may have an unbound chunk (a cheap look, no transaction)."""
        db = self._db
        if lane is Lane.LIVE:
            cursor = db.execute(
                "SELECT acquired_at, msg_seq FROM chunks WHERE id >= ? ORDER BY id DESC",
                (max(self._unbound_from, self._live_from),),
            )
            try:
                for acquired_at, msg_seq in cursor:
                    if acquired_at < cutoff:
                        return False
                    if msg_seq is None:
                        return True
                return False
            finally:
                cursor.close()
        # From the first unbound chunk: in the usual case either it is old enough, or it is in the live
        # window and so are the few after it.
        oldest = db.execute(
            "SELECT 1 FROM chunks WHERE id >= ? AND msg_seq IS NULL AND acquired_at < ? ORDER BY id LIMIT 1",
            (self._first_unbound(db), cutoff),
        ).fetchone()
        return oldest is not None

    def _live_rows(self, db: sqlite3.Connection, cutoff: int) -> list[Any]:
        """The live lane's chunks, in id order: the newest unbound chunks stored within the live window,
        found by walking the rowid back from its newest end (down to what the live lane bound last) to the
        first older chunk, bound or not. (A chunk of the window stored before an older one — the clock
        stepped back and forth — waits for the backfill lane: later, never lost.)"""
        newest: list[Any] = []
        cursor = db.execute(
            f"SELECT {CHUNK_COLUMNS}, c.msg_seq FROM chunks c {BODY_JOIN} WHERE c.id >= ? ORDER BY c.id DESC",
            (max(self._unbound_from, self._live_from),),
        )
        for row in cursor:
            if row[4] < cutoff:
                break
            if row[7] is None:
                newest.append(row[:7])
        cursor.close()
        newest.reverse()
        return newest

    def _group(self, rows: Iterable[Any], max_messages: int, allowance: float) -> list[list[Any]]:
        """Split chunk rows (id, n, size, body, ...) into messages within the limits (see next_batches)."""
        max_n, max_bytes = self._chunk_limits()
        groups: list[list[Any]] = []
        group: list[Any] = []
        group_n = group_size = total = 0
        for row in rows:
            n, size = row[1], row[2]
            if group and (group_n + n > max_n or group_size + 1 + size > max_bytes):
                groups.append(group)
                group, group_n, group_size = [], 0, 0
                if len(groups) >= max_messages:
                    break
            if total and total + n > allowance:
                break
            group.append(row)
            group_n += n
            group_size += size + (1 if group_size else 0)
            total += n
        if group and len(groups) < max_messages:
            groups.append(group)
        return groups

    @contextmanager
    def _bind_rollback(self) -> Iterator[None]:
        """A binding transaction that fails (disk full) used no sequence number and bound no chunk: the
        next binding starts where this one did."""
        with self._lock:
            before = self._next_seq, self._live_from
            try:
                yield
            except BaseException:
                self._next_seq, self._live_from = before
                raise

    def _set_next_seq(self, db: sqlite3.Connection, next_seq: int) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('next_seq', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (next_seq,),
        )
        self._next_seq = next_seq

    def _next_resends(self, max_messages: int, allowance: float) -> list[Batch]:
        with self._lock:
            waiting = self._db.execute("SELECT 1 FROM resends WHERE msg_seq IS NULL LIMIT 1").fetchone()
        if waiting is None:
            return []  # the usual answer: no write transaction for it
        with self._bind_rollback(), self._tx() as db:
            entries = db.execute(
                "SELECT s.id, s.n, c.size, COALESCE(c.body, b.body), s.t_from, s.t_to FROM resends s "
                f"JOIN chunks c ON c.id = s.chunk_id {BODY_JOIN} WHERE s.msg_seq IS NULL ORDER BY s.id"
            )
            # A range-limited entry's text is no longer than its chunk's: the chunk size bounds it.
            groups = self._group(entries, max_messages, allowance)
            entries.close()
            if not groups:
                return []
            first = self._reserve_seq(len(groups))
            now = self._now_ms()
            batches = []
            for seq, group in enumerate(groups, start=first):
                count = sum(row[1] for row in group)
                body = ",".join(_resend_text(row[3], row[4], row[5]) for row in group)
                db.execute(
                    "INSERT INTO messages(seq, lane, created_at, n) VALUES (?, ?, ?, ?)",
                    (seq, str(Lane.RESEND), now, count),
                )
                db.executemany(
                    "UPDATE resends SET msg_seq = ? WHERE id = ?", [(seq, row[0]) for row in group]
                )
                batches.append(Batch(seq, Lane.RESEND, body, count))
            self._set_next_seq(db, first + len(groups))
        return batches

    def unacked(self, exclude: Collection[int] = ()) -> list[int]:
        """Sequence numbers of messages assembled but not acknowledged (e.g. in flight at a crash)."""
        with self._lock:
            rows = self._db.execute("SELECT seq FROM messages WHERE acked_at IS NULL ORDER BY seq").fetchall()
        return [r[0] for r in rows if r[0] not in exclude]

    def load_batch(self, seq: int) -> Batch | None:
        """The message ``seq`` rebuilt from its bound chunks: a re-send keeps its seq and content."""
        with self._lock:
            row = self._db.execute("SELECT lane, acked_at, n FROM messages WHERE seq = ?", (seq,)).fetchone()
            if row is None or row[1] is not None:
                return None
            lane = Lane(row[0])
            if lane is Lane.RESEND:
                parts = [
                    (_resend_text(body, t_from, t_to), n)
                    for body, t_from, t_to, n in self._db.execute(
                        "SELECT COALESCE(c.body, b.body), s.t_from, s.t_to, s.n FROM resends s "
                        f"JOIN chunks c ON c.id = s.chunk_id {BODY_JOIN} WHERE s.msg_seq = ? ORDER BY s.id",
                        (seq,),
                    )
                ]
            else:
                parts = self._db.execute(
                    f"SELECT COALESCE(c.body, b.body), c.n FROM chunks c {BODY_JOIN} WHERE c.msg_seq = ? "
                    "ORDER BY c.id",
                    (seq,),
                ).fetchall()
        if not parts:
            self.mark_acked(seq)  # nothing left to carry (its readings were purged): close it
            return None
        return Batch(seq, lane, ",".join(p[0] for p in parts), sum(p[1] for p in parts))

    def mark_acked(self, seq: int) -> int:
        """The broker acknowledged message ``seq``: its readings are sent. Returns how many readings."""
        return self.mark_acked_many([seq])

    def mark_acked_many(self, seqs: Iterable[int]) -> int:
        """``mark_acked`` for several messages in one transaction. Returns readings.

        Not fsynced (``_tx(durable=False)``): losing these marks to a power cut only means the messages go
        again after it, same seq and readings, and the collector stores each reading once — while an fsync
        per flush of PUBACKs was the largest cost of draining a backlog. The readings themselves, and the
        binding of seqs (which must never be reused), stay durable."""
        total = 0
        now = self._now_ms()
        with self._tx(durable=False) as db:
            for seq in seqs:
                row = db.execute(
                    "SELECT lane, n FROM messages WHERE seq = ? AND acked_at IS NULL", (seq,)
                ).fetchone()
                if row is None:
                    continue
                db.execute("UPDATE messages SET acked_at = ? WHERE seq = ?", (now, seq))
                if row[0] == Lane.RESEND:
                    db.execute("DELETE FROM resends WHERE msg_seq = ?", (seq,))
                else:
                    db.execute("UPDATE chunks SET sent = 1 WHERE msg_seq = ?", (seq,))
                total += int(row[1])
        return total

    # ----------------------------------------------------------------- resend lane

    def queue_resend(self, start: datetime, end: datetime) -> int:
        """Re-queue sent readings with ``start <= t < end`` from history; unsent ones go out anyway.

        Queued per chunk with its time range, so the resend message carries just those readings. When a
        chunk is already waiting with another range the two are joined (readings between them go too:
        the collector stores each reading once). Readings already waiting, or in a resend message not
        yet acknowledged, are not queued again. Returns how many readings were newly queued."""
        lo, hi = start.astimezone(UTC), end.astimezone(UTC)
        with self._tx() as db:
            chunks = db.execute(
                f"SELECT c.id, COALESCE(c.body, b.body) FROM chunks c {BODY_JOIN} "
                "WHERE c.sent = 1 AND c.t_max >= ? AND c.t_min < ? ORDER BY c.id",
                (iso_utc(lo), iso_utc(hi)),
            ).fetchall()
            return sum(self._queue_chunk(db, chunk_id, body, (lo, hi)) for chunk_id, body in chunks)

    def queue_resend_seqs(self, seq_from: int, seq_to: int) -> int:
        """Re-queue the sent readings first carried by messages ``seq_from..seq_to`` (inclusive): the
        whole chunks those messages were made of, exactly their readings.

        Readings of a message not yet acknowledged are not re-queued: that message goes again anyway,
        same seq. A reading already waiting in the resend lane is not queued twice.
        """
        with self._tx() as db:
            chunks = db.execute(
                f"SELECT c.id, COALESCE(c.body, b.body) FROM chunks c INDEXED BY ix_chunks_msg {BODY_JOIN} "
                "WHERE c.msg_seq BETWEEN ? AND ? AND c.sent = 1 ORDER BY c.id",
                (seq_from, seq_to),
            ).fetchall()
            return sum(self._queue_chunk(db, chunk_id, body, None) for chunk_id, body in chunks)

    def _queue_chunk(
        self, db: sqlite3.Connection, chunk_id: int, body: str, span: tuple[datetime, datetime] | None
    ) -> int:
        """Queue chunk ``chunk_id`` for the resend lane, all of it (``span`` None) or the readings with
        ``lo <= t < hi``. Returns the readings newly queued."""
        entries = db.execute(
            "SELECT id, t_from, t_to, n, msg_seq FROM resends WHERE chunk_id = ?", (chunk_id,)
        ).fetchall()
        times = _times(body)

        def inside(t: datetime, t_from: str | None, t_to: str | None) -> bool:
            return t_from is None or t_to is None or _parse_iso(t_from) <= t < _parse_iso(t_to)

        wanted = [t for t in times if span is None or span[0] <= t < span[1]]
        new = [t for t in wanted if not any(inside(t, e[1], e[2]) for e in entries)]
        if not new:
            return 0  # all of it waiting already, or in a resend message awaiting its PUBACK
        pending = next((e for e in entries if e[4] is None), None)
        if pending is None:
            bounds = (None, None) if span is None else (iso_utc(span[0]), iso_utc(span[1]))
            db.execute(
                "INSERT INTO resends(chunk_id, t_from, t_to, n) VALUES (?, ?, ?, ?)",
                (chunk_id, *bounds, len(wanted)),
            )
            return len(new)
        row_id, t_from, t_to, had, _ = pending
        if span is None or t_from is None or t_to is None:
            joined: tuple[str | None, str | None] = (None, None)
            n = len(times)
        else:
            lo, hi = min(span[0], _parse_iso(t_from)), max(span[1], _parse_iso(t_to))
            joined = (iso_utc(lo), iso_utc(hi))
            n = sum(1 for t in times if lo <= t < hi)
        db.execute("UPDATE resends SET t_from = ?, t_to = ?, n = ? WHERE id = ?", (*joined, n, row_id))
        return n - had

    def known_seqs(self, seq_from: int, seq_to: int) -> int:
        """How many of the sequence numbers ``seq_from..seq_to`` this outbox still has a message for (the
        others were never used here — reserved ahead before a lost outbox — or their history was purged)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM messages WHERE seq BETWEEN ? AND ?", (seq_from, seq_to)
            ).fetchone()
        return int(row[0])

    def pending_resends(self) -> int:
        """Readings waiting in the resend lane."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(n), 0) FROM resends WHERE msg_seq IS NULL").fetchone()
        return int(row[0])

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
        """Drop unsent readings past ``max_age_days``, purge history past ``history_days`` and compact the
        backlog, in small transactions; report drops; then truncate the WAL, so that it never stays larger
        than a minute's writes. Returns what was done (readings; chunks merged)."""
        self._settle_loss()
        now = self._now_ms()
        aged = self._purge(
            self._aged_rows, now - int(self.config.max_age_days * 86_400_000), max_chunks, "dropped"
        )
        self._unreported_drops += aged
        history_cut = now - int(self.config.history_days * 86_400_000)
        purged = self._purge(_history_rows, history_cut, max_chunks)
        with self._tx() as db:
            db.execute("DELETE FROM messages WHERE acked_at IS NOT NULL AND acked_at < ?", (history_cut,))
            db.execute("DELETE FROM events WHERE sent = 1 AND stored_at < ?", (history_cut,))
            db.execute("DELETE FROM commands WHERE answered_at < ?", (history_cut,))
        self._report_drops(force=True)
        done = {"aged_out": aged, "purged": purged, "compacted": self.compact_all(max_steps=max_chunks)}
        self.checkpoint()
        self._space.forget()  # purges may have freed pages: read the floor afresh
        return done

    def _aged_rows(self, db: sqlite3.Connection, cutoff: int) -> list[tuple[int, int]]:
        """Up to PURGE_ROWS (id, n) of the oldest unbound chunks stored before ``cutoff``. The walk stops at the
        first younger chunk: ids follow storage time, so a backlog of younger chunks is not scanned through."""
        taken: list[tuple[int, int]] = []
        cursor = db.execute(
            "SELECT id, n, acquired_at, msg_seq FROM chunks WHERE id >= ? ORDER BY id",
            (self._first_unbound(db),),
        )
        for chunk_id, n, acquired_at, msg_seq in cursor:
            if acquired_at >= cutoff or len(taken) >= PURGE_ROWS:
                break
            if msg_seq is None:
                taken.append((chunk_id, n))
        cursor.close()
        return taken

    def _purge(
        self,
        select: Callable[[sqlite3.Connection, int], list[tuple[int, int]]],
        cutoff: int,
        max_chunks: int,
        counter: str | None = None,
    ) -> int:
        """Delete the chunks ``select`` names, PURGE_ROWS per transaction. Returns readings deleted."""
        total = 0
        for _ in range(max_chunks):
            with self._tx() as db:
                rows = select(db, cutoff)
                n = _delete_chunks(db, rows)
                if n and counter:
                    self._meta_add(db, counter, n)
            total += n
            if len(rows) < PURGE_ROWS:
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
            # Unsent = unbound (the rowid from the bound) + bound to a message not yet acknowledged.
            unbound, first_unbound = db.execute(
                "SELECT COALESCE(SUM(n), 0), MIN(id) FROM chunks WHERE id >= ? AND msg_seq IS NULL AND sent = 0",
                (self._first_unbound(db),),
            ).fetchone()
            bound, first_bound = db.execute(
                "SELECT COALESCE(SUM(c.n), 0), MIN(c.id) FROM messages m "
                "JOIN chunks c INDEXED BY ix_chunks_msg ON c.msg_seq = m.seq "
                "WHERE m.acked_at IS NULL AND c.sent = 0"
            ).fetchone()
            backlog = unbound + bound
            first = min((i for i in (first_unbound, first_bound) if i is not None), default=None)
            oldest = db.execute("SELECT t_min FROM chunks WHERE id = ?", (first,)).fetchone()
            unacked = db.execute("SELECT COUNT(*) FROM messages WHERE acked_at IS NULL").fetchone()[0]
            events = db.execute("SELECT COUNT(*) FROM events WHERE sent = 0").fetchone()[0]
            stored = db.execute("SELECT COALESCE(SUM(n), 0) FROM chunks").fetchone()[0] if detail else -1
            # Readings a failing disk cost are in ``dropped`` at once, before they can be written there.
            dropped = self._meta("dropped") + self.loss.readings
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

    # ----------------------------------------------------------------- the first file format

    def _migrate_v1(self, db: sqlite3.Connection) -> None:
        """Convert the per-reading ``readings`` table to chunks, in one transaction (a crash leaves the
        old tables, and the next open converts again). Unsent, bound-but-unacknowledged (same seq, same
        readings in the same order), sent history and queued resends are all kept."""
        started = time.monotonic()
        db.execute("BEGIN IMMEDIATE")
        try:
            resend_of: dict[int, int | None] = {}
            if _columns(db, "resends_v1"):
                resend_of = dict(db.execute("SELECT reading_id, msg_seq FROM resends_v1").fetchall())
            max_n, _ = self._chunk_limits()
            carried: dict[int, int] = {}  # message seq -> readings, for messages.n
            converted = invalid = 0
            run: list[Reading] = []
            run_key: tuple[Any, ...] | None = None
            run_acquired = 0

            def flush() -> None:
                nonlocal converted
                if not run or run_key is None:
                    return
                msg_seq, sent, queued, resend_seq = run_key
                for chunk in self._encode_chunks(run):
                    chunk_id = _insert_chunk(db, chunk, msg_seq, sent, run_acquired)
                    if queued:
                        db.execute(
                            "INSERT INTO resends(chunk_id, n, msg_seq) VALUES (?, ?, ?)",
                            (chunk_id, chunk[0], resend_seq),
                        )
                converted += len(run)
                run.clear()

            rows = db.execute(
                "SELECT id, param, t, value, flag, device, msg_seq, sent, acquired_at FROM readings ORDER BY id"
            )
            for row_id, param, t, value, flag, device, msg_seq, sent, acquired_at in rows:
                try:
                    reading = _reading((param, t, value, flag, device))
                except ValueError as exc:
                    invalid += 1
                    log.error("outbox conversion: reading %d cannot be read (%s); left out", row_id, exc)
                    continue
                queued = row_id in resend_of
                key = (msg_seq, int(sent), queued, resend_of.get(row_id))
                if key != run_key or len(run) >= max_n:
                    flush()
                    run_key, run_acquired = key, 0
                run.append(reading)
                run_acquired = max(run_acquired, int(acquired_at))
                carrier = key[3] if queued and key[3] is not None else msg_seq
                if carrier is not None:
                    carried[carrier] = carried.get(carrier, 0) + 1
            flush()
            db.executemany(
                "UPDATE messages SET n = ? WHERE seq = ? AND acked_at IS NULL",
                [(n, seq) for seq, n in carried.items()],
            )
            if invalid:
                self._meta_add(db, "count:conversion_invalid", invalid)
            db.execute("DROP TABLE readings")
            db.execute("DROP TABLE IF EXISTS resends_v1")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        log.warning(
            "station %s: outbox %s converted to the chunk format: %d readings in %.1f s",
            self.station,
            self.path,
            converted,
            time.monotonic() - started,
        )


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _rename_v1_resends(db: sqlite3.Connection) -> None:
    """The first format's resends (one row per reading) move aside for ``_migrate_v1`` to convert."""
    if "reading_id" in _columns(db, "resends"):
        db.execute("ALTER TABLE resends RENAME TO resends_v1")


def _new_chunk(readings: Sequence[Reading], body: str, size: int) -> NewChunk:
    if len(readings) == 1:  # an analyser's poll
        t = iso_utc(readings[0].t)
        return 1, size, t, t, body
    times = [r.t for r in readings]
    lo, hi = min(times), max(times)
    t_min = iso_utc(lo)
    return len(readings), size, t_min, t_min if hi == lo else iso_utc(hi), body


def _history_rows(db: sqlite3.Connection, cutoff: int) -> list[tuple[int, int]]:
    """Up to PURGE_ROWS (id, n) of sent history stored before ``cutoff`` and not queued for a resend."""
    return db.execute(
        "SELECT id, n FROM chunks WHERE sent = 1 AND acquired_at < ? AND id NOT IN (SELECT chunk_id FROM resends) "
        "ORDER BY id LIMIT ?",
        (cutoff, PURGE_ROWS),
    ).fetchall()


def _take_until(rows: Iterable[Any], wanted: int) -> list[tuple[int, int]]:
    """(id, n) rows from the front of ``rows`` until their readings reach ``wanted``."""
    taken: list[tuple[int, int]] = []
    total = 0
    for chunk_id, n in rows:
        if total >= wanted:
            break
        taken.append((chunk_id, n))
        total += n
    return taken


def _insert_chunk(db: sqlite3.Connection, chunk: NewChunk, msg_seq: int | None, sent: int, at: int) -> int:
    n, size, t_min, t_max, body = chunk
    if size <= INLINE_BODY_BYTES:
        cursor = db.execute(
            "INSERT INTO chunks(n, size, t_min, t_max, msg_seq, sent, acquired_at, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (n, size, t_min, t_max, msg_seq, sent, at, body),
        )
        return int(cursor.lastrowid or 0)
    cursor = db.execute(
        "INSERT INTO chunks(n, size, t_min, t_max, msg_seq, sent, acquired_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (n, size, t_min, t_max, msg_seq, sent, at),
    )
    chunk_id = int(cursor.lastrowid or 0)
    db.execute("INSERT INTO bodies(id, body) VALUES (?, ?)", (chunk_id, body))
    return chunk_id


def _delete_chunks(db: sqlite3.Connection, rows: Sequence[Any]) -> int:
    """Delete chunks given as (id, n, ...) rows. Returns their readings."""
    ids = [(row[0],) for row in rows]
    db.executemany("DELETE FROM chunks WHERE id = ?", ids)
    db.executemany("DELETE FROM bodies WHERE id = ?", ids)
    return sum(int(row[1]) for row in rows)


def _store_merged(db: sqlite3.Connection, rows: Sequence[ChunkRow], body: str, msg_seq: int | None) -> None:
    """Chunk rows (id, n, size, body, acquired_at, t_min, t_max) become the first of them."""
    head = rows[0][0]
    db.execute(
        "UPDATE chunks SET n = ?, size = ?, acquired_at = ?, t_min = ?, t_max = ?, msg_seq = ?, body = NULL "
        "WHERE id = ?",
        (
            sum(r[1] for r in rows),
            sum(r[2] for r in rows) + len(rows) - 1,
            max(r[4] for r in rows),
            min(r[5] for r in rows),
            max(r[6] for r in rows),
            msg_seq,
            head,
        ),
    )
    # A merged chunk is big: its text goes (or stays) apart, where binding and acknowledging never rewrite it.
    db.execute(
        "INSERT INTO bodies(id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body",
        (head, body),
    )
    _delete_chunks(db, rows[1:])


def _merge_chunks(db: sqlite3.Connection, ids: Sequence[int]) -> None:
    marks = ",".join("?" * len(ids))
    rows: list[ChunkRow] = db.execute(
        f"SELECT {CHUNK_COLUMNS} FROM chunks c {BODY_JOIN} WHERE c.id IN ({marks}) ORDER BY c.id",
        tuple(ids),
    ).fetchall()
    _store_merged(db, rows, ",".join(r[3] for r in rows), msg_seq=None)


def _times(body: str) -> list[datetime]:
    """The timestamps of a chunk's readings, in order."""
    return [datetime.fromisoformat(item["t"]).astimezone(UTC) for item in json.loads(f"[{body}]")]


def _resend_text(body: str, t_from: str | None, t_to: str | None) -> str:
    """A chunk's text for the resend lane: all of it, or its readings with ``t_from <= t < t_to``."""
    if t_from is None or t_to is None:
        return body
    lo, hi = _parse_iso(t_from), _parse_iso(t_to)
    return encode_fragment([r for r in decode_fragment(body) if lo <= r.t < hi])


def _reading(row: Any) -> Reading:
    param, t, value, flag, device = row
    return Reading(param=param, t=_parse_iso(t), value=value, flag=Flag(flag), device=device)
