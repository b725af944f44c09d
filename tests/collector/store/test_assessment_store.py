"""The assessment's store side on both engines: manual results (idempotent, changes kept in history), the
period aggregate and daily means, each checked against figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from collector.store.base import Store
from collector.store.manual_rows import ManualRow
from collector.store.sqlite import SqliteStore
from collector.store.stats import fixed_offset_us
from collector.timestamps import to_us
from protocols.flags import Flag
from protocols.messages import Reading, ReadingBatch
from tests.collector.factories import T0, received


def manual(section: str, param: str, hour: int, value: float, flag: str = "N", row: int = 2) -> ManualRow:
    return ManualRow(section, param, T0 + timedelta(hours=hour), value, flag, f"july.csv:row {row}")


def readings(
    station: str, param: str, values: list[tuple[int, float | None, Flag]], seq: int = 1
) -> ReadingBatch:
    """``values``: (hour after T0, value, flag)."""
    return ReadingBatch(
        station=station,
        seq=seq,
        lane="live",
        sent_at=T0 + timedelta(days=40),
        readings=[Reading(param=param, t=T0 + timedelta(hours=h), value=v, flag=f) for h, v, f in values],
    )


def history(engine: Store) -> list[tuple[str, float, str]]:
    """(section, value, replaced_by) of the replaced manual results, read straight from the table."""
    sql = "SELECT section, value, replaced_by FROM manual_result_history ORDER BY replaced_by"
    if isinstance(engine, SqliteStore):
        with engine._lock:
            rows = engine._db.execute(sql).fetchall()
    else:
        rows = engine._rows(sql)  # type: ignore[attr-defined]
    return [(str(s), float(v), str(b)) for s, v, b in rows]


# -- manual results --------------------------------------------------------------------------------------------


def test_manual_results_are_kept_once_and_reimport_changes_nothing(store: Store) -> None:
    rows = [
        manual("fanwangsi", "w21003", 0, 0.125, row=2),
        manual("fanwangsi", "w21011", 0, 0.05, row=3),
        manual("guanhekou", "w21003", 2, 1.6, "T", row=4),
    ]
    assert store.save_manual_results(rows) == (3, 0, 0)
    assert store.save_manual_results(rows) == (0, 3, 0)
    held = store.manual_results("fanwangsi")
    assert [(r.param, r.t, r.value, r.flag, r.source) for r in held] == [
        ("w21003", T0, 0.125, "N", "july.csv:row 2"),
        ("w21011", T0, 0.05, "N", "july.csv:row 3"),
    ]
    assert held[0].t.tzinfo is not None and held[0].imported_at.tzinfo is not None
    assert [r.value for r in store.manual_results("guanhekou")] == [1.6]
    assert store.counts()["manual_results"] == 3
    assert history(store) == []


def test_a_changed_manual_value_replaces_the_held_one_and_keeps_it_in_history(store: Store) -> None:
    store.save_manual_results(
        [manual("fanwangsi", "w21003", 0, 0.125), manual("fanwangsi", "w21011", 0, 0.05)]
    )
    corrected = [
        ManualRow("fanwangsi", "w21003", T0, 0.135, "N", "july-v2.csv:row 2"),
        ManualRow("fanwangsi", "w21011", T0, 0.05, "N", "july-v2.csv:row 3"),
    ]
    assert store.save_manual_results(corrected) == (0, 1, 1)
    held = {r.param: r for r in store.manual_results("fanwangsi")}
    assert held["w21003"].value == 0.135 and held["w21003"].source == "july-v2.csv:row 2"
    assert held["w21011"].source == "july.csv:row 2"  # unchanged: the first import's row stays as it was
    assert history(store) == [("fanwangsi", 0.125, "july-v2.csv:row 2")]
    # A flag alone is a change too.
    assert store.save_manual_results([ManualRow("fanwangsi", "w21011", T0, 0.05, "D", "x.csv:row 9")]) == (
        0,
        0,
        1,
    )


def test_a_key_given_twice_in_one_call_stores_nothing(store: Store) -> None:
    twice = [
        manual("fanwangsi", "w21003", 0, 0.1),
        manual("fanwangsi", "w21011", 0, 0.1),
        manual("fanwangsi", "w21003", 0, 0.2),
    ]
    with pytest.raises(ValueError, match="given twice"):
        store.save_manual_results(twice)
    assert store.manual_results("fanwangsi") == []


def test_manual_results_by_range(store: Store) -> None:
    store.save_manual_results([manual("qileng", "w21003", h, float(h), row=h + 2) for h in range(5)])
    found = store.manual_results("qileng", T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert [r.value for r in found] == [1.0, 2.0]  # end excluded
    assert store.manual_results("nowhere") == []


# -- period aggregates -----------------------------------------------------------------------------------------


def test_period_stats_hand_checked(store: Store) -> None:
    N, T, D, B = Flag.NORMAL, Flag.OVER_RANGE, Flag.FAULT, Flag.COMM_FAILED
    store.apply(
        [
            received(
                readings(
                    "hexicun",
                    "w21011",
                    [
                        (-1, 9.0, N),  # before the period
                        (0, 0.25, N),
                        (4, 0.5, T),  # the maximum, first reached here
                        (8, 9.75, D),  # not valid: counted, never in the sum or the extremes
                        (12, None, B),
                        (16, 0.125, N),
                        (20, 0.5, N),  # the maximum again, later
                        (24, 7.0, N),  # at the end: excluded
                    ],
                )
            ),
            received(readings("hexicun", "w01001", [(0, 7.5, N), (1, 8.0, N)], seq=2)),
            received(readings("hexicun", "w21003", [(2, 1.0, D), (3, 2.0, B)], seq=3)),  # nothing valid
            received(readings("hexicun", "w01009", [(30, 6.0, N)], seq=4)),  # only outside the period
            received(readings("jiehepucun", "w21011", [(0, 0.375, N)], seq=5)),
            received(readings("bifengcun", "w21011", [(0, 5.0, N)], seq=6)),  # not asked for
        ]
    )
    start, end = T0, T0 + timedelta(hours=24)
    stats = store.period_stats(["hexicun", "jiehepucun"], start, end)
    assert set(stats) == {
        ("hexicun", "w21011"),
        ("hexicun", "w01001"),
        ("hexicun", "w21003"),
        ("jiehepucun", "w21011"),
    }
    tp = stats[("hexicun", "w21011")]
    assert (tp.n_all, tp.n_valid) == (6, 4)
    assert tp.sum_valid == 1.375 and tp.mean == pytest.approx(0.34375)
    assert (tp.min_valid, tp.max_valid) == (0.125, 0.5)
    assert tp.max_t == T0 + timedelta(hours=4)
    ph = stats[("hexicun", "w01001")]
    assert (ph.n_all, ph.n_valid, ph.sum_valid, ph.max_t) == (2, 2, 15.5, T0 + timedelta(hours=1))
    nh3 = stats[("hexicun", "w21003")]
    assert (nh3.n_all, nh3.n_valid, nh3.sum_valid, nh3.mean, nh3.max_valid, nh3.max_t) == (
        2,
        0,
        0.0,
        None,
        None,
        None,
    )
    assert stats[("jiehepucun", "w21011")].max_t == T0
    assert store.period_stats([], start, end) == {}
    assert store.period_stats(["nowhere"], start, end) == {}


def test_manual_period_stats_hand_checked(store: Store) -> None:
    store.save_manual_results(
        [
            manual("fanwangsi", "w21003", 0, 0.5, row=2),
            manual("fanwangsi", "w21003", 24 * 7, 1.5, row=3),
            manual("fanwangsi", "w21003", 24 * 14, 1.5, "T", row=4),
            manual("fanwangsi", "w21003", 24 * 21, 3.0, "M", row=5),  # not valid
            manual("fanwangsi", "w21003", 24 * 40, 9.0, row=6),  # next period
            manual("guanhekou", "w21011", 24, 0.2, row=7),
        ]
    )
    stats = store.manual_period_stats(["fanwangsi", "guanhekou", "qileng"], T0, T0 + timedelta(days=31))
    assert set(stats) == {("fanwangsi", "w21003"), ("guanhekou", "w21011")}
    nh3 = stats[("fanwangsi", "w21003")]
    assert (nh3.n_all, nh3.n_valid, nh3.sum_valid, nh3.min_valid, nh3.max_valid) == (4, 3, 3.5, 0.5, 1.5)
    assert nh3.max_t == T0 + timedelta(days=7)
    assert stats[("guanhekou", "w21011")].mean == 0.2


def test_daily_means_group_by_local_day(store: Store) -> None:
    # T0 is 2026-07-01 00:00 UTC = 08:00 in Shanghai; 16:00 UTC is already the next local day.
    store.apply(
        [
            received(
                readings(
                    "hexicun",
                    "w21003",
                    [
                        (0, 1.0, Flag.NORMAL),
                        (15, 2.0, Flag.NORMAL),
                        (16, 4.0, Flag.NORMAL),
                        (17, 9.0, Flag.FAULT),
                    ],
                )
            )
        ]
    )
    days = store.daily_means(
        "hexicun", "w21003", T0 - timedelta(days=1), T0 + timedelta(days=2), "Asia/Shanghai"
    )
    assert [(d.day, d.n_all, d.n_valid, d.mean) for d in days] == [
        (date(2026, 7, 1), 2, 2, 1.5),
        (date(2026, 7, 2), 2, 1, 4.0),
    ]
    utc_days = store.daily_means("hexicun", "w21003", T0, T0 + timedelta(days=2), "UTC")
    assert [(d.day, d.n_valid) for d in utc_days] == [(date(2026, 7, 1), 3)]


def test_a_zone_with_daylight_saving_is_refused_for_a_fixed_shift() -> None:
    assert fixed_offset_us("Asia/Shanghai", T0, T0 + timedelta(days=365)) == to_us(
        datetime(1970, 1, 1, 8, tzinfo=UTC)
    )
    with pytest.raises(ValueError, match="changes its UTC offset"):
        fixed_offset_us("Europe/Berlin", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def test_period_stats_without_the_time_of_the_maximum_agree_otherwise(store: Store) -> None:
    """The one-pass form the period means use gives the same figures, only no max_t."""
    test_period_stats_hand_checked(store)
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    full = store.period_stats(["hexicun", "jiehepucun"], start, end)
    quick = store.period_stats(["hexicun", "jiehepucun"], start, end, max_time=False)
    assert full and set(full) == set(quick)
    for key, stats in full.items():
        assert quick[key].max_t is None
        assert (quick[key].n_all, quick[key].n_valid, quick[key].sum_valid, quick[key].max_valid) == (
            stats.n_all,
            stats.n_valid,
            stats.sum_valid,
            stats.max_valid,
        )
