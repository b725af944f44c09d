"""Reading back what the store set aside, the same on both engines: dead letters (inbox messages that could
not be stored), suspect readings (sample time outside the receiver's window) and revisions (a later value or
flag for a reading identity already held).

Writing them differs per engine (sqlite_quarantine.py, postgres_quarantine.py; suspects and revisions are
written by ``apply``); the reads are one copy each, given the engine's ``Dialect`` and the store's ``Query``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from collector.store.base import Revision, StoredDeadLetter, SuspectReading
from collector.store.dialect import Dialect, Query

# The engine's "id is one of these" condition: ids → (" AND ..." clause, its arguments).
IdsClause = Callable[[Sequence[int]], tuple[str, list[Any]]]


def dead_letters(
    query: Query,
    d: Dialect,
    ids_clause: IdsClause,
    *,
    station: str | None,
    reason: str | None,
    ids: Sequence[int] | None,
    limit: int,
) -> list[StoredDeadLetter]:
    """Newest (last_seen) first."""
    where, args = d.where(("station =", station), ("reason =", reason))
    if ids is not None:
        clause, more = ids_clause(ids)
        where += clause
        args += more
    sql = (
        "SELECT id, station, topic, payload, reason, error, first_seen, last_seen, count FROM dead_letters"
        f" WHERE 1 = 1{where} ORDER BY last_seen DESC, id DESC LIMIT {d.mark}"
    )
    return [
        StoredDeadLetter(
            int(i), st, str(topic), bytes(payload), str(r), str(err), d.when(f), d.when(la), int(n)
        )
        for i, st, topic, payload, r, err, f, la, n in query(sql, [*args, limit])
    ]


def dead_letter_counts(query: Query) -> dict[str, int]:
    """Every message ever quarantined, by reason (persisted totals)."""
    return {str(r): int(n) for r, n in query("SELECT reason, n FROM dead_letter_totals ORDER BY reason", ())}


def suspect_readings(query: Query, d: Dialect, station: str, limit: int) -> list[SuspectReading]:
    """Newest (t) first."""
    rows = query(
        "SELECT station, param, t, value, flag, seq, received_at, reason FROM suspect_readings"
        f" WHERE station = {d.mark} ORDER BY t DESC LIMIT {d.mark}",
        (station, limit),
    )
    return [
        SuspectReading(st, p, d.when(t), v, f, seq, d.when(rec), reason)
        for st, p, t, v, f, seq, rec, reason in rows
    ]


def revisions(query: Query, d: Dialect, station: str, limit: int) -> list[Revision]:
    """Newest (received) first."""
    rows = query(
        "SELECT station, param, t, value, flag, seq, received_at FROM reading_revisions"
        f" WHERE station = {d.mark} ORDER BY received_at DESC LIMIT {d.mark}",
        (station, limit),
    )
    return [Revision(st, p, d.when(t), v, f, seq, d.when(rec)) for st, p, t, v, f, seq, rec in rows]
