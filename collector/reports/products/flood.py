"""汛期污染强度排名 · the flood-season pollution intensity ranking (issue 13, item 4).

Every section's intensity over the season starting in year ``ref`` (``Assessor.flood``: the season's maximum
valid concentration of each item ÷ its target-class limit, the largest ratio the section's), ranked as the
ministry ranks them (``rank_intensity``). While the season runs the product covers its elapsed part and says
so (``Report.partial``).

The national reference line (``[reports] national_reference``, e.g. last year's 50th value of the national
ranking) is configuration: a section whose intensity is at or above it is at risk of the national top 50
(which costs its county points) and is marked BAD. Without a line nothing is marked.

The section cells and the ranking table are shared with the monthly bulletin's flood-season part
(monthly.py), which shows the top of the running season's ranking.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from decimal import Decimal

from collector.assessing import Assessor, FloodReport
from collector.assessment import FloodSeason
from collector.assessment.periods import ZONE
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
from collector.reports.sectioncols import SECTION_COLUMNS, local_time, section_cells
from collector.reports.synthetic import synthetic_note

WORST_SHOWN = 3  # sections named in the summary

RANKING_COLUMNS = (
    Column("rank", "排名", "Rank", ColumnKind.NUMBER),
    *SECTION_COLUMNS,
    Column("target", "目标", "Target", ColumnKind.CLASS),
    Column("item", "首要污染物", "Primary pollutant"),
    Column("value", "最大浓度", "Maximum", ColumnKind.NUMBER, "mg/L"),
    Column("time", "出现时间", "Time", ColumnKind.TIME),
    Column("limit", "目标限值", "Target limit", ColumnKind.NUMBER, "mg/L"),
    Column("ratio", "污染强度", "Intensity", ColumnKind.NUMBER, "", 1),
    Column("at_risk", "国家前50风险", "Risk of national top 50", ColumnKind.BOOL),
)


def parse_year(ref: str) -> int:
    if not isinstance(ref, str) or not re.fullmatch(r"\d{4}", ref.strip()):
        raise ValueError(f"a flood season is written like '2026' (the year it starts in), got {ref!r}")
    return int(ref.strip())


def season_year(season: FloodSeason, year: int, month: int) -> int | None:
    """The year the season containing ``month`` of ``year`` starts in; None when the month is outside it."""
    if season.first_month <= season.last_month:
        return year if season.first_month <= month <= season.last_month else None
    if month >= season.first_month:
        return year
    return year - 1 if month <= season.last_month else None


def flood_until(assessor: Assessor, year: int, until: datetime) -> FloodReport:
    """The season of ``year`` as it stood at ``until`` (the end of a month's bulletin): the same assessor
    with its clock stopped there, so that a past month's bulletin is made again with the same figures."""
    stopped = copy.copy(assessor)
    cut = min(until, assessor.now())
    stopped.clock = lambda: cut
    return stopped.flood(year)


def reference_value(ctx: ReportContext) -> Decimal | None:
    line = ctx.settings.national_reference
    return Decimal(repr(line)) if line is not None else None


def reference_note(line: Decimal | None) -> Text:
    if line is None:
        return Text(
            "未配置国家参考线（[reports] national_reference），未标注国家前50风险。",
            "No national reference line is configured ([reports] national_reference): no section is marked "
            "at risk of the national top 50.",
        )
    return Text(
        f"国家参考线 {line}：按配置取上一年全国汛期污染强度排名第50位的数值；污染强度达到或超过该线的断面"
        "有进入全国前50的风险（所在区县将被扣分），以红色标出。",
        f"National reference line {line}: configured as last year's 50th value of the national flood-season "
        "intensity ranking; a section at or above it is at risk of the national top 50 (its county loses "
        "points) and is marked red.",
    )


def ranking_table(
    assessor: Assessor,
    flood: FloodReport,
    line: Decimal | None,
    *,
    key: str = "flood_ranking",
    title_zh: str = "汛期污染强度排名",
    title_en: str = "Flood-season intensity ranking",
    top: int | None = None,
) -> Table:
    """Ranked sections first (at most ``top``), then, for the whole ranking, the sections without a valid
    value in the season (no rank); at or above ``line`` marked BAD."""
    by_id = {s.id: (s, i) for s, i in flood.sections}
    rows: list[tuple[Cell, ...]] = []
    marks: list[Emphasis | None] = []
    for entry in flood.ranking[:top] if top is not None else flood.ranking:
        section, _ = by_id[entry.section]
        t = entry.top
        at_risk = line is not None and t.ratio >= line
        rows.append(
            (
                entry.rank,
                *section_cells(assessor, section),
                section.target,
                t.name_zh,
                t.value,
                local_time(t.at),
                t.limit,
                t.ratio,
                at_risk if line is not None else None,
            )
        )
        marks.append(Emphasis.BAD if at_risk else None)
    if top is None:
        for section, intensity in flood.sections:
            if intensity.top is None:
                rows.append(
                    (None, *section_cells(assessor, section), section.target) + ("无有效数据",) + (None,) * 5
                )
                marks.append(None)
    return Table(
        key,
        title_zh,
        title_en,
        RANKING_COLUMNS,
        tuple(rows),
        tuple(marks),
        reference_note(line),
    )


def ranking_chart(
    assessor: Assessor,
    flood: FloodReport,
    line: Decimal | None,
    *,
    key: str = "flood_bars",
    top: int | None = None,
) -> Chart:
    """The ranked sections' intensities as bars, largest first, with the national reference line."""
    by_id = {s.id: s for s, _ in flood.sections}
    bars = [
        {
            "label_zh": by_id[e.section].name_zh,
            "label_en": by_id[e.section].name_en,
            "value": e.top.ratio,
            "class": None,
        }
        for e in (flood.ranking[:top] if top is not None else flood.ranking)
    ]
    data: dict[str, object] = {"unit": "", "bars": bars}
    if line is not None:
        data["reference"] = {
            "value": line,
            "label_zh": "国家参考线",  # the renderers print the value beside it
            "label_en": "National reference",
        }
    return Chart(key, ChartKind.BARS, "汛期污染强度", "Flood-season pollution intensity", data)


def worst_names(
    assessor: Assessor, flood: FloodReport, n: int = WORST_SHOWN
) -> list[tuple[str, str, Decimal]]:
    """(name_zh, name_en, ratio) of the ``n`` most polluted sections."""
    out = []
    for entry in flood.ranking[:n]:
        section = assessor.registry.section(entry.section)
        out.append((section.name_zh, section.name_en, entry.top.ratio))
    return out


def above(flood: FloodReport, line: Decimal | None) -> list[str]:
    """Ids of the ranked sections at or above ``line`` (none without a line)."""
    if line is None:
        return []
    return [e.section for e in flood.ranking if e.top.ratio >= line]


def _summary(ctx: ReportContext, flood: FloodReport, line: Decimal | None) -> tuple[Text, ...]:
    n = len(flood.ranking)
    total = len(flood.sections)
    so_far_zh = "（汛期进行中，截至目前）" if flood.period.partial else ""
    so_far_en = " (season still running: so far)" if flood.period.partial else ""
    out = [
        Text(
            f"{flood.year}年汛期{so_far_zh}共{total}个断面，{n}个有有效监测数据参与排名。",
            f"Flood season {flood.year}{so_far_en}: {n} of {total} sections have valid data and are ranked.",
        )
    ]
    worst = worst_names(ctx.assessor, flood)
    if worst:
        out.append(
            Text(
                "污染强度最高的断面：" + "、".join(f"{zh}（{r}）" for zh, _, r in worst) + "。",
                "Highest intensity: " + ", ".join(f"{en} ({r})" for _, en, r in worst) + ".",
            )
        )
    if line is not None:
        risky = above(flood, line)
        out.append(
            Text(
                f"{len(risky)}个断面达到或超过国家参考线 {line}，有进入全国前50的风险。",
                f"{len(risky)} section(s) at or above the national reference line {line}: at risk of the "
                "national top 50.",
            )
        )
    return tuple(out)


def _items_table(ctx: ReportContext, flood: FloodReport) -> Table:
    """Each ranked section's every item (not only the primary one): value, time, limit, ratio."""
    rows: list[tuple[Cell, ...]] = []
    ranked = {e.section: e.rank for e in flood.ranking}
    order = sorted(
        ((s, i) for s, i in flood.sections if s.id in ranked), key=lambda si: (ranked[si[0].id], si[0].id)
    )
    for section, intensity in order:
        for item in intensity.items:
            rows.append(
                (
                    *section_cells(ctx.assessor, section),
                    item.name_zh,
                    item.value,
                    local_time(item.at),
                    item.limit,
                    item.ratio,
                )
            )
    return Table(
        "flood_items",
        "各断面各项目汛期污染强度",
        "Flood-season intensity by section and item",
        (
            *SECTION_COLUMNS,
            Column("item", "项目", "Item"),
            Column("value", "最大浓度", "Maximum", ColumnKind.NUMBER, "mg/L"),
            Column("time", "出现时间", "Time", ColumnKind.TIME),
            Column("limit", "目标限值", "Target limit", ColumnKind.NUMBER, "mg/L"),
            Column("ratio", "污染强度", "Intensity", ColumnKind.NUMBER, "", 1),
        ),
        tuple(rows),
    )


def make(ctx: ReportContext, ref: str) -> Report:
    """The ranking of the season starting in year ``ref``; ValueError for a bad ref or a season not started."""
    year = parse_year(ref)
    flood = ctx.assessor.flood(year)  # ValueError before the season starts
    line = reference_value(ctx)
    whole = ctx.assessor.whole(flood.period)
    risky = above(flood, line)
    intro = Text(
        "污染强度 = 汛期内各项目有效监测值的最大值 ÷ 断面目标类别限值（不含水温、pH、溶解氧），取最大者为断面污染"
        "强度，由高到低排名；同值同名次。",
        "Intensity = the season's maximum valid value of each item ÷ its limit for the section's target class "
        "(not temperature, pH or DO); the largest is the section's intensity, ranked highest first; equal "
        "values share a rank.",
    )
    parts = (
        Part(
            "ranking",
            "汛期污染强度排名",
            "Flood-season intensity ranking",
            (intro,),  # the line is explained in the table's note
            (ranking_table(ctx.assessor, flood, line), _items_table(ctx, flood)),
            (ranking_chart(ctx.assessor, flood, line),),
        ),
    )
    worst = [e.section for e in flood.ranking[:WORST_SHOWN]]
    note = synthetic_note(
        ctx.store, flood.period.start, flood.period.end, [s.id for s in ctx.stations] or None
    )
    now = ctx.now()
    return Report(
        kind=ReportKind.FLOOD,
        period=f"{year}",
        first_day=whole.first_day,
        last_day=whole.last_day,
        issuer_zh=ctx.settings.issuer_zh,
        issuer_en=ctx.settings.issuer_en,
        issued=now.astimezone(ZONE).date(),
        made_at=now,
        cutoff=now,
        completeness=None,
        summary=_summary(ctx, flood, line),
        parts=parts,
        partial=flood.period.partial,
        notes=(note,) if note else (),
        figures={
            "sections": len(flood.sections),
            "ranked": len(flood.ranking),
            "worst": worst,
            "reference": line,
            "above_reference": len(risky) if line is not None else None,
        },
    )


__all__ = [
    "RANKING_COLUMNS",
    "above",
    "flood_until",
    "make",
    "parse_year",
    "ranking_chart",
    "ranking_table",
    "reference_note",
    "reference_value",
    "season_year",
    "worst_names",
]
