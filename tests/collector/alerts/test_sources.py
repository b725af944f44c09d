"""Possible sources (collector/alerts/sources.py), pure: on a hand-made registry, the worst valid value of each
limited item in the window against the limit, outfalls over a limit first, and the texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.alerts.rules.outfall import Bounds
from collector.alerts.sources import Extremes, _distance, detail, extremes, judge, message_clause, worst
from collector.alerts.supervision import Sample
from collector.outfalls import parse_outfalls
from collector.sections import load_sections

SECTIONS = load_sections()
AT = datetime(2026, 7, 15, 6, 0, tzinfo=UTC)
WINDOW = timedelta(hours=6)
COD, NH3N, PH = "w01018", "w21003", "w01001"
REGISTRY = parse_outfalls(
    """
[[outfalls]]
id = "near"
name_zh = "近排口"
name_en = "Near outfall"
enterprise_zh = "甲厂"
river = "hutuo"
section = "jiehepucun"
order = 4.5
standard = "GB 18918-2002 一级A"
limits = { w01018 = { max = 50.0 }, w21003 = { max = 5.0 }, w01001 = { min = 6.0, max = 9.0 } }

[[outfalls]]
id = "far"
name_zh = "远排口"
name_en = "Far outfall"
enterprise_zh = "乙厂"
river = "hutuo"
section = "boshuicun"
order = 3.5
standard = "GB 8978-1996 一级"
limits = { w01018 = { max = 100.0 } }

[[outfalls]]
id = "quiet"
name_zh = "无数据排口"
name_en = "Quiet outfall"
enterprise_zh = "丙厂"
river = "hutuo"
section = "boshuicun"
order = 3.2
standard = "permit"
limits = { w01018 = { max = 60.0 } }
""",
    SECTIONS,
)
UPSTREAM = REGISTRY.upstream_of(SECTIONS.section("jiehepucun"))


def s(hours_before: float, value: float | None, flag: str = "N") -> Sample:
    return Sample(AT - timedelta(hours=hours_before), value, flag)


SAMPLES = {
    "near": {
        COD: [s(7, 90.0), s(3, 41.0), s(2, 48.9), s(1, 45.0)],  # 90 is outside the window: within, max 48.9
        NH3N: [s(5, 4.1), s(2, 6.234), s(1, 9.9, "D"), s(0, 3.0)],  # 9.9 is not valid: over at 6.234
        PH: [s(4, 7.1), s(3, 5.2), s(1, 9.1)],  # 5.2 is 0.133 below 6, 9.1 is 0.011 above 9: 5.2 is worst
    },
    "far": {COD: [s(2, 80.0), s(1, 120.0)]},
    "quiet": {COD: [s(1, None, "B")]},
}


def found(samples: dict[str, dict[str, list[Sample]]]) -> dict[str, dict[str, Extremes]]:
    """What the store computes (collector/sourcing.py), from the samples of the window [AT − WINDOW, AT]."""
    out: dict[str, dict[str, Extremes]] = {}
    for outfall, items in samples.items():
        for param, series in items.items():
            item = extremes(series, AT - WINDOW, AT)
            if item is not None:
                out.setdefault(outfall, {})[param] = item
    return out


def test_upstream_order_is_nearest_first_and_the_judgement_puts_those_over_first() -> None:
    assert [o.id for o in UPSTREAM] == ["near", "far", "quiet"]
    states = judge(UPSTREAM, found(SAMPLES))
    assert [(st.outfall.id, st.over, st.has_data) for st in states] == [
        ("near", True, True),
        ("far", True, True),
        ("quiet", False, False),
    ]
    near = {i.param: i for i in states[0].items}
    assert (near[COD].value, near[COD].over, near[COD].n) == (48.9, False, 3)
    assert (near[NH3N].value, near[NH3N].over, near[NH3N].n) == (6.234, True, 3)
    assert (near[PH].value, near[PH].over) == (5.2, True)
    assert near[NH3N].t == AT - timedelta(hours=2)


def test_a_within_outfall_comes_after_one_over_whatever_its_place() -> None:
    calm = {"near": {COD: [s(1, 30.0)]}, "far": {COD: [s(1, 101.0)]}}
    states = judge(UPSTREAM[:2], found(calm))
    assert [(st.outfall.id, st.over) for st in states] == [("far", True), ("near", False)]


def test_the_message_clause_names_the_outfalls_and_their_items_over() -> None:
    states = judge(UPSTREAM, found(SAMPLES))
    zh, en = message_clause(states, WINDOW)
    assert zh == (
        "；可能来源：近排口：氨氮 6.234 mg/L（限值 5 mg/L，超标）、pH 5.20（限值 6–9，超标）；"
        "远排口：化学需氧量 120.0 mg/L（限值 100 mg/L，超标）；无数据排口：近 6 小时无有效数据"
    )
    assert en == (
        "; possible sources: Near outfall: ammonia nitrogen 6.234 mg/L (limit 5 mg/L, over the limit), "
        "pH 5.20 (limit 6–9, over the limit); Far outfall: COD 120.0 mg/L (limit 100 mg/L, over the limit); "
        "Quiet outfall: no valid data in the last 6 h"
    )
    assert message_clause([], WINDOW) == ("", "")


def test_an_outfall_within_its_limits_is_said_so_item_by_item() -> None:
    states = judge(UPSTREAM[1:2], found({"far": {COD: [s(1, 80.0)]}}))
    assert (
        message_clause(states, WINDOW)[0] == "；可能来源：远排口：化学需氧量 80.0 mg/L（限值 100 mg/L，达标）"
    )


def test_the_detail_keeps_every_outfall_and_item_for_the_dashboard() -> None:
    states = judge(UPSTREAM, found(SAMPLES))
    d = detail(states, AT, WINDOW)
    assert d["over"] == ["near", "far"] and d["window_h"] == 6.0 and d["at"] == "2026-07-15T06:00:00Z"
    near = d["outfalls"][0]
    assert near["id"] == "near" and near["enterprise_zh"] == "甲厂" and near["over"] is True
    assert [(i["param"], i["value"], i["over"]) for i in near["items"]] == [
        (COD, 48.9, False),
        (NH3N, 6.234, True),
        (PH, 5.2, True),
    ]
    assert near["items"][2]["min"] == 6.0 and near["items"][2]["max"] == 9.0
    assert d["text_zh"].startswith("近排口：氨氮 6.234 mg/L")
    assert detail([], AT, WINDOW)["text_en"] == "no monitored outfall upstream"


def worst_by_scan(samples: list[Sample], bounds: Bounds) -> tuple[float, datetime, int] | None:
    """The judgement's first form, kept as the reference: every valid sample in the window scored by how far
    outside the limit it lies, the first of the farthest out kept."""
    best: Sample | None = None
    n = 0
    for x in samples:
        if not (AT - WINDOW <= x.t <= AT) or not x.valid or x.value is None:
            continue
        n += 1
        if best is None or _distance(bounds, x.value) > _distance(bounds, best.value or 0.0):
            best = x
    return None if best is None else (best.value or 0.0, best.t, n)


values = st.sampled_from([4.0, 5.5, 6.0, 7.2, 9.0, 9.4, 12.0, 50.0, 51.0, 0.0])
sample = st.builds(
    s,
    st.integers(min_value=0, max_value=8).map(float),
    values | st.none(),
    st.sampled_from(["N", "T", "D", "B"]),
)
bounds = st.sampled_from([(None, 50.0), (6.0, None), (6.0, 9.0), (5.5, 9.4), (None, 0.0)])


@settings(max_examples=400, deadline=None)
@given(st.lists(sample, max_size=12).map(lambda xs: sorted(xs, key=lambda x: x.t)), bounds)
def test_the_extremes_give_the_value_a_scan_of_every_sample_gives(
    series: list[Sample], limit: Bounds
) -> None:
    item = extremes(series, AT - WINDOW, AT)
    reference = worst_by_scan(series, limit)
    if reference is None:
        assert item is None
        return
    assert item is not None
    state = worst(item, limit)
    assert (state.value, state.t, state.n) == reference
