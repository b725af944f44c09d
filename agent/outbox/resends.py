"""The resend lane: sent history re-queued by a ``resend`` command, by time range or by message seqs.

Queued per chunk with its time range (``resends`` table), so the resend message carries just those
readings; bound to its own message in the resend lane and forgotten on that message's PUBACK. The collector
stores each reading once, so joining two ranges of one chunk (and sending what lies between) is harmless.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from agent.outbox.chunks import Batch, group_rows, iso_utc, parse_iso, resend_text, times
from agent.outbox.schema import BODY_JOIN
from agent.outbox.seq import Sequencer
from agent.outbox.store import OutboxStore
from protocols.messages import Lane


class ResendLane:
    def __init__(self, store: OutboxStore, seq: Sequencer) -> None:
        self.store = store
        self.seq = seq

    def queue_range(self, start: datetime, end: datetime) -> int:
        """Re-queue sent readings with ``start <= t < end`` from history; unsent ones go out anyway.

        When a chunk is already waiting with another range the two are joined (readings between them go
        too). Readings already waiting, or in a resend message not yet acknowledged, are not queued again.
        Returns how many readings were newly queued."""
        lo, hi = start.astimezone(UTC), end.astimezone(UTC)
        with self.store.tx() as db:
            chunks = db.execute(
                f"SELECT c.id, COALESCE(c.body, b.body) FROM chunks c {BODY_JOIN} "
                "WHERE c.sent = 1 AND c.t_max >= ? AND c.t_min < ? ORDER BY c.id",
                (iso_utc(lo), iso_utc(hi)),
            ).fetchall()
            return sum(self._queue_chunk(db, chunk_id, body, (lo, hi)) for chunk_id, body in chunks)

    def queue_seqs(self, seq_from: int, seq_to: int) -> int:
        """Re-queue the sent readings first carried by messages ``seq_from..seq_to`` (inclusive): the
        whole chunks those messages were made of, exactly their readings.

        Readings of a message not yet acknowledged are not re-queued: that message goes again anyway,
        same seq. A reading already waiting in the resend lane is not queued twice.
        """
        with self.store.tx() as db:
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
        stamps = times(body)

        def inside(t: datetime, t_from: str | None, t_to: str | None) -> bool:
            return t_from is None or t_to is None or parse_iso(t_from) <= t < parse_iso(t_to)

        wanted = [t for t in stamps if span is None or span[0] <= t < span[1]]
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
            n = len(stamps)
        else:
            lo, hi = min(span[0], parse_iso(t_from)), max(span[1], parse_iso(t_to))
            joined = (iso_utc(lo), iso_utc(hi))
            n = sum(1 for t in stamps if lo <= t < hi)
        db.execute("UPDATE resends SET t_from = ?, t_to = ?, n = ? WHERE id = ?", (*joined, n, row_id))
        return n - had

    def next_batches(self, max_messages: int, allowance: float) -> list[Batch]:
        """Bind waiting resend entries to up to ``max_messages`` messages (see ``Batches.next_batches``)."""
        store = self.store
        with store.lock:
            waiting = store.db.execute("SELECT 1 FROM resends WHERE msg_seq IS NULL LIMIT 1").fetchone()
        if waiting is None:
            return []  # the usual answer: no write transaction for it
        max_n, max_bytes = store.chunk_limits()
        with store.lock, self.seq.restored_on_error(), store.tx() as db:
            entries = db.execute(
                "SELECT s.id, s.n, c.size, COALESCE(c.body, b.body), s.t_from, s.t_to FROM resends s "
                f"JOIN chunks c ON c.id = s.chunk_id {BODY_JOIN} WHERE s.msg_seq IS NULL ORDER BY s.id"
            )
            # A range-limited entry's text is no longer than its chunk's: the chunk size bounds it.
            groups = group_rows(entries, max_messages, allowance, max_n, max_bytes)
            entries.close()
            if not groups:
                return []
            first = self.seq.reserve(len(groups))
            now = store.now_ms()
            batches = []
            for seq, group in enumerate(groups, start=first):
                count = sum(row[1] for row in group)
                body = ",".join(resend_text(row[3], row[4], row[5]) for row in group)
                db.execute(
                    "INSERT INTO messages(seq, lane, created_at, n) VALUES (?, ?, ?, ?)",
                    (seq, str(Lane.RESEND), now, count),
                )
                db.executemany(
                    "UPDATE resends SET msg_seq = ? WHERE id = ?", [(seq, row[0]) for row in group]
                )
                batches.append(Batch(seq, Lane.RESEND, body, count))
            self.seq.set_next(db, first + len(groups))
        return batches

    def known_seqs(self, seq_from: int, seq_to: int) -> int:
        """How many of the sequence numbers ``seq_from..seq_to`` this outbox still has a message for (the
        others were never used here — reserved ahead before a lost outbox — or their history was purged)."""
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT COUNT(*) FROM messages WHERE seq BETWEEN ? AND ?", (seq_from, seq_to)
            ).fetchone()
        return int(row[0])

    def pending(self) -> int:
        """Readings waiting in the resend lane."""
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT COALESCE(SUM(n), 0) FROM resends WHERE msg_seq IS NULL"
            ).fetchone()
        return int(row[0])
