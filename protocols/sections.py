"""The river sections of the city plan (STANDARDS.md §1): the default simulated fleet and default collector sites.

Target classes and positions were not found in any text we could read: targets default to class III and are
configuration on the collector; positions are approximate display hints only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Basin = Literal["yellow", "hai"]
Level = Literal["national", "provincial"]


@dataclass(frozen=True, slots=True)
class River:
    id: str
    name_zh: str
    name_en: str
    basin: Basin
    # Stations on this river, upstream → downstream (the order matters for tracing a pollution plume).
    stations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Section:
    station: str
    name_zh: str
    river: str
    level: Level
    county: str
    lat: float  # approximate, display hint only
    lon: float


BASIN_NAMES: dict[Basin, tuple[str, str]] = {
    "yellow": ("黄河流域", "Yellow River basin"),
    "hai": ("海河流域", "Hai River basin"),
}

RIVERS: dict[str, River] = {
    r.id: r
    for r in [
        River("fen", "汾河", "Fen", "yellow", ("chuanhutun", "hexicun")),
        River("zhujiachuan", "朱家川河", "Zhujiachuan", "yellow", ("huayuanzi",)),
        River("lanyi", "岚漪河", "Lanyi", "yellow", ("leijiaping",)),
        River("hutuo", "滹沱河", "Hutuo", "hai", ("bifengcun", "boshuicun", "jiehepucun")),
        River("qingyang", "青羊河", "Qingyang", "hai", ("cigouyingqiao",)),
    ]
}

SECTIONS: dict[str, Section] = {
    s.station: s
    for s in [
        Section("hexicun", "河西村", "fen", "national", "静乐", 38.36, 111.94),
        Section("chuanhutun", "川胡屯", "fen", "national", "宁武", 38.75, 112.30),
        Section("huayuanzi", "花园子", "zhujiachuan", "national", "保德", 38.96, 111.10),
        Section("leijiaping", "雷家坪", "lanyi", "national", "岢岚", 38.70, 111.57),
        Section("bifengcun", "笔峰村", "hutuo", "provincial", "繁峙", 39.19, 113.27),
        Section("boshuicun", "泊水村", "hutuo", "provincial", "代县", 39.07, 112.96),
        Section("jiehepucun", "界河铺村", "hutuo", "provincial", "原平", 38.80, 112.72),
        Section("cigouyingqiao", "茨沟营桥", "qingyang", "provincial", "繁峙", 39.35, 113.60),
    ]
}


def downstream_of(station: str) -> tuple[str, ...]:
    """Stations below ``station`` on the same river, nearest first."""
    river = RIVERS[SECTIONS[station].river]
    index = river.stations.index(station)
    return river.stations[index + 1 :]
