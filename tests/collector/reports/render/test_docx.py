"""The Word document read back with python-docx: table texts equal the JSON's figures as formatted, class cells
shaded, the header row bold and repeated, one picture per chart with its caption, title, issuer and date, and the
East Asian font set so Word shows Chinese in a Chinese font."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from docx import Document
from docx.document import Document as DocumentObject
from docx.oxml.ns import qn
from docx.table import Table

from collector.reports.document import from_json, loads
from collector.reports.render import render
from collector.reports.render.cells import cell_text, header
from tests.collector.reports.render.fixture_report import (
    COUNTIES_HEADER_ZH,
    COUNTIES_ZH,
    SECTIONS_EN_YES_NO,
    SECTIONS_HEADER_EN,
    SECTIONS_HEADER_ZH,
    SECTIONS_ZH,
    make_report,
)

CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def doc() -> DocumentObject:
    return Document(io.BytesIO(render(make_report(), "docx", "zh")))


def _texts(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def test_tables_read_as_the_formatted_figures(doc: DocumentObject) -> None:
    assert len(doc.tables) == 2
    assert _texts(doc.tables[0]) == [SECTIONS_HEADER_ZH, *SECTIONS_ZH]
    assert _texts(doc.tables[1]) == [COUNTIES_HEADER_ZH, *COUNTIES_ZH]


def test_every_table_equals_the_json_as_formatted(doc: DocumentObject) -> None:
    # the document re-made from its archived JSON (as the archive re-renders) shows the same texts
    again = from_json(loads(render(make_report(), "json").decode("utf-8")))
    for table, word_table in zip(again.tables(), doc.tables, strict=True):
        expected = [[header(c, "zh") for c in table.columns]]
        expected += [
            [cell_text(v, c, "zh") for v, c in zip(row, table.columns, strict=True)] for row in table.rows
        ]
        assert _texts(word_table) == expected


def test_english_tables() -> None:
    english = Document(io.BytesIO(render(make_report(), "docx", "en")))
    rows = _texts(english.tables[0])
    assert rows[0] == SECTIONS_HEADER_EN
    assert [r[4] for r in rows[1:]] == SECTIONS_EN_YES_NO
    assert english.paragraphs[0].text == "Daily water-quality warning"


def test_header_row_bold_and_repeated_rows_kept_whole(doc: DocumentObject) -> None:
    header = doc.tables[0].rows[0]
    assert all(run.bold for cell in header.cells for p in cell.paragraphs for run in p.runs)
    trpr = header._tr.trPr
    assert trpr is not None
    # in the schema's order, or Word refuses the file
    assert [child.tag for child in trpr] == [qn("w:cantSplit"), qn("w:tblHeader")]
    for row in doc.tables[0].rows[1:]:
        assert row._tr.trPr is not None
        assert [child.tag for child in row._tr.trPr] == [qn("w:cantSplit")]  # a row never splits over pages


def _fill(cell: object) -> str | None:
    tcpr = cell._tc.tcPr  # type: ignore[attr-defined]
    shd = None if tcpr is None else tcpr.find(qn("w:shd"))
    return None if shd is None else shd.get(qn("w:fill"))


def test_class_cells_shaded_and_emphasis_rows(doc: DocumentObject) -> None:
    rows = doc.tables[0].rows
    assert [_fill(rows[r].cells[2]) for r in (1, 2, 3, 4)] == ["1E6FD9", "F2C200", "D62728", None]
    assert _fill(rows[1].cells[3]) == "2CA02C"
    tcpr = rows[1].cells[2]._tc.tcPr
    assert tcpr is not None and [child.tag for child in tcpr] == [qn("w:tcW"), qn("w:shd")]
    assert [_fill(rows[r].cells[0]) for r in (1, 2, 3, 4)] == [None, "FFF4D6", "FDE3E3", None]


def test_one_picture_per_chart_with_captions(doc: DocumentObject) -> None:
    assert len(doc.inline_shapes) == 3
    blobs = [rel.target_part.blob for rel in doc.part.rels.values() if "image" in rel.reltype]
    assert len(blobs) == 3 and all(b.startswith(b"\x89PNG") for b in blobs)
    captions = [p.text for p in doc.paragraphs if p.style is not None and p.style.name == "Caption"]
    assert captions == [
        "表1  断面水质",
        "图1  断面水质分布",
        "图2  界河铺村 氨氮 日均值",
        "表2  区县CWQI排名",
        "图3  断面CWQI排名",
    ]


def test_title_issuer_date_and_front_matter(doc: DocumentObject) -> None:
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "水质日预警"
    assert doc.paragraphs[0].style is not None and doc.paragraphs[0].style.name == "Title"
    for line in (
        "发布单位：忻州市生态环境局",
        "时段：2026-12-02",
        "发布日期：2026-12-03",
        "数据截止：2026-12-03 08:00 (北京时间)",
        "数据完整率：95.2%",
        "说明：合成演示数据 · synthetic demo data",
        "说明：迟到数据改变了本期数字。",
        "21个断面中3个未达标。",
        "界河铺村氨氮超标0.27倍。",
        "超标倍数按目标类别限值计。",
    ):
        assert line in texts, line
    headings = [p.text for p in doc.paragraphs if p.style is not None and p.style.name == "Heading 1"]
    assert headings == ["摘要", "断面情况", "排名"]
    assert doc.core_properties.author == "忻州市生态环境局"


def test_chinese_runs_have_an_east_asian_font(doc: DocumentObject) -> None:
    normal = doc.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:eastAsia")) == "宋体" and normal.get(qn("w:eastAsiaTheme")) is None
    assert doc.styles["Heading 1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    runs = [r for p in doc.paragraphs for r in p.runs]
    runs += [r for t in doc.tables for row in t.rows for c in row.cells for p in c.paragraphs for r in p.runs]
    chinese = [r for r in runs if CJK.search(r.text)]
    assert len(chinese) > 40
    assert all(_east_asia(r._r) for r in chinese)


def _east_asia(r: Any) -> str | None:
    fonts = None if r.rPr is None else r.rPr.rFonts
    return None if fonts is None else fonts.get(qn("w:eastAsia"))


def test_a4_page(doc: DocumentObject) -> None:
    section = doc.sections[0]
    assert section.page_width is not None and section.page_height is not None
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
