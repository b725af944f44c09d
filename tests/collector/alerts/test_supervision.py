"""The flood-season judgement of an exceedance (collector/alerts/supervision.py), on hand-computed values.

GB 3838 river limits used below (mg/L): total phosphorus I–V 0.02, 0.1, 0.2, 0.3, 0.4; ammonia nitrogen 0.15,
0.5, 1.0, 1.5, 2.0.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from collector.alerts.supervision import (
    Direction,
    Place,
    Sample,
    Settings,
    Upstream,
    UpstreamState,
    detail,
    judge,
    over_since,
    trend,
    upstream,
    validity,
)
from collector.assessment.classes import WaterClass

TP, NH3N, TEMP = "w21011", "w21003", "w01010"
T = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
HEXICUN = Place("hexicun", "河西村", "Hexicun", "river", WaterClass.III, "静乐", "汾河", "Fen", "hexicun")
CHUANHUTUN = Place(
    "chuanhutun", "川胡屯", "Chuanhutun", "river", WaterClass.III, "宁武", "汾河", "Fen", "chuanhutun"
)
NO_UPSTREAM = Upstream(UpstreamState.NO_STATION)


def at(hours: float, value: float | None, flag: str = "N") -> Sample:
    return Sample(T + timedelta(hours=hours), value, flag)


# ----- class and multiple ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "value", "water_class", "multiple"),
    [
        # (0.31 − 0.2) / 0.2 = 0.55; 0.31 is above IV's 0.3 and within V's 0.4.
        (WaterClass.III, 0.31, WaterClass.V, Decimal("0.55")),
        # (0.225 − 0.2) / 0.2 = 0.125: GB/T 8170 rounds the tie to even, 0.12 (round-half-up would say 0.13).
        (WaterClass.III, 0.225, WaterClass.IV, Decimal("0.12")),
        # Against a class II target: (0.15 − 0.1) / 0.1 = 0.50.
        (WaterClass.II, 0.15, WaterClass.III, Decimal("0.50")),
        # 0.41 is worse than V's 0.4: 劣V; (0.41 − 0.2) / 0.2 = 1.05.
        (WaterClass.III, 0.41, WaterClass.WORSE_THAN_V, Decimal("1.05")),
        # 0.2004 rounds to 0.200 (three decimals): within III, no multiple.
        (WaterClass.III, 0.2004, WaterClass.III, None),
    ],
)
def test_class_and_multiple_on_the_rounded_value(
    target: WaterClass, value: float, water_class: WaterClass, multiple: Decimal | None
) -> None:
    place = Place("s", "断面", "Section", "river", target)
    degree = judge(place, TP, value, T, T, {TP: [at(0, value)]}, NO_UPSTREAM)
    assert degree.item.water_class is water_class
    assert degree.item.multiple_vs_target == multiple
    if multiple is not None:
        assert str(degree.item.multiple_vs_target) == str(multiple)  # two places, as printed


# ----- how long ----------------------------------------------------------------------------------------------
def test_over_since_walks_back_the_run_over_valid_values_only() -> None:
    samples = [
        at(-4, 0.25),  # over, but a value within target follows: an earlier run
        at(-3, 0.15),  # within III: the run starts after it
        at(-2, 0.22),  # first of the run
        at(-1.5, None, "B"),  # no value: neither breaks nor extends the run
        at(-1, 0.18, "D"),  # within III but flagged fault: not valid, ignored
        at(0, 0.31),
        at(1, 0.50),  # after the alert's value: not seen
    ]
    assert over_since(samples, T, HEXICUN, TP) == (T - timedelta(hours=2), False)


def test_a_run_reaching_the_oldest_value_lasted_at_least_that_long() -> None:
    samples = [at(-24, 0.3), at(-12, 0.25), at(0, 0.31)]
    assert over_since(samples, T, HEXICUN, TP) == (T - timedelta(hours=24), True)


def test_no_run_when_the_newest_value_is_within_target() -> None:
    assert over_since([at(-1, 0.3), at(0, 0.2)], T, HEXICUN, TP) == (None, False)


def test_durations_since_the_first_value_over_target_and_since_the_alert_opened() -> None:
    samples = {TP: [at(-3, 0.1), at(-2.5, 0.21), at(-2, 0.25), at(0, 0.31)]}
    degree = judge(HEXICUN, TP, 0.31, T, T - timedelta(hours=2), samples, NO_UPSTREAM)
    assert degree.over_for == timedelta(hours=2.5)
    assert degree.open_for == timedelta(hours=2)
    said = detail(degree)
    assert said["over_for_s"] == 9000.0 and said["open_for_s"] == 7200.0
    assert said["over_since"] == "2026-07-14T23:30:00Z"
    duration = next(r for r in said["rows"] if r["label_en"] == "Duration")
    # 23:30 UTC is 07:30 in Asia/Shanghai.
    assert duration["zh"] == "自首个超标值（07-15 07:30:00）起已持续 2.5 小时，告警已开启 2.0 小时"
    assert duration["en"] == (
        "over target for 2.5 h since the first value over it (07-15 07:30:00); alert open 2.0 h"
    )


# ----- trend -------------------------------------------------------------------------------------------------
SETTINGS = Settings()  # 3 h window, 3 values at least, steady within 10 % of the target-class limit


@pytest.mark.parametrize(
    ("values", "direction", "per_hour"),
    [
        # 0.10, 0.20, 0.30 an hour apart: slope 0.1 /h, change 0.2 over 2 h > 0.1 × 0.2.
        ([0.10, 0.20, 0.30], Direction.RISING, 0.1),
        ([0.50, 0.40, 0.30], Direction.FALLING, -0.1),
        # Slope (0.31 − 0.30) / 2 = 0.005 /h, change 0.01 ≤ 0.02: steady.
        ([0.30, 0.32, 0.31], Direction.STEADY, 0.005),
    ],
)
def test_trend_is_the_least_squares_change_over_the_window(
    values: list[float], direction: Direction, per_hour: float
) -> None:
    samples = [at(h - 2, v) for h, v in enumerate(values)]
    found = trend(samples, T, HEXICUN, TP, SETTINGS)
    assert found.direction is direction
    assert found.n == 3
    assert found.per_hour == pytest.approx(per_hour)


def test_trend_uses_only_valid_values_in_the_window() -> None:
    samples = [
        at(-5, 5.0),  # older than 3 h
        at(-2, 0.30),
        at(-1.5, 0.9, "D"),  # fault: not valid
        at(-1, 0.30),
        at(0, 0.30),
        at(0.5, 0.9),  # after the alert's value
    ]
    found = trend(samples, T, HEXICUN, TP, SETTINGS)
    assert (found.direction, found.n, found.per_hour) == (Direction.STEADY, 3, pytest.approx(0.0))


def test_trend_unknown_with_too_few_values() -> None:
    found = trend([at(-1, 0.1), at(0, 0.3)], T, HEXICUN, TP, SETTINGS)
    assert (found.direction, found.n, found.per_hour) == (Direction.UNKNOWN, 2, None)


# ----- validity ----------------------------------------------------------------------------------------------
def test_validity_counts_the_values_received_in_the_last_24_hours() -> None:
    samples = {
        TP: [
            at(-25, 0.1, "D"),  # outside the window
            at(-23, 0.1),
            at(-20, None, "B"),
            at(-16, 0.12, "M"),
            at(-12, 0.2, "T"),  # over range still counts as valid
            at(-4, 0.3, "B"),
            at(0, 0.31),
        ],
        TEMP: [at(-1, 20.0), at(0, 20.1, "D")],
    }
    found = validity(samples, TP, T, timedelta(hours=24))
    assert (found.valid, found.total, found.flags) == (3, 6, {"B": 2, "M": 1})
    assert found.share == Decimal("0.500")
    assert (found.station_valid, found.station_total) == (4, 8)
    assert found.station_share == Decimal("0.500")


# ----- upstream ----------------------------------------------------------------------------------------------
def test_upstream_without_a_station() -> None:
    assert upstream(None, {}, TP, T, timedelta(hours=6)).state is UpstreamState.NO_STATION


def test_upstream_without_a_valid_value_in_the_window_has_no_data() -> None:
    samples = {TP: [at(-7, 0.3), at(-1, 0.3, "D")]}
    found = upstream(CHUANHUTUN, samples, TP, T, timedelta(hours=6))
    assert found.state is UpstreamState.NO_DATA and found.place is CHUANHUTUN


def test_upstream_class_on_its_latest_valid_values_and_the_same_item() -> None:
    samples = {
        TP: [at(-2, 0.35), at(-1, 0.18), at(-0.5, 0.5, "D")],  # latest valid: 0.18, class III
        NH3N: [at(-3, 1.2), at(-1, 1.6)],  # latest 1.6: class V (above IV's 1.5)
    }
    found = upstream(CHUANHUTUN, samples, TP, T, timedelta(hours=6))
    assert found.state is UpstreamState.DATA
    assert found.water_class is WaterClass.V  # the worst item
    assert found.item is not None and found.item.mean == Decimal("0.180")
    assert found.item.water_class is WaterClass.III and found.item.meets_target is True
    assert found.t == T - timedelta(hours=1)


# ----- the message -------------------------------------------------------------------------------------------
def test_the_judgement_in_one_set_of_rows_and_figures() -> None:
    samples = {
        TP: [at(-3, 0.10), at(-2, 0.15), at(-1.5, None, "B"), at(-1, 0.25), at(0, 0.31)],
        TEMP: [at(0, 20.0)],
    }
    up = upstream(CHUANHUTUN, {TP: [at(-0.25, 0.32)]}, TP, T, timedelta(hours=6))
    said = detail(judge(HEXICUN, TP, 0.31, T, T, samples, up))
    assert said["class"] == "V" and said["target"] == "III" and said["multiple"] == 0.55
    assert said["value"] == 0.31 and said["unit"] == "mg/L"
    assert said["over_since"] == "2026-07-15T01:00:00Z" and said["over_for_s"] == 3600.0
    assert said["upstream"] == {
        "state": "data",
        "section": "chuanhutun",
        "section_zh": "川胡屯",
        "section_en": "Chuanhutun",
        "station": "chuanhutun",
        "class": "V",
        "value": 0.32,
        "item_class": "V",
        "meets_target": False,
        "t": "2026-07-15T01:45:00Z",
    }
    # 0.10, 0.15, 0.25, 0.31 at −3, −2, −1, 0 h: slope = Σ(x−x̄)(y−ȳ) / Σ(x−x̄)² = 0.365 / 5 = 0.073 /h.
    assert said["trend"]["direction"] == "rising" and said["trend"]["n"] == 4
    assert said["trend"]["per_hour"] == pytest.approx(0.073)
    assert said["validity"] == {
        "window_h": 24.0,
        "valid": 4,
        "total": 5,
        "share": 0.8,
        "flags": {"B": 1},
        "station_valid": 5,
        "station_total": 6,
        "station_share": 0.833,
    }
    rows = {r["label_en"]: (r["zh"], r["en"]) for r in said["rows"]}
    assert list(rows) == ["Section", "Class", "Multiple", "Duration", "Upstream", "Trend", "Validity"]
    assert rows["Class"] == (
        "总磷 0.310 mg/L，Ⅴ类（目标Ⅲ类）",
        "total phosphorus 0.310 mg/L: Class V (target Class III)",
    )
    assert rows["Multiple"][0] == "超目标类别限值 0.55 倍"
    assert (
        rows["Upstream"][0] == "川胡屯：Ⅴ类，总磷 0.320 mg/L（Ⅴ类，07-15 09:45:00），上游同项超标（来水影响）"
    )
    assert rows["Trend"] == (
        "上升（近 3 小时 4 个有效值，每小时 +0.073 mg/L）",
        "rising (4 valid values over the last 3 h, +0.073 mg/L per hour)",
    )
    assert rows["Validity"][0] == "该项 24 小时内有效 4/5（80.0%），无效：通讯异常(B)×1；全站 83.3%"
    assert said["text_zh"].startswith("断面：河西村（静乐，汾河）；类别：总磷 0.310 mg/L")
    assert "Upstream: Chuanhutun: Class V" in said["text_en"]


def test_the_message_says_when_there_is_no_station_or_no_data_upstream() -> None:
    samples = {TP: [at(0, 0.31)]}
    alone = detail(judge(HEXICUN, TP, 0.31, T, T, samples, NO_UPSTREAM))
    assert alone["upstream"] == {"state": "no_station"}
    assert (
        "上游断面：上游无自动监测站" in alone["text_zh"]
        and "Upstream: no station upstream" in alone["text_en"]
    )
    assert alone["trend"]["direction"] == "unknown"
    quiet = detail(judge(HEXICUN, TP, 0.31, T, T, samples, Upstream(UpstreamState.NO_DATA, CHUANHUTUN)))
    assert quiet["upstream"]["state"] == "no_data"
    assert "川胡屯：无数据（6 小时内无有效值）" in quiet["text_zh"]
