"""The uplink feed: every poll's readings once more, in storage order, for the HJ 212 platforms above the station.

The MQTT path merges and deletes chunks as it binds and acknowledges them, so a chunk id is no place for
another reader to keep its place. The feed is written in the same transaction as the chunks (only when the
station has HJ 212 targets: ``OutboxStore.feed_enabled``), is never merged, and its ids are never reused
(AUTOINCREMENT): each target keeps a cursor over it (``agent.hj212up.cursors``), and platforms' history pulls
are answered from it. Rows are pruned once every target is past them and they are older than
``history_days`` (``prune``); over the feed's own byte quota the oldest go and each target that still needed
them counts them as lost.

    uplink_feed  id, acquired_at (wall ms), t_min/t_max (UTC ISO, as chunks), n, size, body (wire JSON)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.outbox.chunks import iso_utc
from protocols.messages import Reading, decode_fragment

FEED_SCHEMA = """
CREATE TABLE IF NOT EXISTS uplink_feed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    acquired_at INTEGER NOT NULL,
    t_min TEXT NOT NULL,
    t_max TEXT NOT NULL,
    n INTEGER NOT NULL,
    size INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_uplink_feed_t_max ON uplink_feed(t_max);
"""
# A new chunk as ``agent.outbox.chunks`` makes it: n, size, t_min, t_max, body.
NewChunk = tuple[int, int, str, str, str]


@dataclass(frozen=True, slots=True)
class FeedRow:
    id: int
    acquired_at: int
    n: int
    body: str

    def readings(self) -> list[Reading]:
        return decode_fragment(self.body)


def ensure_feed(db: sqlite3.Connection) -> None:
    db.executescript(FEED_SCHEMA)


def insert_feed(db: sqlite3.Connection, chunks: Iterable[NewChunk], at: int) -> None:
    """Inside the caller's transaction (the one that stores the chunks)."""
    db.executemany(
        "INSERT INTO uplink_feed(acquired_at, t_min, t_max, n, size, body) VALUES (?, ?, ?, ?, ?, ?)",
        [(at, t_min, t_max, n, size, body) for n, size, t_min, t_max, body in chunks],
    )


def head(db: sqlite3.Connection) -> int:
    """The id the next row will get at least: one past every row there is or was."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'uplink_feed'").fetchone()
    return int(row[0]) + 1 if row else 1


def rows(db: sqlite3.Connection, start: int, stop: int, limit: int) -> list[FeedRow]:
    """Up to ``limit`` rows with ``start <= id < stop``, in id order."""
    return [
        FeedRow(*r)
        for r in db.execute(
            "SELECT id, acquired_at, n, body FROM uplink_feed WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (start, stop, limit),
        )
    ]


def first_at_or_after(db: sqlite3.Connection, start: int, acquired_ms: int) -> int:
    """The first id >= ``start`` stored at ``acquired_ms`` or later (``head`` when none is)."""
    row = db.execute(
        "SELECT id FROM uplink_feed WHERE id >= ? AND acquired_at >= ? ORDER BY id LIMIT 1",
        (start, acquired_ms),
    ).fetchone()
    return int(row[0]) if row else head(db)


def count_between(db: sqlite3.Connection, start: int, stop: int) -> tuple[int, int | None]:
    """(readings, oldest acquired_at ms) of the rows with ``start <= id < stop``."""
    row = db.execute(
        "SELECT COALESCE(SUM(n), 0), MIN(acquired_at) FROM uplink_feed WHERE id >= ? AND id < ?",
        (start, stop),
    ).fetchone()
    return int(row[0]), (None if row[1] is None else int(row[1]))


def readings_between(db: sqlite3.Connection, t_from: str, t_to: str) -> list[Reading]:
    """Every stored reading with ``t_from <= t < t_to`` (UTC ISO as ``iso_utc`` writes it), in storage order.
    Found through the index on ``t_max`` (the rows holding anything at or after ``t_from``): a closing hour
    reads the last hour's rows, not the feed's weeks. The index is one more entry per poll, and exists only
    where there are targets."""
    out: list[Reading] = []
    for (body,) in db.execute(
        "SELECT body FROM uplink_feed INDEXED BY ix_uplink_feed_t_max WHERE t_max >= ? AND t_min < ? ORDER BY id",
        (t_from, t_to),
    ):
        out.extend(r for r in decode_fragment(body) if t_from <= iso_utc(r.t) < t_to)
    return out


def earliest_time(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT MIN(t_min) FROM uplink_feed").fetchone()
    return None if row is None or row[0] is None else str(row[0])


def used_bytes(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COALESCE(SUM(size), 0) FROM uplink_feed").fetchone()[0])


def prune(db: sqlite3.Connection, below: int, cutoff_ms: int, limit: int) -> int:
    """Delete up to ``limit`` rows below id ``below`` (every target is past them) stored before ``cutoff_ms``.
    Returns rows deleted."""
    cursor = db.execute(
        "DELETE FROM uplink_feed WHERE id IN (SELECT id FROM uplink_feed WHERE id < ? AND acquired_at < ? "
        "ORDER BY id LIMIT ?)",
        (below, cutoff_ms, limit),
    )
    return int(cursor.rowcount)


def oldest_rows(db: sqlite3.Connection, limit: int) -> Sequence[tuple[int, int, int]]:
    """(id, n, size) of the oldest rows."""
    return db.execute("SELECT id, n, size FROM uplink_feed ORDER BY id LIMIT ?", (limit,)).fetchall()


def delete_through(db: sqlite3.Connection, last_id: int) -> None:
    db.execute("DELETE FROM uplink_feed WHERE id <= ?", (last_id,))
