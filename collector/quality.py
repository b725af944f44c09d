"""GB 3838 facts for the station summaries and the API views, from collector.assessment: class of a value, limits,
the current class.

The current class is judged on the latest valid value (flag N or T) of each evaluated item: an indication
between reports, not the period judgement of a bulletin (which uses period means).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collector.assessment import WaterClass, classify, item_limits, judge_section
from collector.store.base import StoredReading
from protocols.flags import is_valid

ROMAN = ("I", "II", "III", "IV", "V")


def target(target_class: int) -> WaterClass:
    return WaterClass(target_class)


def value_class(param: str, value: float | None, water_type: str) -> str | None:
    if value is None:
        return None
    water_class = classify(param, value, water_type)
    return water_class.roman if water_class is not None else None


def limit_for(param: str, target_class: int, water_type: str) -> float | list[float] | None:
    """The target class's limit of ``param``: a number (upper limit, or lower limit for DO), [low, high] for pH."""
    item = item_limits(param, water_type)
    if item is None:
        return None
    limit = item.limits[target_class - 1]
    return list(limit) if isinstance(limit, tuple) else float(limit)


def limits_table(param: str, water_type: str) -> tuple[dict[str, Any] | None, str | None]:
    """{"I": .., "V": ..} and the direction ("max", "min", "range"), or (None, None) without a class limit."""
    item = item_limits(param, water_type)
    if item is None:
        return None, None
    table: dict[str, Any] = {
        roman: (list(limit) if isinstance(limit, tuple) else limit)
        for roman, limit in zip(ROMAN, item.limits, strict=True)
    }
    return table, item.direction


@dataclass(frozen=True, slots=True)
class CurrentClass:
    water_class: str | None
    off_target: bool


def current_class(latest: Mapping[str, StoredReading], water_type: str, target_class: int) -> CurrentClass:
    means: dict[str, float | None] = {
        code: r.value for code, r in latest.items() if r.value is not None and is_valid(r.flag)
    }
    judgement = judge_section(means, water_type, target(target_class))
    if judgement.water_class is None:
        return CurrentClass(None, False)
    return CurrentClass(judgement.water_class.roman, not judgement.meets_target)
