"""GB 3838-2002 assessment: pure functions, values in and values out (no I/O, no clocks)."""

from collector.assessment.classes import (
    DEFAULT_COLOUR_NAMES,
    DEFAULT_COLOURS,
    Colour,
    WaterClass,
    colour,
    parse_class,
)
from collector.assessment.classify import class_limit, classify, exceedance_multiple
from collector.assessment.grade import Grade, RiverGrade, river_grade, section_grade
from collector.assessment.intensity import FloodSeason, Intensity, ItemIntensity, flood_intensity
from collector.assessment.limits import TABLE, ItemLimits, WaterType, item_limits
from collector.assessment.periods import PeriodMean, period_mean
from collector.assessment.section import (
    ItemJudgement,
    SectionJudgement,
    describe_main_pollutants,
    is_evaluated,
    judge_section,
)

__all__ = [
    "DEFAULT_COLOURS",
    "DEFAULT_COLOUR_NAMES",
    "TABLE",
    "Colour",
    "FloodSeason",
    "Grade",
    "Intensity",
    "ItemIntensity",
    "ItemJudgement",
    "ItemLimits",
    "PeriodMean",
    "RiverGrade",
    "SectionJudgement",
    "WaterClass",
    "WaterType",
    "class_limit",
    "classify",
    "colour",
    "describe_main_pollutants",
    "exceedance_multiple",
    "flood_intensity",
    "is_evaluated",
    "item_limits",
    "judge_section",
    "parse_class",
    "period_mean",
    "river_grade",
    "section_grade",
]
