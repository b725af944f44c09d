"""The assessing service on a real store, SQLite and PostgreSQL: the hand-computed month of
tests/collector/assessment/fixture_month.py replayed through the store's apply path and save_manual_results, and
every figure the fixture works out by hand read back through the service."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from collector.assessing import AUTOMATIC, MANUAL, Assessor, expected_count
from collector.assessment import NotMeasured
from collector.config import parse_config
from collector.health.schedule import Schedule
from collector.sections import default_text
from collector.store.base import Store
from collector.store.manual_rows import ManualRow
from protocols.errors import ConfigError
from tests.collector.assessment import fixture_month as fx
from tests.collector.assessment_replay import NOW, fill, fixture_assessor


def dec(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


@pytest.fixture
def assessor(store: Store, tmp_path: Path) -> Assessor:
    fill(store)
    return fixture_assessor(store, tmp_path)


def test_every_section_of_the_month_is_judged_as_worked_out_by_hand(assessor: Assessor) -> None:
    period = assessor.period("month", fx.MONTH)
    assert not period.partial and period.label == fx.MONTH
    judged = {a.section.id: a for a in assessor.sections(period)}
    assert set(judged) == set(fx.EXPECTED)
    for sid, want in fx.EXPECTED.items():
        a = judged[sid]
        j = a.judgement
        assert j.status.value == want["status"], sid
        assert (j.water_class.roman if j.water_class else None) == want["class"], sid
        assert j.meets_target == want["meets_target"], sid
        items = want["items"]
        assert isinstance(items, dict)
        assert {i.param for i in j.items} == set(items), sid
        for code, (mean, cls, multiple, vs_target, valid, completeness) in items.items():
            got = j.item(code)
            assert got.mean == dec(mean), (sid, code)
            assert str(got.mean) == mean if mean is not None else got.mean is None  # the decimals too
            assert (got.water_class.roman if got.water_class else None) == cls, (sid, code)
            assert got.multiple == dec(multiple), (sid, code)
            assert got.multiple_vs_target == dec(vs_target), (sid, code)
            assert got.valid == valid, (sid, code)
            if sid != "hexicun":  # see below: its frozen slots are not expected
                assert got.completeness == dec(completeness), (sid, code)
        assert [
            (i.param, str(i.multiple) if i.multiple is not None else None) for i in j.main_pollutants
        ] == (want["main_pollutants"]), sid
        assert (str(a.cwqi.value) if a.cwqi else None) == want["cwqi"], sid
        if sid != "hexicun":
            assert j.completeness == dec(want["completeness"]), sid  # type: ignore[arg-type]


def test_a_frozen_month_is_not_measured_and_its_slots_are_not_expected(assessor: Assessor) -> None:
    hexicun = assessor.section("hexicun", assessor.period("month", fx.MONTH)).judgement
    assert hexicun.status.value == "not_measured" and hexicun.not_measured is NotMeasured.ICE
    assert hexicun.label_zh == "结冰" and hexicun.water_class is None and hexicun.main_pollutants == ()
    # The controller says the intake was frozen the whole month: like the capture rates, the assessment
    # expects nothing then (the fixture's "0 of 62" counts the frozen slots; the service does not).
    assert hexicun.expected == 0 and hexicun.completeness is None
    assert all(i.not_measured is NotMeasured.ICE for i in hexicun.items)


def test_items_carry_their_source_and_automatic_data_take_priority(assessor: Assessor, store: Store) -> None:
    period = assessor.period("month", fx.MONTH)
    before = assessor.section("bifengcun", period)
    assert before.sources[fx.TP] == AUTOMATIC
    assert assessor.section("xiaruyue", period).sources == dict.fromkeys(
        fx.EXPECTED["xiaruyue"]["items"], MANUAL
    )  # type: ignore[arg-type]
    # A lab result for an item the station measured is ignored; one for an item it did not measure is used.
    t = datetime(2026, 3, 20, 2, tzinfo=UTC)
    store.save_manual_results(
        [
            ManualRow("bifengcun", fx.TP, t, 9.9, "N", "lab.csv:row 2"),
            ManualRow("bifengcun", "w01018", t, 24.0, "N", "lab.csv:row 3"),  # COD: IV
        ]
    )
    after = assessor.section("bifengcun", period)
    assert after.judgement.item(fx.TP).mean == Decimal("0.160") and after.sources[fx.TP] == AUTOMATIC
    cod = after.judgement.item("w01018")
    assert after.sources["w01018"] == MANUAL and cod.water_class and cod.water_class.roman == "IV"
    assert cod.expected is None  # sampled by hand: nothing expected
    assert after.judgement.water_class and after.judgement.water_class.roman == "IV"


def test_counts_shares_and_the_hutuo_grade(assessor: Assessor) -> None:
    city = assessor.city(assessor.period("month", fx.MONTH))
    for scope, (n, classed, good, worst, pct_good, pct_worst) in fx.COUNTS.items():
        c = city.counts[scope]
        assert (c.sections, c.classed, c.i_to_iii, c.worse_than_v) == (n, classed, good, worst), scope
        assert (str(c.percent_i_to_iii), str(c.percent_worse_than_v)) == (pct_good, pct_worst), scope
    rivers = {r.river.id: r for r in city.rivers}
    hutuo = rivers["hutuo"].grade
    assert hutuo is not None
    grade, n, pct_good, pct_worst = fx.HUTUO_GRADE
    assert (hutuo.grade.value, hutuo.sections) == (grade, n)
    assert (str(hutuo.percent_i_to_iii), str(hutuo.percent_worse_than_v)) == (pct_good, pct_worst)
    assert rivers["fen"].grade is None  # one section


def test_cwqi_counties_city_and_the_change_against_last_year(assessor: Assessor) -> None:
    report = assessor.cwqi(assessor.period("month", fx.MONTH))
    assert report.last_year_period.label == fx.LAST_YEAR_MONTH
    assert report.items == frozenset(fx.CWQI_ITEMS)
    sections = {s.section.id: s for s in report.sections}
    for sid, want in fx.EXPECTED.items():
        assert (str(sections[sid].now.value) if sections[sid].now else None) == want["cwqi"], sid
    for sid, last in fx.LAST_YEAR_CWQI.items():
        figure = sections[sid].last_year
        assert figure is not None and str(figure.value) == last
        assert str(sections[sid].delta) == fx.DELTA_CWQI[sid]
    assert report.city.now is not None and str(report.city.now.value) == fx.CITY_CWQI
    counties = {a.name: a for a in report.counties}
    assert {name: a.sections for name, a in counties.items()} == {
        "繁峙": ("bifengcun",),
        "代县": ("boshuicun",),
        "原平": ("jiehepucun",),
        "静乐": (),  # hexicun, frozen: no figure
    }
    assert [(r.rank, r.key, str(r.value)) for r in report.county_ranking] == fx.COUNTY_RANKING
    assert [(r.rank, r.key, str(r.value)) for r in report.section_delta_ranking] == fx.DELTA_RANKING
    by_county = {"繁峙": "bifengcun", "代县": "boshuicun"}
    assert [(r.rank, by_county[r.key], str(r.value)) for r in report.county_delta_ranking] == fx.DELTA_RANKING


def test_flood_season_intensity_and_ranking(assessor: Assessor) -> None:
    report = assessor.flood(int(fx.FLOOD_YEAR))
    assert not report.period.partial
    found = {s.id: i for s, i in report.sections}
    for sid, (param, value, at, ratio) in fx.INTENSITY.items():
        top = found[sid].top
        assert top is not None
        assert (top.param, str(top.value), top.at, str(top.ratio)) == (
            param,
            value,
            datetime.fromisoformat(at),
            ratio,
        ), sid
        assert [(x.param, str(x.ratio)) for x in found[sid].items] == fx.INTENSITY_ITEMS[sid]
    assert [(r.rank, r.section, str(r.top.ratio)) for r in report.ranking] == fx.INTENSITY_RANKING
    assert found["xiaruyue"].top is None  # no sample in the season


def test_a_running_flood_season_is_assessed_so_far(store: Store, tmp_path: Path) -> None:
    fill(store)
    now = datetime.fromisoformat(fx.RUNNING_FLOOD_NOW)
    report = fixture_assessor(store, tmp_path, now=now).flood(int(fx.FLOOD_YEAR))
    assert report.period.partial and report.period.end == now
    found = {s.id: i.top for s, i in report.sections}
    for sid, (param, value, ratio) in fx.RUNNING_INTENSITY.items():
        top = found[sid]
        assert top is not None and (top.param, str(top.value), str(top.ratio)) == (param, value, ratio)


def test_neighbours_on_the_river(assessor: Assessor) -> None:
    start, end = datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 3, 31, 16, tzinfo=UTC)
    view = assessor.neighbours("boshuicun", assessor.window(start, end))
    documented = set(fx.HUTUO_ORDER)
    up = tuple(a.section.id for a in view.upstream if a.section.id in documented)
    down = tuple(a.section.id for a in view.downstream if a.section.id in documented)
    assert (up, down) == fx.NEIGHBOURS["boshuicun"]
    # The shipped order places 下茹越 between 笔峰村 and 泊水村: nearest first.
    assert [a.section.id for a in view.upstream] == ["xiaruyue", "bifengcun"]
    classes = {
        a.section.id: a.judgement.water_class for a in (view.section, *view.upstream, *view.downstream)
    }
    assert {k: v.roman if v else None for k, v in classes.items()} == {
        "boshuicun": "V",
        "xiaruyue": "III",
        "bifengcun": "III",
        "jiehepucun": "劣V",
        "nanzhuang": "劣V",
    }


def test_periods_are_checked(assessor: Assessor) -> None:
    with pytest.raises(ValueError, match="not started"):
        assessor.period("month", "2026-05")
    with pytest.raises(ValueError, match="written like"):
        assessor.period("month", "2026-13x")
    with pytest.raises(ValueError, match="on or after"):
        assessor.period("year", "1999")
    with pytest.raises(ValueError, match="at most"):
        assessor.period("custom", "2024-01-01..2026-01-01")
    running = assessor.period("month", "2026-04")
    assert running.partial and running.end == NOW
    assert assessor.whole(running).label == "2026-04" and not assessor.whole(running).partial
    with pytest.raises(KeyError):
        assessor.section("nowhere", running)


def test_expected_counts_leave_out_excluded_slots() -> None:
    hourly = Schedule.every(3600)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    assert expected_count(hourly, start, start + timedelta(days=1)) == 24
    frozen = [(start + timedelta(hours=6), start + timedelta(hours=12))]
    assert expected_count(hourly, start, start + timedelta(days=1), frozen) == 18
    nutrients = Schedule.slots((0, 4, 8, 12, 16, 20))
    assert expected_count(nutrients, start, start + timedelta(days=1)) == 6


def test_the_assessment_config_is_validated_and_names_the_field(tmp_path: Path) -> None:
    for text, field in (
        ('sections = "nowhere.toml"', "assessment.sections"),
        ('cwqi_items = ["w99999"]', "assessment.cwqi_items"),
        ("flood_last_month = 13", "assessment.flood_last_month"),
    ):
        with pytest.raises(ConfigError, match=re.escape(field)):
            parse_config(f"[assessment]\n{text}\n")
    broken = tmp_path / "broken.toml"
    broken.write_text('[[rivers]]\nid = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"assessment\.sections"):
        parse_config(f'[assessment]\nsections = "{broken}"\n')
    # A copy of the registry with its own target: used instead of the shipped one, season from the config.
    own = tmp_path / "sections.toml"
    own.write_text(
        default_text().replace('id = "hexicun"', 'id = "hexicun"\ntarget = "II"', 1), encoding="utf-8"
    )
    config = parse_config(f'[assessment]\nsections = "{own}"\nflood_first_month = 6\nflood_last_month = 8\n')
    assessor = Assessor.from_config(config, store=None, excluded=lambda *_: [])  # type: ignore[arg-type]
    assert assessor.registry.source == str(own)
    assert [s.target for s in assessor.registry].count("II") == 1
    assert (assessor.season.first_month, assessor.season.last_month) == (6, 8)
