"""What every format prints above the figures: title, issuer, period, issue date, data cut-off, completeness.

One place for these lines and their fixed words, so the page, the workbook and the Word document say the same.
Times are shown in Asia/Shanghai (they are stored in UTC).
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.assessment.periods import ZONE
from collector.reports.document import Report, Text
from collector.reports.render.cells import EMPTY, percent, pick

WORDS = {
    "issuer": Text("发布单位", "Issued by"),
    "period": Text("时段", "Period"),
    "issued": Text("发布日期", "Issued"),
    "cutoff": Text("数据截止", "Data cut-off"),
    "completeness": Text("数据完整率", "Data completeness"),
    "summary": Text("摘要", "Summary"),
    "notes": Text("说明", "Notes"),
    "contents": Text("目录", "Contents"),
    "sheet": Text("工作表", "Sheet"),
    "table": Text("表", "Table"),
    "figure": Text("图", "Figure"),
    "partial": Text(
        "时段尚未结束，数字为截至数据截止时的结果。",
        "The period is still running: figures as of the cut-off.",
    ),
    "beijing": Text("北京时间", "Beijing time"),
}


def word(key: str, lang: str) -> str:
    return pick(WORDS[key], lang)


def caption(kind: str, number: int, name: str, lang: str) -> str:
    """A numbered caption: "表1  断面水质", "Table 1  Section water quality"."""
    label = word(kind, lang) + ("" if lang == "zh" else " ")
    return f"{label}{number}  {name}"


def report_title(report: Report, lang: str) -> str:
    return pick(Text(report.title_zh, report.title_en), lang)


def period_text(report: Report) -> str:
    """The period reference with the days it covers: "2026-W48 (2026-11-23 – 2026-11-29)"."""
    first, last = report.first_day.isoformat(), report.last_day.isoformat()
    if report.period == first == last:
        return first
    days = first if first == last else f"{first} – {last}"
    return f"{report.period} ({days})"


def cutoff_text(report: Report, lang: str) -> str:
    local = report.cutoff.astimezone(ZONE)
    return f"{local:%Y-%m-%d %H:%M} ({word('beijing', lang)})"


def completeness_text(report: Report) -> str:
    if report.completeness is None:
        return EMPTY
    return f"{percent(report.completeness, 1)}%"


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    value: str


def lines(report: Report, lang: str) -> list[Line]:
    """The labelled lines under the title, in print order."""
    return [
        Line(word("issuer", lang), pick(Text(report.issuer_zh, report.issuer_en), lang)),
        Line(word("period", lang), period_text(report)),
        Line(word("issued", lang), report.issued.isoformat()),
        Line(word("cutoff", lang), cutoff_text(report, lang)),
        Line(word("completeness", lang), completeness_text(report)),
    ]


def notes(report: Report, lang: str) -> list[str]:
    """The report's notes, with the still-running period said first."""
    out = [word("partial", lang)] if report.partial else []
    return out + [pick(n, lang) for n in report.notes]


__all__ = [
    "WORDS",
    "Line",
    "caption",
    "completeness_text",
    "cutoff_text",
    "lines",
    "notes",
    "period_text",
    "report_title",
    "word",
]
