"""周研判 — the weekly analysis of one ISO week (Monday–Sunday, Asia/Shanghai), made on the Monday after.

Each section's class for the week against the previous week and the same ISO week a year earlier (where data
exist); main pollutants with their multiples over class III; hours over target per item; the alerts of the
week (opened, acknowledged, resolved, times to acknowledge); station operation (collector/reports/operation.py);
and the sections at risk for the month as of the week's last day (collector/reports/risk.py, as the daily
warning).

An **hour over target** is a clock hour (local; Asia/Shanghai is a whole number of hours from UTC) whose mean
of the item's valid (N/T) readings, rounded to the item's decimals (GB/T 8170), is in a class worse than the
section's target, as the judgement would class it (so DO below its minimum and pH outside 6–9 count too).
"Hours with data" are the clock hours with at least one valid value: the 4-hourly nutrient analysers give about
42 a week, the hourly probes 168. The hours' counts and sums come from the store (``Store.hourly_sums``, retired
hours included), never an object per reading: a week of one-minute data is 100,800 readings a station.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from collector.alerts.model import Alert
from collector.assessing import SectionAssessment
from collector.assessment import WaterClass, classify, is_evaluated, previous, round_param, same_last_year
from collector.assessment.headroom import Outcome
from collector.assessment.limits import item_limits
from collector.assessment.periods import ZONE, Period
from collector.assessment.rounding import ratio
from collector.assessment.section import COMPLETENESS_PLACES
from collector.reports import texts
from collector.reports.alert_window import AlertFigures, alert_figures, all_alerts
from collector.reports.context import ReportContext
from collector.reports.document import (
    Cell,
    Column,
    ColumnKind,
    Emphasis,
    Part,
    Report,
    ReportKind,
    Table,
    Text,
)
from collector.reports.nodata import no_data_reason
from collector.reports.operation import StationOperation, operation_table, station_operations
from collector.reports.risk import RiskView, day_period, risks
from collector.reports.sectioncols import SECTION_COLUMNS, local_time, section_cells
from collector.reports.sectionmap import section_map
from collector.reports.synthetic import synthetic_note
from collector.sections import Section
from protocols import catalogue

# -- hours over target -----------------------------------------------------------------------------------------


def hours_over(
    hours: Mapping[int, tuple[int, float]], param: str, kind: str, target: WaterClass
) -> tuple[int, int]:
    """(hours over target, hours with a valid value) of ``param`` from its hours' (count, sum) of valid values
    (``Store.hourly_sums``). Pure."""
    over = 0
    for n, total in hours.values():
        mean = round_param(param, total / n)
        cls = classify(param, float(mean), kind)
        if cls is not None and cls > target:
            over += 1
    return over, len(hours)


# -- helpers ---------------------------------------------------------------------------------------------------


def _roman(a: SectionAssessment | None) -> str | None:
    c = a.judgement.water_class if a is not None else None
    return c.roman if c is not None else None


def change(now: WaterClass | None, then: WaterClass | None) -> Text | None:
    """Better, worse or unchanged against an earlier class; None when either has no class."""
    if now is None or then is None:
        return None
    return texts.BETTER if now < then else texts.WORSE if now > then else texts.SAME


def _week_words(label: str) -> tuple[str, str]:
    year, week = label.split("-W")
    return f"{year}年第{int(week)}周", f"week {int(week)} of {year}"


# -- tables ----------------------------------------------------------------------------------------------------


def _classes_table(
    ctx: ReportContext,
    week: Sequence[SectionAssessment],
    before: Mapping[str, SectionAssessment],
    last_year: Mapping[str, SectionAssessment],
    labels: tuple[str, str],
    reasons: Mapping[str, Text],
) -> Table:
    rows: list[tuple[Cell, ...]] = []
    marks: list[Emphasis | None] = []
    for a in week:
        j = a.judgement
        p, y = before.get(a.section.id), last_year.get(a.section.id)
        vs_prev = change(j.water_class, p.judgement.water_class if p else None)
        vs_year = change(j.water_class, y.judgement.water_class if y else None)
        rows.append(
            (
                *section_cells(ctx.assessor, a.section),
                a.section.target,
                _roman(a),
                j.meets_target,
                reasons[a.section.id].zh if a.section.id in reasons else None,
                _roman(p),
                vs_prev.zh if vs_prev else None,
                _roman(y),
                vs_year.zh if vs_year else None,
                j.completeness,
            )
        )
        worse = texts.WORSE in (vs_prev, vs_year)
        marks.append(Emphasis.BAD if j.meets_target is False else Emphasis.WARN if worse else None)
    return Table(
        "sections",
        "各断面本周水质类别及与上周、去年同期比较",
        "Classes of the week against the previous week and a year earlier",
        (
            *SECTION_COLUMNS,
            Column("target", "目标", "Target", ColumnKind.CLASS),
            Column("class", "本周类别", "Class of the week", ColumnKind.CLASS),
            Column("meets", "达标", "Meets target", ColumnKind.BOOL),
            Column("status", "无数据原因", "Why no data"),
            Column(
                "class_previous", f"上周（{labels[0]}）", f"Previous week ({labels[0]})", ColumnKind.CLASS
            ),
            Column("vs_previous", "较上周", "vs previous week"),
            Column(
                "class_last_year",
                f"去年同期（{labels[1]}）",
                f"A year earlier ({labels[1]})",
                ColumnKind.CLASS,
            ),
            Column("vs_last_year", "较去年同期", "vs a year earlier"),
            Column("completeness", "数据完整率", "Completeness", ColumnKind.PERCENT, "%", 1),
        ),
        tuple(rows),
        tuple(marks),
        Text(
            "类别按本周有效数据均值评价（GB 3838-2002，单因子法）；未达标断面以红色、变差断面以警示色标出。",
            "Classes from the week's valid means (GB 3838-2002, worst item); sections off target are marked "
            "red, sections that worsened are highlighted.",
        ),
    )


def _pollutants_table(ctx: ReportContext, week: Sequence[SectionAssessment]) -> Table:
    rows = tuple(
        (
            *section_cells(ctx.assessor, a.section),
            rank,
            item.name_zh,
            catalogue.get(item.param).unit or None,
            item.mean,
            item.water_class.roman if item.water_class else None,
            item.multiple,
        )
        for a in week
        for rank, item in enumerate(a.judgement.main_pollutants, start=1)
    )
    return Table(
        "main_pollutants",
        "主要污染指标",
        "Main pollutants",
        (
            *SECTION_COLUMNS,
            Column("rank", "序号", "No.", ColumnKind.NUMBER),
            Column("item", "监测项目", "Item"),
            Column("unit", "单位", "Unit"),
            Column("mean", "周均值", "Mean of the week", ColumnKind.NUMBER),
            Column("class", "类别", "Class", ColumnKind.CLASS),
            Column("multiple", "超Ⅲ类倍数", "× over class III", ColumnKind.NUMBER, "", 2),
        ),
        rows,
        tuple(Emphasis.BAD for _ in rows),
        Text(
            "劣于Ⅲ类的断面中类别最差的至多三项，超标倍数按Ⅲ类限值计（pH、溶解氧不计倍数）。",
            "For sections worse than class III, up to three items with the worst classes; multiples over the "
            "class III limit (none for pH and dissolved oxygen).",
        ),
    )


def _hours_table(ctx: ReportContext, sections: Sequence[Section], period: Period) -> Table:
    rows: list[tuple[Cell, ...]] = []
    marks: list[Emphasis | None] = []
    for section in sections:
        if section.station is None:
            continue
        sums = ctx.store.hourly_sums(section.station, period.start, period.end)
        target = WaterClass(section.target_class)
        for param in sorted(p for p in sums if catalogue.is_known(p)):
            if not is_evaluated(param, section.water_type):
                continue
            over, hours = hours_over(sums[param], param, section.water_type, target)
            if not hours:
                continue
            entry = catalogue.get(param)
            limit = _limit_words(param, section.water_type, target)
            rows.append(
                (*section_cells(ctx.assessor, section), entry.name_zh, entry.unit or None, limit, over, hours)
            )
            marks.append(Emphasis.BAD if over else None)
    return Table(
        "hours_over",
        "各项目超目标小时数",
        "Hours over target per item",
        (
            *SECTION_COLUMNS,
            Column("item", "监测项目", "Item"),
            Column("unit", "单位", "Unit"),
            Column("limit", "目标限值", "Target limit"),
            Column("hours_over", "超目标小时数", "Hours over target", ColumnKind.NUMBER, "h"),
            Column("hours", "有数据小时数", "Hours with data", ColumnKind.NUMBER, "h"),
        ),
        tuple(rows),
        tuple(marks),
        Text(
            "超目标小时：该小时内有效数据的均值（按GB/T 8170修约）劣于断面目标类别的小时；营养盐分析仪约每4小时一个数据。",
            "An hour over target: a clock hour whose mean of valid values (rounded by GB/T 8170) is worse than "
            "the section's target class; the nutrient analysers give about one value every 4 hours.",
        ),
    )


def _limit_words(param: str, kind: str, target: WaterClass) -> str:
    item = item_limits(param, kind)
    assert item is not None
    bound = item.limits[int(target) - 1]
    if item.direction == "range":
        assert isinstance(bound, tuple)
        return f"{bound[0]:g}–{bound[1]:g}"
    sign = "≤" if item.direction == "max" else "≥"
    return f"{sign}{bound:g}"


def _hours(a: Alert) -> Decimal | None:
    if a.acknowledged_at is None:
        return None
    return ratio((a.acknowledged_at - a.opened_at).total_seconds(), 3600, 2)


def _alerts_table(ctx: ReportContext, figures: AlertFigures) -> Table:
    names = {s.station: s.name_zh for s in ctx.assessor.registry.sections if s.station}
    rows = tuple(
        (
            a.station,
            names.get(a.station),
            a.rule_type,
            catalogue.get(a.param).name_zh
            if a.param and catalogue.is_known(a.param)
            else (a.subject or None),
            a.severity.value,
            a.title_zh,
            local_time(a.opened_at),
            local_time(a.acknowledged_at) if a.acknowledged_at else None,
            local_time(a.resolved_at) if a.resolved_at else None,
            _hours(a),
        )
        for a in figures.listed
    )
    return Table(
        "alerts",
        "本周告警",
        "Alerts of the week",
        (
            Column("station", "站点", "Station"),
            Column("section", "断面", "Section"),
            Column("rule", "类型", "Type"),
            Column("subject", "对象", "Subject"),
            Column("severity", "级别", "Severity"),
            Column("title", "告警", "Alert"),
            Column("opened", "发生时间", "Opened", ColumnKind.TIME),
            Column("acknowledged", "确认时间", "Acknowledged", ColumnKind.TIME),
            Column("resolved", "解除时间", "Resolved", ColumnKind.TIME),
            Column("to_ack", "确认用时", "Time to acknowledge", ColumnKind.NUMBER, "h", 2),
        ),
        rows,
        tuple(
            Emphasis.WARN if a.acknowledged_at is None and a.resolved_at is None else None
            for a in figures.listed
        ),
        Text(
            "本周内发生、确认或解除的告警，以及本周全程未解除的告警；未确认且未解除的以警示色标出。",
            "Alerts opened, acknowledged or resolved in the week, and those active through it; those neither "
            "acknowledged nor resolved are highlighted.",
        ),
    )


def _alert_counts(figures: AlertFigures) -> Text:
    counts = Text(
        f"本周新发生告警{figures.opened}条，确认{figures.acknowledged}条，解除{figures.resolved}条",
        f"This week {figures.opened} alerts were opened, {figures.acknowledged} acknowledged and "
        f"{figures.resolved} resolved",
    )
    if figures.ack_mean_h is None:
        return Text(counts.zh + "。", counts.en + ".")
    return Text(
        f"{counts.zh}；确认用时平均{figures.ack_mean_h}小时，中位数{figures.ack_median_h}小时。",
        f"{counts.en}; time to acknowledge: mean {figures.ack_mean_h} h, median {figures.ack_median_h} h.",
    )


def _risk_table(ctx: ReportContext, view: RiskView) -> Table:
    rows: list[tuple[Cell, ...]] = []
    marks: list[Emphasis | None] = []
    for s in view.sections:
        for i in s.items:
            if i.month_state is None:
                continue
            room = i.headroom
            cannot = room is not None and room.outcome is Outcome.CANNOT
            note = texts.CANNOT if cannot else (i.no_headroom if room is None else None)
            rows.append(
                (
                    *section_cells(ctx.assessor, s.section),
                    i.name_zh,
                    i.unit or None,
                    i.month_state.text.zh,
                    i.month.mean if i.month else None,
                    i.month.water_class.roman if i.month and i.month.water_class else None,
                    i.limit,
                    room.remaining if room else None,
                    room.highest if room else None,
                    room.lowest if room else None,
                    note.zh if note else None,
                )
            )
            marks.append(Emphasis.BAD if cannot or i.month_state.value == "over" else Emphasis.WARN)
    last = view.day.first_day.isoformat()
    return Table(
        "month_risk",
        f"本月达标风险（截至{last}）",
        f"At risk for the month (to {last})",
        (
            *SECTION_COLUMNS,
            Column("item", "监测项目", "Item"),
            Column("unit", "单位", "Unit"),
            Column("state", "状态", "State"),
            Column("month_mean", "本月累计均值", "Mean, month to date", ColumnKind.NUMBER),
            Column("month_class", "本月累计类别", "Class, month to date", ColumnKind.CLASS),
            Column("limit", "目标限值", "Target limit", ColumnKind.NUMBER),
            Column("remaining", "本月余下应测数", "Values still expected", ColumnKind.NUMBER),
            Column("headroom_high", "余下均值上限", "Highest mean of the rest", ColumnKind.NUMBER),
            Column("headroom_low", "余下均值下限", "Lowest mean of the rest", ColumnKind.NUMBER),
            Column("note", "说明", "Note"),
        ),
        tuple(rows),
        tuple(marks),
        Text(
            "本月1日至本周最后一日的累计均值超标或达到预警水平的项目，及本月余下数据的均值上限（溶解氧为下限）。",
            "Items whose mean from the 1st of the month to the week's last day is over target or at warning "
            "level, with the highest mean (lowest for dissolved oxygen) the rest of the month may have.",
        ),
    )


# -- the product -----------------------------------------------------------------------------------------------


def _completeness(week: Sequence[SectionAssessment]) -> Decimal | None:
    valid = sum(a.judgement.valid for a in week)
    expected = sum(a.judgement.expected for a in week)
    return ratio(valid, expected, COMPLETENESS_PLACES) if expected else None


def _summary(
    label: str,
    week: Sequence[SectionAssessment],
    worse: Sequence[str],
    figures: AlertFigures,
    low: Sequence[StationOperation],
    view: RiskView,
) -> tuple[Text, ...]:
    zh_week, en_week = _week_words(label)
    off = [a for a in week if a.judgement.meets_target is False]
    judged = sum(1 for a in week if a.judgement.water_class is not None)
    names = "、".join(a.section.name_zh for a in off)
    first = Text(
        f"{zh_week}，{len(week)}个考核断面中{judged}个有评价结果，{len(off)}个未达到水质目标"
        + (f"（{names}）" if off else "")
        + f"，{len(worse)}个较上周变差。",
        f"In {en_week}, {judged} of {len(week)} sections were judged, {len(off)} were off target"
        + (f" ({names})" if off else "")
        + f" and {len(worse)} worsened against the previous week.",
    )
    at_risk = [s for s in view.sections if any(i.month_state for i in s.items)]
    risk = Text(
        f"本月有达标风险的断面{len(at_risk)}个"
        + (f"：{'、'.join(s.section.name_zh for s in at_risk)}" if at_risk else "")
        + f"；运行指标低于要求的站点{len(low)}个。",
        f"{len(at_risk)} section(s) at risk for the month"
        + (f": {', '.join(s.section.name_zh for s in at_risk)}" if at_risk else "")
        + f"; {len(low)} station(s) below the operation threshold.",
    )
    return (first, _alert_counts(figures), risk)


def make(ctx: ReportContext, ref: str) -> Report:
    """The weekly analysis of ISO week ``ref`` ("2026-W46"); ValueError for a bad ref or a week not started."""
    assessor = ctx.assessor
    period = assessor.period("week", ref)
    whole = assessor.whole(period)
    week = assessor.sections(period)
    before_period, last_year_period = previous(whole), same_last_year(whole)
    before = {a.section.id: a for a in assessor.sections(before_period)}
    last_year = {a.section.id: a for a in assessor.sections(last_year_period)}

    stations = list(ctx.stations)
    threshold = ctx.settings.low_capture
    operations = station_operations(ctx.store, assessor, stations, period.start, period.end, threshold)
    stored_alerts = all_alerts(ctx.store)
    alerts = alert_figures(stored_alerts, period.start, period.end)
    reasons = {
        a.section.id: no_data_reason(ctx.store, a, period, stored_alerts, texts.MANUAL_NO_RESULT_WEEK)
        for a in week
        if a.judgement.water_class is None
    }

    now = ctx.now()
    last_day = whole.last_day
    if period.partial:
        last_day = min(last_day, now.astimezone(ZONE).date() - timedelta(days=1))
    view = risks(ctx, day_period(ctx, last_day.isoformat()))

    worse = [
        a.section.id
        for a in week
        if change(a.judgement.water_class, before[a.section.id].judgement.water_class) is texts.WORSE
    ]
    low = [r for r in operations if r.low]
    at_risk = [s for s in view.sections if any(i.month_state for i in s.items)]
    parts = (
        Part(
            "sections",
            "断面水质",
            "Sections",
            (),
            (
                _classes_table(
                    ctx, week, before, last_year, (before_period.label, last_year_period.label), reasons
                ),
                _pollutants_table(ctx, week),
            ),
            (
                section_map(
                    assessor.registry,
                    week,
                    title_zh=f"{whole.label} 断面水质类别",
                    title_en=f"Section classes, {whole.label}",
                ),
            ),
        ),
        Part(
            "hours_over",
            "超目标小时数",
            "Hours over target",
            (),
            (_hours_table(ctx, assessor.registry.sections, period),),
        ),
        Part("alerts", "告警", "Alerts", (_alert_counts(alerts),), (_alerts_table(ctx, alerts),)),
        Part(
            "operation",
            "自动站运行",
            "Station operation",
            (),
            (
                operation_table(
                    operations,
                    threshold,
                    key="operation",
                    title_zh="自动站运行情况",
                    title_en="Station operation",
                ),
            ),
        ),
        Part("month_risk", "本月达标风险", "At risk for the month", (), (_risk_table(ctx, view),)),
    )
    off = [a.section.id for a in week if a.judgement.meets_target is False]
    counties: list[str] = []
    for a in week:
        if a.judgement.meets_target is False and a.section.county and a.section.county not in counties:
            counties.append(a.section.county)
    for county in view.counties_to_act():
        if county not in counties:
            counties.append(county)
    figures: dict[str, Any] = {
        "sections": len(week),
        "judged": sum(1 for a in week if a.judgement.water_class is not None),
        "off_target": len(off),
        "off_target_sections": off,
        "worse_than_previous": worse,
        "alerts_opened": alerts.opened,
        "alerts_acknowledged": alerts.acknowledged,
        "alerts_resolved": alerts.resolved,
        "ack_mean_h": alerts.ack_mean_h,
        "ack_median_h": alerts.ack_median_h,
        "low_operation": [r.station for r in low],
        "at_risk_month": [s.section.id for s in at_risk],
        "counties_to_act": counties,
    }
    note = synthetic_note(ctx.store, period.start, period.end, [s.id for s in stations] or None)
    return Report(
        kind=ReportKind.WEEKLY,
        period=whole.label,
        first_day=whole.first_day,
        last_day=whole.last_day,
        issuer_zh=ctx.settings.issuer_zh,
        issuer_en=ctx.settings.issuer_en,
        issued=now.astimezone(ZONE).date(),
        made_at=now,
        cutoff=now,
        completeness=_completeness(week),
        summary=_summary(whole.label, week, worse, alerts, low, view),
        parts=parts,
        partial=period.partial,
        notes=(note,) if note else (),
        figures=figures,
    )


__all__ = ["change", "hours_over", "make"]
