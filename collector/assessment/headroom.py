"""Headroom: what the rest of a month may still average for the month to meet a section's target (日预警).

The month is judged on the mean of its valid values, rounded to the item's reported decimals by GB/T 8170
(round half to even, rounding.round_param), and the class is read from the rounded mean (section.py). With S the
sum and n the count of the valid values so far, and m values still expected by the schedule (ice / no-water
slots left out, as the assessment's expected counts), the month's mean is M = (S + m·r) / (n + m) for a rest
whose mean is r. So:

- an upper limit L (CODMn, NH3-N, TP, …) is met while round(M) ≤ L, i.e. M ≤ L + h with h half a unit of the
  last decimal. At M = L + h exactly the tie goes to the even neighbour, so the boundary is on target only
  when L's last decimal is even: river TP 0.200 + 0.0005 = 0.2005 → 0.200 (met), but lake TP class II
  0.025 + 0.0005 = 0.0255 → 0.026 (missed). The highest rest mean is r = ((L + h)(n + m) − S) / m, the
  boundary included or not;
- a lower limit (DO ≥ L) the same way from below: M ≥ L − h; the lowest rest mean;
- a range (pH 6–9): both bounds.

``highest`` / ``lowest`` give the bound at the item's decimals on the safe side (rounded down for a highest
mean, up for a lowest; one unit further when the exact bound falls on those decimals and is excluded), so
that a rest averaging exactly that keeps the month on target. Computed in Decimal from the given sum.

"Cannot be met this month": no physically possible rest will do — the highest mean would have to be below 0
(concentrations are never negative; pH below 0), or a lowest mean above the scale (pH above 14; DO has no
ceiling assumed), or nothing more is expected and the month as it stands misses. This assumes every remaining
expected value arrives valid; fewer values leave the month's mean closer to what it is now.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

from collector.assessment.classes import WaterClass
from collector.assessment.limits import PH, WaterType, item_limits, water_type
from collector.assessment.rounding import Number, decimals_of, round_param, to_decimal

ZERO = Decimal(0)
PH_SCALE = (Decimal(0), Decimal(14))


class Outcome(StrEnum):
    POSSIBLE = "possible"  # a rest mean within the bound(s) keeps the month on target
    CANNOT = "cannot"  # cannot be met this month
    SETTLED = "settled"  # nothing more expected: the month stands as it is, on target


@dataclass(frozen=True, slots=True)
class Headroom:
    param: str
    direction: str  # "max" (highest mean), "min" (lowest mean) or "range" (both)
    outcome: Outcome
    limit_low: Decimal | None  # the target-class limit(s): DO's minimum, pH's 6
    limit_high: Decimal | None  # CODMn's maximum, pH's 9
    mean_so_far: Decimal | None  # month to date, rounded as the judgement rounds it
    remaining: int  # values still expected this month
    highest: (
        Decimal | None
    )  # the rest's highest mean at the item's decimals (safe side); None: no upper bound
    lowest: Decimal | None  # the rest's lowest mean likewise; None: no lower bound that binds
    exact_high: Decimal | None = None  # the exact bound before rounding to the decimals
    high_inclusive: bool = True
    exact_low: Decimal | None = None
    low_inclusive: bool = True

    @property
    def met(self) -> bool:
        return self.outcome is not Outcome.CANNOT


def _meets(rounded: Decimal, low: Decimal | None, high: Decimal | None) -> bool:
    return (low is None or rounded >= low) and (high is None or rounded <= high)


def _limits(
    param: str, kind: WaterType | str, target: WaterClass
) -> tuple[str, Decimal | None, Decimal | None]:
    if target is WaterClass.WORSE_THAN_V:
        raise ValueError("a target class must be I–V")
    item = item_limits(param, water_type(kind))
    if item is None:
        raise ValueError(f"{param} has no class limit in {water_type(kind).value}: no headroom")
    bound = item.limits[int(target) - 1]
    if item.direction == "range":
        assert isinstance(bound, tuple)
        return "range", Decimal(repr(bound[0])), Decimal(repr(bound[1]))
    assert isinstance(bound, float)
    limit = Decimal(repr(bound))
    return (
        item.direction,
        (limit if item.direction == "min" else None),
        (limit if item.direction == "max" else None),
    )


def _edge(
    param: str, limit: Decimal, sign: int, low: Decimal | None, high: Decimal | None
) -> tuple[Decimal, bool]:
    """The month mean's boundary half a unit beyond ``limit`` (sign +1 above, −1 below) and whether the
    judgement's rounding keeps that exact value on target."""
    half = Decimal(1).scaleb(-decimals_of(param)) / 2
    edge = limit + sign * half
    return edge, _meets(round_param(param, edge), low, high)


def _quantize(value: Decimal, param: str, rounding: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals_of(param)), rounding=rounding)


def headroom(
    param: str,
    kind: WaterType | str,
    target: WaterClass,
    valid_sum: Number,
    valid_count: int,
    remaining: int,
) -> Headroom:
    """The headroom of ``param`` for a month to date with ``valid_count`` valid values summing to
    ``valid_sum``, and ``remaining`` values still expected. ValueError for an item without a class limit
    (temperature, conductivity, river TN …), a target of 劣V, or negative counts."""
    if valid_count < 0 or remaining < 0:
        raise ValueError("counts must not be negative")
    direction, low, high = _limits(param, kind, target)
    total = to_decimal(valid_sum)
    n, m = valid_count, remaining
    mean = round_param(param, total / n) if n else None
    scale_low, scale_high = PH_SCALE if param == PH else (ZERO, None)

    def result(outcome: Outcome, **kw: object) -> Headroom:
        return Headroom(param, direction, outcome, low, high, mean, m, **kw)  # type: ignore[arg-type]

    if m == 0:
        settled = mean is not None and _meets(mean, low, high)
        return result(Outcome.SETTLED if settled else Outcome.CANNOT, highest=None, lowest=None)

    exact_high = exact_low = None
    high_inc = low_inc = True
    highest = lowest = None
    if high is not None:
        edge, high_inc = _edge(param, high, +1, low, high)
        exact_high = (edge * (n + m) - total) / m
        highest = _quantize(exact_high, param, ROUND_FLOOR)
        if highest == exact_high and not high_inc:
            highest -= Decimal(1).scaleb(-decimals_of(param))
    if low is not None:
        edge, low_inc = _edge(param, low, -1, low, high)
        exact_low = (edge * (n + m) - total) / m
        lowest = _quantize(exact_low, param, ROUND_CEILING)
        if lowest == exact_low and not low_inc:
            lowest += Decimal(1).scaleb(-decimals_of(param))
    possible = (highest is None or highest >= scale_low) and (
        lowest is None or scale_high is None or lowest <= scale_high
    )
    if highest is not None and lowest is not None and lowest > highest:
        possible = False
    if lowest is not None and lowest <= scale_low:
        lowest = None  # any rest will do from below: no bound that binds
    if highest is not None and scale_high is not None and highest >= scale_high:
        highest = None
    return result(
        Outcome.POSSIBLE if possible else Outcome.CANNOT,
        highest=highest if possible else None,
        lowest=lowest if possible else None,
        exact_high=exact_high,
        high_inclusive=high_inc,
        exact_low=exact_low,
        low_inclusive=low_inc,
    )


__all__ = ["Headroom", "Outcome", "headroom"]
