"""Dead letters on PostgreSQL: keeping them (a known one, by digest, bumps its count), their persisted totals
per reason, and removing them. Reading them back is shared with SQLite (quarantine_rows.py).

Functions take the connection inside the store's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collector.store.base import DeadLetter


def add_dead_letters(db: Any, letters: Sequence[DeadLetter]) -> int:
    """How many new rows (a redelivered letter updates its row); every letter counts in the totals."""
    added = 0
    for d in letters:
        cur = db.execute(
            "INSERT INTO dead_letters (digest, topic, station, payload, reason, error, first_seen,"
            " last_seen, count) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1)"
            " ON CONFLICT (digest) DO UPDATE SET count = dead_letters.count + 1,"
            " last_seen = GREATEST(dead_letters.last_seen, excluded.last_seen),"
            " reason = excluded.reason, error = excluded.error"
            " RETURNING (xmax = 0)",  # true when the row was inserted, not updated
            (d.digest, d.topic, d.station, d.payload, d.reason, d.error, d.seen_at, d.seen_at),
        )
        row = cur.fetchone()
        if row is not None and row[0]:
            added += 1
        db.execute(
            "INSERT INTO dead_letter_totals VALUES (%s, 1) ON CONFLICT (reason) DO UPDATE SET"
            " n = dead_letter_totals.n + 1",
            (d.reason,),
        )
    return added


def remove_dead_letters(db: Any, ids: Sequence[int]) -> int:
    cur = db.execute("DELETE FROM dead_letters WHERE id = ANY(%s::bigint[])", ([int(i) for i in ids],))
    return int(cur.rowcount)


def ids_clause(ids: Sequence[int]) -> tuple[str, list[Any]]:
    """``id`` is one of ``ids``."""
    return " AND id = ANY(%s::bigint[])", [[int(i) for i in ids]]
