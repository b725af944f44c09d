"""The monthly bulletin on a real store (SQLite and PostgreSQL): the hand-computed March 2026 of
tests/collector/assessment/fixture_month.py (six sections: readings through the store's apply path, manual
results through save_manual_results), plus hand-chosen February 2026 values (the month before), station state
transitions (uptime) and a fixed clock; every figure below is worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from collector.config import ReportsConfig
from collector.reports import texts
from collector.reports.context import ReportContext
from collector.reports.document import (
    Cell,
    Emphasis,
    Report,
    Table,
    dumps,
    figures_digest,
    from_json,
    loads,
    to_json,
)
from collector.reports.products import make
from collector.reports.products.monthly import MANUAL_NO_RESULT_MONTH
from collector.store.base import Received, Store, Transition
from collector.store.manual_rows import ManualRow
from protocols.flags import Flag
from protocols.messages import Reading, ReadingBatch, StationState
from tests.collector.assessment import fixture_month as fx
from tests.collector.assessment_replay import NOW, fill, fixture_assessor, fixture_config

D = Decimal
PH, DO, CODMN, NH3N, TP = fx.PH, fx.DO, fx.CODMN, fx.NH3N, fx.TP


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# February 2026, one sample each (10 February 08:00 local):
#   boshuicun  pH 7.50 I, DO 6.00 II, CODMn 7.00 IV, NH3-N 0.800 III, TP 0.150 III → IV
#   jiehepucun pH 8.00 I, DO 7.00 II, CODMn 3.00 II, NH3-N 0.400 II, TP 0.080 II  → II
#   xiaruyue (manual) pH 7.10 I, DO 7.60 I, CODMn 2.00 I, NH3-N 0.150 I, TP 0.020 I → I
#   bifengcun: the fixture's pH 5.00 at 23:30 local on 28 February (outside 6–9) → 劣V
#   nanzhuang, hexicun: nothing → no class
FEBRUARY = {
    "boshuicun": {PH: 7.50, DO: 6.00, CODMN: 7.00, NH3N: 0.800, TP: 0.150},
    "jiehepucun": {PH: 8.00, DO: 7.00, CODMN: 3.00, NH3N: 0.400, TP: 0.080},
}
FEBRUARY_MANUAL = {"xiaruyue": {PH: 7.10, DO: 7.60, CODMN: 2.00, NH3N: 0.150, TP: 0.020}}
FEB_AT = _t("2026-02-10T08:00:00+08:00")

# Uptime over March (31 days from 28 Feb 16:00 UTC): bifengcun and hexicun online throughout → 1.000;
# boshuicun offline from 10 March 16:00 UTC to 13 March 16:00 UTC, 3 of 31 days → 28 / 31 = 0.9032 → 0.903;
# jiehepucun never sent a status → no uptime figure.
TRANSITIONS = [
    Transition("bifengcun", _t("2026-02-20T00:00:00+00:00"), None, StationState.ONLINE),
    Transition("hexicun", _t("2026-02-20T00:00:00+00:00"), None, StationState.ONLINE),
    Transition("boshuicun", _t("2026-02-20T00:00:00+00:00"), None, StationState.ONLINE),
    Transition("boshuicun", _t("2026-03-10T16:00:00+00:00"), StationState.ONLINE, StationState.OFFLINE),
    Transition("boshuicun", _t("2026-03-13T16:00:00+00:00"), StationState.OFFLINE, StationState.ONLINE),
]


def _fill_extra(store: Store) -> None:
    for n, (station, values) in enumerate(FEBRUARY.items()):
        readings = [Reading(param=p, t=FEB_AT, value=v) for p, v in values.items()]
        batch = ReadingBatch(station=station, seq=100 + n, lane="live", sent_at=NOW, readings=readings)
        assert store.apply([Received(batch, NOW)]).readings_inserted == len(readings)
    rows = [
        ManualRow(sid, p, FEB_AT, v, "N", f"february:row {i}")
        for sid, values in FEBRUARY_MANUAL.items()
        for i, (p, v) in enumerate(values.items())
    ]
    store.save_manual_results(rows)
    store.add_transitions(TRANSITIONS)


def _context(store: Store, tmp_path: Path, now: datetime = NOW, **settings: object) -> ReportContext:
    config = fixture_config(tmp_path)
    return ReportContext(
        assessor=fixture_assessor(store, tmp_path, now),
        store=store,
        settings=ReportsConfig(**settings),
        stations=config.stations,
        config=config,
        clock=lambda: now,
    )


@pytest.fixture
def march(store: Store, tmp_path: Path) -> Report:
    fill(store)
    _fill_extra(store)
    return make(_context(store, tmp_path), "monthly", fx.MONTH)


def _by(table: Table, key: str = "section") -> dict[Cell, dict[str, Cell]]:
    return {r[key]: r for r in table.records()}


def test_classes_and_target_attainment_of_every_section(march: Report) -> None:
    assert march.period == "2026-03" and not march.partial
    assert (march.first_day.isoformat(), march.last_day.isoformat()) == ("2026-03-01", "2026-03-31")
    rows = _by(march.table("sections"))
    names = {"笔峰村": "bifengcun", "泊水村": "boshuicun", "界河铺村": "jiehepucun"}
    names |= {"下茹越": "xiaruyue", "南庄": "nanzhuang", "河西村": "hexicun"}
    assert set(rows) == set(names)
    for name, sid in names.items():
        want = fx.EXPECTED[sid]
        assert rows[name]["class"] == want["class"], sid
        assert rows[name]["meets"] == want["meets_target"], sid
        assert rows[name]["cwqi"] == (D(want["cwqi"]) if want["cwqi"] else None), sid  # type: ignore[arg-type]
    assert rows["河西村"]["status"] == "结冰" and rows["河西村"]["county"] == "静乐"
    assert rows["南庄"]["county"] is None and rows["南庄"]["level"] == "国考"
    assert rows["泊水村"]["main"] == "总磷（1.00）、氨氮（0.70）、高锰酸盐指数（0.42）"
    table = march.table("sections")
    marks = dict(zip((r[0] for r in table.rows), table.emphasis, strict=True))
    assert {n for n, e in marks.items() if e is Emphasis.BAD} == {"泊水村", "界河铺村", "南庄"}
    # Completeness over the automatic items: 20 + 13 + 10 valid of 217 + 186 + 155 expected (hexicun's
    # frozen slots expected none) = 43 / 558 = 0.07706 → 0.077.
    assert march.completeness == D("0.077")


def test_counts_shares_and_figures(march: Report) -> None:
    rows = _by(march.table("class_counts"), "scope")
    # national: xiaruyue III, nanzhuang 劣V, hexicun iced → 1 of 2 at I–III (0.500), 1 劣V (0.500)
    # provincial: III, V, 劣V → 1 of 3 (33.3 % → 0.333) each; all: 2 of 5 → 0.400 each
    want = {"国考": (3, 2, 1, "0.500", 1, "0.500"), "省考": (3, 3, 1, "0.333", 1, "0.333")}
    want["全部"] = (6, 5, 2, "0.400", 2, "0.400")
    for scope, (n, classed, good, share_good, worst, share_worst) in want.items():
        r = rows[scope]
        assert (r["sections"], r["classed"], r["i_iii"], r["worse_v"]) == (n, classed, good, worst), scope
        assert (r["share_i_iii"], r["share_worse_v"]) == (D(share_good), D(share_worst)), scope
    assert rows["全部"]["class_III"] == 2 and rows["全部"]["class_V"] == 1 and rows["全部"]["class_劣V"] == 2
    f = march.figures
    assert (f["sections"], f["judged"], f["off_target"]) == (6, 5, 3)
    assert (str(f["share_I_III"]), str(f["share_worse_V"])) == ("0.400", "0.400")  # digits kept
    assert f["off_target_sections"] == ["nanzhuang", "boshuicun", "jiehepucun"]  # registry order
    assert f["counties_to_act"] == ["代县", "原平"]  # nanzhuang's county is not known
    assert f["city_cwqi"] == D(fx.CITY_CWQI)


def test_off_target_list_and_summary(march: Report) -> None:
    rows = march.table("off_target").records()
    assert [(r["section"], r["county"], r["class"]) for r in rows] == [
        ("南庄", None, "劣V"),
        ("泊水村", "代县", "V"),
        ("界河铺村", "原平", "劣V"),
    ]
    assert rows[0]["main"] == "高锰酸盐指数（1.67）、总磷（1.60）、氨氮（1.50）"
    assert rows[2]["main"] == "pH"  # pH has no multiple
    text = " ".join(t.zh for t in march.summary)
    assert "I～III类2个，占40.0%" in text and "劣V类2个，占40.0%" in text
    assert "3个断面未达到水质目标：南庄、泊水村（代县）、界河铺村（原平）；涉及区县：代县、原平" in text
    assert "1个断面未参评" in text


def test_river_grades_and_section_map(march: Report) -> None:
    rivers = _by(march.table("river_grades"), "river")
    # Hutuo: III, V, 劣V, III, 劣V → 2 of 5 at I–III (< 75 %), 劣V 2 of 5 (≥ 40 %) → 重度污染
    assert rivers["滹沱河"]["grade"] == "重度污染" and rivers["滹沱河"]["classed"] == 5
    assert (rivers["滹沱河"]["share_i_iii"], rivers["滹沱河"]["share_worse_v"]) == (D("0.400"), D("0.400"))
    assert rivers["汾河"]["grade"] == "参评断面不足5个，不评价" and rivers["汾河"]["share_i_iii"] is None
    chart = next(c for c in march.charts() if c.key == "section_map")
    hutuo = next(r for r in chart.data["rivers"] if r["id"] == "hutuo")
    # upstream → downstream by the registry's order: 笔峰村 1, 下茹越 2, 泊水村 4, 界河铺村 5, 南庄 8
    assert [(s["id"], s["class"], s["meets"]) for s in hutuo["sections"]] == [
        ("bifengcun", "III", True),
        ("xiaruyue", "III", True),
        ("boshuicun", "V", False),
        ("jiehepucun", "劣V", False),
        ("nanzhuang", "劣V", False),
    ]
    fen = next(r for r in chart.data["rivers"] if r["id"] == "fen")
    assert fen["sections"] == [
        {
            "id": "hexicun",
            "name_zh": "河西村",
            "name_en": "Hexicun",
            "class": None,
            "target": "III",
            "meets": None,
            "status": "not_measured",
        }
    ]


def test_county_cwqi_and_delta_rankings(march: Report) -> None:
    ranking = march.table("county_cwqi").records()
    # 原平 3.32 (jiehepucun), 繁峙 3.78 (bifengcun), 代县 6.48 (boshuicun): cleanest first
    assert [(r["rank"], r["county"], r["cwqi"]) for r in ranking] == [
        (1, "原平", D("3.32")),
        (2, "繁峙", D("3.78")),
        (3, "代县", D("6.48")),
    ]
    delta = march.table("county_delta_cwqi")
    # 繁峙 (3.776783 − 4.133333) / 4.133333 = −8.63 %; 代县 (6.477778 − 4.75) / 4.75 = +36.37 %
    assert [
        (r["rank"], r["county"], r["cwqi"], r["cwqi_last_year"], r["delta"]) for r in delta.records()
    ] == [
        (1, "繁峙", D("3.78"), D("4.13"), D("-8.63")),
        (2, "代县", D("6.48"), D("4.75"), D("36.37")),
    ]
    assert delta.emphasis == (None, Emphasis.BAD)  # worsened
    sections = _by(march.table("section_cwqi"))
    assert sections["笔峰村"]["delta"] == D("-8.63") and sections["南庄"]["cwqi_last_year"] is None
    bars = next(c for c in march.charts() if c.key == "cwqi_bars")
    assert [(b["label_zh"], b["value"]) for b in bars.data["bars"]] == [
        ("原平", D("3.32")),
        ("繁峙", D("3.78")),
        ("代县", D("6.48")),
    ]


def test_main_pollutants_with_multiples(march: Report) -> None:
    rows = march.table("main_pollutants").records()
    got = [(r["section"], r["order"], r["item"], r["mean"], r["class"], r["multiple"]) for r in rows]
    assert got == [
        ("南庄", 1, "高锰酸盐指数", D("16.00"), "劣V", D("1.67")),  # (16 − 6) / 6
        ("南庄", 2, "总磷", D("0.520"), "劣V", D("1.60")),  # (0.52 − 0.2) / 0.2
        ("南庄", 3, "氨氮", D("2.500"), "劣V", D("1.50")),
        ("泊水村", 1, "总磷", D("0.400"), "V", D("1.00")),
        ("泊水村", 2, "氨氮", D("1.700"), "V", D("0.70")),
        ("泊水村", 3, "高锰酸盐指数", D("8.50"), "IV", D("0.42")),
        ("界河铺村", 1, "pH", D("9.30"), "劣V", None),
    ]


def test_against_the_previous_month_and_a_year_earlier(march: Report) -> None:
    rows = _by(march.table("class_comparison"))
    got = {
        name: (r["class"], r["class_previous"], r["vs_previous"], r["class_last_year"], r["vs_last_year"])
        for name, r in rows.items()
    }
    # March 2025: bifengcun pH 8.00 I, DO 6.00 II, CODMn 6.00 III, NH3-N 0.800 III, TP 0.200 III → III;
    #             boshuicun pH 7.50 I, DO 5.00 III, CODMn 6.00 III, NH3-N 1.000 III, TP 0.300 IV → IV
    assert got == {
        "笔峰村": ("III", "劣V", "好转", "III", "持平"),
        "泊水村": ("V", "IV", "变差", "IV", "变差"),
        "界河铺村": ("劣V", "II", "变差", None, None),
        "下茹越": ("III", "I", "变差", None, None),
        "南庄": ("劣V", None, None, None, None),
        "河西村": (None, None, None, None, None),
    }
    counts = {(r["period"], r["scope"]): r for r in march.table("counts_comparison").records()}
    # February: bifengcun 劣V, boshuicun IV, jiehepucun II, xiaruyue I → all: 2 of 4 at I–III (0.500), 1 劣V (0.250)
    feb = counts[("上月 2026-02", "全部")]
    assert (feb["classed"], feb["i_iii"], feb["share_i_iii"], feb["worse_v"], feb["share_worse_v"]) == (
        4,
        2,
        D("0.500"),
        1,
        D("0.250"),
    )
    # March 2025: bifengcun III, boshuicun IV → 1 of 2 (0.500), no 劣V; national: nothing classed
    year = counts[("去年同期 2025-03", "全部")]
    assert (year["classed"], year["i_iii"], year["share_i_iii"], year["share_worse_v"]) == (
        2,
        1,
        D("0.500"),
        D(0),
    )
    assert counts[("去年同期 2025-03", "国考")]["share_i_iii"] is None
    assert counts[("本月 2026-03", "全部")]["share_i_iii"] == D("0.400")


def test_station_operation_ranking(march: Report) -> None:
    table = march.table("operation")
    got = [(r["rank"], r["station"], r["uptime"], r["capture"], r["valid"]) for r in table.records()]
    # One slot a day per expected item, 31 in March (00:00 UTC, i.e. 08:00 local):
    #   bifengcun 7 items, 217 slots; received pH 4 (2–5 March; the 00:00-local value of 1 March is in
    #     February's last slot), DO 4, CODMn 3, NH3-N 3, TP 3, TN 2, temperature 2 = 21 → 0.097;
    #     valid 21 − pH C − NH3-N D = 19 → 0.088
    #   boshuicun 6 items, 186 slots; received 2 + 3 + 2 + 3 + 3 + 1 = 14 → 0.075; valid 13 (TP M) → 0.070
    #   jiehepucun 5 items, 155 slots; 10 received, 10 valid → 0.065
    #   hexicun frozen all month: no slot expected, no rate; ranked last
    assert got == [
        (1, "bifengcun", D("1.000"), D("0.097"), D("0.088")),
        (2, "boshuicun", D("0.903"), D("0.075"), D("0.070")),
        (3, "jiehepucun", None, D("0.065"), D("0.065")),
        (4, "hexicun", D("1.000"), None, None),
    ]
    assert table.emphasis == (Emphasis.WARN, Emphasis.WARN, Emphasis.WARN, None)  # below 90 %
    assert march.figures["low_operation"] == ["bifengcun", "boshuicun", "jiehepucun"]


def test_no_flood_part_outside_the_season_and_json_round_trip(march: Report) -> None:
    assert "flood" not in [p.key for p in march.parts] and "flood_season" not in march.figures
    assert march.notes == ()  # no synthetic history in the store
    again = from_json(loads(dumps(to_json(march))))
    assert to_json(again) == to_json(march)


def test_a_flood_season_month_carries_the_season_so_far_at_its_end(store: Store, tmp_path: Path) -> None:
    fill(store)
    report = make(_context(store, tmp_path, national_reference=2.0), "monthly", "2025-08")
    assert report.figures["flood_season"] == 2025
    rows = report.table("flood_top").records()
    # The 2025 season up to 31 August: boshuicun TP 0.450 (5 August) / 0.2 = 2.25 → 2.2; jiehepucun TP 0.120
    # / 0.2 = 0.6 (CODMn 3.50 / 6 = 0.583 is smaller; its NH3-N 0.650 of 30 September is after the month)
    assert [(r["rank"], r["section"], r["item"], r["value"], r["ratio"]) for r in rows] == [
        (1, "泊水村", "总磷", D("0.450"), D("2.2")),
        (2, "界河铺村", "总磷", D("0.120"), D("0.6")),
    ]
    assert report.table("flood_top").emphasis == (Emphasis.BAD, None)  # 2.2 ≥ the line 2.0


def test_a_running_month_is_partial_and_one_not_started_is_refused(store: Store, tmp_path: Path) -> None:
    fill(store)
    running = make(_context(store, tmp_path, datetime(2026, 3, 20, tzinfo=UTC)), "monthly", "2026-03")
    assert running.partial and running.period == "2026-03" and running.last_day.isoformat() == "2026-03-31"
    rows = _by(running.table("sections"))
    # boshuicun's March readings all lie before the 20th: the same class V; counties from the whole month
    assert rows["泊水村"]["class"] == "V" and running.figures["off_target"] == 3
    assert "本月尚未结束" in running.summary[0].zh
    with pytest.raises(ValueError, match="not started"):
        make(_context(store, tmp_path), "monthly", "2026-05")
    with pytest.raises(ValueError):
        make(_context(store, tmp_path), "monthly", "2026-3")


def test_a_past_month_made_again_later_has_the_same_figures(store: Store, tmp_path: Path) -> None:
    fill(store)
    # August 2025 made in mid-September, while the flood season still ran, and again in April 2026: the
    # flood-season part stops at the month's end (jiehepucun's NH3-N of 30 September stays out of both).
    early = make(_context(store, tmp_path, datetime(2025, 9, 15, tzinfo=UTC)), "monthly", "2025-08")
    late = make(_context(store, tmp_path), "monthly", "2025-08")
    assert early.made_at != late.made_at
    assert figures_digest(early) == figures_digest(late)
    assert early.table("flood_top").records()[1]["item"] == "总磷"


def test_a_month_without_data_says_why_for_each_section(store: Store, tmp_path: Path) -> None:
    fill(store)
    _fill_extra(store)
    went = _t("2026-01-10T00:00:00+00:00")
    store.add_transitions([Transition("jiehepucun", went, StationState.ONLINE, StationState.OFFLINE)])
    fault = Reading(param=PH, t=_t("2026-01-15T08:00:00+08:00"), value=7.5, flag=Flag.FAULT)
    store.apply(
        [
            Received(
                ReadingBatch(station="bifengcun", seq=300, lane="live", sent_at=NOW, readings=[fault]), NOW
            )
        ]
    )
    january = make(_context(store, tmp_path), "monthly", "2026-01")  # nothing measured in January 2026
    reasons = {r["section"]: r["status"] for r in january.table("sections").records()}
    assert reasons == {
        "河西村": texts.NO_DATA_RECEIVED.zh,  # nothing arrived
        "下茹越": MANUAL_NO_RESULT_MONTH.zh,
        "南庄": MANUAL_NO_RESULT_MONTH.zh,
        "笔峰村": texts.NO_VALID_DATA.zh,  # one reading, flagged D
        "泊水村": texts.NO_DATA_RECEIVED.zh,
        "界河铺村": texts.OFFLINE.zh,
    }
    assert MANUAL_NO_RESULT_MONTH.zh == "人工采样，本月无监测结果"
    assert (january.figures["judged"], january.figures["off_target"], january.figures["share_I_III"]) == (
        0,
        0,
        None,
    )
    assert [t.zh for t in january.summary[1:]] == ["6个断面未参评（结冰、断流或无有效数据）。"]
