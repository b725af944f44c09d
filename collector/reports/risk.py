"""Sections at risk for the month, as of the end of a local day: the daily warning's core, and the weekly
analysis's "sections at risk for the month" (as of the week's last day).

For each section: its class on the day and over the month to date (the assessor over [first of the month,
end of the day)), and per evaluated item its state against the target — **over** (the item's class is worse
than the target) or at **warning** level (the mean is at or above ``warning_ratio`` × the target-class limit,
for items with an upper limit; DO and pH have no warning level, only over). An item is *at risk* when it is
over or at warning level on the day or in the month to date. For each item at risk of an automatic station
its headroom (collector/assessment/headroom.py): how high (or low) the rest of the month may average, with the
values still expected by the schedule from the day's end to the month's end (ice / no-water slots left out,
as the assessment's expected counts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from collector.assessing import AUTOMATIC, SectionAssessment, expected_count
from collector.assessment import ItemJudgement, Period, WaterClass, class_limit, parse_class
from collector.assessment.headroom import Headroom, Outcome, headroom
from collector.assessment.limits import WaterType, item_limits
from collector.assessment.periods import ZONE
from collector.config import StationConfig
from collector.health.schedule import schedules
from collector.reports import texts
from collector.reports.context import ReportContext
from collector.reports.document import Text
from collector.sections import Section
from collector.store.stats import ItemStats
from protocols import catalogue


class State(StrEnum):
    WARNING = "warning"
    OVER = "over"

    @property
    def text(self) -> Text:
        return texts.OVER if self is State.OVER else texts.WARNING


_RANK = {None: 0, State.WARNING: 1, State.OVER: 2}


def worse(a: State | None, b: State | None) -> State | None:
    return a if _RANK[a] >= _RANK[b] else b


def target_limit(param: str, kind: WaterType | str, target: WaterClass) -> Decimal | None:
    """The target-class limit of an item with an upper limit (None for DO, pH, items without a limit)."""
    limit = class_limit(param, target, kind)
    return Decimal(repr(limit)) if limit is not None else None


def lower_limit(param: str, kind: WaterType | str, target: WaterClass) -> Decimal | None:
    """DO's target-class minimum (None for other items)."""
    item = item_limits(param, kind)
    if item is None or item.direction != "min":
        return None
    bound = item.limits[int(target) - 1]
    assert isinstance(bound, float)
    return Decimal(repr(bound))


def item_state(item: ItemJudgement, kind: WaterType | str, target: WaterClass, ratio: float) -> State | None:
    """Over when the item's (rounded) mean is worse than the target class; warning when it is at or above
    ``ratio`` × the target-class limit (upper limits only). Pure."""
    if not item.evaluated or item.mean is None:
        return None
    if item.meets_target is False:
        return State.OVER
    limit = target_limit(item.param, kind, target)
    if limit is not None and item.mean >= Decimal(repr(ratio)) * limit:
        return State.WARNING
    return None


@dataclass(frozen=True, slots=True)
class ItemRisk:
    param: str
    day: ItemJudgement | None
    month: ItemJudgement | None
    day_state: State | None
    month_state: State | None
    limit: Decimal | None  # the target-class upper limit (DO: its minimum; pH: None)
    headroom: Headroom | None
    no_headroom: Text | None  # why there is no headroom figure

    @property
    def state(self) -> State | None:
        return worse(self.day_state, self.month_state)

    @property
    def name_zh(self) -> str:
        return catalogue.get(self.param).name_zh

    @property
    def name_en(self) -> str:
        return catalogue.get(self.param).name_en

    @property
    def unit(self) -> str:
        return catalogue.get(self.param).unit


@dataclass(frozen=True, slots=True)
class SectionRisk:
    section: Section
    day: SectionAssessment
    month: SectionAssessment
    items: tuple[ItemRisk, ...]  # the items at risk, in the judgement's order

    @property
    def off_target(self) -> bool:
        """Off target on the day."""
        return self.day.judgement.meets_target is False

    @property
    def month_off_target(self) -> bool:
        return self.month.judgement.meets_target is False

    @property
    def at_risk(self) -> bool:
        return bool(self.items)

    @property
    def cannot(self) -> bool:
        """Some item cannot meet the target this month."""
        return any(i.headroom is not None and i.headroom.outcome is Outcome.CANNOT for i in self.items)


@dataclass(frozen=True, slots=True)
class RiskView:
    day: Period
    month: Period  # the month to date: first of the month to the day's end
    month_end: datetime  # the month's end (UTC)
    sections: tuple[SectionRisk, ...]  # registry order

    def counties_to_act(self) -> list[str]:
        """Counties of sections off target on the day or at risk for the month, in registry order."""
        seen: list[str] = []
        for s in self.sections:
            county = s.section.county
            if (s.off_target or s.at_risk) and county and county not in seen:
                seen.append(county)
        return seen


def month_bounds(day: date) -> tuple[datetime, datetime]:
    """First instant of the month of ``day`` and of the month after (UTC)."""
    first = day.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    return _midnight(first), _midnight(after)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZONE).astimezone(UTC)


def day_period(ctx: ReportContext, ref: str) -> Period:
    """The local day ``ref``; ValueError for a bad date or a day that has not ended yet."""
    period = ctx.assessor.period("day", ref)
    if period.partial:
        raise ValueError(f"day {ref} has not ended yet")
    return period


def _headroom(
    ctx: ReportContext,
    a: SectionAssessment,
    param: str,
    stats: Mapping[tuple[str, str], ItemStats],
    plans: Mapping[str, StationConfig],
    start: datetime,
    end: datetime,
) -> tuple[Headroom | None, Text | None]:
    station = a.section.station
    if station is None or a.sources.get(param, AUTOMATIC) != AUTOMATIC:
        return None, texts.NO_HEADROOM_MANUAL
    site = plans.get(station) or StationConfig(id=station)
    plan = schedules(site, ctx.assessor.schedule)
    if param not in plan:
        return None, texts.NO_HEADROOM_UNSCHEDULED
    windows = [(e.start, e.end) for e in ctx.assessor.exclusions(station, start, end)]
    remaining = expected_count(plan[param], start, end, windows)
    got = stats.get((station, param))
    total, count = (got.sum_valid, got.n_valid) if got is not None else (0.0, 0)
    kind = a.judgement.water_type
    return headroom(param, kind, a.judgement.target_class, total, count, remaining), None


def risks(ctx: ReportContext, day: Period, sections: Sequence[Section] | None = None) -> RiskView:
    """Every section (default: the registry's) on the local day ``day`` and over its month to date."""
    assessor = ctx.assessor
    month_start, month_end = month_bounds(day.first_day)
    mtd = assessor.window(month_start, day.end)
    chosen = list(assessor.registry.sections if sections is None else sections)
    on_day = assessor.sections(day, chosen)
    to_date = assessor.sections(mtd, chosen)
    stations = sorted({s.station for s in chosen if s.station})
    stats = ctx.store.period_stats(stations, mtd.start, mtd.end, max_time=False) if stations else {}
    plans = {s.id: s for s in ctx.stations}
    ratio = ctx.settings.warning_ratio
    out: list[SectionRisk] = []
    for d, m in zip(on_day, to_date, strict=True):
        kind, target = d.judgement.water_type, parse_class(d.section.target)
        day_items = {i.param: i for i in d.judgement.items}
        month_items = {i.param: i for i in m.judgement.items}
        items: list[ItemRisk] = []
        for param in [*month_items, *(p for p in day_items if p not in month_items)]:
            di, mi = day_items.get(param), month_items.get(param)
            ds = item_state(di, kind, target, ratio) if di else None
            ms = item_state(mi, kind, target, ratio) if mi else None
            if ds is None and ms is None:
                continue
            room, why = _headroom(ctx, m, param, stats, plans, day.end, month_end)
            limit = target_limit(param, kind, target) or lower_limit(param, kind, target)
            items.append(ItemRisk(param, di, mi, ds, ms, limit, room, why))
        out.append(SectionRisk(d.section, d, m, tuple(items)))
    return RiskView(day, mtd, month_end, tuple(out))


__all__ = [
    "ItemRisk",
    "RiskView",
    "SectionRisk",
    "State",
    "day_period",
    "item_state",
    "lower_limit",
    "month_bounds",
    "risks",
    "target_limit",
    "worse",
]
