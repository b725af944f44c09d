"""Retention on both engines (issue 19): old raw readings move into hourly aggregates, and the period queries
give the same figures before and after."""

from __future__ import annotations

from datetime import timedelta

import pytest

from collector.store.base import Store
from collector.store.stats import DailyMean, ItemStats
from protocols.flags import Flag
from protocols.messages import Reading, ReadingBatch
from tests.collector.factories import T0, received

N, T, D = Flag.NORMAL, Flag.OVER_RANGE, Flag.FAULT  # D: not valid (STANDARDS.md §5)


def batch(station: str, param: str, values: list[tuple[float, float | None, Flag]], seq: int) -> ReadingBatch:
    """``values``: (hours after T0, value, flag)."""
    return ReadingBatch(
        station=station,
        seq=seq,
        lane="live",
        sent_at=T0 + timedelta(days=40),
        readings=[Reading(param=param, t=T0 + timedelta(hours=h), value=v, flag=f) for h, v, f in values],
    )


# Three days of ammonia at hexicun, a few values every hour, with invalid and missing ones, and the maximum
# (2.0) twice: first at hour 30.5 (day 2), then at hour 50.25; the same at huayuanzi less one day.
ROWS: list[tuple[float, float | None, Flag]] = [
    (h + q, round(0.25 * ((h * 7 + int(q * 4)) % 7), 2), N) for h in range(72) for q in (0.0, 0.25, 0.5)
]
ROWS += [
    (30.5 + 0.01, 2.0, N),
    (50.25 + 0.01, 2.0, T),
    (10.75, 9.0, D),
    (11.75, None, Flag.COMM_FAILED),
    (40.75, 0.5, T),
]


def fill(store: Store) -> None:
    store.apply([received(batch("hexicun", "w21003", ROWS, 1))])
    store.apply([received(batch("huayuanzi", "w21003", [r for r in ROWS if r[0] >= 24], 1))])


def raw_count(store: Store, station: str) -> int:
    return len(store.readings(station, param="w21003", limit=100_000))


Hours = dict[str, dict[int, tuple[int, float]]]
Figures = tuple[dict[tuple[str, str], ItemStats], dict[tuple[str, str], ItemStats], list[DailyMean], Hours]
T0_HOUR = int(T0.timestamp()) // 3600  # T0 is a whole UTC hour


def figures(store: Store) -> Figures:
    stations = ["hexicun", "huayuanzi"]
    whole = store.period_stats(stations, T0 - timedelta(days=1), T0 + timedelta(days=4))
    part = store.period_stats(stations, T0 + timedelta(hours=20), T0 + timedelta(hours=52), max_time=False)
    days = store.daily_means("hexicun", "w21003", T0 - timedelta(hours=8), T0 + timedelta(days=3, hours=16))
    hours = store.hourly_sums("hexicun", T0 + timedelta(hours=20), T0 + timedelta(hours=52))
    return whole, part, days, hours


def hand_hours(first: int, end: int) -> dict[int, tuple[int, float]]:
    """ROWS' valid values grouped by hour, for hours ``first`` ≤ h < ``end`` after T0."""
    out: dict[int, tuple[int, float]] = {}
    for h, value, flag in ROWS:
        if first <= h < end and value is not None and flag in (N, T):
            n, s = out.get(T0_HOUR + int(h), (0, 0.0))
            out[T0_HOUR + int(h)] = (n + 1, s + value)
    return out


def same(a: dict[tuple[str, str], ItemStats], b: dict[tuple[str, str], ItemStats]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        assert (x.n_all, x.n_valid, x.min_valid, x.max_valid, x.max_t) == (
            y.n_all,
            y.n_valid,
            y.min_valid,
            y.max_valid,
            y.max_t,
        )
        assert x.sum_valid == pytest.approx(y.sum_valid, rel=1e-12)


def same_figures(after: Figures, before: Figures) -> None:
    """Every period figure of ``figures`` unchanged: item stats of both ranges, and the daily means."""
    same(after[0], before[0])
    same(after[1], before[1])
    assert [(d.day, d.n_all, d.n_valid) for d in after[2]] == [(d.day, d.n_all, d.n_valid) for d in before[2]]
    for x, y in zip(after[2], before[2], strict=True):
        assert x.mean == pytest.approx(y.mean, rel=1e-12)
    assert after[3].keys() == before[3].keys() == {"w21003"}
    got, held = after[3]["w21003"], before[3]["w21003"]
    assert sorted(got) == sorted(held)
    for hour, (n, total) in got.items():
        assert n == held[hour][0] and total == pytest.approx(held[hour][1], rel=1e-12)


def test_retired_readings_leave_the_raw_table_and_the_period_figures_stay(store: Store) -> None:
    fill(store)
    before = figures(store)
    # Hand-checked: 72 h × 3 rows + 5 at hexicun; the valid ones exclude the D row and the missing value.
    whole = before[0][("hexicun", "w21003")]
    assert (whole.n_all, whole.n_valid, whole.max_valid) == (221, 219, 2.0)
    assert whole.max_t == T0 + timedelta(hours=30.51)
    hours = before[3]["w21003"]  # hours 20–51: three values each, the 2.0 at 30.51 and the T at 40.75 too
    assert len(hours) == 32 and hours[T0_HOUR + 30][0] == 4 and hours[T0_HOUR + 40][0] == 4
    hand = hand_hours(20, 52)
    assert {h: n for h, (n, _) in hours.items()} == {h: n for h, (n, _) in hand.items()}
    assert [s for _, s in hours.values()] == pytest.approx([hand[h][1] for h in hours], rel=1e-12)
    # Retire the first two days of hexicun in two batches, and the first day and a half of huayuanzi.
    moved = store.retire_raw("hexicun", T0, T0 + timedelta(hours=24))
    moved += store.retire_raw("hexicun", T0 + timedelta(hours=24), T0 + timedelta(hours=48))
    assert moved == 48 * 3 + 4  # the rows at 30.51, 10.75, 11.75 and 40.75
    assert store.retire_raw("huayuanzi", T0, T0 + timedelta(hours=36)) == 12 * 3 + 1
    assert raw_count(store, "hexicun") == 221 - moved
    assert store.oldest_raw("hexicun") == T0 + timedelta(hours=48)
    after = figures(store)
    same_figures(after, before)


def test_retiring_twice_and_a_late_reading_in_a_retired_hour_keep_the_figures(store: Store) -> None:
    fill(store)
    store.retire_raw("hexicun", T0, T0 + timedelta(hours=72))
    assert store.retire_raw("hexicun", T0, T0 + timedelta(hours=72)) == 0
    assert raw_count(store, "hexicun") == 0
    # A late reading into hour 5, larger than anything: raw until the next pass, counted either way.
    store.apply([received(batch("hexicun", "w21003", [(5.9, 3.0, N)], 2))])
    start, end = T0, T0 + timedelta(days=3)
    late = store.period_stats(["hexicun"], start, end)[("hexicun", "w21003")]
    assert (late.n_all, late.n_valid, late.max_valid, late.max_t) == (
        222,
        220,
        3.0,
        T0 + timedelta(hours=5.9),
    )
    assert store.retire_raw("hexicun", T0, T0 + timedelta(hours=72)) == 1
    again = store.period_stats(["hexicun"], start, end)[("hexicun", "w21003")]
    assert (again.n_all, again.n_valid, again.max_valid, again.max_t) == (222, 220, 3.0, late.max_t)
    assert again.sum_valid == pytest.approx(late.sum_valid, rel=1e-12)


def test_a_store_without_retired_hours_answers_as_before(store: Store) -> None:
    fill(store)
    assert store.oldest_raw("nowhere") is None
    assert store.retention_stations() == ["hexicun", "huayuanzi"]
    stats = store.period_stats(["huayuanzi"], T0, T0 + timedelta(days=1))
    assert stats == {}  # huayuanzi's readings start a day later
