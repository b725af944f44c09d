"""The outfalls registry (collector/outfalls.py): the shipped default, its checks against the section registry,
which outfalls lie upstream of a section, and the collector config's ``[outfalls]`` and outfall loggers."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import parse_config
from collector.outfalls import Limit, load_outfalls, parse_outfalls
from collector.sections import load_sections
from protocols.errors import ConfigError

SECTIONS = (
    load_sections()
)  # Hutuo: 笔峰村 1, 泊水村 4, 界河铺村 5, 乔儿沟 6; Fen: 雷鸣寺 1, 川胡屯 2, 河西村 3


def outfall(**fields: object) -> str:
    base: dict[str, object] = {
        "id": "o1",
        "name_zh": "排口一",
        "name_en": "Outfall 1",
        "enterprise_zh": "某厂",
        "river": "hutuo",
        "section": "jiehepucun",
        "order": 4.5,
        "standard": "GB 18918-2002 一级A",
    }
    base.update(fields)
    lines = ["[[outfalls]]"]
    for key, value in base.items():
        lines.append(f"{key} = {value!r}".replace("'", '"') if isinstance(value, str) else f"{key} = {value}")
    lines.append("limits = { w01018 = { max = 50.0 }, w01001 = { min = 6.0, max = 9.0 } }")
    return "\n".join(lines) + "\n"


def test_the_shipped_registry_names_jinneng_on_the_fen_and_a_demo_outfall_above_jiehepucun() -> None:
    registry = load_outfalls(SECTIONS)
    jinneng = registry.get("jinneng")
    assert jinneng is not None and jinneng.river == "fen" and jinneng.section == "hexicun"
    assert "金能煤业" in jinneng.enterprise_zh and "GB 20426" in jinneng.standard
    demo = registry.get("hutuo_demo")
    assert demo is not None and demo.section == "jiehepucun" and demo.mn == "OUTFALLDEMO01"
    assert demo.limits["w01018"] == Limit(max=50.0)  # GB 18918-2002 class 1 A
    assert demo.limits["w21003"] == Limit(max=5.0)
    assert demo.limits["w01001"] == Limit(min=6.0, max=9.0)


def test_upstream_of_a_section_is_its_own_outfalls_and_those_higher_on_its_river() -> None:
    text = (
        outfall(id="a", order=4.5)
        + outfall(id="b", order=3.0, section="boshuicun")
        + outfall(id="c", order=5.5, section="qiaoergou")
        + outfall(id="d", river="fen", section="hexicun", order=2.5)
    )
    registry = parse_outfalls(text, SECTIONS)
    assert [o.id for o in registry.upstream_of(SECTIONS.section("jiehepucun"))] == ["a", "b"]  # nearest first
    assert [o.id for o in registry.upstream_of(SECTIONS.section("qiaoergou"))] == ["c", "a", "b"]
    assert [o.id for o in registry.upstream_of(SECTIONS.section("bifengcun"))] == []
    assert [o.id for o in registry.upstream_of(SECTIONS.section("hexicun"))] == ["d"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (outfall(section="nowhere"), "outfalls.0.section: unknown section 'nowhere'"),
        (outfall(river="nile"), "outfalls.0.river: unknown river 'nile'"),
        (outfall(order=5.5), "outfalls.0.order: 5.5 is not above section 'jiehepucun'"),
        (
            outfall(order=3.5),
            "the nearest section below order 3.5 on 'hutuo' is 'boshuicun', not 'jiehepucun'",
        ),
        (outfall() + outfall(), "outfalls.1.id: 'o1' repeats outfalls.0.id"),
        (outfall(id="hexicun"), "is a section or station id"),
        (outfall(mn="MN1") + outfall(id="o2", mn="MN1"), "outfalls.1.mn: 'MN1' repeats outfalls.0.mn"),
        (outfall(mn="bad mn"), "mn"),
        (outfall(items=["w99999"]), "unknown parameter code 'w99999'"),
        (outfall(lat=38.0), "give both lat and lon"),
    ],
)
def test_a_wrong_registry_is_refused_with_the_place_named(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_outfalls(text, SECTIONS, source="o.toml")
    assert problem in str(caught.value)
    assert "o.toml" in str(caught.value)


@pytest.mark.parametrize(
    ("limits", "problem"),
    [("{ w01018 = {} }", "give max, min or both"), ("{ w01001 = { min = 9.0, max = 6.0 } }", "above max")],
)
def test_a_limit_needs_a_side_and_an_order(limits: str, problem: str) -> None:
    text = outfall().replace("limits = { w01018 = { max = 50.0 }, w01001 = { min = 6.0, max = 9.0 } }", "")
    with pytest.raises(ConfigError, match=problem):
        parse_outfalls(text + f"limits = {limits}\n", SECTIONS)


def test_a_limit_breach_and_its_multiple() -> None:
    assert Limit(max=50.0).breached(50.1) and not Limit(max=50.0).breached(50.0)
    assert Limit(min=6.0, max=9.0).breached(5.9) and not Limit(min=6.0, max=9.0).breached(6.0)
    assert Limit(max=50.0).multiple(75.0) == pytest.approx(0.5)
    assert Limit(max=50.0).multiple(40.0) is None and Limit(min=6.0).multiple(1.0) is None


LOGGER = '[hj212]\nloggers = [{{ mn = "{mn}", password = "123456", outfall = "{outfall}", st = "32" }}]\n'


def test_an_outfall_logger_makes_the_outfall_a_known_site_of_its_kind() -> None:
    config = parse_config(LOGGER.format(mn="OUTFALLDEMO01", outfall="hutuo_demo"))
    site = config.station("hutuo_demo")
    assert site is not None and site.kind == "outfall"
    assert site.name_zh == "滹沱河演示排口" and site.river == "hutuo" and site.basin == "hai"
    assert site.expected_params == ["w01018", "w21003", "w21011", "w21001", "w01001", "w00000"]
    assert [s.id for s in config.stations][:8] == [s.id for s in parse_config("").stations]
    assert parse_config("").station("hutuo_demo") is None  # no logger reports for it


@pytest.mark.parametrize(
    ("mn", "name", "problem"),
    [
        ("OUTFALLDEMO01", "nowhere", "unknown outfall nowhere; known: jinneng, hutuo_demo"),
        ("OTHER01", "hutuo_demo", "outfall hutuo_demo's monitor has MN OUTFALLDEMO01 in the registry"),
    ],
)
def test_an_outfall_logger_must_match_the_registry(mn: str, name: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_config(LOGGER.format(mn=mn, outfall=name))


def test_a_registry_file_is_named_when_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "outfalls.toml"
    bad.write_text(outfall(section="nowhere"), encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown section 'nowhere'"):
        parse_config(f'[outfalls]\nregistry = "{bad}"\n')
    good = tmp_path / "good.toml"
    good.write_text(outfall(mn="MNX"), encoding="utf-8")
    config = parse_config(
        f'[outfalls]\nregistry = "{good}"\n'
        '[hj212]\nloggers = [{ mn = "MNX", password = "1", outfall = "o1", st = "32" }]\n'
    )
    assert [o.id for o in config.outfall_registry()] == ["o1"]
    assert config.station("o1") is not None


def test_a_bureau_section_registry_that_cannot_place_the_shipped_outfalls_has_none(tmp_path: Path) -> None:
    sections = tmp_path / "sections.toml"
    sections.write_text(
        '[[rivers]]\nid = "fen"\nname_zh = "汾河"\nname_en = "Fen"\nbasin = "yellow"\n\n'
        '[[sections]]\nid = "s1"\nname_zh = "一"\nname_en = "One"\nriver = "fen"\nbasin = "yellow"\n'
        'level = "national"\norder = 1\n',
        encoding="utf-8",
    )
    config = parse_config(f'[assessment]\nsections = "{sections}"\n')
    assert len(config.outfall_registry()) == 0  # neither 河西村 nor the Hutuo is in it
    with pytest.raises(ConfigError, match="unknown outfall hutuo_demo; known: none"):
        parse_config(
            f'[assessment]\nsections = "{sections}"\n'
            + LOGGER.format(mn="OUTFALLDEMO01", outfall="hutuo_demo")
        )
