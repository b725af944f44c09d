"""A product as a Word document (python-docx): title, issuing body and date, cut-off and completeness, notes,
summary, then each part with its paragraphs, tables (bold repeated header row, units in the header, class cells
shaded in the class colour) and charts as PNG pictures with captions. A4 portrait.

Word picks the font of Chinese text from the East Asian slot (w:eastAsia), not from the Latin one; it is set on
the styles used and on every run written, so the document reads in Chinese on any Word, not only a Chinese one.
"""

from __future__ import annotations

import io

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table as DocxTable
from docx.table import _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from collector.reports.document import Chart, ColumnKind, Emphasis, Report, Table
from collector.reports.render import charts, meta
from collector.reports.render.cells import cell_text, class_fill, header, is_numeric, pick, title

BODY_EAST_ASIA = "宋体"  # SimSun: the body font of Chinese official documents
HEADING_EAST_ASIA = "黑体"  # SimHei
CHART_WIDTH = Cm(16)
TABLE_FONT = Pt(9)
_EMPHASIS_FILL = {Emphasis.WARN: "FFF4D6", Emphasis.BAD: "FDE3E3"}


def _east_asia(element: object, name: str) -> None:
    """Set the East Asian font on a style's or a run's properties (and drop a theme font that would win)."""
    rpr = element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), name)
    fonts.attrib.pop(qn("w:eastAsiaTheme"), None)


def _run(paragraph: Paragraph, text: str, *, bold: bool = False, size: Pt | None = None) -> Run:
    run = paragraph.add_run(text)
    run.bold = bold or None
    if size is not None:
        run.font.size = size
    _east_asia(run._r, BODY_EAST_ASIA)
    return run


def _styles(doc: DocumentObject) -> None:
    for name in ("Normal", "Caption"):
        _east_asia(doc.styles[name].element, BODY_EAST_ASIA)
    for name in ("Title", "Heading 1", "Heading 2"):
        _east_asia(doc.styles[name].element, HEADING_EAST_ASIA)


def _page(doc: DocumentObject) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.2)
    section.top_margin = section.bottom_margin = Cm(2.2)


# Word reads these property elements only in the schema's order: each goes in before those that follow it.
_AFTER_SHD = ("w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark", "w:headers")
_AFTER_CANT_SPLIT = ("w:trHeight", "w:tblHeader", "w:tblCellSpacing", "w:jc", "w:hidden", "w:ins", "w:del")
_AFTER_TBL_HEADER = _AFTER_CANT_SPLIT[2:]


def _shade(cell: _Cell, hex_colour: str) -> None:
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), hex_colour.lstrip("#").upper())
    cell._tc.get_or_add_tcPr().insert_element_before(shd, *_AFTER_SHD)


def _row_flags(table: DocxTable) -> None:
    """No row splits across a page; the header row repeats on every page."""
    for i, row in enumerate(table.rows):
        trpr = row._tr.get_or_add_trPr()
        trpr.insert_element_before(OxmlElement("w:cantSplit"), *_AFTER_CANT_SPLIT)
        if i == 0:
            trpr.insert_element_before(OxmlElement("w:tblHeader"), *_AFTER_TBL_HEADER)


def _write_cell(cell: _Cell, text: str, *, bold: bool = False, right: bool = False) -> Run:
    paragraph = cell.paragraphs[0]
    if right:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    return _run(paragraph, text, bold=bold, size=TABLE_FONT)


def _caption(doc: DocumentObject, text: str) -> None:
    paragraph = doc.add_paragraph(style="Caption")
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(paragraph, text)


def _table(doc: DocumentObject, table: Table, number: int, lang: str) -> None:
    _caption(doc, meta.caption("table", number, title(table.title_zh, table.title_en, lang), lang))
    out = doc.add_table(rows=1 + len(table.rows), cols=len(table.columns))
    out.style = doc.styles["Table Grid"]
    for cell, column in zip(out.rows[0].cells, table.columns, strict=True):
        _write_cell(cell, header(column, lang), bold=True)
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    for i, row in enumerate(table.rows):
        mark = table.emphasis[i] if table.emphasis else None
        cells = out.rows[1 + i].cells
        for cell, value, column in zip(cells, row, table.columns, strict=True):
            run = _write_cell(cell, cell_text(value, column, lang), right=is_numeric(column))
            fill = class_fill(value) if column.kind is ColumnKind.CLASS else None
            if fill is not None:
                _shade(cell, fill[0])
                run.bold = True
                run.font.color.rgb = RGBColor.from_string(fill[1].lstrip("#").upper())
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
            elif mark is not None:
                _shade(cell, _EMPHASIS_FILL[mark])
    _row_flags(out)
    if table.note is not None:
        _run(doc.add_paragraph(), pick(table.note, lang), size=TABLE_FONT)


def _chart(doc: DocumentObject, chart: Chart, number: int, lang: str) -> None:
    doc.add_picture(io.BytesIO(charts.png(chart, lang)), width=CHART_WIDTH)
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _caption(doc, meta.caption("figure", number, title(chart.title_zh, chart.title_en, lang), lang))


def _heading(doc: DocumentObject, text: str, level: int) -> None:
    paragraph = doc.add_heading(level=level)
    _run(paragraph, text)


def _front(doc: DocumentObject, report: Report, lang: str) -> None:
    head = doc.add_paragraph(style="Title")
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(head, meta.report_title(report, lang))
    for line in meta.lines(report, lang):
        paragraph = doc.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _run(paragraph, line.label + ("：" if lang == "zh" else ": "), bold=True)
        _run(paragraph, line.value)
    for note in meta.notes(report, lang):  # a caveat the reader must see before the figures
        paragraph = doc.add_paragraph()
        _run(paragraph, meta.word("notes", lang) + ("：" if lang == "zh" else ": "), bold=True, size=Pt(10))
        _run(paragraph, note, size=Pt(10)).italic = True
    _heading(doc, meta.word("summary", lang), 1)
    for text in report.summary:
        _run(doc.add_paragraph(), pick(text, lang))


def render(report: Report, lang: str) -> bytes:
    doc = Document()
    _styles(doc)
    _page(doc)
    doc.core_properties.title = f"{meta.report_title(report, lang)} {report.period}"
    doc.core_properties.author = report.issuer_en if lang == "en" else report.issuer_zh
    doc.core_properties.created = report.made_at
    doc.core_properties.modified = report.made_at
    doc.core_properties.language = "zh-CN" if lang == "zh" else "en"
    _front(doc, report, lang)
    tables = figures = 0
    for part in report.parts:
        _heading(doc, title(part.title_zh, part.title_en, lang), 1)
        for text in part.paragraphs:
            _run(doc.add_paragraph(), pick(text, lang))
        for table in part.tables:
            tables += 1
            _table(doc, table, tables, lang)
        for chart in part.charts:
            figures += 1
            _chart(doc, chart, figures, lang)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


__all__ = ["render"]
