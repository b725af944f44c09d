"""水质月通报 · the monthly bulletin (issue 13, item 3), for ref "YYYY-MM".

Every figure comes from the assessment (collector/assessing.py): each section's class and target
attainment (``Assessor.city``), the counts and shares at I–III and 劣V by level, the river grades, the
county CWQI and ΔCWQI rankings (``Assessor.cwqi``), the main pollutants with their multiples over class III,
the comparison with the month before and the same month a year earlier, the sections off target with their
county, and the station operation ranking (collector/reports/operation.py). In a flood-season month it adds
the top of the running season's intensity ranking as it stood at the month's end (flood.py).

A month still running is made on its elapsed part and marked partial; one not started is a ValueError.
Shares in ``Report.figures`` and in the tables are fractions of the classed sections (0.400 is 40.0 %).
Classes are written with Latin letters (III类, 劣V类) as the class cells are: the CJK font the documents use
(WenQuanYi Micro Hei) has an empty glyph for the Roman numeral Ⅴ (U+2164), which would print as a blank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from collector.assessing import CityAssessment, CwqiReport, SectionAssessment
from collector.assessment import (
    ClassCounts,
    JudgementStatus,
    Period,
    WaterClass,
    describe_main_pollutants,
    previous,
    same_last_year,
)
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
from collector.reports.operation import operation_table, ranked, station_operations
from collector.reports.products.flood import (
    flood_until,
    ranking_chart,
    ranking_table,
    reference_value,
    season_year,
)
from collector.reports.sectioncols import SECTION_COLUMNS, section_cells
from collector.reports.sectionmap import section_map
from collector.reports.synthetic import synthetic_note
from protocols import catalogue

MANUAL_NO_RESULT_MONTH = Text("人工采样，本月无监测结果", "manual sampling, no result this month")
FLOOD_TOP = 10  # sections of the running season's ranking shown in a flood-season month
SCOPES = (("national", "国考", "national"), ("provincial", "省考", "provincial"), ("all", "全部", "all"))
CLASSES = tuple(WaterClass)


def _share(percent: Decimal | None) -> Decimal | None:
    """ClassCounts' percentage (40.0) as the fraction a PERCENT column holds (0.400, its digits kept)."""
    return percent.scaleb(-2) if percent is not None else None


def _roman(a: SectionAssessment) -> str | None:
    c = a.judgement.water_class
    return c.roman if c is not None else None


def _month_words(period: Period) -> tuple[str, str]:
    first = period.first_day
    return f"{first.year}年{first.month}月", first.strftime("%B %Y")


# -- sections --------------------------------------------------------------------------------------------------


def _reasons(ctx: ReportContext, city: CityAssessment) -> dict[str, Text]:
    """Why each section without a class has none (ice, dry river, manual sampling without a result, never
    heard, offline, analyser fault, or no valid data), as the daily warning and the weekly analysis say it."""
    unclassed = [a for a in city.sections if a.judgement.water_class is None]
    if not unclassed:
        return {}
    period = city.period
    alerts = [
        a
        for a in all_alerts(ctx.store)
        if a.rule_type in FAULT_TYPES and active_during(a, period.start, period.end)
    ]
    return {
        a.section.id: no_data_reason(ctx.store, a, period, alerts, MANUAL_NO_RESULT_MONTH) for a in unclassed
    }


def _sections_table(ctx: ReportContext, city: CityAssessment) -> Table:
    reasons = _reasons(ctx, city)
    rows: list[tuple[Cell, ...]] = []
    marks: list[Emphasis | None] = []
    for a in city.sections:
        j = a.judgement
        main_zh, _ = describe_main_pollutants(j)
        rows.append(
            (
                *section_cells(ctx.assessor, a.section),
                a.section.target,
                _roman(a),
                j.meets_target,
                reasons[a.section.id].zh if a.section.id in reasons else None,
                main_zh or None,
                a.cwqi.value if a.cwqi else None,
                j.completeness,
            )
        )
        marks.append(Emphasis.BAD if j.meets_target is False else None)
    return Table(
        "sections",
        "各断面水质类别及目标达成情况",
        "Class and target attainment by section",
        (
            *SECTION_COLUMNS,
            Column("target", "目标", "Target", ColumnKind.CLASS),
            Column("class", "水质类别", "Class", ColumnKind.CLASS),
            Column("meets", "达标", "Meets target", ColumnKind.BOOL),
            Column("status", "无类别原因", "Why no class", ColumnKind.TEXT),
            Column("main", "主要污染物（超III类倍数）", "Main pollutants (× over class III)"),
            Column("cwqi", "CWQI", "CWQI", ColumnKind.NUMBER, "", 2),
            Column("completeness", "数据完整率", "Completeness", ColumnKind.PERCENT, "%", 1),
        ),
        tuple(rows),
        tuple(marks),
        Text(
            "类别按月均值评价（GB 3838-2002，单因子法）；自动监测优先，无自动数据的项目用手工监测结果。",
            "Classes from the month's means (GB 3838-2002, worst item); automatic data first, manual results "
            "for items without automatic data.",
        ),
    )


def _counts_rows(counts: Mapping[str, ClassCounts], label: tuple[str, ...] = ()) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Cell, ...]] = []
    for key, zh, _ in SCOPES:
        c = counts[key]
        rows.append(
            (
                *label,
                zh,
                c.sections,
                c.classed,
                *(c.by_class[k] for k in CLASSES),
                c.i_to_iii,
                _share(c.percent_i_to_iii),
                c.worse_than_v,
                _share(c.percent_worse_than_v),
            )
        )
    return rows


_COUNT_COLUMNS = (
    Column("sections", "断面数", "Sections", ColumnKind.NUMBER),
    Column("classed", "参评断面数", "Classed", ColumnKind.NUMBER),
    *(Column(f"class_{k.roman}", f"{k.roman}类", k.label_en, ColumnKind.NUMBER) for k in CLASSES),
    Column("i_iii", "I～III类", "I–III", ColumnKind.NUMBER),
    Column("share_i_iii", "I～III类比例", "Share I–III", ColumnKind.PERCENT, "%", 1),
    Column("worse_v", "劣V类", "Worse than V", ColumnKind.NUMBER),
    Column("share_worse_v", "劣V类比例", "Share worse than V", ColumnKind.PERCENT, "%", 1),
)


def _counts_table(city: CityAssessment) -> Table:
    return Table(
        "class_counts",
        "国考、省考及全部断面水质类别统计",
        "Sections by class: national, provincial and all",
        (Column("scope", "范围", "Scope"), *_COUNT_COLUMNS),
        tuple(_counts_rows(city.counts)),
        (),
        Text(
            "比例以参评断面（有水质类别者）为分母；结冰、断流或无有效数据的断面不参评。",
            "Shares are of the classed sections; sections iced, dry or without valid data are not classed.",
        ),
    )


def _rivers_table(ctx: ReportContext, city: CityAssessment) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for view in city.rivers:
        g = view.grade
        rows.append(
            (
                view.river.name_zh,
                len(view.sections),
                g.sections
                if g
                else sum(1 for a in city.sections if a.section.id in view.sections and _roman(a)),
                g.grade.label_zh if g else "参评断面不足5个，不评价",
                _share(g.percent_i_to_iii) if g else None,
                _share(g.percent_worse_than_v) if g else None,
            )
        )
    return Table(
        "river_grades",
        "河流水质状况",
        "River grades",
        (
            Column("river", "河流", "River"),
            Column("sections", "断面数", "Sections", ColumnKind.NUMBER),
            Column("classed", "参评断面数", "Classed", ColumnKind.NUMBER),
            Column("grade", "水质状况", "Grade"),
            Column("share_i_iii", "I～III类比例", "Share I–III", ColumnKind.PERCENT, "%", 1),
            Column("share_worse_v", "劣V类比例", "Share worse than V", ColumnKind.PERCENT, "%", 1),
        ),
        tuple(rows),
    )


# -- CWQI ------------------------------------------------------------------------------------------------------


def _items_words(items: frozenset[str]) -> tuple[str, str]:
    order = [p for p in catalogue.PARAMETERS if p in items]
    return (
        "、".join(catalogue.get(p).name_zh for p in order),
        ", ".join(catalogue.get(p).name_en for p in order),
    )


def _cwqi_part(ctx: ReportContext, cwqi: CwqiReport) -> Part:
    areas = {a.name: a for a in cwqi.counties}
    ranking = Table(
        "county_cwqi",
        "区县水质指数（CWQI）排名",
        "County ranking by CWQI",
        (
            Column("rank", "排名", "Rank", ColumnKind.NUMBER),
            Column("county", "区县", "County"),
            Column("sections", "断面数", "Sections", ColumnKind.NUMBER),
            Column("cwqi", "CWQI", "CWQI", ColumnKind.NUMBER, "", 2),
        ),
        tuple((r.rank, r.key, len(areas[r.key].sections), r.value) for r in cwqi.county_ranking),
        (),
        Text("CWQI 越小水质越好，排名由好到差。", "A smaller CWQI is cleaner water; cleanest first."),
    )
    delta_rows: list[tuple[Cell, ...]] = []
    delta_marks: list[Emphasis | None] = []
    for r in cwqi.county_delta_ranking:
        area = areas[r.key]
        delta_rows.append(
            (
                r.rank,
                r.key,
                area.now_paired.value if area.now_paired else None,
                area.last_year.value if area.last_year else None,
                r.value,
            )
        )
        delta_marks.append(Emphasis.BAD if r.value > 0 else None)
    delta = Table(
        "county_delta_cwqi",
        "区县水质指数变化率（ΔCWQI）排名",
        "County ranking by ΔCWQI",
        (
            Column("rank", "排名", "Rank", ColumnKind.NUMBER),
            Column("county", "区县", "County"),
            Column("cwqi", "本月CWQI", "CWQI this month", ColumnKind.NUMBER, "", 2),
            Column("cwqi_last_year", "去年同期CWQI", "CWQI a year earlier", ColumnKind.NUMBER, "", 2),
            Column("delta", "ΔCWQI", "ΔCWQI", ColumnKind.NUMBER, "%", 2),
        ),
        tuple(delta_rows),
        tuple(delta_marks),
        Text(
            f"与去年同期（{cwqi.last_year_period.label}）相比，仅计两年均有数据的断面；负值为改善，由改善最多到变差最多"
            "排名；变差的区县以红色标出。",
            f"Against the same month a year earlier ({cwqi.last_year_period.label}), over the sections with a "
            "figure in both; negative is better; most improved first; counties that worsened in red.",
        ),
    )
    section_rows = tuple(
        (
            *section_cells(ctx.assessor, s.section),
            s.now.value if s.now else None,
            s.last_year.value if s.last_year else None,
            s.delta,
        )
        for s in cwqi.sections
    )
    sections = Table(
        "section_cwqi",
        "各断面水质指数",
        "CWQI by section",
        (
            *SECTION_COLUMNS,
            Column("cwqi", "本月CWQI", "CWQI this month", ColumnKind.NUMBER, "", 2),
            Column("cwqi_last_year", "去年同期CWQI", "CWQI a year earlier", ColumnKind.NUMBER, "", 2),
            Column("delta", "ΔCWQI", "ΔCWQI", ColumnKind.NUMBER, "%", 2),
        ),
        section_rows,
    )
    zh_items, en_items = _items_words(cwqi.items)
    city = cwqi.city
    paragraphs = [
        Text(
            f"水质指数按各断面共有的监测项目计算（{zh_items or '无'}），以便同口径比较。",
            f"CWQI over the items every section's figure shares ({en_items or 'none'}), to compare like with like.",
        )
    ]
    if city.now is not None:
        delta_zh = f"，较去年同期变化 {city.delta}%" if city.delta is not None else ""
        delta_en = f", {city.delta} % against a year earlier" if city.delta is not None else ""
        paragraphs.append(
            Text(f"全市CWQI为 {city.now.value}{delta_zh}。", f"City CWQI {city.now.value}{delta_en}.")
        )
    bars = Chart(
        "cwqi_bars",
        ChartKind.BARS,
        "区县水质指数（CWQI）",
        "County CWQI",
        {
            "unit": "",
            "bars": [
                {"label_zh": r.key, "label_en": r.key, "value": r.value, "class": None}
                for r in cwqi.county_ranking
            ],
        },
    )
    return Part(
        "cwqi",
        "水质指数排名",
        "CWQI rankings",
        tuple(paragraphs),
        (ranking, delta, sections),
        (bars,),
    )


# -- pollutants, comparison, off target -----------------------------------------------------------------------


def _pollutants_table(ctx: ReportContext, city: CityAssessment) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for a in city.sections:
        for n, item in enumerate(a.judgement.main_pollutants, start=1):
            rows.append(
                (
                    *section_cells(ctx.assessor, a.section),
                    n,
                    item.name_zh,
                    item.mean,
                    catalogue.get(item.param).unit or None,
                    item.water_class.roman if item.water_class else None,
                    item.multiple,
                )
            )
    return Table(
        "main_pollutants",
        "主要污染物及超标倍数",
        "Main pollutants and exceedance multiples",
        (
            *SECTION_COLUMNS,
            Column("order", "序号", "No.", ColumnKind.NUMBER),
            Column("item", "污染物", "Pollutant"),
            Column("mean", "月均值", "Monthly mean", ColumnKind.NUMBER),
            Column("unit", "单位", "Unit"),
            Column("class", "类别", "Class", ColumnKind.CLASS),
            Column("multiple", "超III类倍数", "× over class III", ColumnKind.NUMBER, "", 2),
        ),
        tuple(rows),
        (),
        Text(
            "主要污染物为超过III类的项目，按类别、超标倍数取前三；pH、溶解氧无超标倍数。",
            "Main pollutants are items worse than class III, worst first, at most three; pH and DO have no "
            "multiple.",
        ),
    )


def _change(now: WaterClass | None, then: WaterClass | None) -> Text | None:
    """Better, worse or unchanged against an earlier class (the weekly analysis's words); None without both."""
    if now is None or then is None:
        return None
    return texts.BETTER if now < then else texts.WORSE if now > then else texts.SAME


def _comparison_part(
    ctx: ReportContext,
    city: CityAssessment,
    before: CityAssessment,
    last_year: CityAssessment,
) -> Part:
    prev_by = {a.section.id: a for a in before.sections}
    ly_by = {a.section.id: a for a in last_year.sections}
    rows: list[tuple[Cell, ...]] = []
    marks: list[Emphasis | None] = []
    for a in city.sections:
        p, y = prev_by[a.section.id], ly_by[a.section.id]
        now_c = a.judgement.water_class
        vs_prev = _change(now_c, p.judgement.water_class)
        vs_year = _change(now_c, y.judgement.water_class)
        rows.append(
            (
                *section_cells(ctx.assessor, a.section),
                _roman(a),
                _roman(p),
                vs_prev.zh if vs_prev else None,
                _roman(y),
                vs_year.zh if vs_year else None,
            )
        )
        marks.append(Emphasis.WARN if texts.WORSE in (vs_prev, vs_year) else None)
    classes = Table(
        "class_comparison",
        "断面水质类别与上月、去年同期比较",
        "Classes against the previous month and a year earlier",
        (
            *SECTION_COLUMNS,
            Column("class", "本月", "This month", ColumnKind.CLASS),
            Column(
                "class_previous",
                f"上月（{before.period.label}）",
                f"Previous ({before.period.label})",
                ColumnKind.CLASS,
            ),
            Column("vs_previous", "较上月", "vs previous"),
            Column(
                "class_last_year",
                f"去年同期（{last_year.period.label}）",
                f"A year earlier ({last_year.period.label})",
                ColumnKind.CLASS,
            ),
            Column("vs_last_year", "较去年同期", "vs a year earlier"),
        ),
        tuple(rows),
        tuple(marks),
        Text("变差的断面以警示色标出。", "Sections that worsened are highlighted."),
    )
    count_rows: list[tuple[Cell, ...]] = []
    for zh, assessed in (("本月", city), ("上月", before), ("去年同期", last_year)):
        count_rows.extend(_counts_rows(assessed.counts, (f"{zh} {assessed.period.label}",)))
    counts = Table(
        "counts_comparison",
        "水质类别统计与上月、去年同期比较",
        "Counts against the previous month and a year earlier",
        (Column("period", "时段", "Period"), Column("scope", "范围", "Scope"), *_COUNT_COLUMNS),
        tuple(count_rows),
    )
    return Part(
        "comparison", "同比环比", "Against the previous month and a year earlier", (), (classes, counts)
    )


def _off_target(city: CityAssessment) -> list[SectionAssessment]:
    return [a for a in city.sections if a.judgement.meets_target is False]


def _counties(off: Sequence[SectionAssessment]) -> list[str]:
    seen: list[str] = []
    for a in off:
        if a.section.county and a.section.county not in seen:
            seen.append(a.section.county)
    return seen


def _off_target_table(ctx: ReportContext, off: Sequence[SectionAssessment]) -> Table:
    rows = tuple(
        (
            *section_cells(ctx.assessor, a.section),
            a.section.target,
            _roman(a),
            describe_main_pollutants(a.judgement)[0] or None,
        )
        for a in off
    )
    return Table(
        "off_target",
        "未达到水质目标的断面",
        "Sections off target",
        (
            *SECTION_COLUMNS,
            Column("target", "目标", "Target", ColumnKind.CLASS),
            Column("class", "水质类别", "Class", ColumnKind.CLASS),
            Column("main", "主要污染物（超III类倍数）", "Main pollutants (× over class III)"),
        ),
        rows,
        tuple(Emphasis.BAD for _ in rows),
    )


# -- summary ---------------------------------------------------------------------------------------------------


def _pct(share: Decimal | None) -> str:
    return f"{share * 100:.1f}%" if share is not None else "—"


def _summary(ctx: ReportContext, city: CityAssessment, off: Sequence[SectionAssessment]) -> tuple[Text, ...]:
    month_zh, month_en = _month_words(city.period)
    c = city.counts["all"]
    good, bad = _share(c.percent_i_to_iii), _share(c.percent_worse_than_v)
    so_far_zh = "（本月尚未结束，为截至目前的数据）" if city.period.partial else ""
    so_far_en = " (month still running: so far)" if city.period.partial else ""
    out = [
        Text(
            f"{month_zh}{so_far_zh}，全市{c.sections}个断面中{c.classed}个参评：I～III类{c.i_to_iii}个，占{_pct(good)}；"
            f"劣V类{c.worse_than_v}个，占{_pct(bad)}。",
            f"{month_en}{so_far_en}: {c.classed} of {c.sections} sections classed; {c.i_to_iii} at I–III "
            f"({_pct(good)}), {c.worse_than_v} worse than V ({_pct(bad)}).",
        )
    ]
    if off:
        names_zh = "、".join(
            f"{a.section.name_zh}（{a.section.county}）" if a.section.county else a.section.name_zh
            for a in off
        )
        names_en = ", ".join(
            f"{a.section.name_en} ({a.section.county})" if a.section.county else a.section.name_en
            for a in off
        )
        counties = _counties(off)
        act_zh = f"；涉及区县：{'、'.join(counties)}" if counties else ""
        act_en = f"; counties to act: {', '.join(counties)}" if counties else ""
        out.append(
            Text(
                f"{len(off)}个断面未达到水质目标：{names_zh}{act_zh}。",
                f"{len(off)} section(s) off target: {names_en}{act_en}.",
            )
        )
    elif c.classed:
        out.append(Text("参评断面均达到水质目标。", "Every classed section met its target."))
    unclassed = [a for a in city.sections if a.judgement.status is not JudgementStatus.JUDGED]
    if unclassed:
        out.append(
            Text(
                f"{len(unclassed)}个断面未参评（结冰、断流或无有效数据）。",
                f"{len(unclassed)} section(s) not classed (ice, dry river or no valid data).",
            )
        )
    return tuple(out)


def _completeness(city: CityAssessment) -> Decimal | None:
    valid = sum(a.judgement.valid for a in city.sections)
    expected = sum(a.judgement.expected for a in city.sections)
    return ratio(valid, expected, COMPLETENESS_PLACES) if expected else None


# -- the product -----------------------------------------------------------------------------------------------


def make(ctx: ReportContext, ref: str) -> Report:
    """The bulletin of month ``ref`` ("2026-11"); ValueError for a bad ref or a month not started."""
    assessor = ctx.assessor
    period = assessor.period("month", ref)  # ValueError: bad form, or not started
    whole = assessor.whole(period)
    city = assessor.city(period)
    cwqi = assessor.cwqi(period)
    before = assessor.city(previous(whole))
    last_year = assessor.city(same_last_year(whole))
    off = _off_target(city)
    threshold = ctx.settings.low_capture
    stations = list(ctx.stations)
    operations = station_operations(ctx.store, assessor, stations, period.start, period.end, threshold)

    parts = [
        Part(
            "overview",
            "总体水质状况",
            "Overview",
            (),
            (_counts_table(city), _rivers_table(ctx, city)),
            (section_map(ctx.assessor.registry, city.sections),),
        ),
        Part(
            "sections",
            "各断面水质",
            "Sections",
            (),
            (_sections_table(ctx, city), _pollutants_table(ctx, city)),
        ),
        Part(
            "off_target",
            "未达标断面",
            "Sections off target",
            () if off else (Text("本月无未达标断面。", "No section was off target this month."),),
            (_off_target_table(ctx, off),),
        ),
        _cwqi_part(ctx, cwqi),
        _comparison_part(ctx, city, before, last_year),
        Part(
            "operation",
            "自动站运行情况",
            "Station operation",
            (),
            (
                operation_table(
                    operations,
                    threshold,
                    key="operation",
                    title_zh="自动站运行排名",
                    title_en="Station operation ranking",
                    rank=True,
                ),
            ),
        ),
    ]
    first = period.first_day
    flood_year = season_year(assessor.season, first.year, first.month)
    flood_figures: dict[str, object] = {}
    if flood_year is not None:
        flood = flood_until(assessor, flood_year, period.end)
        line = reference_value(ctx)
        parts.append(
            Part(
                "flood",
                "汛期污染强度",
                "Flood season",
                (
                    Text(
                        f"{flood_year}年汛期截至{flood.period.last_day.isoformat()}的污染强度排名（前{FLOOD_TOP}位）。",
                        f"The {flood_year} flood season's intensity ranking up to {flood.period.last_day.isoformat()} "
                        f"(top {FLOOD_TOP}).",
                    ),
                ),
                (
                    ranking_table(
                        assessor,
                        flood,
                        line,
                        key="flood_top",
                        title_zh="汛期污染强度排名（前列）",
                        title_en="Flood-season intensity ranking (top)",
                        top=FLOOD_TOP,
                    ),
                ),
                (ranking_chart(assessor, flood, line, key="flood_bars", top=FLOOD_TOP),),
            )
        )
        flood_figures = {
            "flood_season": flood_year,
            "flood_worst": [e.section for e in flood.ranking[:3]],
        }

    c = city.counts["all"]
    note = synthetic_note(ctx.store, period.start, period.end, [s.id for s in stations] or None)
    now = ctx.now()
    return Report(
        kind=ReportKind.MONTHLY,
        period=whole.label,
        first_day=whole.first_day,
        last_day=whole.last_day,
        issuer_zh=ctx.settings.issuer_zh,
        issuer_en=ctx.settings.issuer_en,
        issued=now.astimezone(ZONE).date(),
        made_at=now,
        cutoff=now,
        completeness=_completeness(city),
        summary=_summary(ctx, city, off),
        parts=tuple(parts),
        partial=period.partial,
        notes=(note,) if note else (),
        figures={
            "sections": c.sections,
            "judged": c.classed,
            "share_I_III": _share(c.percent_i_to_iii),
            "share_worse_V": _share(c.percent_worse_than_v),
            "off_target": len(off),
            "off_target_sections": [a.section.id for a in off],
            "counties_to_act": _counties(off),
            "city_cwqi": cwqi.city.now.value if cwqi.city.now else None,
            "low_operation": [r.station for r in ranked(operations) if r.low],
            **flood_figures,
        },
    )


__all__ = ["FLOOD_TOP", "make"]
