"""A bureau product as a document: the one thing every format renders (JSON, HTML, xlsx, docx).

A product (collector/reports/products/) gathers and judges once and returns a ``Report``; each renderer
(collector/reports/render/) only lays it out. So the figures of the xlsx, the docx, the page and the JSON are
the same by construction, and the archive keeps the JSON (``to_json``) and re-renders any format from it
(``from_json``).

Numbers are ``Decimal`` already rounded by the assessment (GB/T 8170); a column's ``places`` says how many
decimals to show (and the xlsx number format), its ``unit`` goes into the header. Text is bilingual where a
reader reads it: every title and paragraph has a Chinese and an English form; section and river names are
the registry's own (Chinese in both, with the English name beside where the registry has one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

FORMAT_VERSION = 1

Cell = str | int | Decimal | bool | None
"""A table cell: text, a count, a rounded number, a yes/no, or empty."""


class ReportKind(StrEnum):
    DAILY = "daily"  # 日预警
    WEEKLY = "weekly"  # 周研判
    MONTHLY = "monthly"  # 月通报
    FLOOD = "flood"  # 汛期排名

    @property
    def title_zh(self) -> str:
        return _TITLES[self][0]

    @property
    def title_en(self) -> str:
        return _TITLES[self][1]


_TITLES = {
    ReportKind.DAILY: ("水质日预警", "Daily water-quality warning"),
    ReportKind.WEEKLY: ("水质周研判", "Weekly water-quality analysis"),
    ReportKind.MONTHLY: ("水质月通报", "Monthly water-quality bulletin"),
    ReportKind.FLOOD: ("汛期污染强度排名", "Flood-season pollution intensity ranking"),
}


class ColumnKind(StrEnum):
    TEXT = "text"
    NUMBER = "number"  # Decimal or int, shown with ``places``
    PERCENT = "percent"  # a fraction (0.968) shown as 96.8 % with ``places`` decimals of the percentage
    CLASS = "class"  # a class as its Roman label ("III", "劣V"): coloured by GB 3838 class
    BOOL = "bool"  # 是/否 · yes/no
    TIME = "time"  # ISO 8601 text, already in Asia/Shanghai for display


class Emphasis(StrEnum):
    WARN = "warn"  # at warning level, or below a rate that needs attention (capture < 90 %)
    BAD = "bad"  # over the target, cannot be met, failing


@dataclass(frozen=True, slots=True)
class Text:
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title_zh: str
    title_en: str
    kind: ColumnKind = ColumnKind.TEXT
    unit: str = ""  # "mg/L", "h", "%": shown in the header, "COD (mg/L)"
    places: int | None = None  # decimals shown for NUMBER / PERCENT; None: as stored


@dataclass(frozen=True, slots=True)
class Table:
    key: str  # stable, ASCII: the xlsx sheet name and the JSON key
    title_zh: str
    title_en: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    emphasis: tuple[Emphasis | None, ...] = ()  # per row; empty: none
    note: Text | None = None

    def __post_init__(self) -> None:
        width = len(self.columns)
        for i, row in enumerate(self.rows):
            if len(row) != width:
                raise ValueError(f"table {self.key}: row {i} has {len(row)} cells for {width} columns")
        if self.emphasis and len(self.emphasis) != len(self.rows):
            raise ValueError(
                f"table {self.key}: {len(self.emphasis)} emphasis marks for {len(self.rows)} rows"
            )

    def column(self, key: str) -> int:
        for i, col in enumerate(self.columns):
            if col.key == key:
                return i
        raise KeyError(f"table {self.key} has no column {key!r}")

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip((c.key for c in self.columns), row, strict=True)) for row in self.rows]


class ChartKind(StrEnum):
    # data: {"rivers": [{"id", "name_zh", "name_en", "sections": [{"id", "name_zh", "class" ("III" | null),
    #        "target" ("III"), "meets" (bool | null), "status" (judged | not_measured | no_data)}]}]}
    # — sections upstream → downstream; drawn as one line per river with a class-coloured dot per section.
    SECTION_MAP = "section_map"
    # data: {"section", "param", "name_zh", "name_en", "unit", "points": [["2026-11-01", value | null], ...],
    #        "limit" (target-class limit | null), "warning" (warning level | null)}
    TREND = "trend"
    # data: {"unit", "bars": [{"label_zh", "label_en", "value", "class" ("III" | null)}]} — in the order given
    BARS = "bars"


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    kind: ChartKind
    title_zh: str
    title_en: str
    data: Mapping[str, Any]  # JSON-able, per kind above


@dataclass(frozen=True, slots=True)
class Part:
    """A chapter: its paragraphs, then its tables, then its charts."""

    key: str
    title_zh: str
    title_en: str
    paragraphs: tuple[Text, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    kind: ReportKind
    period: str  # the period reference: "2026-12-02", "2026-W48", "2026-11", "2026" (flood season)
    first_day: date  # local dates the period covers (Asia/Shanghai)
    last_day: date
    issuer_zh: str
    issuer_en: str
    issued: date  # the local date on the product
    made_at: datetime  # UTC
    cutoff: datetime  # UTC: data received up to this instant are in the figures
    completeness: Decimal | None  # valid ÷ expected over all automatic items of the period, 3 places
    summary: tuple[Text, ...]  # the short summary that opens the product
    parts: tuple[Part, ...]
    partial: bool = False  # the period was still running when made
    notes: tuple[Text, ...] = ()  # e.g. "synthetic demo history", "late data changed these figures"
    push: Text | None = None  # the one-message summary pushed to notifiers (daily warning)
    figures: Mapping[str, Any] = field(default_factory=dict)  # headline figures for the archive list

    @property
    def title_zh(self) -> str:
        return self.kind.title_zh

    @property
    def title_en(self) -> str:
        return self.kind.title_en

    def table(self, key: str) -> Table:
        for part in self.parts:
            for table in part.tables:
                if table.key == key:
                    return table
        raise KeyError(f"report has no table {key!r}")

    def tables(self) -> list[Table]:
        return [t for p in self.parts for t in p.tables]

    def charts(self) -> list[Chart]:
        return [c for p in self.parts for c in p.charts]


# -- JSON ------------------------------------------------------------------------------------------------------


def _cell_out(value: Cell) -> Any:
    return value  # Decimal stays Decimal: ``dumps`` writes its exact digits


def _text(t: Text) -> dict[str, str]:
    return {"zh": t.zh, "en": t.en}


def to_json(report: Report) -> dict[str, Any]:
    """The report as data for ``dumps`` (Decimal numbers kept exact; json.dumps alone refuses them)."""
    return {
        "format": FORMAT_VERSION,
        "kind": report.kind.value,
        "period": report.period,
        "first_day": report.first_day.isoformat(),
        "last_day": report.last_day.isoformat(),
        "title": {"zh": report.title_zh, "en": report.title_en},
        "issuer": {"zh": report.issuer_zh, "en": report.issuer_en},
        "issued": report.issued.isoformat(),
        "made_at": report.made_at.isoformat(),
        "cutoff": report.cutoff.isoformat(),
        "completeness": _cell_out(report.completeness),
        "partial": report.partial,
        "summary": [_text(t) for t in report.summary],
        "notes": [_text(t) for t in report.notes],
        "push": _text(report.push) if report.push else None,
        "figures": dict(report.figures),
        "parts": [
            {
                "key": p.key,
                "title": {"zh": p.title_zh, "en": p.title_en},
                "paragraphs": [_text(t) for t in p.paragraphs],
                "tables": [
                    {
                        "key": t.key,
                        "title": {"zh": t.title_zh, "en": t.title_en},
                        "columns": [
                            {
                                "key": c.key,
                                "title": {"zh": c.title_zh, "en": c.title_en},
                                "kind": c.kind.value,
                                "unit": c.unit,
                                "places": c.places,
                            }
                            for c in t.columns
                        ],
                        "rows": [[_cell_out(v) for v in row] for row in t.rows],
                        "emphasis": [e.value if e else None for e in t.emphasis],
                        "note": _text(t.note) if t.note else None,
                    }
                    for t in p.tables
                ],
                "charts": [
                    {
                        "key": c.key,
                        "kind": c.kind.value,
                        "title": {"zh": c.title_zh, "en": c.title_en},
                        "data": c.data,
                    }
                    for c in p.charts
                ],
            }
            for p in report.parts
        ],
    }


def _encode_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON-able: {type(value).__name__}")


_MARK = "\u0000num:"


def _mark(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _MARK + format(value, "f")
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v) for v in value]
    return value


def dumps(data: Mapping[str, Any], *, indent: int | None = None) -> str:
    """JSON text of ``to_json`` output with every Decimal written as a number with its exact digits."""
    text = json.dumps(_mark(data), ensure_ascii=False, indent=indent, default=_encode_default)
    quoted = json.dumps(_MARK)[1:-1]  # how the mark looks inside a JSON string
    out: list[str] = []
    i = 0
    while True:
        j = text.find('"' + quoted, i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        k = text.index('"', j + 1 + len(quoted))
        out.append(text[i:j])
        out.append(text[j + 1 + len(quoted) : k])
        i = k + 1


def loads(text: str) -> dict[str, Any]:
    """JSON text back to data, numbers with a fraction as Decimal (exact)."""
    data = json.loads(text, parse_float=Decimal)
    if not isinstance(data, dict):
        raise ValueError("a report is a JSON object")
    return data


def _text_in(d: Mapping[str, Any]) -> Text:
    return Text(str(d["zh"]), str(d["en"]))


def _cell_in(value: Any, column: Column) -> Cell:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int) and column.kind is ColumnKind.NUMBER and column.places:
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | Decimal):
        return value
    raise ValueError(f"bad cell {value!r}")


def from_json(data: Mapping[str, Any]) -> Report:
    """The inverse of ``to_json`` (after ``loads``): the archive re-renders any format from its JSON."""
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"report format {data.get('format')!r}, expected {FORMAT_VERSION}")
    parts: list[Part] = []
    for p in data["parts"]:
        tables: list[Table] = []
        for t in p["tables"]:
            columns = tuple(
                Column(
                    c["key"],
                    c["title"]["zh"],
                    c["title"]["en"],
                    ColumnKind(c["kind"]),
                    c.get("unit", ""),
                    c.get("places"),
                )
                for c in t["columns"]
            )
            rows = tuple(
                tuple(_cell_in(v, col) for v, col in zip(row, columns, strict=True)) for row in t["rows"]
            )
            tables.append(
                Table(
                    t["key"],
                    t["title"]["zh"],
                    t["title"]["en"],
                    columns,
                    rows,
                    tuple(Emphasis(e) if e else None for e in t.get("emphasis", [])),
                    _text_in(t["note"]) if t.get("note") else None,
                )
            )
        charts = tuple(
            Chart(c["key"], ChartKind(c["kind"]), c["title"]["zh"], c["title"]["en"], c["data"])
            for c in p["charts"]
        )
        parts.append(
            Part(
                p["key"],
                p["title"]["zh"],
                p["title"]["en"],
                tuple(_text_in(x) for x in p["paragraphs"]),
                tuple(tables),
                charts,
            )
        )
    completeness = data.get("completeness")
    return Report(
        kind=ReportKind(data["kind"]),
        period=str(data["period"]),
        first_day=date.fromisoformat(data["first_day"]),
        last_day=date.fromisoformat(data["last_day"]),
        issuer_zh=data["issuer"]["zh"],
        issuer_en=data["issuer"]["en"],
        issued=date.fromisoformat(data["issued"]),
        made_at=datetime.fromisoformat(data["made_at"]),
        cutoff=datetime.fromisoformat(data["cutoff"]),
        completeness=Decimal(str(completeness)) if completeness is not None else None,
        summary=tuple(_text_in(x) for x in data["summary"]),
        parts=tuple(parts),
        partial=bool(data.get("partial", False)),
        notes=tuple(_text_in(x) for x in data.get("notes", [])),
        push=_text_in(data["push"]) if data.get("push") else None,
        figures=dict(data.get("figures", {})),
    )


def figures_digest(report: Report) -> str:
    """A digest of the figures alone (tables, charts, summary), not of when it was made: re-making a past
    product gives the same digest unless the data changed."""
    data = to_json(report)
    for key in ("made_at", "cutoff", "notes", "issued"):
        data.pop(key, None)
    return hashlib.sha256(dumps(data).encode()).hexdigest()


__all__ = [
    "FORMAT_VERSION",
    "Cell",
    "Chart",
    "ChartKind",
    "Column",
    "ColumnKind",
    "Emphasis",
    "Part",
    "Report",
    "ReportKind",
    "Table",
    "Text",
    "dumps",
    "figures_digest",
    "from_json",
    "loads",
    "to_json",
]
