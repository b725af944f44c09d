"""The workbook read back with openpyxl: every number equals the JSON's, units in headers, frozen headers,
class fills, percentages as fractions, times as times, a summary sheet first."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from collector.reports.document import Report, loads
from collector.reports.render import render
from collector.reports.render.xlsx import FIRST_DATA_ROW, HEADER_ROW, sheet_name
from tests.collector.reports.render.fixture_report import (
    COUNTIES_SHEET,
    SECTIONS_HEADER_EN,
    SECTIONS_HEADER_ZH,
    make_report,
)


@pytest.fixture(scope="module")
def book() -> Workbook:
    return load_workbook(io.BytesIO(render(make_report(), "xlsx", "zh")))


def _sheets_of_tables(report_json: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for part in report_json["parts"] for t in part["tables"]]


def _rounded(value: Any, places: int | None, percent: bool) -> Decimal:
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if places is None:
        return d.normalize()
    if percent:
        places += 2  # a fraction: 96.8 % at 1 place is 0.968
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def test_sheets_summary_first_then_one_per_table(book: Workbook) -> None:
    assert book.sheetnames == ["概要", "sections", COUNTIES_SHEET]
    english = load_workbook(io.BytesIO(render(make_report(), "xlsx", "en")))
    assert english.sheetnames[0] == "summary"


def test_every_number_equals_the_json(report: Report, book: Workbook) -> None:
    data = loads(render(report, "json").decode("utf-8"))
    tables = _sheets_of_tables(data)
    compared = 0
    for table, name in zip(tables, book.sheetnames[1:], strict=True):
        ws = book[name]
        for i, row in enumerate(table["rows"]):
            for j, (value, column) in enumerate(zip(row, table["columns"], strict=True)):
                cell = ws.cell(FIRST_DATA_ROW + i, 1 + j)
                if column["kind"] not in ("number", "percent"):
                    continue
                if value is None:
                    assert cell.value is None
                    continue
                assert isinstance(cell.value, int | float), (name, i, j, cell.value)  # a number, not text
                percent = column["kind"] == "percent"
                places = column["places"]
                expected = _rounded(value, places, percent)
                # 0.004 keeps its one significant digit at 2 places: compare at the digits it shows
                if places is not None and not percent and expected.is_zero() and value != 0:
                    expected = Decimal(value)
                    exponent = expected.as_tuple().exponent
                    assert isinstance(exponent, int)
                    places = -exponent
                assert _rounded(cell.value, places, percent) == expected, (name, i, j)
                compared += 1
    # sections: 5 number and percent columns × 3 rows, less row 1's empty multiple (row 4 is empty); counties 3 × 2
    assert compared == 20


def test_number_formats_follow_places(book: Workbook) -> None:
    ws = book["sections"]
    f3, f4, g5 = ws["F3"], ws["F4"], ws["G5"]
    assert (f3.value, f3.number_format) == (1.0, "0.00")
    assert (f4.value, f4.number_format) == (1.26, "0.00")  # 1.265 half to even
    assert (g5.value, g5.number_format) == (0.004, "0.000")  # the kept digit is shown, not hidden as 0.00
    assert (ws["I4"].value, ws["I4"].number_format) == (14, "0")
    assert (ws["J3"].value, ws["J3"].number_format) == (0.968, "0.0%")
    assert (ws["J5"].value, ws["J5"].number_format) == (1.0, "0.0%")
    counties = book[COUNTIES_SHEET]
    assert (counties["D4"].value, counties["D4"].number_format) == (0.67, "0%")


def test_text_class_bool_and_time_cells(book: Workbook) -> None:
    ws = book["sections"]
    assert [ws.cell(3, j).value for j in range(1, 6)] == ["河西村", "汾河", "II", "III", "是"]
    assert ws["K4"].value == datetime(2026, 12, 2, 23, 0)  # 15:00 UTC, stored as Beijing time
    assert ws["K4"].number_format == "yyyy-mm-dd hh:mm"
    assert ws["K5"].value == datetime(2026, 12, 2) and ws["K5"].number_format == "yyyy-mm-dd"
    assert [ws.cell(6, j).value for j in (3, 5, 6, 11)] == [None, None, None, None]


def test_headers_carry_units_and_stay_frozen(book: Workbook) -> None:
    ws = book["sections"]
    assert ws.cell(1, 1).value == "断面水质"
    assert [c.value for c in ws[HEADER_ROW]] == SECTIONS_HEADER_ZH
    assert ws.freeze_panes == "A3"  # title and header rows stay in view
    assert all(c.font.bold for c in ws[HEADER_ROW])
    english = load_workbook(io.BytesIO(render(make_report(), "xlsx", "en")))
    assert [c.value for c in english["sections"][HEADER_ROW]] == SECTIONS_HEADER_EN
    assert book[COUNTIES_SHEET].freeze_panes == "A3"


def test_class_cells_filled_with_class_colours(book: Workbook) -> None:
    ws = book["sections"]
    fills = {ws.cell(r, 3).value: ws.cell(r, 3).fill.fgColor.rgb[-6:] for r in (3, 4, 5)}
    assert fills == {"II": "1E6FD9", "IV": "F2C200", "劣V": "D62728"}
    assert ws["D3"].fill.fgColor.rgb[-6:] == "2CA02C"  # target III
    assert ws["C6"].fill.fill_type is None  # no class, no fill
    assert ws["A4"].fill.fgColor.rgb[-6:] == "FFF4D6" and ws["A5"].fill.fgColor.rgb[-6:] == "FDE3E3"
    assert ws["A3"].fill.fill_type is None


def test_columns_wide_enough(book: Workbook) -> None:
    ws = book["sections"]
    assert ws.column_dimensions["A"].width >= 2 * len("界河铺村")  # CJK characters count double
    assert ws.column_dimensions["K"].width >= len("2026-12-02 23:00")


def test_summary_sheet(book: Workbook) -> None:
    texts = [str(c.value) for row in book["概要"].iter_rows() for c in row if c.value is not None]
    assert texts[0] == "水质日预警 2026-12-02"
    for expected in (
        "忻州市生态环境局",
        "2026-12-03",
        "2026-12-03 08:00 (北京时间)",
        "95.2%",
        "21个断面中3个未达标。",
        "原平、繁峙须采取措施。",
        "合成演示数据 · synthetic demo data",
        "迟到数据改变了本期数字。",
        COUNTIES_SHEET,
        "区县CWQI排名",
    ):
        assert expected in texts, expected


def test_sheet_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    assert sheet_name("sections", taken) == "sections"
    assert sheet_name("Sections", taken) == "Sections~2"  # Excel compares names ignoring case
    assert sheet_name("a/b[c]", taken) == "a_b_c_"
    long = "x" * 40
    assert sheet_name(long, taken) == "x" * 31
    assert sheet_name(long, taken) == "x" * 29 + "~2"
