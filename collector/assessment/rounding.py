"""Rounding as the bulletins round: GB/T 8170 round half to even (四舍六入五成双), STANDARDS.md §9.

Every printed figure and every value a class is judged on goes through here, in ``decimal``: a binary float
mis-rounds ties (1.15 is stored as 1.1499999…), so a float is read through its shortest repr ("1.15").
A result that would round to zero keeps one significant digit (0.004 at 2 decimals stays 0.004).

A float mean computed from a float sum carries binary noise in its last digits (0.25 may arrive as
0.25000000000000006, which would round up instead of to even); floats are therefore first snapped to
``NOISE_DIGITS`` significant digits, far beyond any analyser's precision. Decimals are taken as exact.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Context, Decimal

from protocols import catalogue

# Significant digits kept from a float before rounding: removes the noise of a float sum of thousands of
# values (relative error ~1e-13) and never touches a measured value (analysers report ≤ 7 digits).
NOISE_DIGITS = 12
MULTIPLE_PLACES = 2  # exceedance multiples, CWQI indices (STANDARDS.md §9)
INTENSITY_PLACES = 1  # flood-season intensity (33.0)

_NOISE = Context(prec=NOISE_DIGITS, rounding=ROUND_HALF_EVEN)

Number = Decimal | float | int


def to_decimal(value: Number) -> Decimal:
    """``value`` as a Decimal: floats through their shortest repr (snapped to ``NOISE_DIGITS``); ValueError
    for booleans, NaN, infinities and anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, Decimal | float | int):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"value must be a finite number, got {value!r}")
        return _NOISE.plus(Decimal(repr(value)))
    if isinstance(value, int):
        return Decimal(value)
    if not value.is_finite():
        raise ValueError(f"value must be a finite number, got {value!r}")
    return value


def _half_even(d: Decimal, exponent: int) -> Decimal:
    return d.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN)


def round_value(value: Number, decimals: int) -> Decimal:
    """``value`` rounded half-even to ``decimals`` places (may be negative: tens, hundreds).

    A non-zero value that would round to zero keeps one significant digit, itself rounded half-even
    (0.0046 at 2 decimals → 0.005). Zero is returned without a sign.
    """
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise ValueError(f"decimals must be an integer, got {decimals!r}")
    d = to_decimal(value)
    rounded = _half_even(d, -decimals)
    if rounded.is_zero() and not d.is_zero():
        rounded = _half_even(d, d.adjusted())
    return rounded.copy_abs() if rounded.is_zero() else rounded


def decimals_of(code: str) -> int:
    """The reported decimals of parameter ``code`` (protocols.catalogue); ValueError for an unknown code."""
    if not catalogue.is_known(code):
        raise ValueError(f"unknown parameter code {code!r}")
    return catalogue.get(code).decimals


def round_param(code: str, value: Number) -> Decimal:
    """``value`` of parameter ``code`` rounded to the catalogue's reported decimals."""
    return round_value(value, decimals_of(code))


def round_ratio(value: Number, places: int = MULTIPLE_PLACES) -> Decimal:
    """A multiple, index or ratio rounded to ``places`` (2 for multiples and CWQI, 1 for intensity).

    Compute the ratio in Decimal from rounded inputs first: ``round_ratio(Decimal("3.30") / Decimal("0.10"), 1)``
    is 33.0, where the float quotient would be 32.99999999999999.
    """
    return round_value(value, places)


def ratio(numerator: Number, denominator: Number, places: int = MULTIPLE_PLACES) -> Decimal:
    """``numerator ÷ denominator`` in Decimal, rounded to ``places``; ValueError for a zero denominator."""
    den = to_decimal(denominator)
    if den.is_zero():
        raise ValueError("ratio with a zero denominator")
    return round_ratio(to_decimal(numerator) / den, places)


def as_number(d: Decimal) -> float | int:
    """A rounded Decimal for JSON: an int when it has no decimal places (conductivity 512), else a float
    whose repr prints the same digits (33.0, 0.15, 1.2)."""
    if not d.is_finite():
        raise ValueError(f"not a finite number: {d!r}")
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent >= 0:
        return int(d)
    return float(d)
