"""A cell as the page and the docx print it: places, half-to-even, percentages, yes/no, Beijing time."""

from __future__ import annotations

from decimal import Decimal

import pytest

from collector.reports.document import Column, ColumnKind
from collector.reports.render.cells import cell_text, class_fill, header, local_time

MG = Column("w21003", "氨氮", "NH3-N", ColumnKind.NUMBER, "mg/L", 2)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1"), "1.00"),
        (2, "2.00"),
        (Decimal("1.265"), "1.26"),  # GB/T 8170: a 5 rounds to even
        (Decimal("1.275"), "1.28"),
        (Decimal("0.004"), "0.004"),  # one significant digit of a tiny value is kept
        (Decimal("-0.50"), "-0.50"),
        (None, "—"),
    ],
)
def test_numbers_with_their_places(value: Decimal | int | None, shown: str) -> None:
    assert cell_text(value, MG, "zh") == shown


def test_a_number_without_places_as_stored() -> None:
    column = Column("n", "数", "n", ColumnKind.NUMBER)
    assert cell_text(Decimal("12.50"), column, "en") == "12.50"
    assert cell_text(7, column, "en") == "7"


def test_percentages_of_fractions() -> None:
    one = Column("c", "捕获率", "Capture", ColumnKind.PERCENT, "", 1)
    assert cell_text(Decimal("0.968"), one, "zh") == "96.8%"
    assert cell_text(Decimal("0.9685"), one, "zh") == "96.8%"  # 96.85 → 96.8 (half to even)
    assert cell_text(1, one, "zh") == "100.0%"
    assert cell_text(Decimal("0.667"), Column("s", "比例", "Share", ColumnKind.PERCENT, "", 0), "zh") == "67%"
    assert cell_text(Decimal("0.5"), Column("s", "比例", "Share", ColumnKind.PERCENT), "zh") == "50.0%"


def test_yes_no_class_text_and_time() -> None:
    flag = Column("m", "达标", "Meets", ColumnKind.BOOL)
    assert [cell_text(v, flag, "zh") for v in (True, False)] == ["是", "否"]
    assert [cell_text(v, flag, "en") for v in (True, False)] == ["yes", "no"]
    klass = Column("c", "类别", "Class", ColumnKind.CLASS)
    assert cell_text("劣V", klass, "en") == "劣V"
    assert cell_text("", klass, "en") == "—"
    assert local_time("2026-12-02T15:30:00+00:00") == "2026-12-02 23:30"  # shown in Asia/Shanghai
    assert local_time("2026-12-02T07:05:00+08:00") == "2026-12-02 07:05"
    assert local_time("2026-12-02") == "2026-12-02"
    assert local_time("结冰") == "结冰"


def test_class_colours_and_readable_text() -> None:
    assert class_fill("I") == ("#1e6fd9", "#ffffff")
    assert class_fill("III") == ("#2ca02c", "#ffffff")
    assert class_fill("IV") == ("#f2c200", "#000000")  # dark text on the light yellow
    assert class_fill("劣V") == ("#d62728", "#ffffff")
    assert class_fill("结冰") is None
    assert class_fill(None) is None


def test_header_carries_the_unit() -> None:
    assert header(MG, "zh") == "氨氮 (mg/L)"
    assert header(MG, "en") == "NH3-N (mg/L)"
    assert header(Column("x", "倍数", "", ColumnKind.NUMBER), "en") == "倍数"  # no English: the Chinese
