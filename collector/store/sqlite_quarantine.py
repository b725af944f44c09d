"""Dead letters on SQLite: keeping them (a known one, by digest, bumps its count), their persisted totals per
reason, and removing them. Reading them back is shared with PostgreSQL (quarantine_rows.py).

Functions take the connection inside the store's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from collector.store.base import DeadLetter
from collector.timestamps import to_us


def add_dead_letters(db: sqlite3.Connection, letters: Sequence[DeadLetter]) -> int:
    """How many new rows (a redelivered letter updates its row); every letter counts in the totals."""
    added = 0
    for d in letters:
        seen = to_us(d.seen_at)
        before = db.total_changes
        db.execute(
            "INSERT INTO dead_letters (digest, topic, station, payload, reason, error, first_seen,"
            " last_seen, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (digest) DO NOTHING",
            (d.digest, d.topic, d.station, d.payload, d.reason, d.error, seen, seen),
        )
        if db.total_changes > before:
            added += 1
        else:
            db.execute(
                "UPDATE dead_letters SET count = count + 1, last_seen = MAX(last_seen, ?), reason = ?,"
                " error = ? WHERE digest = ?",
                (seen, d.reason, d.error, d.digest),
            )
        db.execute(
            "INSERT INTO dead_letter_totals VALUES (?, 1) ON CONFLICT (reason) DO UPDATE SET n = n + 1",
            (d.reason,),
        )
    return added


def remove_dead_letters(db: sqlite3.Connection, ids: Sequence[int]) -> int:
    before = db.total_changes
    db.executemany("DELETE FROM dead_letters WHERE id = ?", [(int(i),) for i in ids])
    return db.total_changes - before


def ids_clause(ids: Sequence[int]) -> tuple[str, list[Any]]:
    """``id`` is one of ``ids`` (none: no row)."""
    if not ids:
        return " AND 0", []
    return f" AND id IN ({', '.join('?' * len(ids))})", [int(i) for i in ids]
