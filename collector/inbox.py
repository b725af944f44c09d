"""The collector's inbox: raw MQTT payloads committed by the receiver before it acknowledges them.

One SQLite file shared by two processes: the receiver appends (topic, payload, received_at µs) rows in
batches and acknowledges each message only after the batch's commit; the applier in the main process reads
rows in id order, validates and stores them, marks them applied (in memory), and deletes what it has applied
about once a second. The inbox therefore holds what was acknowledged to the broker but is not yet in the
store, and for up to a second what the store already holds: those rows are applied again after a crash of the
main process, which the store's identities make harmless (each reading is stored once).

Why the deletes wait: each DELETE is a write transaction with its own fsync, and SQLite has one writer at a time.
One per applied batch (about 60 a second when the applier keeps up with a stream) could keep the receiver's
commit waiting in SQLite's busy handler (a sleep of 1 ms or more) before it could acknowledge anything.

Counters (accepted, rejected:<reason>, commits, acks, ...) are updated in the same transactions as the rows,
so they survive restarts and never disagree with what was committed. A small ``state`` table carries the
receiver's connection state to the main process (for /healthz and /metrics).

WAL lets the applier read while the receiver writes. ``synchronous=FULL``: the receiver acknowledges a message
to the broker right after the commit, and the broker then forgets it. With NORMAL a power cut could roll back
a commit whose messages were already acknowledged — readings lost for good. FULL fsyncs the WAL on every
commit; one commit per batch of messages keeps that cost small.
"""

from __future__ import annotations

import fcntl
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

WAL_SIZE_LIMIT = 4 << 20  # bytes: what a WAL file keeps after a checkpoint emptied it

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused: id order is arrival order
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at INTEGER NOT NULL            -- µs since the epoch, UTC
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    topic: str
    payload: bytes
    received_at: int  # µs since the epoch


Incoming = tuple[str, bytes, int]  # (topic, payload, received_at µs)


class InboxInUse(Exception):
    """Another collector process owns this inbox (each collector needs its own: two appliers on one inbox
    would apply and delete each other's rows)."""


class Inbox:
    """One connection per process, guarded by a lock (the receiver's writer and paho threads share it)."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_s: float = 30.0,
        autocheckpoint_pages: int = 1000,
        owner: bool = False,
    ) -> None:
        """``autocheckpoint_pages``: the receiver passes a large value so that its commits (which hold up
        acknowledgements) seldom pay for copying the WAL into the database; the applier checkpoints after
        its deletes instead (``checkpoint``). ``owner``: the main process takes an exclusive lock on
        ``<path>.lock`` for as long as it has the inbox open, or raises InboxInUse."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._owner_fd: int | None = None
        if owner:
            self._owner_fd = _lock_exclusive(self.path.with_name(self.path.name + ".lock"))
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # see the module doc: acked means on disk
            db.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint_pages)}")
            # The WAL is cut back to this size once a checkpoint has emptied it: a backlog's WAL does not stay.
            db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            self._release()
            raise
        self._db = db
        self._applied_through = 0  # the applier's rows up to here are in the store (this process only)
        self._forgotten_through = 0  # and up to here deleted

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._release()

    def _release(self) -> None:
        if self._owner_fd is not None:
            os.close(self._owner_fd)  # closing the descriptor drops the flock
            self._owner_fd = None

    # -- the receiver ----------------------------------------------------------------------------------------

    def append(self, rows: Sequence[Incoming], counts: Mapping[str, int] | None = None) -> None:
        """Commit ``rows`` and add ``counts`` to the counters, in one transaction."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                _insert(db, rows)
                if counts:
                    _add_counts(db, counts)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def add_counts(self, counts: Mapping[str, int]) -> None:
        self.append((), counts)

    def set_state(self, values: Mapping[str, str]) -> None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", list(values.items()))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # -- the applier -----------------------------------------------------------------------------------------

    def take(self, limit: int) -> list[Row]:
        """The oldest ``limit`` rows not yet marked applied, in id order (they stay until deleted)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, received_at FROM inbox WHERE id > ? ORDER BY id LIMIT ?",
                (self._applied_through, limit),
            ).fetchall()
        return [Row(i, t, bytes(p), r) for i, t, p, r in rows]

    def mark_applied(self, last_id: int) -> None:
        """Every row with id ≤ ``last_id`` is in the store: ``take`` and ``depth`` skip them from now on, and
        ``forget_applied`` deletes them (the rows stay on disk until then: a crash applies them again)."""
        with self._lock:
            self._applied_through = max(self._applied_through, last_id)

    def forget_applied(self) -> int:
        """Delete the rows marked applied; how many went."""
        through = self._applied_through
        if through <= self._forgotten_through:
            return 0
        deleted = self.delete_through(through)
        self._forgotten_through = through
        return deleted

    def delete_through(self, last_id: int) -> int:
        """Forget every row with id ≤ ``last_id`` (all applied); how many went."""
        with self._lock:
            return self._db.execute("DELETE FROM inbox WHERE id <= ?", (last_id,)).rowcount

    def checkpoint(self) -> None:
        """Copy what the WAL holds into the database where no reader needs it (never waits for the receiver)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # -- observation -----------------------------------------------------------------------------------------

    def depth(self) -> int:
        """Rows not yet applied (the receiver's process, which marks none, counts the applied rows that wait
        for their delete too: up to a second's worth)."""
        with self._lock:
            query = "SELECT count(*) FROM inbox WHERE id > ?"
            return int(self._db.execute(query, (self._applied_through,)).fetchone()[0])

    def newest_id(self) -> int:
        """The last row's id (0: empty). Ids only grow: a higher one means the receiver has added rows."""
        with self._lock:
            return int(self._db.execute("SELECT coalesce(max(id), 0) FROM inbox").fetchone()[0])

    def oldest_received_at(self) -> int | None:
        """µs since the epoch of the oldest row still waiting; None when empty."""
        with self._lock:
            query = "SELECT received_at FROM inbox WHERE id > ? ORDER BY id LIMIT 1"
            row = self._db.execute(query, (self._applied_through,)).fetchone()
        return None if row is None else int(row[0])

    def oldest_age_s(self, now: int | None = None) -> float:
        oldest = self.oldest_received_at()
        if oldest is None:
            return 0.0
        return max(0.0, ((now_us() if now is None else now) - oldest) / 1e6)

    def size_bytes(self) -> int:
        """The database file and its WAL, as they are on disk."""
        return sum(p.stat().st_size for p in _files(self.path) if p.exists())

    def counters(self) -> dict[str, int]:
        with self._lock:
            return {n: int(v) for n, v in self._db.execute("SELECT name, value FROM counters")}

    def state(self) -> dict[str, str]:
        with self._lock:
            return {k: str(v) for k, v in self._db.execute("SELECT key, value FROM state")}


# Rows per INSERT statement: 3 parameters each, far below SQLite's least limit of 999 parameters a statement.
ROWS_PER_INSERT = 256


def _insert(db: sqlite3.Connection, rows: Sequence[Incoming]) -> None:
    """One multi-row INSERT per ``ROWS_PER_INSERT`` rows, not executemany's statement per row. Each statement
    runs with the GIL released and takes it back after: executemany does that once per row, and when another
    thread of the process is busy (paho's, the HJ 212 server's) each retake waits out the interpreter's switch
    interval, which made a commit of a few hundred rows take a second."""
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        db.execute(_insert_sql(len(chunk)), [value for row in chunk for value in row])


@functools.cache
def _insert_sql(count: int) -> str:
    return "INSERT INTO inbox (topic, payload, received_at) VALUES " + ", ".join(["(?, ?, ?)"] * count)


def _add_counts(db: sqlite3.Connection, counts: Mapping[str, int]) -> None:
    db.executemany(
        "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        [(name, n) for name, n in counts.items() if n],
    )


def _files(path: Path) -> Iterable[Path]:
    return (path, path.with_name(path.name + "-wal"))


def rejected_counts(counters: Mapping[str, int]) -> dict[str, int]:
    """The ``rejected:<reason>`` counters by reason."""
    prefix = "rejected:"
    return {k[len(prefix) :]: v for k, v in counters.items() if k.startswith(prefix)}


def _lock_exclusive(path: Path) -> int:
    """An open descriptor holding an exclusive flock on ``path`` (released when closed, or when the process
    dies — kill -9 included, so a crashed collector never blocks its restart)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InboxInUse(
            f"inbox {path.with_suffix('')} is in use by another collector process; give each collector its "
            "own [inbox] path"
        ) from None
    return fd
