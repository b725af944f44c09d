"""Qualitative grade of a river from the classes of its sections, and the counts and shares of sections at
I–III and 劣V for national, provincial and all sections (evaluation method of 2011, STANDARDS.md §3).

Sections without a class for the period (ice, dry river, no data) are counted apart and take no part in
a grade or a share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from collector.assessment.classes import WaterClass
from collector.assessment.rounding import ratio

MIN_SECTIONS = 5


class Grade(StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    LIGHT = "light"
    MODERATE = "moderate"
    HEAVY = "heavy"

    @property
    def label_zh(self) -> str:
        return _ZH[self]

    @property
    def label_en(self) -> str:
        return _EN[self]


_ZH = {
    Grade.EXCELLENT: "优",
    Grade.GOOD: "良好",
    Grade.LIGHT: "轻度污染",
    Grade.MODERATE: "中度污染",
    Grade.HEAVY: "重度污染",
}
_EN = {
    Grade.EXCELLENT: "excellent",
    Grade.GOOD: "good",
    Grade.LIGHT: "lightly polluted",
    Grade.MODERATE: "moderately polluted",
    Grade.HEAVY: "heavily polluted",
}


PERCENT_PLACES = 1  # shares are printed as percentages with one decimal (85.7 %)


class Level(StrEnum):
    NATIONAL = "national"  # 国考
    PROVINCIAL = "provincial"  # 省考


@dataclass(frozen=True, slots=True)
class RiverGrade:
    grade: Grade
    sections: int
    share_i_to_iii: float
    share_worse_than_v: float
    i_to_iii: int
    worse_than_v: int

    @property
    def percent_i_to_iii(self) -> Decimal:
        return _percent(self.i_to_iii, self.sections)

    @property
    def percent_worse_than_v(self) -> Decimal:
        return _percent(self.worse_than_v, self.sections)


def _percent(part: int, whole: int) -> Decimal:
    return ratio(100 * part, whole, PERCENT_PLACES)


def river_grade(classes: Iterable[WaterClass | None], min_sections: int = MIN_SECTIONS) -> RiverGrade | None:
    """Grade by the share of sections at I–III; None for a river with fewer than ``min_sections`` classed
    sections (a None class, a section not measured in the period, is left out).

    Shares are compared as exact integer ratios so that 9 of 10 is exactly 90 %.
    """
    values = [c for c in classes if c is not None]
    n = len(values)
    if n < min_sections:
        return None
    good = sum(1 for c in values if c <= WaterClass.III)
    worst = sum(1 for c in values if c is WaterClass.WORSE_THAN_V)
    if 10 * good >= 9 * n:
        grade = Grade.EXCELLENT
    elif 4 * good >= 3 * n:
        grade = Grade.GOOD
    elif 5 * worst < n:
        grade = Grade.LIGHT
    elif 5 * worst < 2 * n:
        grade = Grade.MODERATE
    else:
        grade = Grade.HEAVY
    return RiverGrade(grade, n, good / n, worst / n, good, worst)


_SECTION_GRADES = {
    WaterClass.I: Grade.EXCELLENT,
    WaterClass.II: Grade.EXCELLENT,
    WaterClass.III: Grade.GOOD,
    WaterClass.IV: Grade.LIGHT,
    WaterClass.V: Grade.MODERATE,
    WaterClass.WORSE_THAN_V: Grade.HEAVY,
}


def section_grade(water_class: WaterClass) -> Grade:
    """The 2011 method's words for one section: I–II 优, III 良好, IV 轻度, V 中度, 劣V 重度污染."""
    return _SECTION_GRADES[water_class]


@dataclass(frozen=True, slots=True)
class ClassCounts:
    """Sections of one scope (national, provincial or all) by class over one period."""

    sections: int  # sections in the scope
    classed: int  # of them with a class (the denominator of the shares)
    unclassed: int  # not measured (ice, dry river) or without data
    by_class: dict[WaterClass, int]  # every class, zero included
    i_to_iii: int
    worse_than_v: int
    percent_i_to_iii: Decimal | None  # of the classed sections, 1 place; None when none is classed
    percent_worse_than_v: Decimal | None


def _counts(classes: list[WaterClass | None]) -> ClassCounts:
    classed = [c for c in classes if c is not None]
    good = sum(1 for c in classed if c <= WaterClass.III)
    worst = sum(1 for c in classed if c is WaterClass.WORSE_THAN_V)
    n = len(classed)
    return ClassCounts(
        sections=len(classes),
        classed=n,
        unclassed=len(classes) - n,
        by_class={c: classed.count(c) for c in WaterClass},
        i_to_iii=good,
        worse_than_v=worst,
        percent_i_to_iii=_percent(good, n) if n else None,
        percent_worse_than_v=_percent(worst, n) if n else None,
    )


def class_counts(sections: Iterable[tuple[Level | str, WaterClass | None]]) -> dict[str, ClassCounts]:
    """Counts and shares for "national", "provincial" and "all" from (level, class) per section;
    ValueError for a level that is neither."""
    scopes: dict[str, list[WaterClass | None]] = {
        Level.NATIONAL.value: [],
        Level.PROVINCIAL.value: [],
        "all": [],
    }
    for level, water_class in sections:
        try:
            key = Level(level).value
        except ValueError:
            raise ValueError(f"section level must be 'national' or 'provincial', got {level!r}") from None
        scopes[key].append(water_class)
        scopes["all"].append(water_class)
    return {scope: _counts(classes) for scope, classes in scopes.items()}
