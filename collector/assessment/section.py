"""Single-factor judgement of one section over one period (evaluation method of 2011, STANDARDS.md §3).

Values in, values out: per item the caller gives the mean of its valid values (flags N and T, §5), how
many valid values there were and how many the schedule expected, or a marker that the period could not be
measured (ice, dry river). Each mean is rounded to the item's reported decimals (GB/T 8170, §9) and the
class is judged on the rounded mean; exceedance multiples are computed in Decimal from the rounded mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from collector.assessment.classes import WaterClass
from collector.assessment.classify import classify, exceedance, is_evaluated
from collector.assessment.limits import WaterType, water_type
from collector.assessment.rounding import Number, ratio, round_param, round_ratio, to_decimal
from protocols import catalogue

MAX_MAIN_POLLUTANTS = 3
COMPLETENESS_PLACES = 3  # a fraction: 0.968 is 96.8 %

__all__ = [
    "COMPLETENESS_PLACES",
    "MAX_MAIN_POLLUTANTS",
    "ItemInput",
    "ItemJudgement",
    "JudgementStatus",
    "NotMeasured",
    "SectionFacts",
    "SectionJudgement",
    "describe_main_pollutants",
    "is_evaluated",
    "judge_period",
    "judge_section",
]


class NotMeasured(StrEnum):
    """Why a period has no data that is not a fault: reported as such, never as data (STANDARDS.md §5)."""

    ICE = "ice"
    DRY = "dry"

    @property
    def label_zh(self) -> str:
        return "结冰" if self is NotMeasured.ICE else "断流"

    @property
    def label_en(self) -> str:
        return "ice" if self is NotMeasured.ICE else "dry river"


class JudgementStatus(StrEnum):
    JUDGED = "judged"  # at least one evaluated item had a mean
    NOT_MEASURED = "not_measured"  # ice or dry river, and no evaluated item had a mean
    NO_DATA = "no_data"  # nothing valid and no reason given


@dataclass(frozen=True, slots=True)
class ItemInput:
    """One item over the period: mean of valid values (None when none), their count, the count expected
    by the schedule (None for manual sampling without a schedule), and a not-measured marker."""

    mean: Number | None = None
    valid: int = 0
    expected: int | None = None
    not_measured: NotMeasured | None = None

    @classmethod
    def from_sum(
        cls, total: Number, valid: int, expected: int | None = None, not_measured: NotMeasured | None = None
    ) -> ItemInput:
        """From a sum of valid values, divided in Decimal so that an exact tie stays a tie."""
        mean = to_decimal(total) / valid if valid else None
        return cls(mean, valid, expected, not_measured)


@dataclass(frozen=True, slots=True)
class SectionFacts:
    water_body: WaterType
    target_class: WaterClass
    level: str | None = None  # national / provincial: carried through for the counts, not judged on


@dataclass(frozen=True, slots=True)
class ItemJudgement:
    param: str
    name_zh: str
    name_en: str
    mean: Decimal | None  # rounded to the item's decimals; None without a valid value
    evaluated: bool  # takes part in the section's class (not temperature, river TN, conductivity, …)
    water_class: WaterClass | None  # None when not evaluated or without a mean
    multiple: Decimal | None  # over class III, 2 places; None within the limit and for temperature, pH, DO
    multiple_vs_target: Decimal | None  # over the section's target class, same rules
    meets_target: bool | None
    valid: int
    expected: int | None
    completeness: Decimal | None  # counted valid ÷ expected, 3 places (at most 1); None when nothing expected
    not_measured: NotMeasured | None


@dataclass(frozen=True, slots=True)
class SectionJudgement:
    water_type: WaterType
    target_class: WaterClass
    status: JudgementStatus
    water_class: WaterClass | None  # worst class of the evaluated items; None unless judged
    meets_target: bool | None
    items: tuple[ItemJudgement, ...]  # every item given, in the order given
    main_pollutants: tuple[ItemJudgement, ...]  # worse than III only; worst first, at most three
    not_evaluated: tuple[str, ...]  # codes given that take no part in the class
    not_measured: NotMeasured | None  # the reason when status is NOT_MEASURED
    valid: int  # over all items with an expected count, each counted up to its expected count (``counted``)
    expected: int
    completeness: Decimal | None  # valid ÷ expected over those items, 3 places
    level: str | None = None

    @property
    def label_zh(self) -> str:
        if self.water_class is not None:
            return self.water_class.label_zh
        return self.not_measured.label_zh if self.not_measured else "无有效数据"

    @property
    def label_en(self) -> str:
        if self.water_class is not None:
            return self.water_class.label_en
        return self.not_measured.label_en if self.not_measured else "no valid data"

    def item(self, param: str) -> ItemJudgement:
        for entry in self.items:
            if entry.param == param:
                return entry
        raise KeyError(f"no item {param!r} in this judgement")


def _count(name: str, param: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{param}: {name} must be a count (an integer ≥ 0), got {value!r}")


def _check(param: str, given: ItemInput) -> None:
    if not catalogue.is_known(param):
        raise ValueError(f"unknown parameter code {param!r}")
    _count("valid", param, given.valid)
    _count("expected", param, given.expected)
    if given.mean is None and given.valid:
        raise ValueError(f"{param}: {given.valid} valid values but no mean")
    if given.mean is not None and not given.valid:
        raise ValueError(f"{param}: a mean needs at least one valid value")
    if given.mean is not None and given.not_measured is not None:
        raise ValueError(f"{param}: has a mean and is marked not measured ({given.not_measured.value})")


def counted(valid: int, expected: int | None) -> int:
    """Valid values that count toward completeness: at most the expected count. An analyser that sampled more
    often than its schedule (or a period holding re-sent copies under new times) must not show more than
    100 %, and its extra values do not stand in for expected ones beyond that. The health figures count
    slots exactly (collector/health/capture.py); the assessment has only per-item counts from the store."""
    return min(valid, expected) if expected is not None else valid


def _judge_item(
    param: str, given: ItemInput, kind: WaterType, target: WaterClass
) -> tuple[ItemJudgement, Decimal | None]:
    """The item's judgement and its unrounded multiple over class III (to order main pollutants)."""
    entry = catalogue.get(param)
    evaluated = is_evaluated(param, kind)
    mean = round_param(param, given.mean) if given.mean is not None else None
    water_class = multiple = multiple_vs_target = None
    if evaluated and mean is not None:
        water_class = classify(param, float(mean), kind)
        multiple = exceedance(param, mean, kind)
        multiple_vs_target = exceedance(param, mean, kind, against=target)
    completeness = (
        ratio(counted(given.valid, given.expected), given.expected, COMPLETENESS_PLACES)
        if given.expected
        else None
    )
    judged = ItemJudgement(
        param=param,
        name_zh=entry.name_zh,
        name_en=entry.name_en,
        mean=mean,
        evaluated=evaluated,
        water_class=water_class,
        multiple=round_ratio(multiple) if multiple is not None else None,
        multiple_vs_target=round_ratio(multiple_vs_target) if multiple_vs_target is not None else None,
        meets_target=(water_class <= target) if water_class is not None else None,
        valid=given.valid,
        expected=given.expected,
        completeness=completeness,
        not_measured=given.not_measured,
    )
    return judged, multiple


def judge_period(
    facts: SectionFacts, items: Mapping[str, ItemInput], not_measured: NotMeasured | None = None
) -> SectionJudgement:
    """Judge one section over one period.

    The section's class is the worst class of its evaluated items (temperature never, TN only in lakes and
    reservoirs); pH outside 6–9 is 劣V; DO is higher-is-better. ``not_measured`` marks the whole period
    (every item) as ice or dry river: such a section has no class. ValueError for an unknown code, counts
    that are not counts, a mean without valid values, a mean on an item marked not measured, a target of 劣V.
    """
    kind = water_type(facts.water_body)
    target = facts.target_class
    if target is WaterClass.WORSE_THAN_V:
        raise ValueError("a section's target class must be I–V")
    if not_measured is not None:
        items = {
            p: ItemInput(g.mean, g.valid, g.expected, g.not_measured or not_measured)
            for p, g in items.items()
        }
    judged: list[ItemJudgement] = []
    exact: dict[str, Decimal | None] = {}
    for param, given in items.items():
        _check(param, given)
        item, exact[param] = _judge_item(param, given, kind, target)
        judged.append(item)

    scheduled = [i for i in judged if i.expected]
    valid = sum(counted(i.valid, i.expected) for i in scheduled)
    expected = sum(i.expected or 0 for i in scheduled)
    completeness = ratio(valid, expected, COMPLETENESS_PLACES) if expected else None
    classed = [i for i in judged if i.water_class is not None]

    def result(
        status: JudgementStatus,
        reason: NotMeasured | None,
        cls: WaterClass | None,
        main: tuple[ItemJudgement, ...],
    ) -> SectionJudgement:
        return SectionJudgement(
            water_type=kind,
            target_class=target,
            status=status,
            water_class=cls,
            meets_target=(cls <= target) if cls is not None else None,
            items=tuple(judged),
            main_pollutants=main,
            not_evaluated=tuple(i.param for i in judged if not i.evaluated),
            not_measured=reason,
            valid=valid,
            expected=expected,
            completeness=completeness,
            level=facts.level,
        )

    if not classed:
        reasons = [i.not_measured for i in judged if i.evaluated and i.not_measured is not None]
        reason = not_measured or (
            NotMeasured.ICE if NotMeasured.ICE in reasons else (reasons[0] if reasons else None)
        )
        if reason is not None:
            return result(JudgementStatus.NOT_MEASURED, reason, None, ())
        return result(JudgementStatus.NO_DATA, None, None, ())
    worst = max(i.water_class for i in classed if i.water_class is not None)
    polluting = [i for i in classed if i.water_class is not None and i.water_class > WaterClass.III]
    # Worst class first; ties by the larger (unrounded) multiple over class III; pH and DO have none and
    # come after items that have one; remaining ties keep the order given (the sort is stable).
    polluting.sort(
        key=lambda i: (i.water_class, exact[i.param] is not None, exact[i.param] or 0), reverse=True
    )
    return result(JudgementStatus.JUDGED, None, worst, tuple(polluting[:MAX_MAIN_POLLUTANTS]))


def judge_section(
    means: Mapping[str, Number | None], water_type_: WaterType | str, target_class: WaterClass
) -> SectionJudgement:
    """Judge from means alone (one value per item, no counts): the current class of a station's latest
    values, or a quick check. A None mean is an item without a valid value."""
    items = {p: ItemInput(m, 1 if m is not None else 0) for p, m in means.items()}
    return judge_period(SectionFacts(water_type(water_type_), target_class), items)


def describe_main_pollutants(judgement: SectionJudgement) -> tuple[str, str]:
    """Bulletin wording, e.g. ("总磷（1.50）、氨氮（0.90）", "total phosphorus (1.50), ammonia nitrogen (0.90)"):
    each main pollutant with its exceedance multiple over class III, in order; ("", "") when there are none."""

    def times(item: ItemJudgement) -> str:
        return f"（{item.multiple}）" if item.multiple is not None else ""

    def times_en(item: ItemJudgement) -> str:
        return f" ({item.multiple})" if item.multiple is not None else ""

    zh = "、".join(f"{i.name_zh}{times(i)}" for i in judgement.main_pollutants)
    en = ", ".join(f"{i.name_en}{times_en(i)}" for i in judgement.main_pollutants)
    return zh, en
