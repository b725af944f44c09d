"""Charts: every kind drawn in both languages with no glyph missing (a missing glyph is an error here), the
class colours where they belong, and a clear error without the CJK font."""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from decimal import Decimal

import matplotlib
import pytest
from matplotlib import font_manager
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font

from collector.reports.document import Chart, ChartKind, Report
from collector.reports.render import charts, fonts, section_map
from collector.reports.render.fonts import CJK_FAMILY, FALLBACK_FAMILY, FontMissing
from tests.collector.reports.render.fixture_report import BARS, SECTION_MAP, TREND

MISSING = "\U00020000"  # 𠀀, CJK Extension B: in neither the CJK font nor its fallback


def _strict_png_and_svg(chart: Chart, lang: str) -> tuple[bytes, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)": fail on it
        return charts.png(chart, lang), charts.svg(chart, lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_kind_draws_with_every_glyph(report: Report, lang: str) -> None:
    kinds = {c.kind for c in report.charts()}
    assert kinds == set(ChartKind)
    for chart in report.charts():
        png, svg = _strict_png_and_svg(chart, lang)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        assert "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg


def test_the_glyph_check_catches_a_missing_glyph() -> None:
    # The check proves something only if the character is really absent from every font drawn with.
    for family in (CJK_FAMILY, FALLBACK_FAMILY):
        path = font_manager.findfont(FontProperties(family=family), fallback_to_default=False)
        assert FT2Font(path).get_char_index(ord(MISSING)) == 0, family
    chart = replace(
        BARS, data={"unit": "", "bars": [{"label_zh": f"断面{MISSING}", "value": 1, "class": "II"}]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="missing from font"):
            charts.png(chart, "zh")


def test_chinese_glyphs_come_from_the_cjk_font() -> None:
    path = font_manager.findfont(FontProperties(family=CJK_FAMILY), fallback_to_default=False)
    face = FT2Font(path)
    for ch in "汾河滹沱界河铺村茨沟营桥劣未达标无数据目标限值预警线日均值":
        assert face.get_char_index(ord(ch)) != 0, ch


def test_without_the_cjk_font_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "CJK_FAMILY", "No Such Font 清流")
    with pytest.raises(FontMissing, match="fonts-wqy-microhei"):
        charts.png(SECTION_MAP, "zh")


def test_drawing_leaves_matplotlib_settings_alone() -> None:
    before = dict(matplotlib.rcParams)
    charts.svg(TREND, "zh")
    assert dict(matplotlib.rcParams) == before


def _colours(svg: str) -> set[str]:
    return set(re.findall(r"#[0-9a-f]{6}", svg))


def test_section_map_colours_rings_and_hollow_dots() -> None:
    svg = charts.svg(SECTION_MAP, "zh")
    found = _colours(svg)
    # II blue, III green, IV yellow, 劣V red; V (orange) is in no section
    assert {"#1e6fd9", "#2ca02c", "#f2c200", "#d62728"} <= found
    assert "#ff7f0e" not in found
    assert section_map.NO_DATA in found and section_map.OFF_TARGET in found
    rivers = [dict(r) for r in SECTION_MAP.data["rivers"]]
    all_good = replace(SECTION_MAP, data={"rivers": rivers[:1]})  # the Fen: both sections judged and meeting
    found = _colours(charts.svg(all_good, "zh"))
    assert section_map.OFF_TARGET not in found and section_map.NO_DATA not in found


def test_trend_draws_the_limit_and_the_warning_line_only_when_given() -> None:
    assert {charts.LIMIT, charts.WARNING} <= _colours(charts.svg(TREND, "en"))
    data = {k: v for k, v in TREND.data.items() if k != "warning"}
    found = _colours(charts.svg(replace(TREND, data=data), "en"))
    assert charts.LIMIT in found and charts.WARNING not in found


def test_bars_take_class_colours_and_a_neutral_colour_without_class() -> None:
    found = _colours(charts.svg(BARS, "zh"))
    assert {"#d62728", "#f2c200", "#1e6fd9", charts.NEUTRAL} <= found
    data = {"unit": "", "bars": [{"label_zh": "河西村", "label_en": "", "value": 2, "class": None}]}
    found = _colours(charts.svg(replace(BARS, data=data), "zh"))
    assert charts.NEUTRAL in found and "#d62728" not in found  # neither a class nor a reference line


def test_svg_ids_are_the_charts_own() -> None:
    def ids(svg: str) -> set[str]:
        return set(re.findall(r'\bid="([^"]+)"', svg))

    def references(svg: str) -> set[str]:
        return set(re.findall(r'(?:href="#|url\(#)([^")]+)', svg))

    first, second = charts.svg(TREND, "zh"), charts.svg(BARS, "zh")
    assert ids(first) and ids(second)
    assert not ids(first) & ids(second)  # one page holds both: no id may repeat
    for svg in (first, second):
        assert references(svg)
        assert references(svg) <= ids(svg)  # every clip path and glyph used is defined in the same chart


@pytest.mark.parametrize(
    "chart",
    [
        Chart("t0", ChartKind.TREND, "无数据", "none", {"name_zh": "氨氮", "unit": "mg/L", "points": []}),
        Chart(
            "t1",
            ChartKind.TREND,
            "全空",
            "all empty",
            {"name_zh": "氨氮", "unit": "mg/L", "points": [["2026-12-01", None]], "limit": Decimal("1.0")},
        ),
        Chart("b0", ChartKind.BARS, "无", "none", {"unit": "", "bars": []}),
        Chart(
            "b1", ChartKind.BARS, "空值", "empty", {"unit": "", "bars": [{"label_zh": "南庄", "value": None}]}
        ),
        Chart("m0", ChartKind.SECTION_MAP, "无", "none", {"rivers": []}),
        Chart(
            "m1", ChartKind.SECTION_MAP, "无断面", "no sections", {"rivers": [{"id": "x", "name_zh": "河"}]}
        ),
    ],
    ids=lambda c: c.key,
)
def test_charts_without_data_still_draw(chart: Chart) -> None:
    png, svg = _strict_png_and_svg(chart, "zh")  # and without a warning (an empty legend would warn)
    assert png.startswith(b"\x89PNG") and svg.startswith("<svg")


def test_short_rivers_share_a_row_of_the_section_map() -> None:
    def river(name: str, n: int) -> dict[str, object]:
        return {"id": name, "name_zh": name, "sections": [{"name_zh": f"{name}{i}"} for i in range(n)]}

    rivers = [river("汾河", 3), river("岚漪河", 1), river("滹沱河", 8), river("青羊河", 1)]
    placed, width, rows = section_map.layout(rivers, "zh")
    assert width == 8  # the longest river, wider than the 7-slot minimum
    # 汾河 takes slots 0–2, a 0.6 gap, 岚漪河 at 3.6; 滹沱河 needs all 8: a new row; 青羊河 would pass 8: a third
    assert [(p.river["id"], p.x, p.row) for p in placed] == [
        ("汾河", 0.0, 0),
        ("岚漪河", 3.6, 0),
        ("滹沱河", 0.0, 1),
        ("青羊河", 0.0, 2),
    ]
    assert rows == 3
    assert section_map.size({"rivers": rivers}, "zh") == pytest.approx((8 * 1.1, 3 * 1.2))
