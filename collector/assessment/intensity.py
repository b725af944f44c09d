"""Flood-season pollution intensity (汛期污染强度, STANDARDS.md §4).

intensity = the season's maximum valid concentration ÷ the item's limit for the section's target class,
over evaluated items except temperature, pH and DO; the largest ratio is the section's intensity.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from collector.assessment.classes import WaterClass
from collector.assessment.classify import class_limit
from collector.assessment.limits import NO_MULTIPLE, WaterType, water_type
from collector.assessment.section import is_evaluated
from protocols import catalogue
from protocols.flags import VALID_FLAGS, Flag


@dataclass(frozen=True, slots=True)
class FloodSeason:
    """Months (inclusive) judged in the station's zone; July–September by default (config)."""

    first_month: int = 7
    last_month: int = 9
    tz: str = "Asia/Shanghai"
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (1 <= self.first_month <= 12 and 1 <= self.last_month <= 12):
            raise ValueError(f"flood season months must be 1–12, got {self.first_month}–{self.last_month}")
        object.__setattr__(self, "_zone", ZoneInfo(self.tz))

    def contains(self, t: datetime) -> bool:
        if t.tzinfo is None:
            raise ValueError("timestamp must carry a time zone")
        month = t.astimezone(self._zone).month
        if self.first_month <= self.last_month:
            return self.first_month <= month <= self.last_month
        return month >= self.first_month or month <= self.last_month  # a window across the new year

    def window(self, year: int) -> tuple[date, date]:
        """First and last day (local) of the season starting in ``year``."""
        end_year = year if self.first_month <= self.last_month else year + 1
        last_day = calendar.monthrange(end_year, self.last_month)[1]
        return date(year, self.first_month, 1), date(end_year, self.last_month, last_day)


@dataclass(frozen=True, slots=True)
class ItemIntensity:
    param: str
    name_zh: str
    name_en: str
    value: float  # the season's maximum valid concentration
    at: datetime  # when it was measured (first time, if repeated)
    limit: float  # the target class's limit
    ratio: float


@dataclass(frozen=True, slots=True)
class Intensity:
    top: ItemIntensity | None  # the primary pollutant; None when no valid value in the season
    items: tuple[ItemIntensity, ...]  # every item computed, largest ratio first


def flood_intensity(
    series: Mapping[str, Iterable[tuple[datetime, float | None, Flag | str]]],
    water_type_: WaterType | str,
    target_class: WaterClass,
    season: FloodSeason | None = None,
) -> Intensity:
    """``series`` maps parameter code → (time, value, flag) samples; only valid ones in the season count."""
    kind = water_type(water_type_)
    season = season or FloodSeason()
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
            if Flag(flag) not in VALID_FLAGS or not season.contains(t):
                continue
            if value is None or not math.isfinite(value):
                raise ValueError(f"{param} at {t.isoformat()}: a valid value must be a finite number")
            if best is None or value > best[0]:
                best = (float(value), t)
        if best is not None:
            entry = catalogue.get(param)
            results.append(
                ItemIntensity(param, entry.name_zh, entry.name_en, best[0], best[1], limit, best[0] / limit)
            )
    results.sort(key=lambda r: r.ratio, reverse=True)
    return Intensity(results[0] if results else None, tuple(results))
