"""The assessment's tables and queries on PostgreSQL: manual results and period aggregates (timestamptz).

Functions take the connection; PostgresStore holds the lock and the transaction around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from collector.store.base import utc
from collector.store.manual_rows import ManualKey, ManualRow, StoredManualResult, plan_manual
from collector.store.stats import VALID, DailyMean, ItemStats, item_stats
from collector.timestamps import to_us

SCHEMA = """
CREATE TABLE IF NOT EXISTS manual_results (
    section text NOT NULL, param text NOT NULL, t timestamptz NOT NULL, value double precision NOT NULL,
    flag text NOT NULL, source text NOT NULL, imported_at timestamptz NOT NULL,
    PRIMARY KEY (section, param, t)
);
CREATE TABLE IF NOT EXISTS manual_result_history (
    section text NOT NULL, param text NOT NULL, t timestamptz NOT NULL, value double precision NOT NULL,
    flag text NOT NULL, source text NOT NULL, imported_at timestamptz NOT NULL, replaced_at timestamptz NOT NULL,
    replaced_by text NOT NULL
);
CREATE INDEX IF NOT EXISTS manual_history_by_key ON manual_result_history (section, param, t);
"""


def save_manual(db: Any, rows: Sequence[ManualRow], imported_at: datetime) -> tuple[int, int, int]:
    """(inserted, unchanged, changed); a changed row keeps its predecessor in manual_result_history."""
    keyed: list[tuple[ManualKey, ManualRow]] = [((r.section, r.param, to_us(r.t_utc)), r) for r in rows]
    found = db.execute(
        "SELECT m.section, m.param, m.t, m.value, m.flag FROM manual_results m"
        " JOIN unnest(%s::text[], %s::text[], %s::timestamptz[]) AS k (section, param, t)"
        " ON m.section = k.section AND m.param = k.param AND m.t = k.t",
        ([r.section for r in rows], [r.param for r in rows], [utc(r.t_utc) for r in rows]),
    ).fetchall()
    held = {(s, p, to_us(t)): (float(v), str(f)) for s, p, t, v, f in found}
    plan = plan_manual(keyed, held)
    at = utc(imported_at)
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO manual_results VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(r.section, r.param, utc(r.t_utc), r.value, r.flag, r.source, at) for _, r in plan.insert],
        )
        cur.executemany(
            "INSERT INTO manual_result_history SELECT section, param, t, value, flag, source, imported_at, %s, %s"
            " FROM manual_results WHERE section = %s AND param = %s AND t = %s",
            [(at, r.source, r.section, r.param, utc(r.t_utc)) for _, r in plan.replace],
        )
        cur.executemany(
            "UPDATE manual_results SET value = %s, flag = %s, source = %s, imported_at = %s"
            " WHERE section = %s AND param = %s AND t = %s",
            [(r.value, r.flag, r.source, at, r.section, r.param, utc(r.t_utc)) for _, r in plan.replace],
        )
    return len(plan.insert), plan.unchanged, len(plan.replace)


def manual_results(
    db: Any, section: str, start: datetime | None, end: datetime | None
) -> list[StoredManualResult]:
    sql = "SELECT section, param, t, value, flag, source, imported_at FROM manual_results WHERE section = %s"
    args: list[Any] = [section]
    if start is not None:
        sql += " AND t >= %s"
        args.append(utc(start))
    if end is not None:
        sql += " AND t < %s"
        args.append(utc(end))
    rows = db.execute(sql + " ORDER BY t, param", args).fetchall()
    return [StoredManualResult(s, p, utc(t), float(v), f, src, utc(at)) for s, p, t, v, f, src, at in rows]


def period_stats_sql(*, table: str, key: str, max_time: bool = True) -> str:
    """The aggregate over ``table`` (readings or manual_results, whose identity column is ``key``) for the keys
    in ``%(keys)s`` and ``%(start)s <= t < %(end)s``.

    PostgreSQL plans the range itself (a sequential scan for a year, the index for a month); the time of the
    maximum is a second pass hash-joined to the 100-odd maxima, not a sub-query per pair (which walks the index
    once per pair: twice as slow on a year)."""
    where = f"r.{key} = ANY(%(keys)s::text[]) AND r.t >= %(start)s AND r.t < %(end)s"
    agg = (
        f"WITH agg AS (SELECT r.{key} AS key, r.param AS param, COUNT(*) AS n_all,"
        f" SUM(CASE WHEN {VALID} THEN 1 ELSE 0 END) AS n_valid,"
        f" SUM(CASE WHEN {VALID} THEN r.value END) AS s,"
        f" MIN(CASE WHEN {VALID} THEN r.value END) AS mn,"
        f" MAX(CASE WHEN {VALID} THEN r.value END) AS mx"
        f" FROM {table} r WHERE {where} GROUP BY r.{key}, r.param)"
    )
    if not max_time:  # period means need no time of the maximum: one pass
        return f"{agg} SELECT key, param, n_all, n_valid, s, mn, mx, NULL::timestamptz FROM agg"
    return (
        f"{agg},"
        f" mt AS (SELECT r.{key} AS key, r.param AS param, MIN(r.t) AS max_t FROM {table} r"
        f" JOIN agg ON r.{key} = agg.key AND r.param = agg.param AND r.value = agg.mx"
        f" WHERE {where} AND {VALID} GROUP BY r.{key}, r.param)"
        f" SELECT agg.key, agg.param, n_all, n_valid, s, mn, mx, mt.max_t"
        f" FROM agg LEFT JOIN mt ON mt.key = agg.key AND mt.param = agg.param"
    )


_READINGS_STATS = {m: period_stats_sql(table="readings", key="station", max_time=m) for m in (True, False)}
_MANUAL_STATS = {
    m: period_stats_sql(table="manual_results", key="section", max_time=m) for m in (True, False)
}


def period_stats(
    db: Any, stations: Sequence[str], start: datetime, end: datetime, *, max_time: bool = True
) -> dict[tuple[str, str], ItemStats]:
    return _stats(db, _READINGS_STATS[max_time], stations, start, end)


def manual_period_stats(
    db: Any, sections: Sequence[str], start: datetime, end: datetime, *, max_time: bool = True
) -> dict[tuple[str, str], ItemStats]:
    return _stats(db, _MANUAL_STATS[max_time], sections, start, end)


def _stats(
    db: Any, sql: str, keys: Sequence[str], start: datetime, end: datetime
) -> dict[tuple[str, str], ItemStats]:
    if not keys:
        return {}
    rows = db.execute(sql, {"keys": list(keys), "start": utc(start), "end": utc(end)}).fetchall()
    return {
        (key, param): item_stats(n_all, n_valid, s, mn, mx, utc(max_t) if max_t is not None else None)
        for key, param, n_all, n_valid, s, mn, mx, max_t in rows
    }


def daily_means(
    db: Any, station: str, param: str, start: datetime, end: datetime, tz: str
) -> list[DailyMean]:
    rows = db.execute(
        f"SELECT (r.t AT TIME ZONE %s)::date AS day, COUNT(*), SUM(CASE WHEN {VALID} THEN 1 ELSE 0 END),"
        f" AVG(CASE WHEN {VALID} THEN r.value END) FROM readings r"
        " WHERE r.station = %s AND r.param = %s AND r.t >= %s AND r.t < %s GROUP BY day ORDER BY day",
        (tz, station, param, utc(start), utc(end)),
    ).fetchall()
    return [DailyMean(day, int(n), int(nv), float(m) if m is not None else None) for day, n, nv, m in rows]
