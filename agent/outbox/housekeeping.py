"""Keeping the outbox small: age limit, history purge, backlog compaction, WAL truncation.

A poll adds a small chunk (1-6 readings). ``compact`` merges id-adjacent unbound chunks older than the live
window into full ones, a bounded step at a time (housekeeping runs it during an outage, and binding several
chunks into one message merges them too), so that a long backlog stays a few rows per message. Unsent
readings past ``max_age_days`` are dropped (counted and reported), sent history past ``history_days`` is
purged, in small transactions so that polls are never held up for long. The WAL is then truncated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from agent.outbox.batches import Batches
from agent.outbox.chunks import delete_chunks, merge_chunks
from agent.outbox.commandlog import CommandLog
from agent.outbox.events import EventLog
from agent.outbox.losses import LossReport
from agent.outbox.queue import ChunkQueue
from agent.outbox.store import OutboxStore, meta_add

PURGE_ROWS = 100  # chunks per purge transaction (up to a message's worth of readings each): short lock
COMPACT_ROWS = 400  # chunks examined per compaction step: a few ms, the writer lock is shared with polls


class Housekeeper:
    def __init__(self, store: OutboxStore, queue: ChunkQueue, losses: LossReport) -> None:
        self.store = store
        self.queue = queue
        self.losses = losses
        self._compact_from = 0  # compaction resumes here: chunks before it are as merged as they get

    def run(self, *, max_chunks: int = 50) -> dict[str, int]:
        """Drop unsent readings past ``max_age_days``, purge history past ``history_days`` and compact the
        backlog, in small transactions; report drops; then truncate the WAL, so that it never stays larger
        than a minute's writes. Returns what was done (readings; chunks merged)."""
        store, config = self.store, self.store.config
        self.losses.settle()
        now = store.now_ms()
        aged = self._purge(
            self._aged_rows, now - int(config.max_age_days * 86_400_000), max_chunks, "dropped"
        )
        self.losses.dropped(aged)
        history_cut = now - int(config.history_days * 86_400_000)
        purged = self._purge(_history_rows, history_cut, max_chunks)
        with store.tx() as db:
            Batches.forget_acked_before(db, history_cut)
            EventLog.forget_sent_before(db, history_cut)
            CommandLog.forget_before(db, history_cut)
        self.losses.report_drops(force=True)
        done = {"aged_out": aged, "purged": purged, "compacted": self.compact_all(max_steps=max_chunks)}
        store.checkpoint()
        store.space.forget()  # purges may have freed pages: read the floor afresh
        return done

    def _aged_rows(self, db: sqlite3.Connection, cutoff: int) -> list[tuple[int, int]]:
        """Up to PURGE_ROWS (id, n) of the oldest unbound chunks stored before ``cutoff``. The walk stops at the
        first younger chunk: ids follow storage time, so a backlog of younger chunks is not scanned through."""
        taken: list[tuple[int, int]] = []
        cursor = db.execute(
            "SELECT id, n, acquired_at, msg_seq FROM chunks WHERE id >= ? ORDER BY id",
            (self.queue.first_unbound(db),),
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
            with self.store.tx() as db:
                rows = select(db, cutoff)
                n = delete_chunks(db, rows)
                if n and counter:
                    meta_add(db, counter, n)
            total += n
            if len(rows) < PURGE_ROWS:
                break
        return total

    # ----------------------------------------------------------------- compaction

    def compact(self, *, max_rows: int = COMPACT_ROWS) -> tuple[int, bool]:
        """One bounded step: merge id-adjacent unbound chunks older than the live window into chunks up to
        the batch limits (the first of a run takes the others' readings, the others are deleted, in one
        transaction). Returns (chunks merged away, done): done when the step reached the live window or
        the end of the backlog."""
        store = self.store
        max_n, max_bytes = store.chunk_limits()
        cutoff = store.now_ms() - int(store.config.live_window_s * 1000)
        merged = 0
        with store.tx() as db:
            # All chunks from the bound, bound ones too (a few merged heads; no index to skip them), each
            # counted in ``max_rows``; a bound chunk ends a run, so that a step always gets past it.
            rows = db.execute(
                "SELECT id, n, size, acquired_at, msg_seq FROM chunks WHERE id >= ? ORDER BY id LIMIT ?",
                (max(self._compact_from, self.queue.first_unbound(db)), max_rows),
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
                    merge_chunks(db, ids)
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


def _history_rows(db: sqlite3.Connection, cutoff: int) -> list[tuple[int, int]]:
    """Up to PURGE_ROWS (id, n) of sent history stored before ``cutoff`` and not queued for a resend."""
    return db.execute(
        "SELECT id, n FROM chunks WHERE sent = 1 AND acquired_at < ? AND id NOT IN (SELECT chunk_id FROM resends) "
        "ORDER BY id LIMIT ?",
        (cutoff, PURGE_ROWS),
    ).fetchall()
