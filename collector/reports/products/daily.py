"""日预警 — the daily warning for one local day (Asia/Shanghai), made each morning for the day before.

Per section (all of the registry): the day's class against its target; the items over the target or at warning
level (≥ ``warning_ratio`` × the target-class limit) with their exceedance multiple over the target; the month
to date's mean and class (as of the end of the day, not of now); for each item at risk the headroom for the
rest of the month (collector/reports/risk.py, collector/assessment/headroom.py) and its trend over the last
``trend_days`` days; sections without a class on the day say why (ice or dry river, offline, analyser fault,
manual sampling without a result that day, or no valid data). A short summary opens it and names the counties
that must act (of sections off target on the day or at risk for the month); ``push`` is the one message for
the notifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from collector.assessing import SectionAssessment
from collector.assessment import Period, round_param
from collector.assessment.headroom import Outcome
from collector.assessment.periods import ZONE
from collector.assessment.rounding import ratio
from collector.assessment.section import COMPLETENESS_PLACES
from collector.reports import texts
from collector.reports.alert_window import FAULT_TYPES, active_during, all_alerts
from collector.reports.context import ReportContext
from collector.reports.document import (
    Cell,
    Chart,
    ChartKind,
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
from collector.reports.risk import ItemRisk, RiskView, SectionRisk, State, day_period, risks, target_limit
from collector.reports.sectioncols import SECTION_COLUMNS, section_cells
from collector.reports.sectionmap import section_map
from collector.reports.synthetic import synthetic_note
from collector.store.base import Store

# A trend is "→" when the fitted change over the window is below this share of the target limit (or, for
# items without one, of the window's mean): day-to-day noise is not a trend.
TREND_TOLERANCE = 0.05
WORST_SHOWN = 3  # sections named in the pushed message


# -- trend -----------------------------------------------------------------------------------------------------


def trend_arrow(values: Sequence[float | None], scale: float | None = None) -> str | None:
    """↑, ↓ or → from the least-squares slope of the daily means (None days skipped) times the window's
    length, against ``TREND_TOLERANCE`` × ``scale`` (default: the mean); None with fewer than two days. Pure."""
    points = [(x, v) for x, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (v - my) for x, v in points) / sxx
    change = slope * (len(values) - 1)
    base = abs(scale) if scale else abs(my)
    if base == 0 or abs(change) < TREND_TOLERANCE * base:
        return texts.FLAT
    return texts.UP if change > 0 else texts.DOWN


def _trend_points(store: Store, station: str, param: str, day: Period, days: int) -> list[list[Any]]:
    start = day.end - timedelta(days=days)
    means = {m.day: m.mean for m in store.daily_means(station, param, start, day.end)}
    first = day.first_day - timedelta(days=days - 1)
    out: list[list[Any]] = []
    for k in range(days):
        d = first + timedelta(days=k)
        mean = means.get(d)
        out.append([d.isoformat(), round_param(param, mean) if mean is not None else None])
    return out


# -- tables ----------------------------------------------------------------------------------------------------


def _roman(a: SectionAssessment) -> str | None:
    c = a.judgement.water_class
    return c.roman if c is not None else None


def _item_words(item: ItemRisk) -> tuple[str, str]:
    state = item.state
    assert state is not None
    multiple = item.day.multiple_vs_target if item.day is not None else None
    times = f" {multiple}倍" if multiple is not None and item.day_state is State.OVER else ""
    times_en = f" ×{multiple}" if multiple is not None and item.day_state is State.OVER else ""
    return f"{item.name_zh}（{state.text.zh}{times}）", f"{item.name_en} ({state.text.en}{times_en})"


def _headroom_words(item: ItemRisk) -> Text | None:
    room = item.headroom
    if room is None:
        return item.no_headroom
    if room.outcome is Outcome.CANNOT:
        return texts.CANNOT
    if room.outcome is Outcome.SETTLED:
        return texts.SETTLED_MET
    unit = f" {item.unit}" if item.unit else ""
    if room.highest is not None and room.lowest is not None:
        return Text(
            f"余下{room.remaining}个数据均值须在{room.lowest}–{room.highest}{unit}之间",
            f"the remaining {room.remaining} values must average {room.lowest}–{room.highest}{unit}",
        )
    if room.highest is not None:
        return Text(
            f"余下{room.remaining}个数据均值不高于{room.highest}{unit}",
            f"the remaining {room.remaining} values must average at most {room.highest}{unit}",
        )
    if room.lowest is not None:
        return Text(
            f"余下{room.remaining}个数据均值不低于{room.lowest}{unit}",
            f"the remaining {room.remaining} values must average at least {room.lowest}{unit}",
        )
    return None


SECTION_TABLE_COLUMNS = (
    *SECTION_COLUMNS,
    Column("target", "目标", "Target", ColumnKind.CLASS),
    Column("class", "当日类别", "Class of the day", ColumnKind.CLASS),
    Column("meets", "当日达标", "Meets target (day)", ColumnKind.BOOL),
    Column("month_class", "本月累计类别", "Class, month to date", ColumnKind.CLASS),
    Column("month_meets", "本月累计达标", "Meets target (month to date)", ColumnKind.BOOL),
    Column("items", "超标/预警项目", "Items over target / at warning"),
    Column("no_data", "无数据原因", "Why no data"),
    Column("completeness", "当日数据完整率", "Completeness (day)", ColumnKind.PERCENT, "%", 1),
)

ITEM_COLUMNS = (
    *SECTION_COLUMNS,
    Column("item", "监测项目", "Item"),
    Column("unit", "单位", "Unit"),
    Column("state", "状态", "State"),
    Column("day_mean", "当日均值", "Mean of the day", ColumnKind.NUMBER),
    Column("day_class", "当日类别", "Class of the day", ColumnKind.CLASS),
    Column("multiple", "超目标倍数", "× over target", ColumnKind.NUMBER, "", 2),
    Column("limit", "目标限值", "Target limit", ColumnKind.NUMBER),
    Column("month_mean", "本月累计均值", "Mean, month to date", ColumnKind.NUMBER),
    Column("month_class", "本月累计类别", "Class, month to date", ColumnKind.CLASS),
    Column("remaining", "本月余下应测数", "Values still expected", ColumnKind.NUMBER),
    Column("headroom_high", "余量：余下均值上限", "Headroom: highest mean of the rest", ColumnKind.NUMBER),
    Column("headroom_low", "余量：余下均值下限", "Headroom: lowest mean of the rest", ColumnKind.NUMBER),
    Column("headroom", "余量说明", "Headroom"),
    Column("trend", "趋势", "Trend"),
)


def _sections_table(ctx: ReportContext, view: RiskView, reasons: dict[str, Text]) -> Table:
    rows: list[tuple[Cell, ...]] = []
    marks: list[Emphasis | None] = []
    for s in view.sections:
        j = s.day.judgement
        words = [_item_words(i) for i in s.items]
        reason = reasons.get(s.section.id)
        rows.append(
            (
                *section_cells(ctx.assessor, s.section),
                s.section.target,
                _roman(s.day),
                j.meets_target,
                _roman(s.month),
                s.month.judgement.meets_target,
                "、".join(w[0] for w in words) or None,
                reason.zh if reason else None,
                j.completeness,
            )
        )
        marks.append(Emphasis.BAD if s.off_target or s.cannot else Emphasis.WARN if s.at_risk else None)
    return Table(
        "sections",
        "各断面当日水质与本月累计",
        "Sections: the day and the month to date",
        SECTION_TABLE_COLUMNS,
        tuple(rows),
        tuple(marks),
        Text(
            "当日类别按当日有效数据均值评价；本月累计为本月1日至当日的有效数据均值；"
            f"预警：均值达到目标类别限值的{Decimal(repr(ctx.settings.warning_ratio)) * 100:g}%及以上。",
            "The day's class from the day's valid means; month to date from the 1st to the end of the day; "
            f"warning: a mean at or above {Decimal(repr(ctx.settings.warning_ratio)) * 100:g} % of the "
            "target-class limit.",
        ),
    )


def _items_table(ctx: ReportContext, view: RiskView, trends: dict[tuple[str, str], str | None]) -> Table:
    rows: list[tuple[Cell, ...]] = []
    marks: list[Emphasis | None] = []
    for s in view.sections:
        for i in s.items:
            room = i.headroom
            words = _headroom_words(i)
            rows.append(
                (
                    *section_cells(ctx.assessor, s.section),
                    i.name_zh,
                    i.unit or None,
                    i.state.text.zh if i.state else None,
                    i.day.mean if i.day else None,
                    i.day.water_class.roman if i.day and i.day.water_class else None,
                    i.day.multiple_vs_target if i.day else None,
                    i.limit,
                    i.month.mean if i.month else None,
                    i.month.water_class.roman if i.month and i.month.water_class else None,
                    room.remaining if room else None,
                    room.highest if room else None,
                    room.lowest if room else None,
                    words.zh if words else None,
                    trends.get((s.section.id, i.param)),
                )
            )
            bad = i.state is State.OVER or (room is not None and room.outcome is Outcome.CANNOT)
            marks.append(Emphasis.BAD if bad else Emphasis.WARN)
    return Table(
        "items_at_risk",
        "超标及预警项目与本月余量",
        "Items over target or at warning, and the month's headroom",
        ITEM_COLUMNS,
        tuple(rows),
        tuple(marks),
        Text(
            "余量：本月余下应测数据（按排程，不含结冰/断流时段，假定全部有效）的均值上限（溶解氧为下限），"
            "使月均值修约后（GB/T 8170）仍达到目标；“本月无法达标”指即使余下数据为0也不能达标。"
            f"趋势：近{ctx.settings.trend_days}日日均值的线性变化。",
            "Headroom: the highest mean (lowest for dissolved oxygen) the values still expected this month "
            "(by schedule, without ice / no-water slots, all assumed valid) may have for the month's mean, "
            "rounded by GB/T 8170, to meet the target; 'cannot be met' means not even zero would do. "
            f"Trend: the linear change of the daily means over the last {ctx.settings.trend_days} days.",
        ),
    )


def _no_data_table(ctx: ReportContext, view: RiskView, reasons: dict[str, Text]) -> Table:
    rows = tuple(
        (
            *section_cells(ctx.assessor, s.section),
            s.section.station,
            reasons[s.section.id].zh,
            reasons[s.section.id].en,
        )
        for s in view.sections
        if s.section.id in reasons
    )
    return Table(
        "no_data",
        "当日无评价数据的断面",
        "Sections without a class for the day",
        (
            *SECTION_COLUMNS,
            Column("station", "站点", "Station"),
            Column("reason", "原因", "Reason (zh)"),
            Column("reason_en", "原因（英文）", "Reason"),
        ),
        rows,
    )


def _trend_chart(ctx: ReportContext, s: SectionRisk, i: ItemRisk, points: list[list[Any]]) -> Chart:
    data: dict[str, Any] = {
        "section": s.section.name_zh,
        "param": i.param,
        "name_zh": i.name_zh,
        "name_en": i.name_en,
        "unit": i.unit,
        "points": points,
        "limit": i.limit,
    }
    upper = target_limit(i.param, s.day.judgement.water_type, s.day.judgement.target_class)
    if upper is not None:  # a warning level only below an upper limit (not DO, not pH)
        data["warning"] = Decimal(repr(ctx.settings.warning_ratio)) * upper
    return Chart(
        f"trend_{s.section.id}_{i.param}",
        ChartKind.TREND,
        f"{s.section.name_zh} {i.name_zh} 近{ctx.settings.trend_days}日趋势",
        f"{s.section.name_en} {i.name_en}: last {ctx.settings.trend_days} days",
        data,
    )


# -- summary and push ------------------------------------------------------------------------------------------


def _worst(view: RiskView) -> list[SectionRisk]:
    def key(s: SectionRisk) -> tuple[int, Decimal]:
        c = s.day.judgement.water_class
        multiples = [i.multiple_vs_target for i in s.day.judgement.items if i.multiple_vs_target is not None]
        return (int(c) if c is not None else 0, max(multiples, default=Decimal(0)))

    return sorted((s for s in view.sections if s.off_target), key=key, reverse=True)


def _worst_words(s: SectionRisk) -> tuple[str, str]:
    main = [i for i in s.day.judgement.items if i.meets_target is False]
    main.sort(key=lambda i: (i.water_class or 0, i.multiple_vs_target or Decimal(0)), reverse=True)
    first = main[0] if main else None
    cls = _roman(s.day) or ""
    if first is None:
        return f"{s.section.name_zh}（{cls}）", f"{s.section.name_zh} ({cls})"
    times = f" {first.multiple_vs_target}倍" if first.multiple_vs_target is not None else ""
    times_en = f" ×{first.multiple_vs_target}" if first.multiple_vs_target is not None else ""
    return (
        f"{s.section.name_zh}（{cls}，{first.name_zh}{times}）",
        f"{s.section.name_zh} ({cls}, {first.name_en}{times_en})",
    )


def _counts(view: RiskView, reasons: dict[str, Text]) -> dict[str, Any]:
    off = [s for s in view.sections if s.off_target]
    warn = [s for s in view.sections if not s.off_target and s.at_risk]
    return {
        "sections": len(view.sections),
        "off_target": len(off),
        "at_warning": len(warn),
        "no_data": len(reasons),
        "manual_no_result": sum(
            1 for s in view.sections if s.section.id in reasons and s.section.station is None
        ),
        "counties_to_act": view.counties_to_act(),
        "off_target_sections": [s.section.id for s in off],
        "at_warning_sections": [s.section.id for s in warn],
        "cannot_be_met": [s.section.id for s in view.sections if s.cannot],
    }


def _summary(day: str, figures: dict[str, Any], view: RiskView) -> tuple[Text, ...]:
    n, off, warn = figures["sections"], figures["off_target"], figures["at_warning"]
    nodata, manual = figures["no_data"], figures["manual_no_result"]
    counties = figures["counties_to_act"]
    first = Text(
        f"{day}，全市{n}个考核断面中{off}个当日水质未达到目标，{warn}个有监测项目达到预警水平或本月累计有超标风险，"
        f"{nodata}个当日无评价数据（其中{manual}个为人工采样断面，当日无结果）。",
        f"On {day}, {off} of the city's {n} assessed sections were off target for the day, {warn} had an item at "
        f"warning level or at risk for the month, and {nodata} had no class for the day ({manual} of them sampled "
        "by hand, without a result that day).",
    )
    act = (
        Text(f"需采取措施的区县：{'、'.join(counties)}。", f"Counties that must act: {', '.join(counties)}.")
        if counties
        else Text("当日无需采取措施的区县。", "No county needs to act today.")
    )
    out = [first, act]
    cannot = [s for s in view.sections if s.cannot]
    if cannot:
        names = "、".join(s.section.name_zh for s in cannot)
        out.append(
            Text(
                f"{len(cannot)}个断面本月已无法达到目标：{names}。",
                f"{len(cannot)} section(s) cannot meet the target this month: {names}.",
            )
        )
    return tuple(out)


def _push(day: str, figures: dict[str, Any], view: RiskView) -> Text:
    worst = [_worst_words(s) for s in _worst(view)[:WORST_SHOWN]]
    counties = figures["counties_to_act"]
    zh = (
        f"【水质日预警 {day}】{figures['sections']}个断面：超标{figures['off_target']}个，"
        f"预警{figures['at_warning']}个，无数据{figures['no_data']}个。"
    )
    en = (
        f"[Daily warning {day}] {figures['sections']} sections: {figures['off_target']} off target, "
        f"{figures['at_warning']} at warning, {figures['no_data']} without data."
    )
    if worst:
        zh += f"最差：{'、'.join(w[0] for w in worst)}。"
        en += f" Worst: {'; '.join(w[1] for w in worst)}."
    if counties:
        zh += f"需处置区县：{'、'.join(counties)}。"
        en += f" Counties to act: {', '.join(counties)}."
    return Text(zh, en)


def _completeness(view: RiskView) -> Decimal | None:
    valid = sum(s.day.judgement.valid for s in view.sections)
    expected = sum(s.day.judgement.expected for s in view.sections)
    return ratio(valid, expected, COMPLETENESS_PLACES) if expected else None


# -- the product -----------------------------------------------------------------------------------------------


def make(ctx: ReportContext, ref: str) -> Report:
    """The daily warning of local day ``ref`` ("2026-12-02"); ValueError for a bad date or a day not over."""
    day = day_period(ctx, ref)
    view = risks(ctx, day)
    store = ctx.store
    alerts = [
        a for a in all_alerts(store) if a.rule_type in FAULT_TYPES and active_during(a, day.start, day.end)
    ]
    reasons = {
        s.section.id: no_data_reason(store, s.day, day, alerts)
        for s in view.sections
        if s.day.judgement.water_class is None
    }
    days = ctx.settings.trend_days
    trends: dict[tuple[str, str], str | None] = {}
    charts: list[Chart] = []
    for s in view.sections:
        for i in s.items:
            if s.section.station is None:
                continue
            points = _trend_points(store, s.section.station, i.param, day, days)
            scale = float(i.limit) if i.limit is not None else None
            trends[(s.section.id, i.param)] = trend_arrow(
                [float(v) if v is not None else None for _, v in points], scale
            )
            charts.append(_trend_chart(ctx, s, i, points))
    figures = _counts(view, reasons)
    label = day.label
    stations = [s.id for s in ctx.stations] or None
    note = synthetic_note(store, view.month.start, day.end, stations)
    now = ctx.now()
    parts = (
        Part(
            "sections",
            "各断面水质",
            "Sections",
            (),
            (_sections_table(ctx, view, reasons),),
            (
                section_map(
                    ctx.assessor.registry,
                    [s.day for s in view.sections],
                    title_zh=f"{label} 断面水质类别",
                    title_en=f"Section classes on {label}",
                ),
            ),
        ),
        Part(
            "at_risk",
            "超标及预警项目",
            "Items over target or at warning",
            ()
            if any(s.items for s in view.sections)
            else (Text("当日无超标或预警项目。", "No item over target or at warning."),),
            (_items_table(ctx, view, trends),),
            tuple(charts),
        ),
        Part(
            "no_data",
            "无数据断面",
            "Sections without data",
            ()
            if reasons
            else (Text("所有断面当日均有评价数据。", "Every section has a class for the day."),),
            (_no_data_table(ctx, view, reasons),),
        ),
    )
    return Report(
        kind=ReportKind.DAILY,
        period=label,
        first_day=day.first_day,
        last_day=day.last_day,
        issuer_zh=ctx.settings.issuer_zh,
        issuer_en=ctx.settings.issuer_en,
        issued=now.astimezone(ZONE).date(),
        made_at=now,
        cutoff=now,
        completeness=_completeness(view),
        summary=_summary(label, figures, view),
        parts=parts,
        partial=False,
        notes=(note,) if note else (),
        push=_push(label, figures, view),
        figures=figures,
    )


__all__ = ["TREND_TOLERANCE", "make", "trend_arrow"]
