"""The page: every figure as formatted, class colours, emphasis, times in Beijing time, escaped text, print CSS,
and no request to anywhere (the dashboard frames it; a browser prints it offline)."""

from __future__ import annotations

import re
from html import escape

import pytest

from collector.reports.document import Report
from collector.reports.render import render
from tests.collector.reports.render.fixture_report import (
    COUNTIES_HEADER_ZH,
    COUNTIES_ZH,
    SCRIPT_NAME,
    SECTIONS_EN_YES_NO,
    SECTIONS_HEADER_EN,
    SECTIONS_HEADER_ZH,
    SECTIONS_ZH,
    make_report,
)


@pytest.fixture(scope="module")
def page_zh() -> str:
    return render(make_report(), "html", "zh").decode("utf-8")


def _rows(page: str, table_key: str) -> list[list[str]]:
    table = re.search(rf'<table id="table-{table_key}">(.*?)</table>', page, re.DOTALL)
    assert table, table_key
    return [
        re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1))
    ]


def test_every_figure_as_formatted(page_zh: str) -> None:
    rows = _rows(page_zh, "sections")
    assert rows[0] == SECTIONS_HEADER_ZH
    assert rows[1:] == [[escape(t, quote=False) for t in row] for row in SECTIONS_ZH]
    counties = _rows(page_zh, "county_ranking_by_cwqi_and_delta_cwqi")
    assert counties == [COUNTIES_HEADER_ZH, *COUNTIES_ZH]


def test_english_page(report: Report) -> None:
    page = render(report, "html", "en").decode("utf-8")
    rows = _rows(page, "sections")
    assert rows[0] == SECTIONS_HEADER_EN
    assert [r[4] for r in rows[1:]] == SECTIONS_EN_YES_NO
    assert '<html lang="en">' in page
    assert "Daily water-quality warning" in page and "Xinzhou Ecology and Environment Bureau" in page


def test_front_matter(page_zh: str) -> None:
    assert "<h1>水质日预警</h1>" in page_zh
    assert "忻州市生态环境局" in page_zh
    assert "2026-12-03 08:00 (北京时间)" in page_zh  # cut-off 00:00 UTC in Asia/Shanghai
    assert "<dd>95.2%</dd>" in page_zh  # completeness 0.952
    assert "合成演示数据 · synthetic demo data" in page_zh and "迟到数据改变了本期数字。" in page_zh
    assert "21个断面中3个未达标。" in page_zh
    assert "超标倍数按目标类别限值计。" in page_zh  # the table's note
    assert page_zh.index("摘要") < page_zh.index("断面情况") < page_zh.index("排名</h2>")


def test_class_cells_coloured_and_rows_marked(page_zh: str) -> None:
    assert '<td class="cls" style="background:#f2c200;color:#000000">IV</td>' in page_zh
    assert '<td class="cls" style="background:#d62728;color:#ffffff">劣V</td>' in page_zh
    marks = re.findall(r'<tr(?: class="(\w+)")?><td>', _table(page_zh, "sections"))
    assert marks == ["", "warn", "bad", ""]


def _table(page: str, key: str) -> str:
    found = re.search(rf'<table id="table-{key}">.*?</table>', page, re.DOTALL)
    assert found
    return found.group(0)


def test_charts_inline_as_svg_with_captions(page_zh: str) -> None:
    assert page_zh.count("<svg") == 3
    for caption in ("图1  断面水质分布", "图2  界河铺村 氨氮 日均值", "图3  断面CWQI排名"):
        assert f"<figcaption>{caption}</figcaption>" in page_zh


def test_text_is_escaped(page_zh: str) -> None:
    assert "<script" not in page_zh.lower()
    assert escape(SCRIPT_NAME, quote=False) in page_zh


def test_no_external_request(page_zh: str) -> None:
    # Namespace names of the inline SVG are identifiers, not requests; nothing else may name a URL.
    without_namespaces = re.sub(r'\sxmlns(?::\w+)?="[^"]*"', "", page_zh)
    assert "http://" not in without_namespaces and "https://" not in without_namespaces
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', page_zh))
    for target in re.findall(r'(?:src|href)="([^"]*)"', page_zh) + re.findall(r"url\(([^)]*)\)", page_zh):
        assert target.startswith("#"), target  # only references inside the page
    assert "@import" not in page_zh and "<link" not in page_zh and "<script" not in page_zh


def test_prints_on_a4(page_zh: str) -> None:
    assert "@page { size: A4;" in page_zh
    assert "thead { display: table-header-group; }" in page_zh  # header repeats on each printed page
    assert re.search(r"tr, [^{]*\{ break-inside: avoid;", page_zh)  # a row is never split


def test_the_same_report_gives_the_same_page(report: Report, page_zh: str) -> None:
    assert render(report, "html", "zh").decode("utf-8") == page_zh  # charts included: no date, stable ids


def test_english_captions(report: Report) -> None:
    page = render(report, "html", "en").decode("utf-8")
    assert "<caption>Table 1  Section water quality</caption>" in page
    assert "<figcaption>Figure 3  Section CWQI ranking</figcaption>" in page
