"""A parameter's readings over a long range as time buckets (count, min, mean, max of valid values), one
query for both engines given the engine's ``Dialect.bucket`` (how it spells "which bucket is t in").

Buckets fall on whole multiples of their width since the epoch, so a chart refreshed a minute later keeps its
buckets. Only valid values (flags N and T, STANDARDS.md) make a bucket's figures; the flagged ones are
counted beside them. A bucket's time is its newest reading's, so the last bucket ends at the newest reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from collector.store.dialect import Dialect, Query
from collector.timestamps import from_us
from protocols.flags import VALID_FLAGS

# Widths a chart may be drawn at, narrowest first: the first that gives no more buckets than asked is used.
WIDTHS_S = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400)


@dataclass(frozen=True, slots=True)
class ReadingBucket:
    start: datetime  # the bucket's first instant (a multiple of its width since the epoch)
    last: datetime  # its newest reading
    n: int  # valid values
    flagged: int  # readings with any other flag
    min: float | None  # None when the bucket holds only flagged readings
    mean: float | None
    max: float | None


def bucket_width(start: datetime, end: datetime, points: int) -> int:
    """The narrowest width (seconds) that cuts ``[start, end)`` into at most ``points`` buckets."""
    span = (end - start).total_seconds()
    for width in WIDTHS_S:
        if span / width <= points:
            return width
    return WIDTHS_S[-1]


def count(query: Query, d: Dialect, station: str, param: str, start: datetime, end: datetime) -> int:
    sql = (
        f"SELECT COUNT(*) FROM readings WHERE station = {d.mark} AND param = {d.mark}"
        f" AND t >= {d.mark} AND t < {d.mark}"
    )
    rows = query(sql, [station, param, d.time(start), d.time(end)])
    return int(rows[0][0]) if rows else 0


def buckets(
    query: Query, d: Dialect, station: str, param: str, start: datetime, end: datetime, width_s: int
) -> list[ReadingBucket]:
    """The buckets of ``width_s`` seconds that hold readings with ``start <= t < end``, oldest first."""
    valid = ", ".join(f"'{f.value}'" for f in sorted(VALID_FLAGS))
    bucket = d.bucket.format(width=d.mark)
    ok = f"CASE WHEN flag IN ({valid}) THEN value END"
    sql = (
        f"SELECT {bucket} AS b, MAX(t), SUM(CASE WHEN flag IN ({valid}) AND value IS NOT NULL THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN flag IN ({valid}) THEN 0 ELSE 1 END), MIN({ok}), AVG({ok}), MAX({ok})"
        f" FROM readings WHERE station = {d.mark} AND param = {d.mark} AND t >= {d.mark} AND t < {d.mark}"
        " GROUP BY b ORDER BY b"
    )
    rows = query(sql, [width_s * 1_000_000, station, param, d.time(start), d.time(end)])
    return [
        ReadingBucket(
            start=from_us(int(b) * width_s * 1_000_000),
            last=d.when(last),
            n=int(n),
            flagged=int(flagged),
            min=None if lo is None else float(lo),
            mean=None if mean is None else float(mean),
            max=None if hi is None else float(hi),
        )
        for b, last, n, flagged, lo, mean, hi in rows
    ]
