"""The hand-computed month of fixture_month.py through the pure assessment: period selection, float sums as
a store returns them, judgement, CWQI and ΔCWQI, flood-season intensity (whole and running), river grade,
counts by level and neighbours. Every expected figure is worked out by hand in fixture_month.py."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import pytest

from collector.assessment import (
    Cwqi,
    ItemInput,
    NotMeasured,
    Period,
    SectionFacts,
    SectionJudgement,
    WaterType,
    area_cwqi,
    class_counts,
    delta_cwqi,
    flood_intensity,
    judge_period,
    judgement_cwqi,
    neighbours,
    parse_class,
    parse_period,
    rank_cwqi,
    rank_delta,
    rank_intensity,
    river_grade,
    running,
    same_last_year,
)
from protocols.flags import is_valid
from tests.collector.assessment import fixture_month as fx


def _d(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def _facts(section: str) -> SectionFacts:
    level, _river, _county, body, target = fx.SECTIONS[section]
    return SectionFacts(WaterType(body), parse_class(target), level)


def _inputs(section: str, period: Period) -> dict[str, ItemInput]:
    """What a store query gives: per item the float SUM and COUNT of valid values in [start, end)."""
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for sid, param, t, value, flag in fx.READINGS:
        if sid != section or not period.contains(datetime.fromisoformat(t)):
            continue
        counts[param] += 0  # the item was reported in the period, valid or not
        if is_valid(flag):
            totals[param] += value
            counts[param] += 1
    expected = fx.EXPECTED_PER_ITEM if section in fx.AUTOMATIC else None
    return {p: ItemInput.from_sum(totals[p], n, expected) for p, n in counts.items()}


def _judge(section: str, period: Period) -> SectionJudgement:
    marker = fx.NOT_MEASURED.get(section)
    return judge_period(_facts(section), _inputs(section, period), NotMeasured(marker) if marker else None)


MONTH = parse_period("month", fx.MONTH)
JUDGED = {sid: _judge(sid, MONTH) for sid in fx.SECTIONS}


@pytest.mark.parametrize("section", list(fx.EXPECTED))
def test_section_judgement(section: str) -> None:
    want = fx.EXPECTED[section]
    j = JUDGED[section]
    assert j.status.value == want["status"]
    assert (j.water_class.roman if j.water_class else None) == want["class"]
    assert j.meets_target is want["meets_target"]
    assert (j.not_measured.value if j.not_measured else None) == want.get("not_measured")
    items = want["items"]
    assert isinstance(items, dict)
    assert [i.param for i in j.items] == list(items)
    for code, (mean, cls, multiple, vs_target, valid, completeness) in items.items():
        item = j.item(code)
        got = (
            item.mean,
            item.water_class.roman if item.water_class else None,
            item.multiple,
            item.multiple_vs_target,
            item.valid,
            item.completeness,
        )
        assert got == (_d(mean), cls, _d(multiple), _d(vs_target), valid, _d(completeness)), code
        # A rounded Decimal prints its reported decimals: the string is the bulletin's figure.
        assert (str(item.mean) if item.mean is not None else None) == mean
    assert [(p.param, p.multiple) for p in j.main_pollutants] == [
        (c, _d(m)) for c, m in want["main_pollutants"]
    ]  # type: ignore[attr-defined]
    assert j.completeness == _d(want["completeness"])  # type: ignore[arg-type]


def _cwqi(section: str, judged: dict[str, SectionJudgement]) -> Cwqi | None:
    return judgement_cwqi(judged[section])


@pytest.mark.parametrize("section", list(fx.EXPECTED))
def test_section_cwqi(section: str) -> None:
    c = _cwqi(section, JUDGED)
    assert (c.value if c else None) == _d(fx.EXPECTED[section]["cwqi"])  # type: ignore[arg-type]
    if c is not None:
        assert c.covers == frozenset(fx.CWQI_ITEMS)


def test_city_and_county_cwqi_and_ranking() -> None:
    figures = {sid: c for sid in fx.SECTIONS if (c := _cwqi(sid, JUDGED)) is not None}
    assert set(figures) == set(fx.SECTIONS) - {"hexicun"}
    city = area_cwqi(list(figures.values()))
    assert city is not None and city.value == Decimal(fx.CITY_CWQI) and city.sections == 5 and city.uniform
    counties = {
        name: area_cwqi([figures[s] for s in members]) for name, members in fx.COUNTY_SECTIONS.items()
    }
    ranked = rank_cwqi({name: c for name, c in counties.items() if c is not None})
    assert [(r.rank, r.key, str(r.value)) for r in ranked] == fx.COUNTY_RANKING


def test_delta_cwqi_against_the_same_month_last_year() -> None:
    last_month = same_last_year(MONTH)
    assert last_month == parse_period("month", fx.LAST_YEAR_MONTH)
    pairs = {}
    for sid, want in fx.LAST_YEAR_CWQI.items():
        now, last = _cwqi(sid, JUDGED), judgement_cwqi(_judge(sid, last_month))
        assert now is not None and last is not None
        assert last.value == Decimal(want)
        assert delta_cwqi(now, last) == Decimal(fx.DELTA_CWQI[sid])
        pairs[sid] = (now, last)
    assert [(r.rank, r.key, str(r.value)) for r in rank_delta(pairs)] == fx.DELTA_RANKING


def _series(section: str) -> dict[str, list[tuple[datetime, float, str]]]:
    series: dict[str, list[tuple[datetime, float, str]]] = defaultdict(list)
    for sid, param, t, value, flag in fx.READINGS:
        if sid == section:
            series[param].append((datetime.fromisoformat(t), value, flag))
    return series


def test_flood_intensity_and_ranking() -> None:
    season = parse_period("flood", fx.FLOOD_YEAR)
    results = {
        sid: flood_intensity(_series(sid), "river", _facts(sid).target_class, season) for sid in fx.INTENSITY
    }
    for sid, (code, value, at, ratio) in fx.INTENSITY.items():
        top = results[sid].top
        assert top is not None
        assert (top.param, str(top.value), top.at, str(top.ratio)) == (
            code,
            value,
            datetime.fromisoformat(at),
            ratio,
        )
        assert [(i.param, str(i.ratio)) for i in results[sid].items] == fx.INTENSITY_ITEMS[sid]
    ranked = rank_intensity(results)
    assert [(r.rank, r.section, str(r.top.ratio)) for r in ranked] == fx.INTENSITY_RANKING


def test_running_flood_season_so_far() -> None:
    so_far = running(parse_period("flood", fx.FLOOD_YEAR), datetime.fromisoformat(fx.RUNNING_FLOOD_NOW))
    assert so_far.partial
    for sid, (code, value, ratio) in fx.RUNNING_INTENSITY.items():
        top = flood_intensity(_series(sid), "river", _facts(sid).target_class, so_far).top
        assert top is not None and (top.param, str(top.value), str(top.ratio)) == (code, value, ratio)


def test_river_grade_and_counts_by_level() -> None:
    hutuo = [JUDGED[sid].water_class for sid, (_, river, *_rest) in fx.SECTIONS.items() if river == "滹沱河"]
    grade = river_grade(hutuo)
    assert grade is not None
    assert (
        grade.grade.value,
        grade.sections,
        str(grade.percent_i_to_iii),
        str(grade.percent_worse_than_v),
    ) == (fx.HUTUO_GRADE)
    counts = class_counts((fx.SECTIONS[sid][0], j.water_class) for sid, j in JUDGED.items())
    for scope, (n, classed, good, worst, pct_good, pct_worst) in fx.COUNTS.items():
        c = counts[scope]
        assert (c.sections, c.classed, c.i_to_iii, c.worse_than_v) == (n, classed, good, worst), scope
        assert (str(c.percent_i_to_iii), str(c.percent_worse_than_v)) == (pct_good, pct_worst), scope


def test_neighbours_on_the_hutuo() -> None:
    for sid, (up, down) in fx.NEIGHBOURS.items():
        n = neighbours(fx.HUTUO_ORDER, sid)
        assert (n.upstream, n.downstream) == (up, down)
    # The exceedance at boshuicun (NH3-N 1.700, V) did not come from upstream: bifengcun had 1.000 (III).
    assert JUDGED["bifengcun"].item(fx.NH3N).mean == Decimal("1.000")


def test_readings_outside_the_month_are_left_out() -> None:
    # bifengcun's pH 5.00 just before March and at its exclusive end would pull the mean down if counted.
    assert _inputs("bifengcun", MONTH)[fx.PH].valid == 4
    wider = parse_period("custom", "2026-02-28..2026-04-01")
    assert _inputs("bifengcun", wider)[fx.PH].valid == 6
    assert _judge("bifengcun", wider).item(fx.PH).mean == Decimal("6.97")  # (31.8 + 10) / 6 = 6.9667
