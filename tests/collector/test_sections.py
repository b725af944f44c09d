"""The section registry: the shipped city list, lookups along a river, and validation that names the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import strategies as st

from collector.sections import SectionRegistry, load_sections, parse_sections
from protocols.errors import ConfigError
from protocols.sections import SECTIONS as PLAN_SECTIONS
from tests.fuzz_settings import Budget, budgets, check
from tests.protocols.test_tomldoc_fuzz import assert_model_or_config_error, mutated

EIGHT = {
    "hexicun",
    "chuanhutun",
    "huayuanzi",
    "leijiaping",
    "bifengcun",
    "boshuicun",
    "jiehepucun",
    "cigouyingqiao",
}

SMALL = """
[[rivers]]
id = "hutuo"
name_zh = "滹沱河"
name_en = "Hutuo"
basin = "hai"

[[sections]]
id = "bifengcun"
name_zh = "笔峰村"
name_en = "Bifengcun"
river = "hutuo"
basin = "hai"
level = "provincial"
station = "bifengcun"
order = 1

[[sections]]
id = "nanzhuang"
name_zh = "南庄"
name_en = "Nanzhuang"
river = "hutuo"
basin = "hai"
level = "national"
order = 2
"""


@pytest.fixture(scope="module")
def shipped() -> SectionRegistry:
    return load_sections()


def test_the_shipped_registry_holds_the_city_s_21_sections(shipped: SectionRegistry) -> None:
    assert len(shipped) == 21
    assert sum(s.level == "national" for s in shipped) == 14
    assert sum(s.level == "provincial" for s in shipped) == 7
    assert {s.station for s in shipped if s.station} == EIGHT
    assert all(s.id == s.station for s in shipped if s.station)  # the eight keep their station ids
    assert all(s.target == "III" and s.target_class == 3 for s in shipped)  # config default (STANDARDS.md §1)
    assert all(s.water_body == "river" and s.water_type == "river" for s in shipped)
    assert all(s.lat is not None and s.lon is not None for s in shipped)
    names = {s.name_zh for s in shipped}
    assert {
        "梵王寺",
        "关河口",
        "陈家营",
        "碛塄",
        "下茹越",
        "代县桥",
        "定襄桥",
        "南庄",
        "坪上桥",
        "杜里村",
    } <= names
    assert {"雷鸣寺", "禹庙", "乔儿沟"} <= names
    for river in ("sanggan", "pianguan", "muma", "yellow", "qingshui", "zhulong", "xianchuan"):
        assert river in shipped.rivers


def test_the_eight_agree_with_the_city_plan(shipped: SectionRegistry) -> None:
    for station, plan in PLAN_SECTIONS.items():
        section = shipped.for_station(station)
        assert section is not None
        assert (section.name_zh, section.river, section.level, section.county) == (
            plan.name_zh,
            plan.river,
            plan.level,
            plan.county,
        )


def test_known_orders_along_the_hutuo_and_the_fen(shipped: SectionRegistry) -> None:
    hutuo = [s.id for s in shipped.on_river("hutuo")]
    assert hutuo.index("bifengcun") < hutuo.index("boshuicun") < hutuo.index("jiehepucun")
    assert len(hutuo) == 8  # 下茹越, 代县桥, 定襄桥, 南庄, 乔儿沟 and the three provincial stations
    fen = [s.id for s in shipped.on_river("fen")]
    assert fen.index("chuanhutun") < fen.index("hexicun")


def test_lookups_upstream_and_downstream_nearest_first() -> None:
    registry = parse_sections(
        SMALL
        + """
[[sections]]
id = "boshuicun"
name_zh = "泊水村"
name_en = "Boshuicun"
river = "hutuo"
basin = "hai"
county = "代县"
level = "provincial"
station = "boshuicun"
order = 3
"""
    )
    assert [s.id for s in registry.on_river("hutuo")] == ["bifengcun", "nanzhuang", "boshuicun"]
    assert [s.id for s in registry.upstream("boshuicun")] == ["nanzhuang", "bifengcun"]
    assert [s.id for s in registry.downstream("bifengcun")] == ["nanzhuang", "boshuicun"]
    assert registry.upstream("bifengcun") == () and registry.downstream("boshuicun") == ()
    assert registry.by_river() == {"hutuo": registry.on_river("hutuo")}
    assert registry.on_river("fen") == ()
    assert registry.for_station("boshuicun") == registry.get("boshuicun")
    assert registry.for_station("nanzhuang") is None  # sampled by hand: no station
    assert registry.get("nowhere") is None and "nanzhuang" in registry
    assert registry.by_name("南庄") == registry.get("nanzhuang")
    with pytest.raises(KeyError, match="nowhere"):
        registry.upstream("nowhere")


def invalid(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_sections(text, source="mine.toml")
    message = str(caught.value)
    assert message.startswith("mine.toml: invalid section registry")
    return message


@pytest.mark.parametrize(
    ("old", "new", "location"),
    [
        ('level = "provincial"', 'level = "county"', "sections[bifengcun].level"),
        ("order = 2", "order = 0", "sections[nanzhuang].order"),
        ("order = 2", 'order = 2\ntarget = "VI"', "sections[nanzhuang].target"),
        ("order = 2", "order = 2\nlat = 95.0\nlon = 112.0", "sections[nanzhuang].lat"),
        ("order = 2", 'order = 2\ncolour = "red"', "sections[nanzhuang].colour"),  # a misspelt or unknown key
        ('id = "nanzhuang"', 'id = "Nan Zhuang"', "sections[Nan Zhuang].id"),
        ('basin = "hai"\n\n[[sections]]', 'basin = "huai"\n\n[[sections]]', "rivers[hutuo].basin"),
        ('name_en = "Nanzhuang"\n', "", "sections[nanzhuang].name_en"),
    ],
)
def test_a_wrong_field_is_named_with_its_location(old: str, new: str, location: str) -> None:
    assert old in SMALL
    assert f"  {location}:" in invalid(SMALL.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'id = "nanzhuang"',
            'id = "bifengcun"',
            "sections.1.id: section id 'bifengcun' repeats sections.0.id",
        ),
        ("order = 2", "order = 1", "sections.1.order: order 'hutuo/1' repeats sections.0.order"),
        ("order = 2", 'order = 2\nstation = "bifengcun"', "sections.1.station: station 'bifengcun' repeats"),
        ("order = 2", 'order = 2\nstation = "alerts"', "sections.1.station: not a station id"),
        (
            'river = "hutuo"\nbasin = "hai"\nlevel = "national"',
            'river = "fen"\nbasin = "hai"\nlevel = "national"',
            "sections.1.river: unknown river 'fen'",
        ),
        (
            'basin = "hai"\nlevel = "national"',
            'basin = "yellow"\nlevel = "national"',
            "sections.1.basin: 'yellow', but river 'hutuo' is in 'hai'",
        ),
        ("order = 2", "order = 2\nlat = 38.5", "sections.1: give both lat and lon"),
    ],
)
def test_duplicates_and_unknown_references_are_refused(old: str, new: str, problem: str) -> None:
    assert old in SMALL
    assert problem in invalid(SMALL.replace(old, new, 1))


def test_a_duplicate_river_and_every_problem_are_listed() -> None:
    river = SMALL[: SMALL.index("[[sections]]")]
    text = SMALL + river + SMALL[SMALL.index("[[sections]]") :]
    message = invalid(text)
    assert "rivers.1.id: river id 'hutuo' repeats rivers.0.id" in message
    assert "sections.2.id" in message and "sections.3.id" in message


def test_not_toml_and_empty_documents() -> None:
    with pytest.raises(ConfigError, match=r"x\.toml: not valid TOML"):
        parse_sections("[[sections]\n", source="x.toml")
    assert "  rivers:" in invalid("")


def test_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "sections.toml"
    path.write_text(SMALL, encoding="utf-8")
    registry = load_sections(str(path))
    assert [s.id for s in registry] == ["bifengcun", "nanzhuang"] and registry.source == str(path)
    with pytest.raises(ConfigError, match="cannot read section registry"):
        load_sections(str(tmp_path / "missing.toml"))


@budgets(200)
def test_hostile_registry_text_gives_only_config_errors(budget: Budget) -> None:
    """Like every TOML loader (tests/protocols/test_tomldoc_fuzz.py): arbitrary text and the shipped registry
    with values replaced or bytes mutated give the registry or a ConfigError naming the file, nothing else."""
    shipped_file = [Path(__file__).resolve().parents[2] / "collector" / "sections.toml"]
    check(lambda text: assert_model_or_config_error(parse_sections, text), budget, mutated(shipped_file))
    check(lambda text: assert_model_or_config_error(parse_sections, text), budget, st.text(max_size=300))
