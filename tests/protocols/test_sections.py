"""The eight river sections of the city plan and their order along each river."""

from __future__ import annotations

import pytest

from protocols import sections
from protocols.topics import is_station_id

NAMES = {
    "hexicun": "河西村", "chuanhutun": "川胡屯", "huayuanzi": "花园子", "leijiaping": "雷家坪",
    "bifengcun": "笔峰村", "boshuicun": "泊水村", "jiehepucun": "界河铺村", "cigouyingqiao": "茨沟营桥",
}  # fmt: skip


def test_eight_stations_with_their_names() -> None:
    assert {s: sec.name_zh for s, sec in sections.SECTIONS.items()} == NAMES


def test_levels_and_basins() -> None:
    national = {s for s, sec in sections.SECTIONS.items() if sec.level == "national"}
    assert national == {"hexicun", "chuanhutun", "huayuanzi", "leijiaping"}
    for station, section in sections.SECTIONS.items():
        basin = sections.RIVERS[section.river].basin
        assert basin == ("yellow" if station in national else "hai")
        assert basin in sections.BASIN_NAMES


def test_hutuo_order() -> None:
    hutuo = sections.RIVERS["hutuo"]
    assert hutuo.name_zh == "滹沱河"
    assert [sections.SECTIONS[s].name_zh for s in hutuo.stations] == ["笔峰村", "泊水村", "界河铺村"]


def test_downstream_of() -> None:
    assert sections.downstream_of("bifengcun") == ("boshuicun", "jiehepucun")
    assert sections.downstream_of("boshuicun") == ("jiehepucun",)
    assert sections.downstream_of("jiehepucun") == ()
    assert sections.downstream_of("cigouyingqiao") == ()
    assert sections.downstream_of("chuanhutun") == ("hexicun",)
    with pytest.raises(KeyError):
        sections.downstream_of("nowhere")


def test_rivers_and_sections_agree() -> None:
    on_rivers = [s for river in sections.RIVERS.values() for s in river.stations]
    assert sorted(on_rivers) == sorted(sections.SECTIONS)  # each station on exactly one river, once
    for river_id, river in sections.RIVERS.items():
        assert river.id == river_id
        for station in river.stations:
            assert sections.SECTIONS[station].river == river_id


def test_station_ids_and_positions() -> None:
    for station, section in sections.SECTIONS.items():
        assert section.station == station and is_station_id(station)
        # Approximate display hints, but at least inside northern Shanxi.
        assert 37.5 < section.lat < 40.5 and 110.5 < section.lon < 114.5
