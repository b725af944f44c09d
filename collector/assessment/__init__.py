"""GB 3838-2002 assessment: pure functions, values in and values out (no I/O, no clocks).

rounding (GB/T 8170) → classify (one value) → section (one section over one period) → cwqi, intensity,
grade (rivers, counts); periods names the calendar periods, means the valid-value means, neighbours a
section's place on its river.
"""

from collector.assessment.classes import (
    DEFAULT_COLOUR_NAMES,
    DEFAULT_COLOURS,
    Colour,
    WaterClass,
    colour,
    parse_class,
)
from collector.assessment.classify import class_limit, classify, exceedance, exceedance_multiple, is_evaluated
from collector.assessment.cwqi import (
    Cwqi,
    Ranked,
    area_cwqi,
    common_items,
    delta_cwqi,
    item_index,
    judgement_cwqi,
    rank_cwqi,
    rank_delta,
    section_cwqi,
)
from collector.assessment.grade import (
    ClassCounts,
    Grade,
    Level,
    RiverGrade,
    class_counts,
    river_grade,
    section_grade,
)
from collector.assessment.intensity import (
    Intensity,
    ItemIntensity,
    RankedIntensity,
    flood_intensity,
    rank_intensity,
)
from collector.assessment.limits import TABLE, ItemLimits, WaterType, item_limits
from collector.assessment.means import PeriodMean, period_mean
from collector.assessment.neighbours import Neighbours, neighbours
from collector.assessment.periods import (
    FloodSeason,
    Period,
    PeriodKind,
    parse_period,
    previous,
    running,
    same_last_year,
)
from collector.assessment.rounding import as_number, ratio, round_param, round_ratio, round_value
from collector.assessment.section import (
    ItemInput,
    ItemJudgement,
    JudgementStatus,
    NotMeasured,
    SectionFacts,
    SectionJudgement,
    describe_main_pollutants,
    judge_period,
    judge_section,
)

__all__ = [
    "DEFAULT_COLOURS",
    "DEFAULT_COLOUR_NAMES",
    "TABLE",
    "ClassCounts",
    "Colour",
    "Cwqi",
    "FloodSeason",
    "Grade",
    "Intensity",
    "ItemInput",
    "ItemIntensity",
    "ItemJudgement",
    "ItemLimits",
    "JudgementStatus",
    "Level",
    "Neighbours",
    "NotMeasured",
    "Period",
    "PeriodKind",
    "PeriodMean",
    "Ranked",
    "RankedIntensity",
    "RiverGrade",
    "SectionFacts",
    "SectionJudgement",
    "WaterClass",
    "WaterType",
    "area_cwqi",
    "as_number",
    "class_counts",
    "class_limit",
    "classify",
    "colour",
    "common_items",
    "delta_cwqi",
    "describe_main_pollutants",
    "exceedance",
    "exceedance_multiple",
    "flood_intensity",
    "is_evaluated",
    "item_index",
    "item_limits",
    "judge_period",
    "judge_section",
    "judgement_cwqi",
    "neighbours",
    "parse_class",
    "parse_period",
    "period_mean",
    "previous",
    "rank_cwqi",
    "rank_delta",
    "rank_intensity",
    "ratio",
    "river_grade",
    "round_param",
    "round_ratio",
    "round_value",
    "running",
    "same_last_year",
    "section_cwqi",
    "section_grade",
]
