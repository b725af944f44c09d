"""Qualitative grade of a river from the classes of its sections (evaluation method of 2011)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from collector.assessment.classes import WaterClass

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


@dataclass(frozen=True, slots=True)
class RiverGrade:
    grade: Grade
    sections: int
    share_i_to_iii: float
    share_worse_than_v: float


def river_grade(classes: Iterable[WaterClass], min_sections: int = MIN_SECTIONS) -> RiverGrade | None:
    """Grade by the share of sections at I–III; None for a river with fewer than ``min_sections``.

    Shares are compared as exact integer ratios so that 9 of 10 is exactly 90 %.
    """
    values = list(classes)
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
    return RiverGrade(grade, n, good / n, worst / n)


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
