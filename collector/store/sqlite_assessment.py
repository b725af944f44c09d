"""The assessment's tables and queries on SQLite: manual results and period aggregates (times in µs, UTC).

Functions take the connection; SqliteStore holds the lock and the transaction around them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from collector.store.manual_rows import ManualKey, ManualRow, StoredManualResult, plan_manual
from collector.store.stats import VALID, DailyMean, ItemStats, fixed_offset_us, item_stats
from collector.timestamps import from_us, to_us

SCHEMA = """
CREATE TABLE IF NOT EXISTS manual_results (
    section TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL, value REAL NOT NULL, flag TEXT NOT NULL,
    source TEXT NOT NULL, imported_at INTEGER NOT NULL,
    PRIMARY KEY (section, param, t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manual_result_history (
    section TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL, value REAL NOT NULL, flag TEXT NOT NULL,
    source TEXT NOT NULL, imported_at INTEGER NOT NULL, replaced_at INTEGER NOT NULL, replaced_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS manual_history_by_key ON manual_result_history (section, param, t);
"""

_DAY_US = 86_400_000_000


def period_stats_sql(*, table: str, key: str, pairs: str, max_time: bool = True) -> str:
    """The aggregate over ``table`` (readings or manual_results, whose identity column is ``key``) for the
    (key, param) pairs that ``pairs`` selects; then two placeholders each for start (inclusive) and end, twice.

    Each pair is one range walk of the primary key, and one more only to find when the maximum occurred; ``CROSS
    JOIN`` keeps the pairs as SQLite's outer loop. For ``readings`` (key (station, t, param)) a walk reads all of
    the station's parameters in the range and keeps one: a year of 21 sections takes ~0.4 s, against ~0.15 s when
    the key was (station, param, t), which cost every commit many more pages (sqlite_schema.py)."""
    in_range = "r.t >= ? AND r.t < ?"
    return (
        f"WITH k (key, param) AS ({pairs}),"
        f" agg AS (SELECT k.key AS key, k.param AS param, COUNT(*) AS n_all,"
        f" SUM(CASE WHEN {VALID} THEN 1 ELSE 0 END) AS n_valid,"
        f" SUM(CASE WHEN {VALID} THEN r.value END) AS s,"
        f" MIN(CASE WHEN {VALID} THEN r.value END) AS mn,"
        f" MAX(CASE WHEN {VALID} THEN r.value END) AS mx"
        f" FROM k CROSS JOIN {table} r WHERE r.{key} = k.key AND r.param = k.param AND {in_range}"
        f" GROUP BY k.key, k.param)"
        f" SELECT key, param, n_all, n_valid, s, mn, mx, "
        + (
            f"(SELECT MIN(r.t) FROM {table} r WHERE r.{key} = agg.key AND r.param = agg.param AND {in_range}"
            f" AND {VALID} AND r.value = agg.mx)"
            if max_time
            else "CASE WHEN ? < ? THEN NULL END"  # always NULL; the same placeholders, so callers bind alike
        )
        + " AS max_t FROM agg"
    )


def save_manual(
    db: sqlite3.Connection, rows: Sequence[ManualRow], imported_at: datetime
) -> tuple[int, int, int]:
    """(inserted, unchanged, changed); a changed row keeps its predecessor in manual_result_history."""
    keyed: list[tuple[ManualKey, ManualRow]] = [((r.section, r.param, to_us(r.t_utc)), r) for r in rows]
    held: dict[ManualKey, tuple[float, str]] = {}
    for key, _ in keyed:
        found = db.execute(
            "SELECT value, flag FROM manual_results WHERE section = ? AND param = ? AND t = ?", key
        ).fetchone()
        if found is not None:
            held[key] = (float(found[0]), str(found[1]))
    plan = plan_manual(keyed, held)
    at = to_us(imported_at)
    db.executemany(
        "INSERT INTO manual_results VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(*key, r.value, r.flag, r.source, at) for key, r in plan.insert],
    )
    db.executemany(
        "INSERT INTO manual_result_history SELECT section, param, t, value, flag, source, imported_at, ?, ?"
        " FROM manual_results WHERE section = ? AND param = ? AND t = ?",
        [(at, r.source, *key) for key, r in plan.replace],
    )
    db.executemany(
        "UPDATE manual_results SET value = ?, flag = ?, source = ?, imported_at = ?"
        " WHERE section = ? AND param = ? AND t = ?",
        [(r.value, r.flag, r.source, at, *key) for key, r in plan.replace],
    )
    return len(plan.insert), plan.unchanged, len(plan.replace)


def manual_results(
    db: sqlite3.Connection, section: str, start: datetime | None, end: datetime | None
) -> list[StoredManualResult]:
    rows = db.execute(
        "SELECT section, param, t, value, flag, source, imported_at FROM manual_results"
        " WHERE section = ? AND t >= ? AND t < ? ORDER BY t, param",
        (section, _lo(start), _hi(end)),
    ).fetchall()
    return [
        StoredManualResult(str(s), str(p), from_us(int(t)), float(v), str(f), str(src), from_us(int(at)))
        for s, p, t, v, f, src, at in rows
    ]


def period_stats(
    db: sqlite3.Connection, stations: Sequence[str], start: datetime, end: datetime, *, max_time: bool = True
) -> dict[tuple[str, str], ItemStats]:
    """Per (station, param) of the readings in [start, end). The pairs come from ``latest`` (one row per pair
    ever stored), so the join walks the primary key (station, t, param) by range for each pair."""
    marks = ", ".join("?" * len(stations))
    pairs = f"SELECT station, param FROM latest WHERE station IN ({marks})"
    sql = period_stats_sql(table="readings", key="station", pairs=pairs, max_time=max_time)
    return _stats(db, sql, stations, start, end)


def manual_period_stats(
    db: sqlite3.Connection, sections: Sequence[str], start: datetime, end: datetime, *, max_time: bool = True
) -> dict[tuple[str, str], ItemStats]:
    marks = ", ".join("?" * len(sections))
    pairs = f"SELECT DISTINCT section, param FROM manual_results WHERE section IN ({marks})"
    sql = period_stats_sql(table="manual_results", key="section", pairs=pairs, max_time=max_time)
    return _stats(db, sql, sections, start, end)


def _stats(
    db: sqlite3.Connection, sql: str, keys: Sequence[str], start: datetime, end: datetime
) -> dict[tuple[str, str], ItemStats]:
    if not keys:
        return {}
    window = (to_us(start), to_us(end))
    found = {}
    for key, param, n_all, n_valid, s, mn, mx, max_t in db.execute(sql, (*keys, *window, *window)).fetchall():
        at = from_us(int(max_t)) if max_t is not None else None
        found[(str(key), str(param))] = item_stats(n_all, n_valid, s, mn, mx, at)
    return found


def daily_means(
    db: sqlite3.Connection, station: str, param: str, start: datetime, end: datetime, tz: str
) -> list[DailyMean]:
    """Grouped by local day: SQLite has no time zones, so times are shifted by the zone's fixed offset."""
    shift = fixed_offset_us(tz, start, end)
    rows = db.execute(
        f"SELECT (r.t + ?) / {_DAY_US} AS day, COUNT(*), SUM(CASE WHEN {VALID} THEN 1 ELSE 0 END),"
        f" AVG(CASE WHEN {VALID} THEN r.value END) FROM readings r"
        " WHERE r.station = ? AND r.param = ? AND r.t >= ? AND r.t < ? GROUP BY day ORDER BY day",
        (shift, station, param, to_us(start), to_us(end)),
    ).fetchall()
    epoch = date(1970, 1, 1)
    return [
        DailyMean(epoch + timedelta(days=int(day)), int(n), int(nv), float(m) if m is not None else None)
        for day, n, nv, m in rows
    ]


def _lo(start: datetime | None) -> int:
    return to_us(start) if start is not None else -(2**63)


def _hi(end: datetime | None) -> int:
    return to_us(end) if end is not None else 2**63 - 1
