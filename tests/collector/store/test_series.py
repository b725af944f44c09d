"""A chart's series over a long range: buckets of count, min, mean and max of valid values, computed in SQL by
both engines alike (collector/store/series.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.store.base import Store
from collector.store.series import ReadingBucket, bucket_width
from protocols.messages import Reading, ReadingBatch
from tests.collector.factories import T0, batch, received

MIN = timedelta(minutes=1)


def _twenty_minutes(store: Store) -> None:
    """Values 10..29 at T0 + 0..19 min; the one at minute 7 (17.0) flagged D (invalid)."""
    readings = [
        Reading(param="w01010", t=T0 + i * MIN, value=10.0 + i, flag="D" if i == 7 else "N")
        for i in range(20)
    ]
    store.apply(
        [received(ReadingBatch(station="hexicun", seq=1, lane="live", sent_at=T0, readings=readings))]
    )
    store.apply([received(batch(seq=2, n=20, param="w01001", value=7.0))])  # another parameter: not counted


def test_few_readings_come_back_as_they_are(store: Store) -> None:
    _twenty_minutes(store)
    width, rows = store.reading_buckets("hexicun", "w01010", T0, T0 + 20 * MIN, points=20)
    assert width is None
    assert [r.t for r in rows] == [T0 + i * MIN for i in range(20)]  # type: ignore[union-attr]


def test_many_readings_come_back_as_buckets_of_valid_values(store: Store) -> None:
    _twenty_minutes(store)
    width, rows = store.reading_buckets("hexicun", "w01010", T0, T0 + 20 * MIN, points=5)
    assert width == 300  # 1200 s: 60 s gives 20 buckets, 300 s gives 4
    five = 5 * MIN
    assert rows == [
        ReadingBucket(T0, T0 + 4 * MIN, 5, 0, 10.0, 12.0, 14.0),
        # 17.0 is flagged: counted apart, not in the figures: (15 + 16 + 18 + 19) / 4 = 17
        ReadingBucket(T0 + five, T0 + 9 * MIN, 4, 1, 15.0, 17.0, 19.0),
        ReadingBucket(T0 + 2 * five, T0 + 14 * MIN, 5, 0, 20.0, 22.0, 24.0),
        ReadingBucket(T0 + 3 * five, T0 + 19 * MIN, 5, 0, 25.0, 27.0, 29.0),  # ends at the newest reading
    ]


def test_buckets_fall_on_whole_widths_whatever_the_range_start(store: Store) -> None:
    _twenty_minutes(store)
    width, rows = store.reading_buckets("hexicun", "w01010", T0 + 3 * MIN, T0 + 20 * MIN, points=5)
    assert width == 300
    first = rows[0]
    assert isinstance(first, ReadingBucket)
    assert (first.start, first.last, first.n, first.min, first.max) == (T0, T0 + 4 * MIN, 2, 13.0, 14.0)
    assert len(rows) == 4


@pytest.mark.parametrize(
    ("hours", "points", "width"),
    [(24, 500, 300), (24, 1440, 60), (24 * 30, 500, 7200), (24 * 7, 500, 1800), (24 * 3650, 500, 7 * 86400)],
)
def test_the_narrowest_width_that_fits(hours: int, points: int, width: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert bucket_width(start, start + timedelta(hours=hours), points) == width
