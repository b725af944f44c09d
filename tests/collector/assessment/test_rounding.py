"""GB/T 8170 rounding (四舍六入五成双) in Decimal, STANDARDS.md §9."""

from __future__ import annotations

from decimal import Decimal

import pytest

from collector.assessment import as_number, ratio, round_param, round_ratio, round_value


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (1.15, 1, "1.2"),  # 5 after an odd digit: up (the float is 1.1499999… but its repr is 1.15)
        (1.25, 1, "1.2"),  # 5 after an even digit: stays
        (1.35, 1, "1.4"),
        (0.125, 2, "0.12"),
        (0.135, 2, "0.14"),
        (2.675, 2, "2.68"),  # repr "2.675": a true tie, 7 is odd → up
        (1.151, 1, "1.2"),  # more than half: up
        (1.149, 1, "1.1"),
        (1.16, 1, "1.2"),  # 六入
        (1.14, 1, "1.1"),  # 四舍
        (-1.25, 1, "-1.2"),
        (7.0, 2, "7.00"),
        (512.5, 0, "512"),
        (513.5, 0, "514"),
        (1250, -2, "1.2E+3"),
        (Decimal("1.15"), 1, "1.2"),
        (3, 2, "3.00"),
    ],
)
def test_half_even(value: float | Decimal | int, decimals: int, expected: str) -> None:
    assert str(round_value(value, decimals)) == expected


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (0.004, 2, "0.004"),  # would round to 0.00: keeps one significant digit
        (0.0046, 2, "0.005"),
        (0.0045, 2, "0.004"),  # the kept digit is itself rounded half-even
        (0.0055, 2, "0.01"),  # more than half of 0.01: rounds up, not to zero
        (-0.03, 1, "-0.03"),
        (0.0, 2, "0.00"),
        (-0.0, 1, "0.0"),  # zero carries no sign
    ],
)
def test_zero_keeps_one_significant_digit(value: float, decimals: int, expected: str) -> None:
    assert str(round_value(value, decimals)) == expected


def test_float_sum_noise_does_not_break_a_tie() -> None:
    # The exact mean of 0.1, 0.45, 0.65, 0.6 is the tie 0.45; the float sum leaves noise above it.
    noisy = (0.1 + 0.45 + 0.65 + 0.6) / 4
    assert noisy == 0.45000000000000007
    assert str(round_value(noisy, 1)) == "0.4"  # to even, as the exact mean rounds
    assert str(round_value(0.25000000000000006, 1)) == "0.2"
    # A Decimal is taken as exact: no snapping.
    assert str(round_value(Decimal("0.25000000000000006"), 1)) == "0.3"


def test_round_param_uses_catalogue_decimals() -> None:
    assert str(round_param("w21003", 0.1235)) == "0.124"  # NH3-N: 3 decimals, 3 odd → 4
    assert str(round_param("w21003", 0.1225)) == "0.122"
    assert str(round_param("w01001", 7.125)) == "7.12"  # pH: 2 decimals
    assert str(round_param("w01014", 512.5)) == "512"  # conductivity: 0 decimals
    assert str(round_param("w01010", 18.25)) == "18.2"  # temperature: 1 decimal
    with pytest.raises(ValueError, match="unknown parameter code"):
        round_param("w99999", 1.0)


def test_ratios() -> None:
    assert 3.30 / 0.10 == 32.99999999999999  # the float quotient the bulletins must not print
    assert str(round_ratio(Decimal("3.30") / Decimal("0.10"), 1)) == "33.0"
    assert str(ratio(Decimal("3.300"), Decimal("0.1"), 1)) == "33.0"
    assert str(ratio(Decimal("1.15") - 1, 1)) == "0.15"  # the multiple that printed as 0.1
    assert str(round_ratio(Decimal("0.125"))) == "0.12"
    assert str(ratio(2, 3)) == "0.67"
    with pytest.raises(ValueError, match="zero denominator"):
        ratio(1, 0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "1.2", None, Decimal("NaN")])
def test_bad_values(bad: object) -> None:
    with pytest.raises(ValueError):
        round_value(bad, 2)  # type: ignore[arg-type]


def test_bad_decimals() -> None:
    with pytest.raises(ValueError, match="decimals"):
        round_value(1.0, 1.5)  # type: ignore[arg-type]


def test_as_number() -> None:
    assert as_number(Decimal("33.0")) == 33.0 and isinstance(as_number(Decimal("33.0")), float)
    assert repr(as_number(Decimal("0.15"))) == "0.15"
    assert as_number(Decimal("512")) == 512 and isinstance(as_number(Decimal("512")), int)
    assert as_number(Decimal("1.2E+3")) == 1200 and isinstance(as_number(Decimal("1.2E+3")), int)
    assert repr(as_number(round_value(0.004, 2))) == "0.004"
