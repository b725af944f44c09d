"""A product as an xlsx workbook (openpyxl): a summary sheet, then one sheet per table.

Numbers are stored as numbers (a Decimal becomes a float only here, at write time) with the number format of
their column's places ("0.00"), percentages as fractions shown "0.0%", so a reader can compute with them and
sees the same digits as on the page. Each table sheet has its title in row 1 and its header (with units) in
row 2, both frozen; class cells carry the class colour. Sheet names are the table keys (≤ 31 characters,
unique). The layout is fixed, so tests read figures back by position.
"""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from collector.assessment.periods import ZONE
from collector.reports.document import Cell, Column, ColumnKind, Emphasis, Report, Table
from collector.reports.render import meta
from collector.reports.render.cells import cell_text, class_fill, header, number, percent, pick, title

TITLE_ROW = 1
HEADER_ROW = 2
FIRST_DATA_ROW = 3
MAX_SHEET_NAME = 31
SUMMARY_SHEET = {"zh": "概要", "en": "summary"}
_BAD_SHEET_CHARS = set("[]:*?/\\")
_EMPHASIS_FILL = {Emphasis.WARN: "FFF4D6", Emphasis.BAD: "FDE3E3"}
_HEADER_FILL = PatternFill("solid", fgColor="EEF2F6")
_BOLD = Font(bold=True)


def _solid(hex_colour: str) -> PatternFill:
    return PatternFill("solid", fgColor=hex_colour.lstrip("#").upper())


def _format(places: int) -> str:
    return "0" if places <= 0 else "0." + "0" * places


def _decimals(d: Decimal) -> int:
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(-exponent, 0)


def sheet_name(key: str, taken: set[str]) -> str:
    """The table key as a sheet name: no characters Excel refuses, ≤ 31 characters, unique ignoring case."""
    base = "".join("_" if ch in _BAD_SHEET_CHARS else ch for ch in key).strip("'") or "table"
    name = base[:MAX_SHEET_NAME]
    n = 1
    while name.lower() in taken:
        n += 1
        suffix = f"~{n}"
        name = base[: MAX_SHEET_NAME - len(suffix)] + suffix
    taken.add(name.lower())
    return name


def _time(text: str) -> datetime | date | str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if "T" not in text and " " not in text:
        return moment.date()
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZONE).replace(tzinfo=None)  # Excel has no zones: local time, as shown
    return moment


def cell_value(value: Cell, column: Column, lang: str) -> tuple[Any, str | None]:
    """What the sheet stores for a cell, and its number format (None: the default)."""
    if value is None:
        return None, None
    if isinstance(value, bool) or column.kind in (ColumnKind.TEXT, ColumnKind.CLASS, ColumnKind.BOOL):
        return cell_text(value, column, lang), None
    if isinstance(value, int | Decimal) and column.kind is ColumnKind.PERCENT:
        shown = percent(value, column.places)
        return float(shown / 100), _format(_decimals(shown)) + "%"
    if isinstance(value, int | Decimal):
        if isinstance(value, int) and column.places is None:
            return value, "0"
        rounded = number(value, column.places)
        return float(rounded), _format(_decimals(rounded))
    if column.kind is ColumnKind.TIME:
        moment = _time(value)
        if isinstance(moment, datetime):
            return moment, "yyyy-mm-dd hh:mm"
        if isinstance(moment, date):
            return moment, "yyyy-mm-dd"
    return value, None


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table_sheet(ws: Worksheet, table: Table, lang: str) -> None:
    ws.cell(TITLE_ROW, 1, title(table.title_zh, table.title_en, lang)).font = Font(bold=True, size=13)
    widths = [_width(header(c, lang)) for c in table.columns]
    for j, column in enumerate(table.columns, start=1):
        cell = ws.cell(HEADER_ROW, j, header(column, lang))
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for i, row in enumerate(table.rows):
        mark = table.emphasis[i] if table.emphasis else None
        for j, (value, column) in enumerate(zip(row, table.columns, strict=True), start=1):
            stored, fmt = cell_value(value, column, lang)
            cell = ws.cell(FIRST_DATA_ROW + i, j, stored)
            if fmt is not None:
                cell.number_format = fmt
            fill = class_fill(value) if column.kind is ColumnKind.CLASS else None
            if fill is not None:
                cell.fill = _solid(fill[0])
                cell.font = Font(bold=True, color=fill[1].lstrip("#").upper())
                cell.alignment = Alignment(horizontal="center")
            elif mark is not None:
                cell.fill = _solid(_EMPHASIS_FILL[mark])
            widths[j - 1] = max(widths[j - 1], _width(cell_text(value, column, lang)))
    if table.note is not None:
        ws.cell(FIRST_DATA_ROW + len(table.rows) + 1, 1, pick(table.note, lang))
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 60)
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 1).coordinate  # title and header rows stay in view


def _summary_sheet(ws: Worksheet, report: Report, sheets: list[tuple[str, Table]], lang: str) -> None:
    ws.cell(1, 1, f"{meta.report_title(report, lang)} {report.period}").font = Font(bold=True, size=15)
    row = 3
    for line in meta.lines(report, lang):
        ws.cell(row, 1, line.label).font = _BOLD
        ws.cell(row, 2, line.value)
        row += 1
    blocks = [
        (meta.word("summary", lang), [pick(t, lang) for t in report.summary]),
        (meta.word("notes", lang), meta.notes(report, lang)),
    ]
    for heading, texts in blocks:
        if not texts:
            continue
        row += 1
        ws.cell(row, 1, heading).font = _BOLD
        for text in texts:
            row += 1
            ws.cell(row, 1, text)
    row += 2
    ws.cell(row, 1, meta.word("contents", lang)).font = _BOLD
    for name, table in sheets:
        row += 1
        ws.cell(row, 1, name)
        ws.cell(row, 2, title(table.title_zh, table.title_en, lang))
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 60


def render(report: Report, lang: str) -> bytes:
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = SUMMARY_SHEET[lang]
    taken = {summary.title.lower()}
    sheets = [(sheet_name(t.key, taken), t) for t in report.tables()]
    _summary_sheet(summary, report, sheets, lang)
    for name, table in sheets:
        _table_sheet(wb.create_sheet(name), table, lang)
    wb.properties.creator = report.issuer_en if lang == "en" else report.issuer_zh
    wb.properties.title = f"{meta.report_title(report, lang)} {report.period}"
    wb.properties.created = report.made_at.astimezone(UTC).replace(
        tzinfo=None
    )  # openpyxl writes naive times as UTC
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


__all__ = ["FIRST_DATA_ROW", "HEADER_ROW", "SUMMARY_SHEET", "TITLE_ROW", "cell_value", "render", "sheet_name"]
