"""PostgreSQL's readings partitioned by UTC month (issue 19): the months made ahead, a DEFAULT partition for any
other time, an old month retired whole with the same period figures, and a plain table of an older store
converted without losing a row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.retention import RetentionJob
from collector.store.base import Store
from collector.store.postgres_partitions import month_of, next_month, partition_name
from protocols.messages import Reading, ReadingBatch
from tests.collector.conftest import PG_URL, _drop_schema, _postgres
from tests.collector.factories import T0, received
from tests.collector.store.test_retention_store import (
    N,
    figures,
    fill,
    raw_count,
    same,
    same_figures,
)

# Only the PostgreSQL side of the ``store`` fixture: SQLite has no partitions.
postgres_only = pytest.mark.parametrize("store", ["postgres"], indirect=True)


def db_of(store: Store) -> Any:
    return store._db  # type: ignore[attr-defined]


def partitions(store: Store) -> list[str]:
    rows = db_of(store).execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass('readings') ORDER BY c.relname"
    )
    return [str(row[0]) for row in rows]


def where_is(store: Store, station: str) -> dict[datetime, str]:
    """Each of the station's readings' t → the partition holding it."""
    rows = db_of(store).execute(
        "SELECT t, tableoid::regclass::text FROM readings WHERE station = %s", (station,)
    )
    return {t: str(table) for t, table in rows}


def one(station: str, t: datetime, value: float, seq: int) -> ReadingBatch:
    return ReadingBatch(
        station=station,
        seq=seq,
        lane="live",
        sent_at=t,
        readings=[Reading(param="w21003", t=t, value=value, flag=N)],
    )


def test_month_names_and_bounds() -> None:
    assert partition_name(datetime(2026, 7, 1, tzinfo=UTC)) == "readings_p2026_07"
    assert month_of("readings_p2026_12") == datetime(2026, 12, 1, tzinfo=UTC)
    assert month_of("readings_default") is None
    assert next_month(datetime(2026, 12, 1, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)


@postgres_only
def test_the_store_opens_with_a_default_partition_and_this_month_and_the_next(store: Store) -> None:
    this = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    made = partitions(store)
    assert {"readings_default", partition_name(this), partition_name(next_month(this))} <= set(made)
    kind = db_of(store).execute("SELECT relkind FROM pg_class WHERE oid = to_regclass('readings')").fetchone()
    assert kind[0] == "p"
    indexes = {
        row[0]
        for row in db_of(store).execute("SELECT indexname FROM pg_indexes WHERE tablename = 'readings'")
    }
    assert "readings_by_time" in indexes
    # The retention pass makes the months of its own clock; making them again changes nothing.
    assert store.prepare_partitions(T0) == ["readings_p2026_07", "readings_p2026_08"]
    assert store.prepare_partitions(T0) == []


@postgres_only
def test_any_time_is_stored_the_far_past_and_future_in_default_and_a_new_month_takes_its_rows(
    store: Store,
) -> None:
    past, future = datetime(1999, 3, 4, 5, 6, tzinfo=UTC), datetime(2099, 9, 9, 9, tzinfo=UTC)
    now = datetime.now(UTC)
    result = store.apply(
        [
            received(one("hexicun", t, v, i))
            for i, (t, v) in enumerate([(past, 1.5), (future, 2.5), (now, 3.5)])
        ]
    )
    assert result.readings_inserted == 3
    assert where_is(store, "hexicun") == {
        past: "readings_default",
        future: "readings_default",
        now: partition_name(datetime(now.year, now.month, 1, tzinfo=UTC)),
    }
    back = store.readings("hexicun", param="w21003", limit=10)
    assert sorted((r.t, r.value) for r in back) == [(past, 1.5), (now, 3.5), (future, 2.5)]
    # A duplicate is still a duplicate in DEFAULT (the key holds across partitions).
    assert store.apply([received(one("hexicun", past, 1.5, 9))]).readings_duplicate == 1
    # The month of 2099-09 made later takes its row out of DEFAULT.
    assert store.prepare_partitions(future) == ["readings_p2099_09", "readings_p2099_10"]
    assert where_is(store, "hexicun")[future] == "readings_p2099_09"
    assert where_is(store, "hexicun")[past] == "readings_default"
    assert len(store.readings("hexicun", param="w21003", limit=10)) == 3


@postgres_only
def test_an_old_month_is_retired_whole_its_partition_dropped_and_the_figures_stay(store: Store) -> None:
    store.prepare_partitions(T0)  # July 2026, where the retention fixture's three days lie
    fill(store)
    assert set(where_is(store, "hexicun").values()) == {"readings_p2026_07"}
    before = figures(store)
    assert store.retirable_partitions(T0 + timedelta(days=30, hours=23)) == []  # July is not over yet
    assert store.retirable_partitions(datetime(2026, 8, 1, tzinfo=UTC)) == ["readings_p2026_07"]
    moved = store.retire_partition("readings_p2026_07")
    assert moved == 221 + (221 - 24 * 3 - 2)  # every row of both stations (huayuanzi lacks the first day)
    assert "readings_p2026_07" not in partitions(store)
    assert raw_count(store, "hexicun") == raw_count(store, "huayuanzi") == 0
    assert store.oldest_raw("hexicun") is None
    after = figures(store)
    same_figures(after, before)
    assert store.retire_partition("readings_p2026_07") == 0  # gone already
    # A late reading for July now lands in DEFAULT and is counted with the retired hours.
    store.apply([received(one("hexicun", T0 + timedelta(hours=5.9), 3.0, 7))])
    assert where_is(store, "hexicun") == {T0 + timedelta(hours=5.9): "readings_default"}
    late = store.period_stats(["hexicun"], T0, T0 + timedelta(days=3))[("hexicun", "w21003")]
    assert (late.n_all, late.max_valid) == (222, 3.0)


@postgres_only
def test_a_retention_pass_retires_old_months_whole_and_the_cut_s_own_month_in_batches(store: Store) -> None:
    # Readings every 6 h from 1 June to 20 July 2026; the cut (2 days before 22 July, Shanghai) is in July.
    store.prepare_partitions(datetime(2026, 6, 1, tzinfo=UTC))
    start = datetime(2026, 6, 1, tzinfo=UTC)
    times = [start + timedelta(hours=6 * i) for i in range(4 * 50)]
    store.apply(
        [
            received(
                ReadingBatch(
                    station="hexicun",
                    seq=1,
                    lane="live",
                    sent_at=times[-1],
                    readings=[
                        Reading(param="w21003", t=t, value=float(i % 5), flag=N) for i, t in enumerate(times)
                    ],
                )
            )
        ]
    )
    stats = store.period_stats(["hexicun"], start, times[-1] + timedelta(hours=1))
    now = datetime(2026, 7, 22, 4, tzinfo=UTC)
    job = RetentionJob(store, 2, batch_hours=24 * 7, pause_s=0.0, clock=lambda: now)
    moved = job.run_once()
    until = datetime(2026, 7, 19, 16, tzinfo=UTC)  # local midnight of 20 July
    assert moved == sum(1 for t in times if t < until)
    assert "readings_p2026_06" not in partitions(store)  # June retired whole
    assert "readings_p2026_07" in partitions(store)  # July partly, by rows
    assert store.oldest_raw("hexicun") == min(t for t in times if t >= until)
    again = store.period_stats(["hexicun"], start, times[-1] + timedelta(hours=1))
    same(again, stats)


@pytest.fixture
def old_schema() -> Iterator[str]:
    pytest.importorskip("psycopg")
    schema = f"qingliu_test_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        _drop_schema(schema)


# ``readings`` as stores before partitioning made it.
OLD_READINGS = """
CREATE TABLE readings (
    station text NOT NULL, param text NOT NULL, t timestamptz NOT NULL,
    value double precision, flag text NOT NULL, device text, seq bigint, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, param, t)
);
CREATE INDEX readings_by_time ON readings (station, t);
"""


def test_a_plain_readings_table_is_converted_at_open_and_keeps_every_row(old_schema: str) -> None:
    import psycopg

    times = [datetime(2025, 11, 30, 23, 30, tzinfo=UTC) + timedelta(hours=7 * i) for i in range(300)]
    times.append(datetime(2001, 1, 1, tzinfo=UTC))  # an odd old time gets its own month too
    rows = [
        (station, "w21003", t, None if i % 17 == 0 else i * 0.5, "N" if i % 3 else "T", None, i, t)
        for station in ("hexicun", "huayuanzi")
        for i, t in enumerate(times)
    ]
    try:
        db = psycopg.connect(PG_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")
    with db:
        db.execute(f'CREATE SCHEMA "{old_schema}"')
        db.execute(f'SET search_path TO "{old_schema}"')
        for statement in OLD_READINGS.split(";"):
            if statement.strip():
                db.execute(statement)
        with db.cursor() as cur:
            cur.executemany("INSERT INTO readings VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
    store = _postgres(old_schema)
    try:
        names = partitions(store)
        months = {partition_name(datetime(t.year, t.month, 1, tzinfo=UTC)) for t in times}
        assert months <= set(names) and "readings_default" in names
        held = (
            db_of(store)
            .execute("SELECT station, param, t, value, flag, device, seq, received_at FROM readings")
            .fetchall()
        )
        assert sorted(held) == sorted(rows)
        assert all(table != "readings_default" for table in where_is(store, "hexicun").values())
        leftover = db_of(store).execute("SELECT to_regclass('readings_unpartitioned')").fetchone()[0]
        assert leftover is None
        stats = store.period_stats(["hexicun"], times[-1], times[-2] + timedelta(hours=1))
        assert stats[("hexicun", "w21003")].n_all == 301
        # The converted store stores and dedupes as any other.
        assert store.apply([received(one("hexicun", times[5], 99.0, 1000))]).readings_duplicate == 1
    finally:
        store.close()
    # Opened again: already partitioned, nothing to convert.
    again = _postgres(old_schema)
    try:
        assert len(db_of(again).execute("SELECT 1 FROM readings").fetchall()) == len(rows)
    finally:
        again.close()


@postgres_only
def test_a_partition_whose_lock_is_not_had_in_time_goes_in_batches_and_is_dropped_next_pass(
    store: Store,
) -> None:
    import psycopg

    store.prepare_partitions(T0)
    fill(store)
    before = figures(store)
    schema = db_of(store).execute("SELECT current_schema()").fetchone()[0]
    now = T0 + timedelta(days=40)  # the cut is in August: July is wholly older
    job = RetentionJob(store, 2, batch_hours=24, pause_s=0.0, clock=lambda: now)
    # A long reader of readings: DETACH cannot have its ACCESS EXCLUSIVE lock, gives up after LOCK_TIMEOUT.
    with psycopg.connect(PG_URL) as reader:
        reader.execute(f'SET search_path TO "{schema}"')
        reader.execute("SELECT count(*) FROM readings").fetchone()  # the transaction holds ACCESS SHARE
        started = datetime.now(UTC)
        assert job.run_once() == 221 + 147  # every row still moved, by the batched path
        assert datetime.now(UTC) - started < timedelta(seconds=10)
        assert "readings_p2026_07" in partitions(store)
        reader.rollback()
    assert raw_count(store, "hexicun") == 0
    same(figures(store)[0], before[0])
    assert job.run_once() == 0  # the empty partition retired now
    assert "readings_p2026_07" not in partitions(store)
    same(figures(store)[0], before[0])


@postgres_only
def test_the_ticker_s_checkpoint_makes_the_coming_month_once_the_month_has_turned(store: Store) -> None:
    this = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    coming = partition_name(next_month(this))
    db_of(store).execute(f"ALTER TABLE readings DETACH PARTITION {coming}")
    db_of(store).execute(f"DROP TABLE {coming}")
    assert store.checkpoint()  # the month has not turned since the store opened: nothing to do
    assert coming not in partitions(store)
    store._prepared = datetime(2000, 1, 1, tzinfo=UTC)  # type: ignore[attr-defined]  # as if opened long ago
    with store._upkeep_lock:  # type: ignore[attr-defined]  # a retention pass busy on the upkeep connection
        assert not store.checkpoint()
    assert coming not in partitions(store)
    assert store.checkpoint()
    assert coming in partitions(store)
