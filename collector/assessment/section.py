"""Single-factor judgement of one section over one period (evaluation method of 2011, STANDARDS.md §3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from collector.assessment.classes import WaterClass
from collector.assessment.classify import classify, exceedance_multiple
from collector.assessment.limits import TEMPERATURE, TN, WaterType, item_limits, water_type
from protocols import catalogue

MAX_MAIN_POLLUTANTS = 3


@dataclass(frozen=True, slots=True)
class ItemJudgement:
    param: str
    name_zh: str
    name_en: str
    mean: float
    water_class: WaterClass
    multiple: float | None  # against class III; None for pH and DO
    multiple_vs_target: float | None  # against the section's target class
    meets_target: bool


@dataclass(frozen=True, slots=True)
class SectionJudgement:
    water_type: WaterType
    target_class: WaterClass
    water_class: WaterClass | None  # None when no evaluated item had a mean
    meets_target: bool | None
    items: tuple[ItemJudgement, ...]  # evaluated items, in the order given
    main_pollutants: tuple[ItemJudgement, ...]  # worse than III only; worst first
    not_evaluated: tuple[str, ...]  # codes given but excluded or without a class limit

    @property
    def label_zh(self) -> str:
        return self.water_class.label_zh if self.water_class else "无有效数据"

    @property
    def label_en(self) -> str:
        return self.water_class.label_en if self.water_class else "no valid data"


def is_evaluated(param: str, kind: WaterType | str) -> bool:
    """Whether ``param`` takes part in a section's class (temperature and river TN do not)."""
    kind = water_type(kind)
    if param == TEMPERATURE or (param == TN and kind is WaterType.RIVER):
        return False
    return item_limits(param, kind) is not None


def judge_section(
    means: Mapping[str, float | None], water_type_: WaterType | str, target_class: WaterClass
) -> SectionJudgement:
    """The section's class is the worst class among its evaluated items; a None mean is skipped.

    ValueError for an unknown parameter code, a non-finite mean or a target of 劣V.
    """
    kind = water_type(water_type_)
    if target_class is WaterClass.WORSE_THAN_V:
        raise ValueError("a section's target class must be I–V")
    items: list[ItemJudgement] = []
    skipped: list[str] = []
    for param, mean in means.items():
        if not catalogue.is_known(param):
            raise ValueError(f"unknown parameter code {param!r}")
        if mean is None or not is_evaluated(param, kind):
            skipped.append(param)
            continue
        water_class = classify(param, mean, kind)
        assert water_class is not None
        entry = catalogue.get(param)
        items.append(
            ItemJudgement(
                param=param,
                name_zh=entry.name_zh,
                name_en=entry.name_en,
                mean=float(mean),
                water_class=water_class,
                multiple=exceedance_multiple(param, mean, kind),
                multiple_vs_target=exceedance_multiple(param, mean, kind, against=target_class),
                meets_target=water_class <= target_class,
            )
        )
    if not items:
        return SectionJudgement(kind, target_class, None, None, (), (), tuple(skipped))
    worst = max(item.water_class for item in items)
    polluting = [item for item in items if item.water_class > WaterClass.III]
    # Worst class first; ties by the larger exceedance multiple (pH/DO have none and sort after);
    # remaining ties keep the order given (the sort is stable).
    polluting.sort(
        key=lambda item: (item.water_class, item.multiple if item.multiple is not None else float("-inf")),
        reverse=True,
    )
    return SectionJudgement(
        water_type=kind,
        target_class=target_class,
        water_class=worst,
        meets_target=worst <= target_class,
        items=tuple(items),
        main_pollutants=tuple(polluting[:MAX_MAIN_POLLUTANTS]),
        not_evaluated=tuple(skipped),
    )


def describe_main_pollutants(judgement: SectionJudgement) -> tuple[str, str]:
    """Bulletin wording, e.g. ("总磷（1.5）、氨氮（0.9）", "total phosphorus (1.5), ammonia nitrogen (0.9)"):
    each main pollutant with its exceedance multiple over class III, in order; ("", "") when there are none."""

    def times(item: ItemJudgement) -> str:
        return f"（{item.multiple:.1f}）" if item.multiple is not None else ""

    def times_en(item: ItemJudgement) -> str:
        return f" ({item.multiple:.1f})" if item.multiple is not None else ""

    zh = "、".join(f"{i.name_zh}{times(i)}" for i in judgement.main_pollutants)
    en = ", ".join(f"{i.name_en}{times_en(i)}" for i in judgement.main_pollutants)
    return zh, en
