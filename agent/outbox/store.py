"""The outbox's one SQLite connection: its lock, its transactions, its counters and its disk accounting.

Every part of the outbox (queue, batches, resends, events, housekeeping...) writes through ``tx``: one
``BEGIN IMMEDIATE`` transaction under one lock (acquisition may call from worker threads). A write the disk
refuses (SQLITE_FULL, ENOSPC, EIO) is rolled back, what it cost is counted in memory (``StorageLoss``) and
``StorageFailed`` is raised to the caller; the log says so once a minute; the WAL is checkpointed (TRUNCATE)
to give its space back. The quota check reads the file's true size only near the quota (``used_for_quota``)
and the free-space floor is watched through ``agent.diskguard.FreeSpace``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.config import OutboxConfig
from agent.diskguard import FreeSpace, StorageLoss, is_storage_error
from agent.outbox.chunks import ENVELOPE_BYTES
from agent.sink import StorageFailed

log = logging.getLogger(__name__)

QUOTA_SLACK_BYTES = 2 << 20  # this close to the quota, its check reads the file's true size
QUOTA_TRUE_UP = 256  # further from it, the size is estimated and read again every this many checks
WAL_FRAME_BYTES = 4096 + 24  # what a commit adds to the WAL at least (a page and its frame header)


def meta_add(db: sqlite3.Connection, key: str, amount: int) -> None:
    """Add ``amount`` to the counter ``key`` in the caller's transaction."""
    db.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
        (key, amount),
    )


class OutboxStore:
    """The connection ``db`` with its lock; counters in ``meta``; what a failing disk cost in ``loss``."""

    def __init__(
        self,
        db: sqlite3.Connection,
        path: Path,
        config: OutboxConfig,
        station: str,
        clock: Callable[[], float],
    ) -> None:
        self.db = db
        self.path = path
        self.config = config
        self.station = station
        self.clock = clock
        self.lock = threading.RLock()
        self.space = FreeSpace(path.parent, config.min_free_bytes)
        self.loss = StorageLoss(clock=clock)  # what a failing disk cost, until it is written
        self.used_estimate: int | None = None  # bytes in use: the last true size plus what was stored since
        self.estimate_age = 0  # quota checks answered by the estimate since it was last read
        # HJ 212 targets configured: polls are copied to uplink_feed too (agent.outbox.feed)
        self.feed_enabled = False

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def chunk_limits(self) -> tuple[int, int]:
        """(readings, body bytes) one chunk — and so one message — may hold."""
        return self.config.batch_max_readings, self.config.batch_max_bytes - ENVELOPE_BYTES

    # ----------------------------------------------------------------- transactions

    @contextmanager
    def tx(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction. ``durable=False`` commits without the WAL fsync (synchronous=NORMAL for
        this commit only): a power cut may roll it back, a killed process cannot. Only for changes whose
        loss is harmless — a later durable commit fsyncs the WAL up to and including it anyway."""
        with self.lock:
            if not durable:
                self.db.execute("PRAGMA synchronous=NORMAL")
            try:
                try:
                    self.db.execute("BEGIN IMMEDIATE")
                    yield self.db
                    self.db.execute("COMMIT")
                except BaseException as exc:
                    self.rollback()
                    if is_storage_error(exc):
                        raise self.storage_failed(exc) from exc
                    raise
            finally:
                if not durable:
                    self.db.execute("PRAGMA synchronous=FULL")

    def rollback(self) -> None:
        """Roll back what is open. After SQLITE_FULL SQLite may have rolled back already, or may not (a
        failed COMMIT leaves the transaction open): either way the connection is usable afterwards."""
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.debug("outbox rollback failed: %s", exc)

    def storage_failed(self, exc: BaseException, *, readings: int = 0) -> StorageFailed:
        """A write failed for lack of space or an I/O error: count what it cost, log at a measured pace,
        give the WAL's space back. Returns the exception for the caller to raise."""
        with self.lock:
            line = self.loss.failed(exc, readings=readings)
            self.used_estimate = None
            self.space.forget()
            self.checkpoint()
        if line is not None:
            log.error("station %s: %s", self.station, line)
        return StorageFailed(f"outbox could not store {readings} readings: {self.loss.last_error}")

    def checkpoint(self) -> bool:
        """Move the WAL into the database and truncate it to nothing. False when it could not (the disk
        refused, or a reader holds it): it is tried again at the next housekeeping."""
        with self.lock:
            if self.db.in_transaction:
                return False
            try:
                busy = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.Error as exc:
                log.debug("outbox checkpoint failed: %s", exc)
                return False
        return not busy

    # ----------------------------------------------------------------- counters

    def meta(self, key: str) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def count(self, key: str, amount: int = 1) -> None:
        """A persisted counter (malformed commands, refused publishes, ...). While the disk refuses writes
        the increment is held in memory and written with the storage_failed bookkeeping."""
        try:
            with self.tx() as db:
                meta_add(db, f"count:{key}", amount)
        except StorageFailed:
            with self.lock:
                self.loss.add_counter(key, amount)

    def counters(self) -> dict[str, int]:
        """Persisted counters, plus what a failing disk holds in memory (``lost_storage_full`` readings,
        ``events_lost_storage``)."""
        with self.lock:
            rows = self.db.execute("SELECT key, value FROM meta WHERE key LIKE 'count:%'").fetchall()
            out = {key[len("count:") :]: int(value) for key, value in rows}
            pending = dict(self.loss.counters)
            pending["lost_storage_full"] = self.loss.readings
            pending["events_lost_storage"] = self.loss.events
        for key, amount in pending.items():
            if amount:
                out[key] = out.get(key, 0) + amount
        return out

    # ----------------------------------------------------------------- space

    def room_on_disk(self, db: sqlite3.Connection, need: int) -> bool:
        """Whether ``need`` more bytes fit above the free-space floor: the filesystem has them, or the
        database's own free pages do (reused: the file does not grow)."""
        if self.space.above_floor(need + WAL_FRAME_BYTES):
            return True
        free_pages = int(db.execute("PRAGMA freelist_count").fetchone()[0])
        page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
        return free_pages * page_size >= need + WAL_FRAME_BYTES

    def used_bytes(self) -> int:
        # Pages in use: page_count less the free list, so that space freed by purges counts as free.
        with self.lock:
            row = self.db.execute(
                "SELECT (p.page_count - f.freelist_count) * s.page_size "
                "FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s"
            ).fetchone()
            self.used_estimate, self.estimate_age = int(row[0]), 0
        return int(row[0])

    def used_for_quota(self, need: int, limit: int) -> int:
        """Bytes in use, for the check that ``need`` more fit under ``limit``: the true size near the limit
        (and every QUOTA_TRUE_UP checks), an estimate well below it — a poll's commit then runs no PRAGMA.
        The estimate adds what was stored and ignores what was freed, so it errs towards full."""
        estimate = self.used_estimate
        if (
            estimate is None
            or self.estimate_age >= QUOTA_TRUE_UP
            or estimate + need > limit - QUOTA_SLACK_BYTES
        ):
            return self.used_bytes()
        self.estimate_age += 1
        return estimate

    def stored(self, need: int) -> None:
        """``need`` bytes were just committed: the estimates count them."""
        if self.used_estimate is not None:
            self.used_estimate += need
        self.space.spend(need + WAL_FRAME_BYTES)
