"""The station's durable outbox: every reading and event on disk before it is on the wire.

One SQLite file in WAL mode. Readings are committed by ``add_readings`` (invariant 1) as chunks of the exact
JSON text the wire message carries, bound to a numbered message when a batch is assembled, and marked sent
only by ``mark_acked`` on the broker's PUBACK for that message (invariant 2). ``Outbox`` is the one public
class: a thin facade over parts that share one connection and one transaction helper.

    store.py         the connection, its lock and transactions, counters, disk accounting
    schema.py        the tables, opening the file (WAL, full sync, integrity check, upgrades)
    chunks.py        the chunk format: encoding within the batch limits, row statements
    queue.py         readings in: add, make room under the quota, the backlog's bounds
    batches.py       readings out: bind to messages (live, backfill), rebuild, acknowledge
    resends.py       the resend lane (history re-queued by command)
    seq.py           sequence numbers and the sidecar that reserves them ahead
    events.py        station events; losses.py: dropped and lost readings made into events
    commandlog.py    answered commands (idempotence); intervals.py: poll-interval overrides
    housekeeping.py  age limit, history purge, compaction, WAL truncation
    migration.py     the first file format (one row per reading) converted to chunks
    stats.py         what is queued

A corrupt file is moved aside and a fresh outbox started (an ``outbox_recovered`` event says so); sequence
numbers continue from the sidecar's mark, so that they never go backwards.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from pathlib import Path

from agent.config import OutboxConfig
from agent.diskguard import StorageLoss
from agent.outbox.batches import Batches
from agent.outbox.chunks import ENVELOPE_BYTES, Batch, iso_utc
from agent.outbox.commandlog import CommandLog
from agent.outbox.events import EventLog, StoredEvent
from agent.outbox.feed import ensure_feed
from agent.outbox.housekeeping import COMPACT_ROWS, Housekeeper
from agent.outbox.intervals import Intervals
from agent.outbox.losses import LossReport
from agent.outbox.queue import ChunkQueue
from agent.outbox.resends import ResendLane
from agent.outbox.schema import OutboxCorrupt, open_db, set_aside
from agent.outbox.seq import SEQ_RESERVE, SeqSidecar, Sequencer, write_atomic
from agent.outbox.stats import OutboxStats, collect_stats
from agent.outbox.store import OutboxStore
from agent.sink import EventRecord
from protocols.messages import Event, EventKind, Lane, Reading, Severity

__all__ = [
    "SEQ_RESERVE",
    "Batch",
    "Outbox",
    "OutboxCorrupt",
    "OutboxStats",
    "SeqSidecar",
    "StoredEvent",
    "iso_utc",
    "write_atomic",
]

log = logging.getLogger(__name__)


class Outbox:
    """The SQLite outbox. Thread-safe (one lock): acquisition may call it from worker threads."""

    def __init__(
        self, path: str | Path, config: OutboxConfig, station: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.config = config
        self.station = station
        self.sidecar = SeqSidecar(self.path.with_name(self.path.name + ".seq"))
        self.recovered_from: Path | None = None  # where a corrupt file was moved, when that happened
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        problem: str | None = None
        try:
            db = self._open()
        except (sqlite3.DatabaseError, OutboxCorrupt) as exc:
            problem = str(exc) or type(exc).__name__
            self.recovered_from = set_aside(self.path)
            log.error(
                "station %s: outbox %s failed its check (%s); moved it to %s and started a fresh outbox",
                station,
                self.path,
                problem,
                self.recovered_from,
            )
            fresh = True
            db = self._open()
        self._db = db
        self.store = OutboxStore(db, self.path, config, station, clock)
        self.seq = Sequencer(self.sidecar)
        self.seq.load(db, fresh=fresh)
        self.events = EventLog(self.store)
        self.losses = LossReport(self.store, self.events)
        self.events.settle = self.losses.settle
        self.queue = ChunkQueue(self.store, self.losses)
        self.resends = ResendLane(self.store, self.seq)
        self.batches = Batches(self.store, self.queue, self.seq, self.resends)
        self.housekeeper = Housekeeper(self.store, self.queue, self.losses)
        self.commands = CommandLog(self.store)
        self.overrides = Intervals(self.store)
        self._announce_recovery(fresh, problem)

    def _open(self) -> sqlite3.Connection:
        max_n = self.config.batch_max_readings
        max_bytes = self.config.batch_max_bytes - ENVELOPE_BYTES
        return open_db(self.path, lambda db: self._migrate_v1(db, max_n, max_bytes))

    def _migrate_v1(self, db: sqlite3.Connection, max_n: int, max_bytes: int) -> None:
        # Only an outbox of the first format needs the converter: imported then, not at every start
        # (memory on small station PCs, issue 17).
        from agent.outbox.migration import migrate_v1

        migrate_v1(db, max_n, max_bytes, station=self.station, path=self.path)

    def _announce_recovery(self, fresh: bool, problem: str | None) -> None:
        next_seq = self.seq.next
        if self.recovered_from is not None:
            self.add_event(
                EventRecord(
                    EventKind.OUTBOX_RECOVERED,
                    Severity.CRITICAL,
                    f"outbox failed its check ({problem}); the old file was moved to "
                    f"{self.recovered_from.name} and a fresh outbox started",
                    detail={"moved_to": str(self.recovered_from), "problem": problem, "next_seq": next_seq},
                )
            )
        elif fresh and next_seq > 0:
            log.error(
                "station %s: outbox file %s was missing; started a fresh outbox, sequence numbers continue "
                "from %d (readings not yet sent before it went are gone)",
                self.station,
                self.path,
                next_seq,
            )
            self.add_event(
                EventRecord(
                    EventKind.OUTBOX_RECOVERED,
                    Severity.CRITICAL,
                    "outbox file was missing; a fresh outbox started and sequence numbers continue "
                    f"from {next_seq}",
                    detail={"next_seq": next_seq},
                )
            )

    def close(self) -> None:
        with self.store.lock:
            self._db.close()

    def enable_feed(self) -> None:
        """Copy every poll to the uplink feed from now on (HJ 212 targets: ``agent.outbox.feed``)."""
        with self.store.lock:
            ensure_feed(self._db)
            self.store.feed_enabled = True

    # ----------------------------------------------------------------- readings in, events

    def add_readings(self, readings: Sequence[Reading]) -> int:
        """Store ``readings`` (one transaction); when this returns they are on disk. Returns how many.
        Raises StorageFailed when the disk refused them (counted as lost; nothing else changed)."""
        return self.queue.add_readings(readings)

    def add_event(self, event: EventRecord) -> Event | None:
        """Store an event durably; it is published and marked sent on its PUBACK. None when it was refused
        (an info event at the quota) or the disk refused it: counted, never raised."""
        return self.events.add(event)

    def unsent_events(self, limit: int = 50, exclude: Collection[int] = ()) -> list[StoredEvent]:
        return self.events.unsent(limit, exclude)

    def mark_event_sent(self, row_id: int) -> None:
        self.events.mark_sent(row_id)

    # ----------------------------------------------------------------- batches out

    @property
    def next_seq(self) -> int:
        return self.seq.next

    def next_batch(self, lane: Lane, *, max_readings: int | None = None) -> Batch | None:
        """The next message of ``lane`` (see ``next_batches``), or None."""
        batches = self.next_batches(lane, max_messages=1, max_readings=max_readings)
        return batches[0] if batches else None

    def next_batches(
        self, lane: Lane, *, max_messages: int = 1, max_readings: int | None = None
    ) -> list[Batch]:
        """Bind the next chunks of ``lane`` to up to ``max_messages`` new messages (``Batches.next_batches``)."""
        return self.batches.next_batches(lane, max_messages=max_messages, max_readings=max_readings)

    def unacked(self, exclude: Collection[int] = ()) -> list[int]:
        return self.batches.unacked(exclude)

    def load_batch(self, seq: int) -> Batch | None:
        return self.batches.load_batch(seq)

    def mark_acked(self, seq: int) -> int:
        """The broker acknowledged message ``seq``: its readings are sent. Returns how many readings."""
        return self.batches.mark_acked_many([seq])

    def mark_acked_many(self, seqs: Iterable[int]) -> int:
        return self.batches.mark_acked_many(seqs)

    # ----------------------------------------------------------------- resend lane

    def queue_resend(self, start: datetime, end: datetime) -> int:
        return self.resends.queue_range(start, end)

    def queue_resend_seqs(self, seq_from: int, seq_to: int) -> int:
        return self.resends.queue_seqs(seq_from, seq_to)

    def known_seqs(self, seq_from: int, seq_to: int) -> int:
        return self.resends.known_seqs(seq_from, seq_to)

    def pending_resends(self) -> int:
        return self.resends.pending()

    # ----------------------------------------------------------------- commands and overrides

    def command_reply(self, command_id: str) -> bytes | None:
        return self.commands.reply(command_id)

    def save_command_reply(self, command_id: str, kind: str, reply: bytes) -> None:
        self.commands.save(command_id, kind, reply)

    def set_interval(self, device: str, seconds: float) -> None:
        self.overrides.set(device, seconds)

    def intervals(self) -> dict[str, float]:
        return self.overrides.all()

    # ----------------------------------------------------------------- housekeeping and state

    def housekeeping(self, *, max_chunks: int = 50) -> dict[str, int]:
        return self.housekeeper.run(max_chunks=max_chunks)

    def compact(self, *, max_rows: int = COMPACT_ROWS) -> tuple[int, bool]:
        return self.housekeeper.compact(max_rows=max_rows)

    def compact_all(self, *, max_steps: int = 1000) -> int:
        return self.housekeeper.compact_all(max_steps=max_steps)

    def checkpoint(self) -> bool:
        return self.store.checkpoint()

    def stats(self, *, detail: bool = False) -> OutboxStats:
        """What is queued. ``detail`` adds the count of all stored readings (a full scan: not per heartbeat)."""
        return collect_stats(self.store, self.queue, self.seq, detail=detail)

    def count(self, key: str, amount: int = 1) -> None:
        self.store.count(key, amount)

    def counters(self) -> dict[str, int]:
        return self.store.counters()

    def used_bytes(self) -> int:
        return self.store.used_bytes()

    @property
    def loss(self) -> StorageLoss:
        return self.store.loss
