"""The synthetic history (simulators/history.py): deterministic, complete, and carrying the story the reports need."""

from __future__ import annotations

import csv
import io
import statistics
import tomllib
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from protocols.messages import Lane, ReadingBatch
from protocols.sections import SECTIONS
from simulators.analysers.environment import CST, NH3N, TEMP, TP
from simulators.history import (
    DEVICE,
    HISTORY_SEQ_BASE,
    HOURLY,
    MANUAL_PARAMS,
    MANUAL_SECTIONS,
    NUTRIENTS,
    generate,
)

REPO = Path(__file__).resolve().parents[2]
OCTOBER_END = datetime(2026, 11, 1, tzinfo=CST)  # a 1-month run is October 2026: 31 days, no ice, no flood


def _readings(batches: list[ReadingBatch], station: str, param: str) -> list[tuple[datetime, float]]:
    return [
        (r.t, r.value)
        for b in batches
        if b.station == station
        for r in b.readings
        if r.param == param and r.value
    ]


@pytest.fixture(scope="module")
def october() -> list[ReadingBatch]:
    return generate(OCTOBER_END, months=1, seed=7).batches


def test_same_seed_same_history_other_seed_other_values() -> None:
    a = generate(OCTOBER_END, months=1, seed=1, stations=("hexicun",))
    b = generate(OCTOBER_END, months=1, seed=1, stations=("hexicun",))
    c = generate(OCTOBER_END, months=1, seed=2, stations=("hexicun",))
    assert a == b
    assert [r.value for x in a.batches for r in x.readings] != [
        r.value for x in c.batches for r in x.readings
    ]


def test_counts_per_station_and_param_for_one_month(october: list[ReadingBatch]) -> None:
    counts = Counter((b.station, r.param) for b in october for r in b.readings)
    for station in SECTIONS:
        for param in HOURLY:
            assert counts[station, param] == 31 * 24, (station, param)
        for param in NUTRIENTS:
            assert counts[station, param] == 31 * 6, (station, param)
    assert set(counts) == {(s, p) for s in SECTIONS for p in HOURLY + NUTRIENTS}


def test_nutrients_at_the_four_hour_marks_local(october: list[ReadingBatch]) -> None:
    hours = {r.t.astimezone(CST).hour for b in october for r in b.readings if r.param in NUTRIENTS}
    assert hours == {0, 4, 8, 12, 16, 20}


def test_marked_synthetic_backfill_reserved_seqs_no_duplicates(october: list[ReadingBatch]) -> None:
    seqs: dict[str, list[int]] = defaultdict(list)
    keys: dict[str, set[tuple[str, datetime]]] = defaultdict(set)
    for batch in october:
        assert batch.lane is Lane.BACKFILL
        assert 1 <= len(batch.readings) <= 500
        assert batch.seq >= HISTORY_SEQ_BASE
        seqs[batch.station].append(batch.seq)
        for r in batch.readings:
            assert r.device == DEVICE == "synthetic"
            assert (r.param, r.t) not in keys[batch.station]
            keys[batch.station].add((r.param, r.t))
    for station, numbers in seqs.items():
        assert len(set(numbers)) == len(numbers), station


def test_winter_icing_at_the_fen_and_hutuo_stations_only() -> None:
    january = generate(
        datetime(2026, 2, 1, tzinfo=CST), months=1, stations=("hexicun", "boshuicun", "leijiaping")
    )
    for station, expected_days in (("hexicun", 31 - 21), ("boshuicun", 31 - 21), ("leijiaping", 31)):
        times = [t for t, _ in _readings(january.batches, station, TEMP)]
        assert len(times) == expected_days * 24, station
    iced_days = {t.astimezone(CST).day for t, _ in _readings(january.batches, "hexicun", TEMP)}
    assert iced_days.isdisjoint(range(8, 29))
    assert statistics.mean(v for _, v in _readings(january.batches, "leijiaping", TEMP)) < 4.0  # cold water


def test_flood_spikes_in_july() -> None:
    july = generate(datetime(2026, 8, 1, tzinfo=CST), months=1, seed=7)
    for station in SECTIONS:
        values = [v for _, v in _readings(july.batches, station, TP)]
        assert max(values) > 2.0 * statistics.median(values), station


def test_jiehepucun_drifts_over_class_iii_nh3n_in_the_last_month(october: list[ReadingBatch]) -> None:
    drifting = [v for _, v in _readings(october, "jiehepucun", NH3N)]
    assert statistics.mean(drifting) > 1.0
    neighbour = [v for _, v in _readings(october, "boshuicun", NH3N)]
    assert statistics.mean(neighbour) < 1.0  # the drift is one section's, not the model's


def test_manual_results_for_the_thirteen_sections_without_a_station() -> None:
    registry = tomllib.loads((REPO / "collector" / "sections.toml").read_text(encoding="utf-8"))
    without_station = {s["id"] for s in registry["sections"] if "station" not in s}
    assert set(MANUAL_SECTIONS) == without_station and len(MANUAL_SECTIONS) == 13

    history = generate(OCTOBER_END, months=3, stations=("hexicun",))
    rows = list(csv.DictReader(io.StringIO(history.manual_csv)))
    assert len(rows) == 3 * 13 * len(MANUAL_PARAMS)
    assert {r["采样时间"] for r in rows} == {"2026-08-15 10:00", "2026-09-15 10:00", "2026-10-15 10:00"}
    assert all(float(r["监测值"]) > 0 and r["标识"] == "N" for r in rows)


def test_end_must_be_aware_and_months_positive() -> None:
    with pytest.raises(ValueError, match="time zone"):
        generate(datetime(2026, 11, 1), months=1)
    with pytest.raises(ValueError, match="months"):
        generate(OCTOBER_END, months=0)


def test_the_drift_covers_the_whole_month_before_the_last_whatever_day_the_history_ends() -> None:
    from simulators.history import DRIFT_RAMP_DAYS, drift_start

    # 1 November 00:00 in Shanghai is 31 October 16:00 UTC: full weight from then on, the ramp before it.
    november = datetime(2026, 10, 31, 16, 0, tzinfo=UTC) - timedelta(days=DRIFT_RAMP_DAYS)
    assert drift_start(datetime(2026, 12, 1, 0, 0, tzinfo=UTC)) == november  # 1 December 08:00 local
    assert drift_start(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == november  # 31 December 23:59 local
    assert drift_start(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == november + timedelta(
        days=30
    )  # 1 January
