"""Single-item classification against GB 3838-2002 and exceedance multiples."""

from __future__ import annotations

import math
from decimal import Decimal

from collector.assessment.classes import WaterClass
from collector.assessment.limits import (
    NO_MULTIPLE,
    TEMPERATURE,
    TN,
    ItemLimits,
    WaterType,
    item_limits,
    water_type,
)

# Limits are inclusive. A mean of valid values carries binary rounding noise (0.1+0.2+0.3)/3 ≠ 0.2 exactly;
# a relative tolerance far below any reported precision keeps such a value in the class its decimals say.
_REL_TOL = 1e-9


def _at_most(value: float, limit: float) -> bool:
    return value <= limit or math.isclose(value, limit, rel_tol=_REL_TOL)


def _at_least(value: float, limit: float) -> bool:
    return value >= limit or math.isclose(value, limit, rel_tol=_REL_TOL)


def _meets(item: ItemLimits, index: int, value: float) -> bool:
    bound = item.limits[index]
    if item.direction == "range":
        assert isinstance(bound, tuple)
        return _at_least(value, bound[0]) and _at_most(value, bound[1])
    assert isinstance(bound, float)
    return _at_most(value, bound) if item.direction == "max" else _at_least(value, bound)


def _finite(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"value must be a finite number, got {value!r}")
    return float(value)


def is_evaluated(param: str, kind: WaterType | str) -> bool:
    """Whether ``param`` takes part in a section's class (temperature and river TN do not, nor items
    without a class limit). ValueError for an unknown code."""
    kind = water_type(kind)
    if param == TEMPERATURE or (param == TN and kind is WaterType.RIVER):
        return False
    return item_limits(param, kind) is not None


def classify(param: str, value: float, water_type: WaterType | str) -> WaterClass | None:
    """The best class whose limit ``value`` meets; WORSE_THAN_V when it meets none.

    None for items with no class limit in this water type (temperature, conductivity, turbidity,
    chlorophyll-a, TN in rivers, flow). ValueError for an unknown code or a non-finite value.
    """
    item = item_limits(param, water_type)
    value = _finite(value)
    if item is None:
        return None
    for index, water_class in enumerate(list(WaterClass)[:5]):
        if _meets(item, index, value):
            return water_class
    return WaterClass.WORSE_THAN_V


def class_limit(param: str, water_class: WaterClass, water_type: WaterType | str) -> float | None:
    """The upper limit of ``param`` for ``water_class`` (None where no multiple is computed).

    ValueError for WORSE_THAN_V, which has no limit.
    """
    if water_class is WaterClass.WORSE_THAN_V:
        raise ValueError("class 劣V has no limit to compare against")
    item = item_limits(param, water_type)
    if item is None or param in NO_MULTIPLE or item.direction != "max":
        return None
    limit = item.limits[int(water_class) - 1]
    assert isinstance(limit, float)
    return limit


def exceedance_multiple(
    param: str, value: float, water_type: WaterType | str, against: WaterClass = WaterClass.III
) -> float | None:
    """(C − L) / L with L the limit of class ``against`` (III by default, or a section's target).

    Negative when the value is within the limit. None for temperature, pH, DO and items without a limit.
    """
    value = _finite(value)
    limit = class_limit(param, against, water_type)
    if limit is None:
        return None
    return (value - limit) / limit


def exceedance(
    param: str, value: Decimal, water_type_: WaterType | str, against: WaterClass = WaterClass.III
) -> Decimal | None:
    """(C − L) / L in Decimal, unrounded, for a rounded value C over the limit L of class ``against``.

    None when C is within the limit, and for temperature, pH, DO and items without a limit
    (STANDARDS.md §3); the caller rounds it (rounding.round_ratio) for output.
    """
    limit = class_limit(param, against, water_type_)
    if limit is None:
        return None
    bound = Decimal(repr(limit))
    if value <= bound:
        return None
    return (value - bound) / bound
