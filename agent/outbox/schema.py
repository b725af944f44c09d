"""The outbox file: its tables, and opening a connection on it (WAL, full sync, integrity check, upgrades).

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

The backlog (unbound chunks) has no index — an index is one more page written and fsynced per poll.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from agent.outbox.seq import fsync_dir

# The WAL is checkpointed every this many pages (~1 MiB) rather than SQLite's 1000 (~4 MiB), and its file
# truncated to JOURNAL_SIZE_LIMIT when it restarts: on a small disk the WAL must not outgrow the data.
WAL_AUTOCHECKPOINT_PAGES = 256
JOURNAL_SIZE_LIMIT = 1 << 20
# SQLite's page cache per connection, in KiB (its default is 2,000): the outbox is written at the end and read
# in order, the system's file cache sits behind it, and a week's backlog (or the quick_check at open, which
# reads every page) would otherwise hold ~2 MiB of a station's 30 (issue 17).
CACHE_KIB = 512

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
# per poll's commit. Backlog queries walk the rowid from the queue's lower bound, the unsent count is that
# walk plus the unacknowledged messages, and a time-range resend (a rare command) scans.
DROPPED_INDEXES = ("ix_chunks_pending", "ix_chunks_unsent", "ix_chunks_t_max", "ix_chunks_backlog")
# A chunk's text with its bounds; a body, inline or in ``bodies``.
CHUNK_COLUMNS = "c.id, c.n, c.size, COALESCE(c.body, b.body), c.acquired_at, c.t_min, c.t_max"
BODY_JOIN = "LEFT JOIN bodies b ON b.id = c.id"


class OutboxCorrupt(Exception):
    """The outbox file cannot be opened or fails its integrity check."""


def columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def open_db(path: Path, migrate_v1: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    """A connection on ``path`` in WAL mode with the current tables; a file of the first format is converted
    by ``migrate_v1``. Raises OutboxCorrupt or sqlite3.DatabaseError when the file fails its check."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OutboxCorrupt(f"cannot switch to WAL (journal_mode={mode})")
        # FULL, not NORMAL: in WAL mode NORMAL skips the fsync of the WAL at commit, so a power cut can
        # roll back transactions that had already committed — a reading that add_readings reported as
        # stored would be lost. FULL fsyncs the WAL on every commit; a poll's readings share one commit
        # (benchmarks/bench_outbox_inserts.py measures a commit against a bare SQLite one).
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        db.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        result = db.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise OutboxCorrupt(f"quick_check: {result}")
        _rename_v1_resends(db)
        db.executescript(SCHEMA)
        for index in DROPPED_INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {index}")
        if "body" not in columns(db, "chunks"):
            # The earlier format kept every body in ``bodies``: NULL here says so.
            db.execute("ALTER TABLE chunks ADD COLUMN body TEXT")
        if "n" not in columns(db, "messages"):
            db.execute("ALTER TABLE messages ADD COLUMN n INTEGER NOT NULL DEFAULT 0")
        if columns(db, "readings"):
            migrate_v1(db)
    except BaseException:
        db.close()
        raise
    return db


def set_aside(path: Path) -> Path:
    """Move a corrupt outbox (and its WAL and shared memory) aside; returns its new name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(path) + suffix)
        if source.exists():
            os.replace(source, Path(str(target) + suffix))
    fsync_dir(path.parent)
    return target


def _rename_v1_resends(db: sqlite3.Connection) -> None:
    """The first format's resends (one row per reading) move aside for the v1 migration to convert."""
    if "reading_id" in columns(db, "resends"):
        db.execute("ALTER TABLE resends RENAME TO resends_v1")
