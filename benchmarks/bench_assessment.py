"""Assessing every section from a year of data (issue 12, "Done when"): the 21 sections for one month and for one
year, beside one plain aggregate SQL query over the same rows as the floor.

A year (2025) of readings for the 8 stations (5 physical items hourly, 4 nutrients at 0/4/8/12/16/20 h local) is
written through the store (``apply`` of 2000-reading batches: no MQTT), with a month of manual results a month for
the 13 sections sampled by hand. Then, on each engine (a SQLite file; PostgreSQL when reachable), best of
``--repeat`` runs of:

- ``Assessor.city`` for July 2025 and for the year 2025 (every section judged, counts, river grades);
- the floor: ``SELECT station, param, COUNT(*), SUM(value) FROM readings WHERE t >= ? AND t < ? GROUP BY
  station, param`` over the same range.

Targets: a month ≤ 1 s, a year ≤ 5 s, each within 3× its floor. The last line is PASS or FAIL with every figure
and its bound (exit 1 on FAIL).

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_assessment [--repeat 3] [--pg URL | --no-pg]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.rounds import Check, conclude
from collector.assessing import Assessor
from collector.config import CollectorConfig
from collector.sections import load_sections
from collector.store.base import Received, Store
from collector.store.manual_rows import ManualRow
from protocols.flags import Flag
from protocols.messages import MAX_READINGS_PER_BATCH, Lane, Reading, ReadingBatch

YEAR = 2025
START = datetime(YEAR - 1, 12, 31, 16, tzinfo=UTC)  # 1 January 00:00 in Asia/Shanghai
END = datetime(YEAR, 12, 31, 16, tzinfo=UTC)
PHYSICAL = {"w01010": 12.0, "w01001": 7.8, "w01009": 7.5, "w01014": 480.0, "w01003": 30.0}
NUTRIENTS = {"w01019": 4.0, "w21003": 0.5, "w21011": 0.12, "w21001": 2.5}
MANUAL = {"w01001": 7.6, "w01009": 7.0, "w01019": 4.5, "w21003": 0.6, "w21011": 0.15, "w01018": 15.0}
TARGET_MONTH_S, TARGET_YEAR_S, FLOOR_RATIO = 1.0, 5.0, 3.0
PG_URL = os.environ.get("QINGLIU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def readings(station: str, rng: random.Random) -> Iterator[Reading]:
    """Hourly physical items and 4-hourly nutrients (local slots 0/4/…/20 h are UTC 16/20/0/4/8/12 h)."""
    t = START
    while t < END:
        for param, base in PHYSICAL.items():
            yield Reading(param=param, t=t, value=round(base * rng.uniform(0.8, 1.2), 3), flag=_flag(rng))
        if t.hour % 4 == 0:
            for param, base in NUTRIENTS.items():
                yield Reading(param=param, t=t, value=round(base * rng.uniform(0.5, 1.8), 3), flag=_flag(rng))
        t += timedelta(hours=1)


def _flag(rng: random.Random) -> Flag:
    x = rng.random()
    # A few calibrations and faults: not valid.
    return Flag.NORMAL if x < 0.97 else (Flag.CALIBRATION if x < 0.99 else Flag.FAULT)


def fill(store: Store) -> int:
    rng = random.Random(12)
    registry = load_sections()
    stations = [s.station for s in registry if s.station]
    written = 0
    for station in stations:
        chunk: list[Reading] = []
        seq = 0
        for reading in readings(station, rng):
            chunk.append(reading)
            if len(chunk) == MAX_READINGS_PER_BATCH:
                written += _apply(store, station, seq, chunk)
                seq, chunk = seq + 1, []
        if chunk:
            written += _apply(store, station, seq, chunk)
    manual = [
        ManualRow(
            s.id,
            param,
            datetime(YEAR, month, 10, 2, tzinfo=UTC),
            round(base * rng.uniform(0.6, 1.6), 3),
            "N",
            f"bench.csv:row {n}",
        )
        for n, (s, month, (param, base)) in enumerate(
            (s, m, item) for s in registry if not s.station for m in range(1, 13) for item in MANUAL.items()
        )
    ]
    store.save_manual_results(manual)
    return written


def _apply(store: Store, station: str, seq: int, chunk: list[Reading]) -> int:
    message = ReadingBatch(station=station, seq=seq, lane=Lane.BACKFILL, sent_at=END, readings=chunk)
    return store.apply([Received(message, END)]).readings_inserted


def best(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def sqlite_floor(path: Path) -> Callable[[datetime, datetime], Any]:
    db = sqlite3.connect(path)

    def query(start: datetime, end: datetime) -> Any:
        us = (int(start.timestamp() * 1e6), int(end.timestamp() * 1e6))
        return db.execute(
            "SELECT station, param, COUNT(*), SUM(value) FROM readings WHERE t >= ? AND t < ?"
            " GROUP BY station, param",
            us,
        ).fetchall()

    return query


def pg_floor(url: str, schema: str) -> Callable[[datetime, datetime], Any]:
    import psycopg

    db = psycopg.connect(url, autocommit=True)
    db.execute(f'SET search_path TO "{schema}"')
    # What autovacuum does soon after a bulk load in production: without statistics the planner takes the
    # period aggregate's second pass for one row and a year costs ~5 s instead of ~0.4 s.
    db.execute("ANALYZE")

    def query(start: datetime, end: datetime) -> Any:
        return db.execute(
            "SELECT station, param, COUNT(*), SUM(value) FROM readings WHERE t >= %s AND t < %s"
            " GROUP BY station, param",
            (start, end),
        ).fetchall()

    return query


def measure(
    name: str, store: Store, make_floor: Callable[[], Callable[[datetime, datetime], Any]], repeat: int
) -> list[Check]:
    started = time.perf_counter()
    rows = fill(store)
    print(f"{name}: {rows} readings written in {time.perf_counter() - started:.1f} s")
    floor = make_floor()  # after the load (PostgreSQL: ANALYZE)
    assessor = Assessor.from_config(CollectorConfig(), store, clock=lambda: datetime(2026, 6, 1, tzinfo=UTC))
    checks = []
    for label, kind, ref, target in (
        ("month", "month", f"{YEAR}-07", TARGET_MONTH_S),
        ("year", "year", str(YEAR), TARGET_YEAR_S),
    ):
        period = assessor.period(kind, ref)
        city = assessor.city(period)
        judged = sum(1 for a in city.sections if a.judgement.water_class is not None)
        assert len(city.sections) == 21 and judged == 21, (len(city.sections), judged)
        took = best(partial(assessor.city, period), repeat)
        base = best(partial(floor, period.start, period.end), repeat)
        ratio = took / base if base else math.inf
        good = took <= target and ratio <= FLOOR_RATIO
        checks += [
            Check(f"{name} {label}", f"{took * 1000:.1f} ms", f"≤ {target * 1000:.0f} ms", took <= target),
            Check(
                f"{name} {label} ÷ floor query", f"{ratio:.2f}", f"≤ {FLOOR_RATIO:g}", ratio <= FLOOR_RATIO
            ),
        ]
        print(
            f"  {label:5} 21 sections {took * 1000:8.1f} ms (target ≤ {target * 1000:.0f} ms)"
            f" | floor query {base * 1000:7.1f} ms | ratio {ratio:5.2f} (≤ {FLOOR_RATIO:.0f})"
            f" {'ok' if good else 'SLOW'}"
        )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--pg", default=PG_URL, help="PostgreSQL URL (default: $QINGLIU_TEST_PG or local test db)"
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    from collector.store.sqlite import SqliteStore

    checks: list[Check] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        store = SqliteStore(path)
        try:
            checks += measure("sqlite", store, lambda: sqlite_floor(path), args.repeat)
        finally:
            store.close()
    if not args.no_pg:
        checks += postgres(args.pg, args.repeat)
    return conclude(checks)


def postgres(url: str, repeat: int) -> list[Check]:
    """PostgreSQL's checks; none where it is not there (said so)."""
    try:
        import psycopg

        from collector.store.postgres import PostgresStore
    except ImportError:
        print("postgresql: skipped (psycopg not installed)")
        return []
    schema = f"qingliu_bench_{uuid.uuid4().hex[:12]}"
    try:
        store = PostgresStore(url, schema=schema)
    except psycopg.OperationalError as exc:
        print(f"postgresql: skipped (not reachable at {url}: {str(exc).splitlines()[0]})")
        return []
    try:
        return measure("postgresql", store, lambda: pg_floor(url, schema), repeat)
    finally:
        store.close()
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    sys.exit(main())
