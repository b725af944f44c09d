"""Period judgement of a section: rounded means, classes, multiples, main pollutants, completeness,
not-measured periods (STANDARDS.md §3, §5, §9)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from collector.assessment import (
    ItemInput,
    JudgementStatus,
    NotMeasured,
    SectionFacts,
    WaterClass,
    WaterType,
    judge_period,
)

III, IV, V, W = WaterClass.III, WaterClass.IV, WaterClass.V, WaterClass.WORSE_THAN_V
RIVER_III = SectionFacts(WaterType.RIVER, III, "national")


def test_class_is_judged_on_the_rounded_mean() -> None:
    # NH3-N (3 decimals): 1.0004 rounds to 1.000 → III, though the float is above the III limit 1.0.
    # CODMn (2 decimals): 6.005 rounds half-even to 6.00 → III; 6.015 → 6.02 → IV.
    j = judge_period(RIVER_III, {"w21003": ItemInput(1.0004, 10, 10), "w01019": ItemInput(6.005, 5, 6)})
    assert j.item("w21003").mean == Decimal("1.000") and j.item("w21003").water_class is III
    assert j.item("w01019").mean == Decimal("6.00") and j.item("w01019").water_class is III
    assert j.item("w21003").multiple is None  # within the class III limit
    assert j.water_class is III and j.meets_target is True
    j = judge_period(RIVER_III, {"w01019": ItemInput(6.015, 1)})
    assert j.item("w01019").mean == Decimal("6.02") and j.water_class is IV
    # (6.02 − 6) / 6 = 0.00333… would round to 0.00: a result rounding to zero keeps one significant digit.
    assert j.item("w01019").multiple == Decimal("0.003")


def test_from_sum_keeps_an_exact_tie() -> None:
    # Four pH values summing to 30.5: mean 7.625, a tie at pH's 2 decimals → 7.62 (even).
    item = ItemInput.from_sum(Decimal("30.5"), 4, 4)
    assert item.mean == Decimal("7.625")
    j = judge_period(RIVER_III, {"w01001": item})
    assert j.item("w01001").mean == Decimal("7.62") and j.item("w01001").completeness == Decimal("1.000")
    # The same sum as a float (what SQL SUM returns) gives the same rounded mean.
    assert judge_period(RIVER_III, {"w01001": ItemInput.from_sum(30.5, 4)}).item("w01001").mean == Decimal(
        "7.62"
    )
    assert ItemInput.from_sum(0.0, 0, 6).mean is None


def test_multiples_vs_iii_and_target_and_main_pollutants() -> None:
    facts = SectionFacts(WaterType.RIVER, WaterClass.II)
    j = judge_period(
        facts,
        {
            "w21011": ItemInput(0.230, 3),  # TP river: IV; (0.230 − 0.2)/0.2 = 0.15; vs II (0.1): 1.30
            "w21003": ItemInput(1.15, 3),  # NH3-N: IV; 0.15; vs II (0.5): 1.30
            "w01019": ItemInput(10.0, 3),  # CODMn 10.00: IV (limit inclusive); 0.666… → 0.67; vs II (4): 1.50
            "w01009": ItemInput(4.0, 3),  # DO 4.00: IV, no multiple
            "w01010": ItemInput(25.3, 3),  # temperature: never evaluated
            "w21001": ItemInput(5.0, 3),  # TN on a river: not evaluated
        },
    )
    tp, nh3, codmn, do = (j.item(p) for p in ("w21011", "w21003", "w01019", "w01009"))
    assert (tp.multiple, tp.multiple_vs_target) == (Decimal("0.15"), Decimal("1.30"))
    assert (nh3.multiple, nh3.multiple_vs_target) == (Decimal("0.15"), Decimal("1.30"))
    assert (codmn.multiple, codmn.multiple_vs_target) == (Decimal("0.67"), Decimal("1.50"))
    assert do.water_class is IV and do.multiple is None and do.multiple_vs_target is None
    assert j.water_class is IV and j.meets_target is False
    # All four are IV: the largest multiple first (CODMn 0.67), then TP and NH3-N tie at exactly 0.15 and
    # keep the order given; DO without a multiple would come after them and is cut at three.
    assert [p.param for p in j.main_pollutants] == ["w01019", "w21011", "w21003"]
    assert set(j.not_evaluated) == {"w01010", "w21001"}
    assert j.item("w21001").water_class is None and j.item("w21001").mean == Decimal("5.00")


def test_ph_outside_6_to_9_is_worse_than_v_and_do_higher_is_better() -> None:
    j = judge_period(RIVER_III, {"w01001": ItemInput(9.004, 1), "w01009": ItemInput(7.6, 1)})
    assert j.item("w01001").mean == Decimal("9.00") and j.item("w01001").water_class is WaterClass.I
    j = judge_period(RIVER_III, {"w01001": ItemInput(9.006, 1), "w01009": ItemInput(7.6, 1)})
    assert j.item("w01001").mean == Decimal("9.01") and j.water_class is W
    assert j.item("w01009").water_class is WaterClass.I
    assert [p.param for p in j.main_pollutants] == ["w01001"] and j.main_pollutants[0].multiple is None


def test_lake_and_reservoir_use_the_lake_column_and_judge_tn() -> None:
    for body in (WaterType.LAKE, WaterType.RESERVOIR):
        j = judge_period(SectionFacts(body, III), {"w21011": ItemInput(0.06, 1), "w21001": ItemInput(1.2, 1)})
        assert j.item("w21011").water_class is IV and j.item("w21011").multiple == Decimal("0.20")  # 0.05
        assert j.item("w21001").water_class is IV and j.item("w21001").multiple == Decimal("0.20")


def test_completeness_per_item_and_overall() -> None:
    j = judge_period(
        RIVER_III,
        {
            "w21003": ItemInput(0.5, 170, 186),  # 4-hourly over 31 days
            "w01001": ItemInput(7.5, 744, 744),  # hourly
            "w21011": ItemInput(None, 0, 186),  # analyser down all month
            "w01019": ItemInput(3.0, 1),  # a manual sample: no schedule
        },
    )
    assert j.item("w21003").completeness == Decimal("0.914")  # 170/186 = 0.91397…
    assert j.item("w01001").completeness == Decimal("1.000")
    assert j.item("w21011").completeness == Decimal("0.000") and j.item("w21011").water_class is None
    assert j.item("w01019").completeness is None
    assert (j.valid, j.expected) == (914, 1116) and j.completeness == Decimal("0.819")  # 914/1116 = 0.81899…
    assert j.water_class is WaterClass.II  # NH3-N 0.500 → II; TP has no mean and does not count


def test_completeness_never_exceeds_the_schedule() -> None:
    # An analyser that sampled more often than its schedule: 200 values for 186 expected 4-hourly slots. The
    # mean uses them all; completeness counts at most the 186 expected, and the extra 14 do not make up for
    # the hourly item's missing 44.
    j = judge_period(RIVER_III, {"w21003": ItemInput(0.5, 200, 186), "w01001": ItemInput(7.5, 700, 744)})
    assert j.item("w21003").completeness == Decimal("1.000") and j.item("w21003").valid == 200
    assert (j.valid, j.expected) == (886, 930) and j.completeness == Decimal("0.953")  # 886/930 = 0.95268…


def test_not_measured_yields_no_class() -> None:
    j = judge_period(RIVER_III, {"w21003": ItemInput(None, 0, 186)}, not_measured=NotMeasured.ICE)
    assert j.status is JudgementStatus.NOT_MEASURED and j.water_class is None and j.meets_target is None
    assert j.not_measured is NotMeasured.ICE and j.label_zh == "结冰" and j.label_en == "ice"
    assert j.item("w21003").not_measured is NotMeasured.ICE
    # Items marked one by one: a dry river.
    j = judge_period(
        RIVER_III, {"w21003": ItemInput(not_measured=NotMeasured.DRY), "w01010": ItemInput(12.0, 1)}
    )
    assert j.status is JudgementStatus.NOT_MEASURED and j.label_zh == "断流"
    # Some items marked, others measured: judged on what was measured.
    j = judge_period(
        RIVER_III, {"w21003": ItemInput(not_measured=NotMeasured.ICE), "w01001": ItemInput(7.8, 1)}
    )
    assert j.status is JudgementStatus.JUDGED and j.water_class is WaterClass.I
    # Nothing and no reason: no data.
    j = judge_period(RIVER_III, {"w21003": ItemInput(None, 0, 6)})
    assert j.status is JudgementStatus.NO_DATA and j.label_en == "no valid data"
    j = judge_period(RIVER_III, {}, not_measured=NotMeasured.DRY)
    assert j.status is JudgementStatus.NOT_MEASURED and j.items == ()


@pytest.mark.parametrize(
    ("items", "not_measured", "message"),
    [
        ({"w21003": ItemInput(0.5, 0)}, None, "a mean needs at least one valid value"),
        ({"w21003": ItemInput(None, 3)}, None, "3 valid values but no mean"),
        ({"w21003": ItemInput(0.5, -1)}, None, "valid must be a count"),
        ({"w21003": ItemInput(0.5, 1, 2.5)}, None, "expected must be a count"),  # type: ignore[arg-type]
        ({"w21003": ItemInput(0.5, 1, not_measured=NotMeasured.ICE)}, None, "marked not measured"),
        ({"w21003": ItemInput(0.5, 1)}, NotMeasured.ICE, "marked not measured"),
        ({"x": ItemInput(0.5, 1)}, None, "unknown parameter code"),
        ({"w21003": ItemInput(float("nan"), 1)}, None, "finite"),
    ],
)
def test_bad_input(items: dict[str, ItemInput], not_measured: NotMeasured | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        judge_period(RIVER_III, items, not_measured)


def test_target_worse_than_v_is_refused() -> None:
    with pytest.raises(ValueError, match="target"):
        judge_period(SectionFacts(WaterType.RIVER, W), {})
