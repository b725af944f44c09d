"""Hourly aggregates of the readings, and raw readings moved into them once they are old (issue 19).

``readings_hourly`` holds, per station, parameter and UTC hour (``hour``: whole hours since the epoch), what the
period queries need of that hour's readings: the count of rows, the count, sum, minimum and maximum of the valid
values (flags N and T with a value, STANDARDS.md §5) and the earliest time of the maximum. Daily figures are
the sums of a local day's hours (Asia/Shanghai days are whole UTC hours), so no daily table is kept: it would
hold the same numbers again.

``retire`` moves the raw readings of one station in [start, end) into the hourly table and deletes them, in one
transaction: a reading is always either raw or in an aggregate, never both, so a period's figures are those of
the raw rows plus those of the aggregates (``hourly_stats``, ``hourly_days``, ``hourly_sums``), whatever
retention has done. A reading that comes late into an hour already retired is raw again until the next pass adds
it to the hour.

Written once for both engines through their ``Dialect`` (dialect.py): the hour is an integer in both; the time
of the maximum is kept as each engine keeps times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from collector.store.dialect import Dialect
from collector.store.stats import VALID, DailyMean, ItemStats, item_stats
from collector.timestamps import to_us

HOUR_US = 3_600_000_000

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings_hourly (
    station TEXT NOT NULL, param TEXT NOT NULL, hour INTEGER NOT NULL,
    n_all INTEGER NOT NULL, n_valid INTEGER NOT NULL, s REAL, mn REAL, mx REAL, max_t INTEGER,
    PRIMARY KEY (station, param, hour)
) WITHOUT ROWID;
"""

POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings_hourly (
    station text NOT NULL, param text NOT NULL, hour bigint NOT NULL,
    n_all bigint NOT NULL, n_valid bigint NOT NULL, s double precision, mn double precision,
    mx double precision, max_t timestamptz,
    PRIMARY KEY (station, param, hour)
)
"""

# An hour already in the table (a late reading retired in a later pass) takes the new rows in: counts and sums
# add up, extremes widen, and the time of the maximum is the earliest of the largest value's.
MERGE = (
    " ON CONFLICT (station, param, hour) DO UPDATE SET"
    " n_all = readings_hourly.n_all + excluded.n_all,"
    " n_valid = readings_hourly.n_valid + excluded.n_valid,"
    " s = CASE WHEN readings_hourly.s IS NULL THEN excluded.s WHEN excluded.s IS NULL THEN readings_hourly.s"
    " ELSE readings_hourly.s + excluded.s END,"
    " mn = CASE WHEN readings_hourly.mn IS NULL OR excluded.mn < readings_hourly.mn THEN excluded.mn"
    " ELSE readings_hourly.mn END,"
    " max_t = CASE WHEN readings_hourly.mx IS NULL OR excluded.mx > readings_hourly.mx THEN excluded.max_t"
    " WHEN excluded.mx = readings_hourly.mx AND excluded.max_t < readings_hourly.max_t THEN excluded.max_t"
    " ELSE readings_hourly.max_t END,"
    " mx = CASE WHEN readings_hourly.mx IS NULL OR excluded.mx > readings_hourly.mx THEN excluded.mx"
    " ELSE readings_hourly.mx END"
)


def hour_of(dialect: Dialect) -> str:
    """The whole UTC hours since the epoch of a reading's ``r.t``."""
    return dialect.bucket.format(width=HOUR_US).replace("(t ", "(r.t ").replace("from t)", "from r.t)")


def retire_sql(dialect: Dialect) -> tuple[str, str]:
    """(the aggregate insert, the delete) of one station's raw readings in [start, end) (whole hours): each
    takes station, start, end."""
    m = dialect.mark
    hour = hour_of(dialect)
    where = f"r.station = {m} AND r.t >= {m} AND r.t < {m}"
    insert = (
        f"INSERT INTO readings_hourly (station, param, hour, n_all, n_valid, s, mn, mx, max_t)"
        f" SELECT a.station, a.param, a.hour, a.n_all, a.n_valid, a.s, a.mn, a.mx,"
        # Bounded to the hour itself, not the batch's span: a range the key can walk (SQLite's key is
        # (station, t, param), so the batch's span would be read once per parameter and hour).
        f" (SELECT MIN(r.t) FROM readings r WHERE r.station = a.station AND r.param = a.param"
        f" AND r.t >= {dialect.hour_start.format(hour='a.hour')}"
        f" AND r.t < {dialect.hour_start.format(hour='a.hour + 1')} AND {VALID} AND r.value = a.mx)"
        f" FROM (SELECT r.station AS station, r.param AS param, {hour} AS hour, COUNT(*) AS n_all,"
        f" SUM(CASE WHEN {VALID} THEN 1 ELSE 0 END) AS n_valid,"
        f" SUM(CASE WHEN {VALID} THEN r.value END) AS s,"
        f" MIN(CASE WHEN {VALID} THEN r.value END) AS mn,"
        f" MAX(CASE WHEN {VALID} THEN r.value END) AS mx"
        f" FROM readings r WHERE {where} GROUP BY r.station, r.param, {hour}) a"
        " WHERE true" + MERGE  # SQLite needs a WHERE to tell the upsert's ON from a join's
    )
    delete = f"DELETE FROM readings WHERE station = {m} AND t >= {m} AND t < {m}"
    return insert, delete


def retire(db: Any, dialect: Dialect, station: str, start: datetime, end: datetime) -> int:
    """Move ``station``'s raw readings in [start, end) (whole hours) into readings_hourly; how many went.
    The caller holds the transaction: the aggregates and the delete commit together."""
    insert, delete = retire_sql(dialect)
    args = (station, dialect.time(start), dialect.time(end))
    db.execute(insert, args)
    cursor = db.execute(delete, args)
    return int(cursor.rowcount)


def hourly_stats_sql(dialect: Dialect, n_stations: int, max_time: bool) -> str:
    """Per (station, param), the hours of ``stations`` whose start is in [start, end): station marks, then
    the first and last hour (inclusive) twice."""
    m = dialect.mark
    marks = dialect.marks(n_stations)
    where = f"h.station IN ({marks}) AND h.hour >= {m} AND h.hour <= {m}"
    inner = f"h2.station = agg.station AND h2.param = agg.param AND h2.hour >= {m} AND h2.hour <= {m}"
    max_t = (
        f"(SELECT MIN(h2.max_t) FROM readings_hourly h2 WHERE {inner} AND h2.mx = agg.mx)"
        if max_time
        else f"CASE WHEN {m} < {m} THEN NULL END"
    )
    return (
        f"SELECT agg.station, agg.param, agg.n_all, agg.n_valid, agg.s, agg.mn, agg.mx, {max_t} FROM"
        f" (SELECT h.station AS station, h.param AS param, SUM(h.n_all) AS n_all, SUM(h.n_valid) AS n_valid,"
        f" SUM(h.s) AS s, MIN(h.mn) AS mn, MAX(h.mx) AS mx FROM readings_hourly h WHERE {where}"
        f" GROUP BY h.station, h.param) agg"
    )


def hour_range(start: datetime, end: datetime) -> tuple[int, int]:
    """The first and last hour (inclusive) whose start lies in [start, end)."""
    first = -(-to_us(start) // HOUR_US)  # ceiling: an hour that began before start is not in the period
    last = (to_us(end) - 1) // HOUR_US
    return first, last


def hourly_stats(
    db: Any, dialect: Dialect, stations: Sequence[str], start: datetime, end: datetime, *, max_time: bool
) -> dict[tuple[str, str], ItemStats]:
    if not stations:
        return {}
    first, last = hour_range(start, end)
    if last < first:
        return {}
    # The select list (the time of the maximum's sub-query, or the always-NULL placeholders) comes first.
    args: list[Any] = [first, last, *stations, first, last]
    rows = db.execute(hourly_stats_sql(dialect, len(stations), max_time), args).fetchall()
    return {
        (str(st), str(p)): item_stats(n, nv, s, mn, mx, dialect.when(mt) if mt is not None else None)
        for st, p, n, nv, s, mn, mx, mt in rows
    }


HourSums = dict[str, dict[int, tuple[int, float]]]  # param → UTC hour → (valid values, their sum)


def hourly_sums(db: Any, dialect: Dialect, station: str, start: datetime, end: datetime) -> HourSums:
    """Per parameter and UTC hour (whole hours since the epoch), the count and sum of ``station``'s valid
    values in [start, end): raw readings and retired hours together, in one query. Hours without a valid
    value are absent. A retired hour counts when its start lies in the range (``hour_range``)."""
    m = dialect.mark
    hour = hour_of(dialect)
    first, last = hour_range(start, end)
    rows = db.execute(
        "SELECT param, hour, SUM(n), SUM(s) FROM ("
        f"SELECT r.param AS param, {hour} AS hour, COUNT(*) AS n, SUM(r.value) AS s FROM readings r"
        f" WHERE r.station = {m} AND r.t >= {m} AND r.t < {m} AND {VALID} GROUP BY r.param, {hour}"
        " UNION ALL SELECT h.param, h.hour, h.n_valid, h.s FROM readings_hourly h"
        f" WHERE h.station = {m} AND h.hour >= {m} AND h.hour <= {m} AND h.n_valid > 0"
        ") both_sides GROUP BY param, hour",
        (station, dialect.time(start), dialect.time(end), station, first, last),
    ).fetchall()
    out: HourSums = {}
    for param, h, n, s in rows:
        out.setdefault(str(param), {})[int(h)] = (int(n), float(s))
    return out


def hourly_days(
    db: Any, dialect: Dialect, station: str, param: str, start: datetime, end: datetime, shift_us: int
) -> dict[date, tuple[int, int, float | None]]:
    """Per local day (UTC shifted by ``shift_us``, a whole number of hours), (n_all, n_valid, sum of the valid
    values) of the retired hours in [start, end)."""
    first, last = hour_range(start, end)
    if last < first:
        return {}
    m = dialect.mark
    shift_h = shift_us // HOUR_US
    rows = db.execute(
        f"SELECT (h.hour + {m}) / 24 AS day, SUM(h.n_all), SUM(h.n_valid), SUM(h.s) FROM readings_hourly h"
        f" WHERE h.station = {m} AND h.param = {m} AND h.hour >= {m} AND h.hour <= {m} GROUP BY day",
        (shift_h, station, param, first, last),
    ).fetchall()
    epoch = date(1970, 1, 1)
    return {
        epoch + timedelta(days=int(day)): (int(n), int(nv or 0), float(s) if s is not None else None)
        for day, n, nv, s in rows
    }


def merge_stats(a: ItemStats | None, b: ItemStats | None) -> ItemStats | None:
    """The figures of two disjoint sets of readings (raw and retired) of one item together. Pure."""
    if a is None or b is None:
        return a or b
    mx = max((x for x in (a.max_valid, b.max_valid) if x is not None), default=None)
    times = [s.max_t for s in (a, b) if s.max_valid is not None and s.max_valid == mx and s.max_t is not None]
    return ItemStats(
        a.n_all + b.n_all,
        a.n_valid + b.n_valid,
        a.sum_valid + b.sum_valid,
        min((x for x in (a.min_valid, b.min_valid) if x is not None), default=None),
        mx,
        min(times, default=None),
    )


def merge_days(
    raw: Sequence[DailyMean], retired: dict[date, tuple[int, int, float | None]]
) -> list[DailyMean]:
    """Daily means of raw readings and of retired hours together, by day. A day only one side has keeps that
    side's figures as they are. Pure."""
    out = {d.day: d for d in raw}
    for day, (n, nv, s) in retired.items():
        held = out.get(day)
        if held is None:
            out[day] = DailyMean(day, n, nv, s / nv if nv and s is not None else None)
            continue
        total = (held.mean or 0.0) * held.n_valid + (s or 0.0)
        valid = held.n_valid + nv
        out[day] = DailyMean(day, held.n_all + n, valid, total / valid if valid else None)
    return [out[day] for day in sorted(out)]


def oldest_raw(db: Any, dialect: Dialect, station: str) -> datetime | None:
    row = db.execute(f"SELECT MIN(t) FROM readings WHERE station = {dialect.mark}", (station,)).fetchone()
    return dialect.when(row[0]) if row and row[0] is not None else None


def stations(db: Any) -> list[str]:
    """Every station with readings ever stored (one row each in ``latest``)."""
    return sorted({str(row[0]) for row in db.execute("SELECT DISTINCT station FROM latest").fetchall()})
