"""The products' charts drawn with matplotlib: PNG for the Word document, inline SVG for the page.

Three kinds (collector/reports/document.py ChartKind gives each one's data): the section map (section_map.py),
a section item's daily trend against its target-class limit and warning level, and ranking bars.

Figures are built on matplotlib's object API with the Agg canvas set on each figure, and styled inside an
``rc_context``: nothing global (pyplot's figure registry, the default backend, rcParams) is touched. Labels
use the CJK font (fonts.py); a glyph missing from it makes matplotlib warn, which tests turn into an error.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure

from collector.assessment.classes import DEFAULT_COLOURS
from collector.reports.document import Chart, ChartKind, Text
from collector.reports.render import section_map
from collector.reports.render.cells import check_lang, pick, water_class
from collector.reports.render.fonts import cjk_families

NEUTRAL = "#5b7fa6"  # bars without a class
LIMIT = "#d62728"
WARNING = "#ff7f0e"
PNG_DPI = 150

_WORDS = {
    "no_data": Text("无数据", "no data"),
    "limit": Text("目标限值", "target limit"),
    "warning": Text("预警线", "warning level"),
    "value": Text("日均值", "daily mean"),
}


def _w(key: str, lang: str) -> str:
    return pick(_WORDS[key], lang)


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _class_colour(label: Any) -> str | None:
    klass = water_class(label)
    return DEFAULT_COLOURS[klass] if klass is not None else None


# -- trend -------------------------------------------------------------------------------------------------------


def _trend(fig: Figure, data: Mapping[str, Any], lang: str) -> None:
    ax = fig.add_subplot()
    points = [(date.fromisoformat(str(day)), _num(value)) for day, value in data.get("points", [])]
    unit = str(data.get("unit") or "")
    name = str(data.get("name_en") if lang == "en" and data.get("name_en") else data.get("name_zh", ""))
    if points:
        days, values = zip(*points, strict=True)
        ax.plot(days, values, marker="o", markersize=3.5, color="#1f4e79", label=_w("value", lang))
    if all(math.isnan(v) for _, v in points):
        ax.text(0.5, 0.5, _w("no_data", lang), transform=ax.transAxes, ha="center", va="center")
    for key, colour, style in (("limit", LIMIT, "--"), ("warning", WARNING, ":")):
        if data.get(key) is not None:
            level = data[key]
            ax.axhline(float(level), color=colour, linestyle=style, linewidth=1.4,
                       label=f"{_w(key, lang)} {level} {unit}".strip())  # fmt: skip
    ax.xaxis.set_major_locator(AutoDateLocator(maxticks=10))
    ax.xaxis.set_major_formatter(DateFormatter("%m-%d"))
    ax.set_ylabel(f"{name} ({unit})" if unit else name)
    ax.grid(True, axis="y", color="#dddddd", linewidth=0.6)
    if ax.get_legend_handles_labels()[0]:  # an empty legend is a warning, not a legend
        ax.legend(loc="best", fontsize=8, frameon=False)


# -- bars --------------------------------------------------------------------------------------------------------


def _bars(fig: Figure, data: Mapping[str, Any], lang: str) -> None:
    ax = fig.add_subplot()
    bars = list(data.get("bars", []))
    labels = [
        str(b.get("label_en") if lang == "en" and b.get("label_en") else b.get("label_zh", "")) for b in bars
    ]
    values = [0.0 if b.get("value") is None else float(b["value"]) for b in bars]
    colours = [_class_colour(b.get("class")) or NEUTRAL for b in bars]
    ys = list(range(len(bars)))
    ax.barh(ys, values, color=colours, edgecolor="#333333", linewidth=0.4)
    ax.set_yticks(ys, labels)
    ax.invert_yaxis()  # the first bar on top: the order given is the ranking
    top = max([*values, 0.0])
    for y, bar in zip(ys, bars, strict=True):
        shown = "—" if bar.get("value") is None else str(bar["value"])
        ax.text(float(bar.get("value") or 0) + top * 0.01, y, shown, va="center", fontsize=8)
    reference = data.get("reference")
    if reference and reference.get("value") is not None:
        label = (
            reference.get("label_en")
            if lang == "en" and reference.get("label_en")
            else reference.get("label_zh")
        )
        ax.axvline(float(reference["value"]), color=LIMIT, linestyle="--", linewidth=1.4,
                   label=f"{label or ''} {reference['value']}".strip())  # fmt: skip
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        top = max(top, float(reference["value"]))
    ax.set_xlim(0, top * 1.12 if top > 0 else 1)
    unit = str(data.get("unit") or "")
    if unit:
        ax.set_xlabel(unit)
    ax.grid(True, axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _bars_size(data: Mapping[str, Any]) -> tuple[float, float]:
    return 8.0, 1.2 + 0.32 * max(len(data.get("bars", [])), 1)


# -- figure and output -------------------------------------------------------------------------------------------


# rc_context swaps matplotlib's settings for the duration, and the API may render in several threads at once.
_LOCK = threading.Lock()


@contextmanager
def _style(salt: str) -> Iterator[None]:
    with (
        _LOCK,
        matplotlib.rc_context(
            {
                "font.family": cjk_families(),
                "axes.unicode_minus": False,  # the CJK font has no U+2212 minus
                "text.parse_math": False,  # a "$" in a name is a dollar sign, never mathtext
                "svg.fonttype": "path",  # glyphs as paths: the page needs no font
                "svg.hashsalt": salt,  # stable ids, distinct per chart on one page
            }
        ),
    ):
        yield


def _figure(chart: Chart, lang: str) -> Figure:
    """The chart as a matplotlib Figure on an Agg canvas (call inside ``_style`` for the CJK font)."""
    check_lang(lang)
    if chart.kind is ChartKind.SECTION_MAP:
        fig = Figure(figsize=section_map.size(chart.data, lang))
        FigureCanvasAgg(fig)
        section_map.draw(fig, chart.data, lang)
    elif chart.kind is ChartKind.TREND:
        fig = Figure(figsize=(8.0, 3.6))
        FigureCanvasAgg(fig)
        _trend(fig, chart.data, lang)
    else:
        fig = Figure(figsize=_bars_size(chart.data))
        FigureCanvasAgg(fig)
        _bars(fig, chart.data, lang)
    return fig


def png(chart: Chart, lang: str = "zh", dpi: int = PNG_DPI) -> bytes:
    with _style(chart.key):
        fig = _figure(chart, lang)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return out.getvalue()


_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


def svg(chart: Chart, lang: str = "zh") -> str:
    """The chart as an ``<svg>`` element to put inline in a page (no XML prolog, doctype or metadata)."""
    with _style(chart.key):
        fig = _figure(chart, lang)
        out = io.StringIO()
        fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = out.getvalue()
    return _own_ids(_METADATA.sub("", text[text.index("<svg") :]).strip(), chart.key)


_ID = re.compile(r'(\bid="|\bxlink:href="#|\bhref="#|url\(#)([^")]+)')


def _own_ids(svg: str, key: str) -> str:
    """Prefix every id (and every reference to one) with the chart's key: several charts inline on one page
    must not share an id, or one chart would clip or draw with another's definitions."""
    prefix = "chart-" + re.sub(r"[^A-Za-z0-9_-]", "_", key) + "-"
    return _ID.sub(lambda m: m.group(1) + prefix + m.group(2), svg)


__all__ = ["png", "svg"]
