"""Readings in: each poll committed as chunks (invariant 1), room made under the quota, counted.

``add_readings`` commits a poll's readings in one transaction; when it returns they are on disk. Over the
quota, or with the filesystem at its free-space floor, room is made first: sent history goes first (already
delivered), then the oldest unsent chunks that are not in a message awaiting its PUBACK, every reading
counted in ``dropped`` (or, with ``full_policy = "drop_newest"``, the new readings are the ones counted).

The backlog (unbound chunks) has no index. Binding is one-way (msg_seq is never cleared), so the unbound
chunks are the ones at or after an in-memory lower bound, ``unbound_from``, that moves up to the first
unbound chunk whenever a scan finds it: backlog queries walk the rowid from there. ``live_from`` is the live
lane's own bound, past what it last bound.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from agent.diskguard import is_storage_error
from agent.outbox.chunks import delete_chunks, encode_chunks, insert_chunk, take_until
from agent.outbox.feed import insert_feed
from agent.outbox.losses import LossReport
from agent.outbox.store import OutboxStore, meta_add
from protocols.messages import Reading

CHUNK_OVERHEAD_BYTES = 64  # a stored chunk's row and index entries beyond its body, for the quota check
PURGE_MIN_READINGS = 500  # history freed at least, once the quota bites: not a purge per insert


class ChunkQueue:
    def __init__(self, store: OutboxStore, losses: LossReport) -> None:
        self.store = store
        self.losses = losses
        # Every unbound chunk has an id >= unbound_from (one scan now; moved up lazily, down by inserts);
        # the live lane's chunks are also >= live_from (past what it last bound).
        db = store.db
        first = db.execute("SELECT MIN(id) FROM chunks WHERE msg_seq IS NULL").fetchone()[0]
        if first is None:
            first = int(db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()[0])
        self.unbound_from = self.live_from = int(first)

    def first_unbound(self, db: sqlite3.Connection) -> int:
        """Move ``unbound_from`` up to the first unbound chunk (past the last chunk when there is none) and
        return it. Cheap: the bound chunks walked over are walked once, the bound then stands past them."""
        row = db.execute(
            "SELECT id FROM chunks WHERE id >= ? AND msg_seq IS NULL ORDER BY id LIMIT 1",
            (self.unbound_from,),
        ).fetchone()
        if row is None:
            row = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()
        self.unbound_from = int(row[0])
        return self.unbound_from

    def add_readings(self, readings: Sequence[Reading]) -> int:
        """Store ``readings`` (one transaction); when this returns they are on disk. Returns how many.

        Raises StorageFailed when the disk refused them: they are counted as lost (see ``losses``) and
        nothing else changed."""
        if not readings:
            return 0
        # Once per poll, and at a few thousand commits/s its Python time is a good part of each: hence no
        # ``tx`` context manager here and no PRAGMA for the quota check far below the quota.
        store = self.store
        chunks = encode_chunks(readings, *store.chunk_limits())
        count = len(readings)
        need = (
            chunks[0][1] + CHUNK_OVERHEAD_BYTES
            if len(chunks) == 1
            else sum(c[1] for c in chunks) + CHUNK_OVERHEAD_BYTES * len(chunks)
        )
        config = store.config
        limit = config.max_bytes - config.reserve_bytes
        dropped = 0
        with store.lock:
            db = store.db
            now = int(store.clock() * 1000)
            try:
                db.execute("BEGIN IMMEDIATE")
                # Over the quota, or the filesystem at its floor: room is made here, counted, before the
                # disk itself is full.
                if store.used_for_quota(need, limit) + need > limit or not store.room_on_disk(db, need):
                    if config.full_policy == "drop_newest":
                        dropped, chunks, count, need = count, [], 0, 0
                    else:
                        dropped = self._make_room(db, count)
                    store.used_estimate = None  # read again at the next check
                for chunk in chunks:
                    chunk_id = insert_chunk(db, chunk, None, 0, now)
                    # A deleted newest id is reused: the new chunk may sit below the bounds.
                    if chunk_id < self.unbound_from:
                        self.unbound_from = chunk_id
                    if chunk_id < self.live_from:
                        self.live_from = chunk_id
                if store.feed_enabled and chunks:
                    insert_feed(db, chunks, now)  # the HJ 212 targets' copy, in the same commit
                if dropped:
                    meta_add(db, "dropped", dropped)
                db.execute("COMMIT")
            except BaseException as exc:
                store.rollback()
                if is_storage_error(exc):
                    raise store.storage_failed(exc, readings=len(readings)) from exc
                raise
            self.losses.dropped(dropped)
            store.stored(need)
            if store.loss.pending:
                self.losses.settle()
        if dropped:
            self.losses.report_drops(force=False)
        return count

    def _make_room(self, db: sqlite3.Connection, wanted: int) -> int:
        """Free room for ``wanted`` readings: sent history goes first (already delivered), then the oldest
        unsent chunks that are not in a message awaiting its PUBACK. Returns how many unsent readings were
        dropped (whole chunks: every one counted)."""
        history = take_until(
            db.execute(
                "SELECT id, n FROM chunks WHERE sent = 1 AND id NOT IN (SELECT chunk_id FROM resends) "
                "ORDER BY id"
            ),
            max(wanted, PURGE_MIN_READINGS),
        )
        freed = delete_chunks(db, history)
        if freed >= wanted:
            return 0
        oldest = take_until(
            db.execute(
                "SELECT id, n FROM chunks WHERE id >= ? AND msg_seq IS NULL ORDER BY id",
                (self.first_unbound(db),),
            ),
            wanted - freed,
        )
        return delete_chunks(db, oldest)
