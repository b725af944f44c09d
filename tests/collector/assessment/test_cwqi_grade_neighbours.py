"""CWQI (STANDARDS.md §8), intensity ranking, class counts and river neighbours."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from collector.assessment import (
    Level,
    WaterClass,
    area_cwqi,
    class_counts,
    common_items,
    delta_cwqi,
    flood_intensity,
    item_index,
    judge_section,
    judgement_cwqi,
    neighbours,
    rank_cwqi,
    rank_delta,
    rank_intensity,
    river_grade,
    section_cwqi,
)

I, II, III, IV, V, W = (  # noqa: E741 - the standard's class names
    WaterClass.I,
    WaterClass.II,
    WaterClass.III,
    WaterClass.IV,
    WaterClass.V,
    WaterClass.WORSE_THAN_V,
)
CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("param", "mean", "body", "index"),
    [
        ("w01001", 6.5, "river", "0.5"),  # (7 − 6.5) / 1
        ("w01001", 8.0, "river", "0.5"),  # (8 − 7) / 2
        ("w01001", 7.0, "river", "0"),
        ("w01009", 4.0, "river", "1.25"),  # 5 / 4
        ("w01019", 3.0, "river", "0.5"),  # 3 / 6
        ("w21003", 1.2, "river", "1.2"),  # 1.200 / 1.0
        ("w21011", 0.1, "river", "0.5"),  # / 0.2
        ("w21011", 0.1, "lake", "2"),  # / 0.05 (lake column)
        ("w21003", 0.1235, "river", "0.124"),  # the mean is rounded first (3 decimals, half-even)
    ],
)
def test_item_index(param: str, mean: float, body: str, index: str) -> None:
    assert item_index(param, mean, body) == Decimal(index)


def test_item_index_refuses() -> None:
    for code in ("w01010", "w21001", "w01014"):
        with pytest.raises(ValueError, match="no CWQI index"):
            item_index(code, 1.0, "lake")
    with pytest.raises(ValueError, match="dissolved oxygen"):
        item_index("w01009", 0.0, "river")


def test_section_cwqi_sum_covers_and_rounding() -> None:
    # pH 7.5 → 0.25; DO 6.0 → 0.833…; CODMn 4.0 → 0.666…; NH3-N 0.5 → 0.5; TP 0.15 → 0.75; TN, temp ignored.
    means = {
        "w01001": 7.5,
        "w01009": 6.0,
        "w01019": 4.0,
        "w21003": 0.5,
        "w21011": 0.15,
        "w21001": 9.0,
        "w01010": 20.0,
    }
    c = section_cwqi(means, "river")
    assert c is not None
    assert c.exact == Decimal("0.25") + Decimal(5) / 6 + Decimal(4) / 6 + Decimal("0.5") + Decimal("0.75")
    assert c.value == Decimal("3.00")  # 0.25 + (5 + 4) / 6 + 0.5 + 0.75 = 3
    assert c.indices["w01009"] == Decimal("0.83") and c.indices["w01019"] == Decimal("0.67")
    assert c.covers == frozenset({"w01001", "w01009", "w01019", "w21003", "w21011"})
    assert section_cwqi({"w01010": 20.0, "w21003": None}, "river") is None
    assert section_cwqi(means, "river", items={"w21003", "w21011"}).value == Decimal("1.25")  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown parameter code"):
        section_cwqi({"x": 1.0}, "river")


def test_judgement_cwqi_uses_the_rounded_means() -> None:
    j = judge_section({"w21003": 0.1235, "w01010": 20.0}, "river", III)
    c = judgement_cwqi(j)
    assert c is not None and c.exact == Decimal("0.124") and c.value == Decimal("0.12")
    assert judgement_cwqi(judge_section({"w21003": None}, "river", III)) is None


def test_area_delta_and_rankings() -> None:
    a = section_cwqi({"w21003": 1.0, "w21011": 0.3}, "river")  # 1 + 1.5 = 2.5
    b = section_cwqi({"w21003": 0.5, "w21011": 0.1}, "river")  # 0.5 + 0.5 = 1
    c = section_cwqi({"w21003": 0.2, "w21011": 0.05}, "river")  # 0.2 + 0.25 = 0.45
    assert a and b and c
    county = area_cwqi([a, b])
    assert county is not None and county.value == Decimal("1.75") and county.sections == 2 and county.uniform
    last = area_cwqi([section_cwqi({"w21003": 1.5, "w21011": 0.2}, "river")])  # type: ignore[list-item]
    assert last is not None and last.exact == Decimal("2.5")
    assert delta_cwqi(county, last) == Decimal("-30.00")  # (1.75 − 2.5) / 2.5
    assert area_cwqi([]) is None
    ranked = rank_cwqi({"north": county, "south": c, "east": area_cwqi([b, b])})  # type: ignore[dict-item]
    assert [(r.rank, r.key, r.value) for r in ranked] == [
        (1, "south", Decimal("0.45")),
        (2, "east", Decimal("1.00")),
        (3, "north", Decimal("1.75")),
    ]
    tie = rank_cwqi({"x": b, "y": b, "z": a})
    assert [(r.rank, r.key) for r in tie] == [(1, "x"), (1, "y"), (3, "z")]
    deltas = rank_delta({"north": (county, last), "south": (c, b), "flat": (b, b)})
    assert [(r.rank, r.key, r.value) for r in deltas] == [
        (1, "south", Decimal("-55.00")),
        (2, "north", Decimal("-30.00")),
        (3, "flat", Decimal("0.00")),
    ]


def test_unlike_item_sets_are_not_ranked() -> None:
    five = section_cwqi({"w01001": 7.5, "w01009": 6.0, "w01019": 4.0, "w21003": 0.5, "w21011": 0.15}, "river")
    two = section_cwqi({"w21003": 0.5, "w21011": 0.15}, "river")
    assert five and two
    with pytest.raises(ValueError, match="item sets differ"):
        rank_cwqi({"a": five, "b": two})
    with pytest.raises(ValueError, match="item sets differ"):
        delta_cwqi(five, two)
    mixed = area_cwqi([five, two])
    assert mixed is not None and not mixed.uniform and mixed.covers == five.covers
    with pytest.raises(ValueError, match="mix sections"):
        rank_cwqi({"mixed": mixed, "other": mixed})
    assert common_items([five, two]) == frozenset({"w21003", "w21011"})
    assert common_items([]) == frozenset()


def test_intensity_ranking() -> None:
    t = datetime(2026, 8, 1, 8, tzinfo=CST)
    by_section = {
        "b": flood_intensity({"w21011": [(t, 0.66, "N")]}, "river", III),  # 0.660 / 0.2 = 3.3
        "a": flood_intensity({"w21003": [(t, 3.3, "N")]}, "river", III),  # 3.300 / 1.0 = 3.3
        "c": flood_intensity({"w21003": [(t, 9.0, "N")]}, "river", III),  # 9.0
        "d": flood_intensity({"w21003": [(t, 9.0, "C")]}, "river", III),  # no valid value
    }
    ranked = rank_intensity(by_section)
    assert [(r.rank, r.section, str(r.top.ratio)) for r in ranked] == [
        (1, "c", "9.0"),
        (2, "a", "3.3"),
        (2, "b", "3.3"),
    ]


def test_class_counts_by_level() -> None:
    counts = class_counts(
        [
            (Level.NATIONAL, II),
            ("national", III),
            ("national", W),
            ("national", None),  # not measured (ice)
            ("provincial", IV),
            ("provincial", I),
            ("provincial", II),
        ]
    )
    nat, prov, every = counts["national"], counts["provincial"], counts["all"]
    assert (nat.sections, nat.classed, nat.unclassed, nat.i_to_iii, nat.worse_than_v) == (4, 3, 1, 2, 1)
    assert nat.percent_i_to_iii == Decimal("66.7") and nat.percent_worse_than_v == Decimal("33.3")
    assert prov.percent_i_to_iii == Decimal("66.7") and prov.by_class[IV] == 1 and prov.by_class[V] == 0
    assert (every.sections, every.classed, every.i_to_iii) == (7, 6, 4) and every.percent_i_to_iii == Decimal(
        "66.7"
    )
    empty = class_counts([])["all"]
    assert empty.sections == 0 and empty.percent_i_to_iii is None
    with pytest.raises(ValueError, match="level"):
        class_counts([("county", III)])


def test_river_grade_skips_unclassed_sections_and_gives_percentages() -> None:
    assert river_grade([III, III, III, IV, None]) is None  # four classed sections
    g = river_grade([III, III, III, IV, W, None])
    assert g is not None and g.sections == 5
    assert g.percent_i_to_iii == Decimal("60.0") and g.percent_worse_than_v == Decimal("20.0")
    assert g.grade.value == "moderate"  # < 75 % I–III, 劣V exactly 20 %


def test_neighbours() -> None:
    hutuo = ["bifengcun", "boshuicun", "jiehepucun", "nanzhuang"]
    n = neighbours(hutuo, "boshuicun")
    assert n.upstream == ("bifengcun",) and n.downstream == ("jiehepucun", "nanzhuang")
    n = neighbours(hutuo, "nanzhuang")
    assert n.upstream == ("jiehepucun", "boshuicun", "bifengcun") and n.downstream == ()
    alone = neighbours(["only"], "only")
    assert alone.upstream == () and alone.downstream == ()
    with pytest.raises(ValueError, match="not on this river"):
        neighbours(hutuo, "hexicun")
    with pytest.raises(ValueError, match="twice"):
        neighbours(["a", "b", "a"], "b")
