"""Alerts and the small documents beside them (blobs: the alert engine's memory), the same on both engines.

An alert is kept by id, each snapshot replacing the previous one; lists are newest first. One copy of each
query, given the engine's ``Dialect``; reads take the store's ``Query``, writes the connection inside its
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collector.alerts.model import Alert
from collector.store.dialect import Dialect, Query
from collector.store.readback import ReadBack


def alerts_query(
    d: Dialect, *, state: str | None, station: str | None, severity: str | None, limit: int
) -> tuple[str, list[Any]]:
    """The alert-list query; ``state`` open, acknowledged, resolved or active (open or acknowledged)."""
    sql = "SELECT body FROM alerts WHERE 1 = 1"
    if state == "active":
        sql += " AND status IN ('open', 'acknowledged')"
        state = None
    where, args = d.where(("status =", state), ("station =", station), ("severity =", severity))
    return f"{sql}{where} ORDER BY opened_at DESC, id LIMIT {d.mark}", [*args, limit]


def save_alerts(db: Any, d: Dialect, alerts: Sequence[Alert]) -> None:
    for a in alerts:
        db.execute(
            f"INSERT INTO alerts VALUES ({d.marks(6)}) ON CONFLICT (id) DO UPDATE SET"
            " station = excluded.station, status = excluded.status, severity = excluded.severity,"
            " opened_at = excluded.opened_at, body = excluded.body",
            (a.id, a.station, a.status.value, a.severity.value, d.time(a.opened_at), a.model_dump_json()),
        )


def alerts(
    query: Query,
    d: Dialect,
    read_back: ReadBack,
    *,
    state: str | None,
    station: str | None,
    severity: str | None,
    limit: int,
) -> list[Alert]:
    sql, args = alerts_query(d, state=state, station=station, severity=severity, limit=limit)
    found = [_alert(d, read_back, row[0]) for row in query(sql, args)]
    return [a for a in found if a is not None]


def alert(query: Query, d: Dialect, read_back: ReadBack, alert_id: str) -> Alert | None:
    rows = query(f"SELECT body FROM alerts WHERE id = {d.mark}", (alert_id,))
    return _alert(d, read_back, rows[0][0]) if rows else None


def _alert(d: Dialect, read_back: ReadBack, body: Any) -> Alert | None:
    key = body.get("id") if isinstance(body, dict) else hash(body)  # a jsonb document names its id
    return read_back.parse("alerts", key, lambda: d.model(Alert, body))


def save_blob(db: Any, d: Dialect, key: str, text: str) -> None:
    db.execute(
        f"INSERT INTO blobs VALUES ({d.marks(2)}) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, text),
    )


def load_blob(query: Query, d: Dialect, key: str) -> str | None:
    rows = query(f"SELECT value FROM blobs WHERE key = {d.mark}", (key,))
    return str(rows[0][0]) if rows else None
