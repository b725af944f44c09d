"""A chart's series: ``GET /api/stations/{id}/readings?...&points=N`` answers with the readings themselves
while the range holds at most N, else with buckets (collector/store/series.py) so that a 24 h or 30-day chart
covers its whole range, newest included. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from collector.api import views
from collector.config import StationConfig
from collector.store.base import StoredReading
from collector.store.series import ReadingBucket
from collector.summaries import iso


def bucket(param: str, b: ReadingBucket) -> dict[str, Any]:
    """A bucket drawn as a point: at its newest reading's time, the mean of its valid values, with their range
    and the counts beside (a bucket of flagged readings only has no value: the chart leaves a gap)."""
    return {
        "param": param,
        "t": iso(b.last),
        "from": iso(b.start),
        "value": b.mean,
        "min": b.min,
        "max": b.max,
        "n": b.n,
        "flagged": b.flagged,
        "flag": "N",
    }


def series(
    site: StationConfig,
    param: str,
    start: datetime,
    end: datetime,
    points: int,
    width_s: int | None,
    rows: list[StoredReading] | list[ReadingBucket],
) -> dict[str, Any]:
    if width_s is None:
        readings = [r for r in rows if isinstance(r, StoredReading)]
        body = views.readings(site, param, start, end, points, readings)
    else:
        body = views.readings(site, param, start, end, points, [])
        body["readings"] = [bucket(param, b) for b in rows if isinstance(b, ReadingBucket)]
        body["count"] = sum(b.n + b.flagged for b in rows if isinstance(b, ReadingBucket))
    body["bucket_s"] = width_s
    body["points"] = points
    return body
