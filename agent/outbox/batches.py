"""Readings out: chunks bound to numbered messages, rebuilt for a re-send, marked sent on PUBACK.

A chunk is bound to a message sequence number when a batch is assembled (whole chunks, never split) and
marked sent only by ``mark_acked`` — called on the broker's PUBACK for that message (invariant 2). Ordering
is by row id, never by timestamp, so a station clock that jumps reorders nothing and loses nothing. The
live lane takes the chunks stored within ``live_window_s``; the backfill lane the older ones, oldest first;
the resend lane (``resends``) history re-queued by a command. Binding several chunks into one message
merges them into one row.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from agent.outbox.chunks import Batch, group_rows, resend_text, store_merged
from agent.outbox.queue import ChunkQueue
from agent.outbox.resends import ResendLane
from agent.outbox.schema import BODY_JOIN, CHUNK_COLUMNS
from agent.outbox.seq import Sequencer
from agent.outbox.store import OutboxStore
from protocols.messages import Lane


class Batches:
    def __init__(self, store: OutboxStore, queue: ChunkQueue, seq: Sequencer, resends: ResendLane) -> None:
        self.store = store
        self.queue = queue
        self.seq = seq
        self.resends = resends

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
            return self.resends.next_batches(max_messages, allowance)
        store, queue = self.store, self.queue
        cutoff = store.now_ms() - int(store.config.live_window_s * 1000)
        with store.lock:
            # Most calls find nothing to bind (the publisher asks on every turn): found out by reading one
            # index entry, without taking the write lock.
            if not self.lane_has_chunks(lane, cutoff):
                return []
        max_n, max_bytes = store.chunk_limits()
        with self._bind_rollback(), store.tx() as db:
            if lane is Lane.LIVE:
                groups = group_rows(self._live_rows(db, cutoff), max_messages, allowance, max_n, max_bytes)
            else:
                # The oldest unbound chunks in id order, read along the rowid from the bound and stopped
                # when the messages are full (the cursor steps lazily: no more rows are read than taken).
                cursor = db.execute(
                    f"SELECT {CHUNK_COLUMNS} FROM chunks c {BODY_JOIN} "
                    "WHERE c.id >= ? AND c.msg_seq IS NULL AND c.acquired_at < ? ORDER BY c.id",
                    (queue.first_unbound(db), cutoff),
                )
                groups = group_rows(cursor, max_messages, allowance, max_n, max_bytes)
                cursor.close()
            if not groups:
                return []
            if lane is Lane.LIVE:
                queue.live_from = max(queue.live_from, groups[-1][-1][0] + 1)
            first = self.seq.reserve(len(groups))
            now = store.now_ms()
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
                    store_merged(db, group, body, msg_seq=seq)
                batches.append(Batch(seq, lane, body, count))
            self.seq.set_next(db, first + len(groups))
        return batches

    def lane_has_chunks(self, lane: Lane, cutoff: int) -> bool:
        """Whether ``lane`` (live or backfill) may have an unbound chunk (a cheap look, no transaction)."""
        db, queue = self.store.db, self.queue
        if lane is Lane.LIVE:
            cursor = db.execute(
                "SELECT acquired_at, msg_seq FROM chunks WHERE id >= ? ORDER BY id DESC",
                (max(queue.unbound_from, queue.live_from),),
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
            (queue.first_unbound(db), cutoff),
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
            (max(self.queue.unbound_from, self.queue.live_from),),
        )
        for row in cursor:
            if row[4] < cutoff:
                break
            if row[7] is None:
                newest.append(row[:7])
        cursor.close()
        newest.reverse()
        return newest

    @contextmanager
    def _bind_rollback(self) -> Iterator[None]:
        """A binding transaction that fails (disk full) used no sequence number and bound no chunk: the
        next binding starts where this one did."""
        with self.store.lock, self.seq.restored_on_error():
            live_from = self.queue.live_from
            try:
                yield
            except BaseException:
                self.queue.live_from = live_from
                raise

    # ----------------------------------------------------------------- in flight and acknowledged

    def unacked(self, exclude: Collection[int] = ()) -> list[int]:
        """Sequence numbers of messages assembled but not acknowledged (e.g. in flight at a crash)."""
        with self.store.lock:
            rows = self.store.db.execute(
                "SELECT seq FROM messages WHERE acked_at IS NULL ORDER BY seq"
            ).fetchall()
        return [r[0] for r in rows if r[0] not in exclude]

    def load_batch(self, seq: int) -> Batch | None:
        """The message ``seq`` rebuilt from its bound chunks: a re-send keeps its seq and content."""
        with self.store.lock:
            db = self.store.db
            row = db.execute("SELECT lane, acked_at, n FROM messages WHERE seq = ?", (seq,)).fetchone()
            if row is None or row[1] is not None:
                return None
            lane = Lane(row[0])
            if lane is Lane.RESEND:
                parts = [
                    (resend_text(body, t_from, t_to), n)
                    for body, t_from, t_to, n in db.execute(
                        "SELECT COALESCE(c.body, b.body), s.t_from, s.t_to, s.n FROM resends s "
                        f"JOIN chunks c ON c.id = s.chunk_id {BODY_JOIN} WHERE s.msg_seq = ? ORDER BY s.id",
                        (seq,),
                    )
                ]
            else:
                parts = db.execute(
                    f"SELECT COALESCE(c.body, b.body), c.n FROM chunks c {BODY_JOIN} WHERE c.msg_seq = ? "
                    "ORDER BY c.id",
                    (seq,),
                ).fetchall()
        if not parts:
            self.mark_acked_many([seq])  # nothing left to carry (its readings were purged): close it
            return None
        return Batch(seq, lane, ",".join(p[0] for p in parts), sum(p[1] for p in parts))

    def mark_acked_many(self, seqs: Iterable[int]) -> int:
        """The broker acknowledged messages ``seqs``: their readings are sent, in one transaction. Returns
        readings.

        Not fsynced (``tx(durable=False)``): losing these marks to a power cut only means the messages go
        again after it, same seq and readings, and the collector stores each reading once — while an fsync
        per flush of PUBACKs was the largest cost of draining a backlog. The readings themselves, and the
        binding of seqs (which must never be reused), stay durable."""
        total = 0
        now = self.store.now_ms()
        with self.store.tx(durable=False) as db:
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

    @staticmethod
    def forget_acked_before(db: sqlite3.Connection, cutoff_ms: int) -> None:
        db.execute("DELETE FROM messages WHERE acked_at IS NOT NULL AND acked_at < ?", (cutoff_ms,))
