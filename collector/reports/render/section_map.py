"""The section map: one line per river, a dot per section upstream → downstream, coloured by its GB 3838 class,
hollow grey without data, ringed red off target, its name and class under it. Short rivers share a row, flowed
like words onto lines, so the 21 sections on 13 rivers fit a page. Drawn by charts.py inside its CJK style.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from collector.assessment.classes import DEFAULT_COLOURS, WaterClass
from collector.reports.document import Text
from collector.reports.render.cells import pick, water_class

NO_DATA = "#9e9e9e"
OFF_TARGET = "#b71c1c"
RIVER = "#4a90c2"

_WORDS = {
    "no_data": Text("无数据", "no data"),
    "not_measured": Text("未监测", "not measured"),
    "off_target": Text("未达标", "off target"),
}


def _w(key: str, lang: str) -> str:
    return pick(_WORDS[key], lang)


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


def layout(rivers: Sequence[Mapping[str, Any]], lang: str) -> tuple[list[_Placed], float, int]:
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


def draw(fig: Figure, data: Mapping[str, Any], lang: str) -> None:
    placed, width, rows = layout(list(data.get("rivers", [])), lang)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    seen: set[WaterClass] = set()
    any_missing = any_off = False
    for item in placed:
        y = -float(item.row)
        sections = list(item.river.get("sections", []))
        last = item.x + max(len(sections) - 1, 0)
        ax.plot([item.x - 0.4, last + 0.4], [y, y], color=RIVER, linewidth=2.5, zorder=1)
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


def size(data: Mapping[str, Any], lang: str) -> tuple[float, float]:
    _, width, rows = layout(list(data.get("rivers", [])), lang)
    return width * _SLOT_IN, rows * _row_inches(lang)


__all__ = ["NO_DATA", "OFF_TARGET", "draw", "layout", "size"]
