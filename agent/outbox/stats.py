"""What is queued in the outbox, for the status message and ``qingliu agent outbox``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from agent.outbox.chunks import parse_iso
from agent.outbox.queue import ChunkQueue
from agent.outbox.seq import Sequencer
from agent.outbox.store import OutboxStore


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


def collect_stats(store: OutboxStore, queue: ChunkQueue, seq: Sequencer, *, detail: bool) -> OutboxStats:
    """``detail`` adds the count of all stored readings (a full scan: not per heartbeat)."""
    with store.lock:
        db = store.db
        # Unsent = unbound (the rowid from the bound) + bound to a message not yet acknowledged.
        unbound, first_unbound = db.execute(
            "SELECT COALESCE(SUM(n), 0), MIN(id) FROM chunks WHERE id >= ? AND msg_seq IS NULL AND sent = 0",
            (queue.first_unbound(db),),
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
        dropped = store.meta("dropped") + store.loss.readings
    return OutboxStats(
        backlog=int(backlog),
        oldest_unsent=parse_iso(oldest[0]) if oldest else None,
        dropped=dropped,
        next_seq=seq.next,
        unacked_messages=int(unacked),
        unsent_events=int(events),
        stored_readings=int(stored),
        used_bytes=store.used_bytes(),
        counters=store.counters(),
    )
