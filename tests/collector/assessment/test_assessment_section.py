"""Section judgement, period means, river grade and flood-season intensity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from collector.assessment import (
    FloodSeason,
    Grade,
    WaterClass,
    describe_main_pollutants,
    flood_intensity,
    judge_section,
    period_mean,
    river_grade,
    section_grade,
)
from protocols.flags import Flag

I, II, III, IV, V, W = (  # noqa: E741 - the standard's class names
    WaterClass.I,
    WaterClass.II,
    WaterClass.III,
    WaterClass.IV,
    WaterClass.V,
    WaterClass.WORSE_THAN_V,
)
CST = timezone(timedelta(hours=8))


def test_section_worst_item_decides() -> None:
    j = judge_section(
        {"w01001": 7.5, "w01009": 8.0, "w01019": 3.0, "w21003": 0.4, "w21011": 0.15}, "river", III
    )
    assert j.water_class is III  # TP 0.15 river → III is the worst
    assert j.meets_target is True
    assert j.main_pollutants == ()
    assert j.label_zh == "Ⅲ类"


def test_excluded_items_do_not_count() -> None:
    # Temperature and river TN are given but excluded; conductivity has no class.
    j = judge_section({"w01010": 35.0, "w21001": 9.0, "w01014": 900.0, "w21003": 0.1}, "river", II)
    assert j.water_class is I
    assert set(j.not_evaluated) == {"w01010", "w21001", "w01014"}
    # In a lake TN counts.
    j = judge_section({"w21001": 9.0, "w21003": 0.1}, "lake", II)
    assert j.water_class is W
    assert [p.param for p in j.main_pollutants] == ["w21001"]


def test_main_pollutants_worst_three_ties_by_multiple() -> None:
    means = {
        "w21003": 1.9,  # V, multiple 0.9
        "w21011": 0.5,  # 劣V, multiple 1.5
        "w01019": 14.0,  # V, multiple 1.333
        "w01018": 35.0,  # V, multiple 0.75
        "w01009": 4.0,  # IV (no multiple)
        "w01017": 3.5,  # III: not a pollutant
    }
    j = judge_section(means, "river", III)
    assert j.water_class is W
    assert j.meets_target is False
    assert [p.param for p in j.main_pollutants] == ["w21011", "w01019", "w21003"]
    # Multiples are Decimal, from the rounded mean, to 2 places: (0.5 − 0.2) / 0.2 = 1.50; (14 − 6) / 6 = 1.33.
    assert j.main_pollutants[0].multiple == Decimal("1.50")
    assert j.main_pollutants[1].multiple == Decimal("1.33")
    tp = next(i for i in j.items if i.param == "w21011")
    assert tp.multiple_vs_target == Decimal("1.50")


def test_main_pollutant_multiple_against_target() -> None:
    j = judge_section({"w21003": 0.8, "w21011": 0.35}, "river", II)
    assert j.water_class is V
    nh3 = next(i for i in j.items if i.param == "w21003")
    assert nh3.water_class is III and not nh3.meets_target
    assert nh3.multiple is None  # within the class III limit: no exceedance multiple
    assert nh3.multiple_vs_target == Decimal("0.60")  # (0.8 − 0.5) / 0.5 against the class II limit 0.5
    assert [p.param for p in j.main_pollutants] == ["w21011"]  # III items are not main pollutants


def test_ph_and_do_can_be_main_pollutants_after_items_with_multiples() -> None:
    j = judge_section({"w01001": 9.5, "w21011": 0.5, "w01009": 1.0}, "river", III)
    # All three are 劣V: TP has a multiple and leads; pH and DO have none and keep the order given.
    assert [p.param for p in j.main_pollutants] == ["w21011", "w01001", "w01009"]
    assert j.main_pollutants[1].multiple is None


def test_section_without_valid_items() -> None:
    j = judge_section({"w21003": None, "w01010": 12.0}, "river", III)
    assert j.water_class is None and j.meets_target is None
    assert j.label_en == "no valid data"


def test_section_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown parameter code"):
        judge_section({"x": 1.0}, "river", III)
    with pytest.raises(ValueError, match="target"):
        judge_section({"w21003": 1.0}, "river", W)


def test_period_mean_uses_only_valid_flags() -> None:
    samples = [(1.0, "N"), (3.0, Flag.OVER_RANGE), (100.0, "C"), (50.0, "M"), (None, "B"), (7.0, "D")]
    m = period_mean(samples)
    assert m.mean == pytest.approx(2.0)
    assert (m.valid, m.total, m.flag) == (2, 6, Flag.NORMAL)


def test_period_mean_without_valid_value_is_flagged_b() -> None:
    m = period_mean([(5.0, "C"), (None, "B")])
    assert m.mean is None and m.flag is Flag.COMM_FAILED and m.total == 2


def test_period_mean_bad_input() -> None:
    with pytest.raises(ValueError, match="flag"):
        period_mean([(1.0, "X")])
    with pytest.raises(ValueError, match="finite"):
        period_mean([(None, "N")])


@pytest.mark.parametrize(
    ("classes", "grade"),
    [
        ([II] * 9 + [IV], Grade.EXCELLENT),  # exactly 90 %
        ([II] * 8 + [IV] * 2, Grade.GOOD),  # 80 %
        ([III] * 3 + [IV], None),  # fewer than five sections
        ([III] * 4 + [IV], Grade.GOOD),  # five sections: 80 %
        ([I] * 4, None),
        ([III] * 15 + [IV] * 5, Grade.GOOD),  # exactly 75 %
        ([III] * 14 + [IV] * 6, Grade.LIGHT),  # 70 %, no 劣V
        ([III] * 14 + [IV] * 3 + [W] * 3, Grade.LIGHT),  # 劣V 15 %
        ([III] * 14 + [IV] * 2 + [W] * 4, Grade.MODERATE),  # 劣V exactly 20 %
        ([III] * 12 + [W] * 8, Grade.HEAVY),  # 劣V exactly 40 %
        ([III] * 12 + [V] + [W] * 7, Grade.MODERATE),  # 劣V 35 %
        ([W] * 5, Grade.HEAVY),
    ],
)
def test_river_grade_thresholds(classes: list[WaterClass], grade: Grade | None) -> None:
    result = river_grade(classes)
    assert (result.grade if result else None) is grade


def test_river_grade_labels_and_shares() -> None:
    result = river_grade([III] * 12 + [W] * 8)
    assert result is not None
    assert result.grade.label_zh == "重度污染" and result.grade.label_en == "heavily polluted"
    assert result.share_i_to_iii == pytest.approx(0.6) and result.share_worse_than_v == pytest.approx(0.4)
    assert section_grade(II) is Grade.EXCELLENT and section_grade(W) is Grade.HEAVY


def _t(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


def test_intensity_standards_example() -> None:
    # STANDARDS.md §4: TP 3.30 mg/L against a 0.10 limit → 33.0 (a class II river target, TP II = 0.1).
    series = {
        "w21011": [(_t(7, 3), 0.5, "N"), (_t(8, 12), 3.30, "N"), (_t(8, 13), 9.9, "D")],
        "w21003": [(_t(7, 20), 4.0, "N")],  # 4.0 / 0.5 = 8
        "w01009": [(_t(7, 20), 0.1, "N")],  # DO is not part of intensity
        "w01001": [(_t(7, 20), 11.0, "N")],  # nor pH
    }
    result = flood_intensity(series, "river", II)
    assert result.top is not None
    assert result.top.param == "w21011"
    assert result.top.value == Decimal("3.300") and result.top.limit == Decimal("0.1")
    assert str(result.top.ratio) == "33.0"  # Decimal: never 32.99999999999999
    assert result.top.at == _t(8, 12)
    assert [i.param for i in result.items] == ["w21011", "w21003"]
    assert str(result.items[1].ratio) == "8.0"


def test_intensity_season_window_in_local_time() -> None:
    june_30_utc_is_july_1_local = datetime(2026, 6, 30, 17, 0, tzinfo=UTC)
    series = {
        "w21003": [(june_30_utc_is_july_1_local, 2.0, "N"), (_t(6, 29), 50.0, "N"), (_t(10, 1, 0), 40.0, "T")]
    }
    result = flood_intensity(series, "river", III)
    assert result.top is not None and result.top.value == 2.0 and result.top.ratio == pytest.approx(2.0)
    custom = flood_intensity(series, "river", III, FloodSeason(6, 10))
    assert custom.top is not None and custom.top.value == 50.0


def test_intensity_none_without_valid_values_and_season_config() -> None:
    assert flood_intensity({"w21003": [(_t(8, 1), 3.0, "C")]}, "river", III).top is None
    assert FloodSeason().window(2026) == (datetime(2026, 7, 1).date(), datetime(2026, 9, 30).date())
    assert FloodSeason(11, 2).contains(_t(1, 15))
    with pytest.raises(ValueError, match="1–12"):
        FloodSeason(0, 9)


def test_describe_main_pollutants_and_water_type_labels() -> None:
    j = judge_section({"w21011": 0.5, "w21003": 1.9, "w01009": 2.5}, "river", III)
    assert describe_main_pollutants(j) == (
        "总磷（1.50）、氨氮（0.90）、溶解氧",
        "total phosphorus (1.50), ammonia nitrogen (0.90), dissolved oxygen",
    )
    assert describe_main_pollutants(judge_section({"w21003": 0.1}, "river", III)) == ("", "")
    assert j.water_type.label_zh == "河流" and j.water_type.label_en == "river"
