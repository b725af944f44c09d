"""Flood-season pollution intensity (汛期污染强度, STANDARDS.md §4).

intensity = the season's maximum valid concentration ÷ the item's limit for the section's target class,
over evaluated items except temperature, pH and DO; the largest ratio is the section's intensity. The
maximum is rounded to the item's decimals and the ratio computed in Decimal from it, rounded to one place
(TP 3.30 against 0.10 → 33.0). Pass a running season (periods.running) for the intensity so far.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from collector.assessment.classes import WaterClass
from collector.assessment.classify import class_limit, is_evaluated
from collector.assessment.limits import NO_MULTIPLE, WaterType, water_type
from collector.assessment.periods import FloodSeason, Period
from collector.assessment.rounding import INTENSITY_PLACES, round_param, round_ratio
from protocols import catalogue
from protocols.flags import VALID_FLAGS, Flag

__all__ = [
    "FloodSeason",
    "Intensity",
    "ItemIntensity",
    "RankedIntensity",
    "flood_intensity",
    "rank_intensity",
]


@dataclass(frozen=True, slots=True)
class ItemIntensity:
    param: str
    name_zh: str
    name_en: str
    value: Decimal  # the season's maximum valid concentration, rounded to the item's decimals
    at: datetime  # when it was measured (the first time, if repeated)
    limit: Decimal  # the target class's limit
    ratio: Decimal  # value ÷ limit, one place


@dataclass(frozen=True, slots=True)
class Intensity:
    top: ItemIntensity | None  # the primary pollutant; None when no valid value in the season
    items: tuple[ItemIntensity, ...]  # every item computed, largest ratio first


def _flag(flag: Flag | str) -> Flag:
    try:
        return Flag(flag)
    except ValueError:
        raise ValueError(f"unknown HJ 212 flag {flag!r}") from None


def flood_intensity(
    series: Mapping[str, Iterable[tuple[datetime, float | None, Flag | str]]],
    water_type_: WaterType | str,
    target_class: WaterClass,
    season: FloodSeason | Period | None = None,
) -> Intensity:
    """``series`` maps parameter code → (time, value, flag) samples; only valid ones (N, T) inside
    ``season`` count: a FloodSeason (July–September of any year by default) or a Period (one season,
    or the part of it elapsed so far)."""
    kind = water_type(water_type_)
    window: FloodSeason | Period = season or FloodSeason()
    if target_class is WaterClass.WORSE_THAN_V:
        raise ValueError("a section's target class must be I–V")
    results: list[ItemIntensity] = []
    for param, samples in series.items():
        if not catalogue.is_known(param):
            raise ValueError(f"unknown parameter code {param!r}")
        if param in NO_MULTIPLE or not is_evaluated(param, kind):
            continue
        limit = class_limit(param, target_class, kind)
        if limit is None:
            continue
        best: tuple[float, datetime] | None = None
        for t, value, flag in samples:
            if _flag(flag) not in VALID_FLAGS or not window.contains(t):
                continue
            if value is None or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"{param} at {t.isoformat()}: a valid value must be a finite number")
            if best is None or value > best[0] or (value == best[0] and t < best[1]):
                best = (float(value), t)
        if best is not None:
            entry = catalogue.get(param)
            peak = round_param(param, best[0])
            bound = Decimal(repr(limit))
            results.append(
                ItemIntensity(
                    param,
                    entry.name_zh,
                    entry.name_en,
                    peak,
                    best[1],
                    bound,
                    round_ratio(peak / bound, INTENSITY_PLACES),
                )
            )
    # Largest first by the unrounded ratio of the rounded peak (0.65 before 0.6, though both print 0.6);
    # equal ratios keep the order of ``series`` (the sort is stable).
    results.sort(key=lambda r: r.value / r.limit, reverse=True)
    return Intensity(results[0] if results else None, tuple(results))


@dataclass(frozen=True, slots=True)
class RankedIntensity:
    rank: int  # 1 = the most polluted; equal ratios share a rank (1, 2, 2, 4)
    section: str
    top: ItemIntensity


def rank_intensity(by_section: Mapping[str, Intensity]) -> list[RankedIntensity]:
    """Sections by their intensity, largest first (the ministry's ranking); sections without a valid value
    in the season are left out. Equal rounded ratios share a rank and are listed by section id."""
    entries = sorted(
        ((sid, i.top) for sid, i in by_section.items() if i.top is not None),
        key=lambda e: (-e[1].ratio, e[0]),
    )
    ranked: list[RankedIntensity] = []
    for position, (sid, top) in enumerate(entries, start=1):
        rank = ranked[-1].rank if ranked and ranked[-1].top.ratio == top.ratio else position
        ranked.append(RankedIntensity(rank, sid, top))
    return ranked
