"""Headroom (collector/assessment/headroom.py): hand-computed cases, and each bound checked against the
judgement's own rounding: a rest averaging the bound keeps the month on target, one unit beyond does not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from collector.assessment import WaterClass, round_param
from collector.assessment.headroom import Headroom, Outcome, headroom

PH, DO, CODMN, NH3N, TP, TN, TEMP = "w01001", "w01009", "w01019", "w21003", "w21011", "w21001", "w01010"
D = Decimal


def month_mean(param: str, total: str, n: int, rest: Decimal, m: int) -> Decimal:
    """The month's mean as the judgement rounds it, when the rest averages ``rest``."""
    return round_param(param, (D(total) + rest * m) / (n + m))


def test_normal_headroom_for_an_upper_limit() -> None:
    # NH3-N, target III (1.0 mg/L, 3 decimals): 10 values summing 9.000 (mean 0.900), 20 still expected.
    # Month mean on target while ≤ 1.0005 (1.0005 → 1.000, 0 even): r ≤ (1.0005 × 30 − 9) / 20 = 21.015 / 20
    # = 1.05075 → 1.050 at 3 decimals (down, the safe side).
    h = headroom(NH3N, "river", WaterClass.III, 9.0, 10, 20)
    assert h.outcome is Outcome.POSSIBLE and h.met
    assert (h.direction, h.limit_high, h.limit_low) == ("max", D("1.0"), None)
    assert h.mean_so_far == D("0.900") and h.remaining == 20
    assert h.exact_high == D("1.05075") and h.high_inclusive
    assert h.highest == D("1.050") and h.lowest is None
    assert month_mean(NH3N, "9.0", 10, D("1.050"), 20) == D("1.000")  # (9 + 21) / 30
    assert month_mean(NH3N, "9.0", 10, D("1.051"), 20) == D("1.001")  # 30.02 / 30 = 1.000667


def test_off_target_and_cannot_be_met_this_month() -> None:
    # TP, target III (0.2): 20 values summing 6.2 (mean 0.310), 10 still expected. The rest would have to
    # average (0.2005 × 30 − 6.2) / 10 = (6.015 − 6.2) / 10 = −0.0185 mg/L: below zero, impossible.
    h = headroom(TP, "river", WaterClass.III, 6.2, 20, 10)
    assert h.outcome is Outcome.CANNOT and not h.met
    assert h.exact_high == D("-0.0185") and h.highest is None
    assert h.mean_so_far == D("0.310")
    # Off target but still recoverable: sum 6.0 (mean 0.300) → (6.015 − 6) / 10 = 0.0015 → 0.001.
    close = headroom(TP, "river", WaterClass.III, 6.0, 20, 10)
    assert close.outcome is Outcome.POSSIBLE and close.highest == D("0.001")
    assert month_mean(TP, "6.0", 20, D("0.001"), 10) == D("0.200")  # 6.01 / 30 = 0.20033


def test_the_rounding_boundary_included_when_the_tie_goes_to_the_limit() -> None:
    # TP river target III: 0.2005 is a tie and goes to 0.200 (even): the boundary is on target.
    # One value 0.200 so far, one expected: r = 0.2005 × 2 − 0.200 = 0.201 exactly, included.
    h = headroom(TP, "river", WaterClass.III, D("0.200"), 1, 1)
    assert h.exact_high == D("0.201") and h.high_inclusive and h.highest == D("0.201")
    assert month_mean(TP, "0.200", 1, D("0.201"), 1) == D("0.200")  # 0.2005 → 0.200
    assert month_mean(TP, "0.200", 1, D("0.202"), 1) == D("0.201")


def test_the_rounding_boundary_excluded_when_the_tie_goes_past_the_limit() -> None:
    # Lake TP target II (0.025): 0.0255 is a tie and goes to 0.026 (even): the boundary misses the target.
    # One value 0.025 so far, one expected: r = 0.0255 × 2 − 0.025 = 0.026 exactly, excluded → 0.025.
    h = headroom(TP, "lake", WaterClass.II, D("0.025"), 1, 1)
    assert h.exact_high == D("0.026") and not h.high_inclusive and h.highest == D("0.025")
    assert month_mean(TP, "0.025", 1, D("0.026"), 1) == D("0.026")  # 0.0255 → 0.026: missed
    assert month_mean(TP, "0.025", 1, D("0.025"), 1) == D("0.025")


def test_dissolved_oxygen_has_a_lowest_mean() -> None:
    # DO target III (≥ 5, 2 decimals): 10 values summing 45.0 (4.50), 20 expected. On target while M ≥ 4.995
    # (4.995 → 5.00, 0 even): r ≥ (4.995 × 30 − 45) / 20 = 104.85 / 20 = 5.2425 → 5.25 (up, the safe side).
    h = headroom(DO, "river", WaterClass.III, 45.0, 10, 20)
    assert (h.direction, h.limit_low, h.outcome) == ("min", D("5.0"), Outcome.POSSIBLE)
    assert h.exact_low == D("5.2425") and h.lowest == D("5.25") and h.highest is None
    assert month_mean(DO, "45.0", 10, D("5.25"), 20) == D("5.00")  # 150 / 30
    assert month_mean(DO, "45.0", 10, D("5.24"), 20) == D("4.99")  # 149.8 / 30 = 4.9933


def test_ph_has_a_range() -> None:
    # pH 6–9 (2 decimals): 2 values summing 19.0 (9.50, off target), 8 expected.
    # r ≤ (9.005 × 10 − 19) / 8 = 71.05 / 8 = 8.88125 → 8.88; r ≥ (5.995 × 10 − 19) / 8 = 40.95 / 8 = 5.11875 → 5.12
    h = headroom(PH, "river", WaterClass.III, 19.0, 2, 8)
    assert (h.direction, h.limit_low, h.limit_high) == ("range", D("6.0"), D("9.0"))
    assert (h.outcome, h.highest, h.lowest) == (Outcome.POSSIBLE, D("8.88"), D("5.12"))
    assert month_mean(PH, "19.0", 2, D("8.88"), 8) == D("9.00") and month_mean(
        PH, "19.0", 2, D("8.89"), 8
    ) == D("9.01")
    # Two values summing 29 (14.5) and one expected: the rest would need ≤ 9.005 × 3 − 29 = −1.985: impossible.
    assert headroom(PH, "river", WaterClass.III, 29.0, 2, 1).outcome is Outcome.CANNOT


def test_nothing_more_expected_settles_the_month() -> None:
    met = headroom(CODMN, "river", WaterClass.III, 50.0, 10, 0)  # 5.00 ≤ 6
    assert (met.outcome, met.highest, met.mean_so_far) == (Outcome.SETTLED, None, D("5.00"))
    missed = headroom(CODMN, "river", WaterClass.III, 70.0, 10, 0)  # 7.00 > 6
    assert missed.outcome is Outcome.CANNOT
    # Nothing so far: the whole month is the rest; its highest mean is the limit's edge itself, 6.005 → 6.00.
    fresh = headroom(CODMN, "river", WaterClass.III, 0, 0, 31)
    assert fresh.mean_so_far is None and fresh.highest == D("6.00") and fresh.exact_high == D("6.005")


@pytest.mark.parametrize("param", [TEMP, TN])
def test_items_without_a_class_limit_have_no_headroom(param: str) -> None:
    with pytest.raises(ValueError, match="no class limit"):
        headroom(param, "river", WaterClass.III, 1.0, 1, 1)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="target"):
        headroom(TP, "river", WaterClass.WORSE_THAN_V, 1.0, 1, 1)
    with pytest.raises(ValueError, match="negative"):
        headroom(TP, "river", WaterClass.III, 1.0, -1, 1)


@pytest.mark.parametrize(
    ("param", "kind", "target", "total", "n", "m"),
    [
        (NH3N, "river", WaterClass.III, "12.345", 14, 17),
        (TP, "river", WaterClass.II, "1.777", 13, 5),
        (CODMN, "river", WaterClass.III, "123.45", 20, 11),
        (TP, "lake", WaterClass.II, "0.2", 9, 3),
        (DO, "river", WaterClass.II, "70.0", 12, 9),
    ],
)
def test_each_bound_is_the_last_value_on_target(
    param: str, kind: str, target: WaterClass, total: str, n: int, m: int
) -> None:
    h: Headroom = headroom(param, kind, target, D(total), n, m)
    assert h.outcome is Outcome.POSSIBLE
    unit = D(1).scaleb(-len(str(h.highest or h.lowest).split(".")[1]))
    lo, hi = h.limit_low, h.limit_high

    def on_target(rest: Decimal) -> bool:
        mean = month_mean(param, total, n, rest, m)
        return (lo is None or mean >= lo) and (hi is None or mean <= hi)

    if h.highest is not None:
        assert on_target(h.highest) and not on_target(h.highest + unit)
    if h.lowest is not None:
        assert on_target(h.lowest) and not on_target(h.lowest - unit)
