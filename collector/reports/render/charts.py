"""The products' charts drawn with matplotlib: PNG for the Word document, inline SVG for the page.

Three kinds (collector/reports/document.py ChartKind gives each one's data): the section map (one line per
river, a dot per section coloured by its GB 3838 class, hollow grey without data, ringed red off target), a
section item's daily trend against its target-class limit and warning level, and ranking bars.

Figures are built on matplotlib's object API with the Agg canvas set on each figure, and styled inside an
``rc_context``: nothing global (pyplot's figure registry, the default backend, rcParams) is touched. Labels
use the CJK font (fonts.py); a glyph missing from it makes matplotlib warn, which tests turn into an error.
"""

from __future__ import annotations

import io
import math
import re
import threading
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from collector.assessment.classes import DEFAULT_COLOURS, WaterClass
from collector.reports.document import Chart, ChartKind, Text
from collector.reports.render.cells import check_lang, pick, water_class
from collector.reports.render.fonts import cjk_families

NO_DATA = "#9e9e9e"
OFF_TARGET = "#b71c1c"
NEUTRAL = "#5b7fa6"  # bars without a class
LIMIT = "#d62728"
WARNING = "#ff7f0e"
PNG_DPI = 150

_WORDS = {
    "no_data": Text("无数据", "no data"),
    "not_measured": Text("未监测", "not measured"),
    "off_target": Text("未达标", "off target"),
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


# -- section map -------------------------------------------------------------------------------------------------


def _section_label(section: Mapping[str, Any], lang: str) -> str:
    name = str(section.get("name_zh") or section.get("id", ""))
    if lang == "en" and section.get("name_en"):
        name = f"{name}\n{section['name_en']}"
    status = section.get("status")
    if section.get("class"):
        second = str(section["class"])
    elif status == "not_measured":
        second = _w("not_measured", lang)
    else:
        second = _w("no_data", lang)
    return f"{name}\n{second}"


def _river_label(river: Mapping[str, Any], lang: str) -> str:
    name = str(river.get("name_zh") or river.get("id", ""))
    if lang == "en" and river.get("name_en"):
        name = f"{name} {river['name_en']}"
    return name


_SLOT_IN = 1.1  # inches per section along a river
_GAP = 0.6  # slots between two rivers on one row
_MIN_ROW = 7.0  # slots: short rivers share a row up to this width (or the longest river's)


def _text_inches(text: str, points: float) -> float:
    """A rough width of one line of text: CJK characters are square, others about half as wide."""
    em = points / 72
    return sum(em if unicodedata.east_asian_width(ch) in "WF" else 0.55 * em for ch in text)


@dataclass(frozen=True, slots=True)
class _Placed:
    river: Mapping[str, Any]
    x: float  # slot of the river's first section
    row: int


def _layout(rivers: Sequence[Mapping[str, Any]], lang: str) -> tuple[list[_Placed], float, int]:
    """Rivers flowed onto rows like words onto lines, in the order given: (placements, row width, rows)."""
    spans = [
        max(len(r.get("sections", [])), 1, _text_inches(_river_label(r, lang), 10) / _SLOT_IN) for r in rivers
    ]
    width = max([_MIN_ROW, *spans])
    placed: list[_Placed] = []
    x, row = 0.0, 0
    for river, span in zip(rivers, spans, strict=True):
        if x > 0 and x + span > width:
            x, row = 0.0, row + 1
        placed.append(_Placed(river, x, row))
        x += span + _GAP
    return placed, width, row + 1 if rivers else 1


def _row_inches(lang: str) -> float:
    return 1.45 if lang == "en" else 1.2  # English labels have a third line


def _section_map(fig: Figure, data: Mapping[str, Any], lang: str) -> None:
    placed, width, rows = _layout(list(data.get("rivers", [])), lang)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    seen: set[WaterClass] = set()
    any_missing = any_off = False
    for item in placed:
        y = -float(item.row)
        sections = list(item.river.get("sections", []))
        last = item.x + max(len(sections) - 1, 0)
        ax.plot([item.x - 0.4, last + 0.4], [y, y], color="#4a90c2", linewidth=2.5, zorder=1)
        ax.text(item.x - 0.4, y + 0.17, _river_label(item.river, lang), ha="left", va="bottom", fontsize=10)
        for i, section in enumerate(sections):
            x = item.x + i
            klass = water_class(section.get("class"))
            if klass is None:
                any_missing = True
                ax.scatter([x], [y], s=140, facecolors="white", edgecolors=NO_DATA, linewidths=1.5, zorder=3)
            else:
                seen.add(klass)
                colour = DEFAULT_COLOURS[klass]
                ax.scatter([x], [y], s=140, color=colour, edgecolors="#333333", linewidths=0.6, zorder=3)
            if section.get("meets") is False:
                any_off = True
                ax.scatter(
                    [x], [y], s=380, facecolors="none", edgecolors=OFF_TARGET, linewidths=1.8, zorder=2
                )
            ax.text(x, y - 0.15, _section_label(section, lang), ha="center", va="top", fontsize=8)
    ax.set_xlim(-0.6, width - 0.4)
    ax.set_ylim(-(rows - 1) - 0.8, 0.45)
    by_colour: dict[str, list[str]] = {}  # I and II share the bulletins' blue: one entry "I/II"
    for klass in sorted(seen):
        by_colour.setdefault(DEFAULT_COLOURS[klass], []).append(klass.roman)
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=9, color=colour, label="/".join(names))
        for colour, names in by_colour.items()
    ]
    if any_missing:
        handles.append(
            Line2D([], [], marker="o", linestyle="", markersize=9, markerfacecolor="white",
                   markeredgecolor=NO_DATA, label=_w("no_data", lang))
        )  # fmt: skip
    if any_off:
        handles.append(
            Line2D([], [], marker="o", linestyle="", markersize=13, markerfacecolor="none",
                   markeredgecolor=OFF_TARGET, label=_w("off_target", lang))
        )  # fmt: skip
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles),
                  frameon=False, fontsize=9)  # fmt: skip


def _section_map_size(data: Mapping[str, Any], lang: str) -> tuple[float, float]:
    _, width, rows = _layout(list(data.get("rivers", [])), lang)
    return width * _SLOT_IN, rows * _row_inches(lang)


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
        fig = Figure(figsize=_section_map_size(chart.data, lang))
        FigureCanvasAgg(fig)
        _section_map(fig, chart.data, lang)
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
