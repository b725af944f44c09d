"""The weekly analysis (collector/reports/products/weekly.py) of ISO week 46 of 2026 (9–15 November local, 8 Nov
16:00 UTC – 15 Nov 16:00 UTC) over the hand-made month of fixture_reports.py, on SQLite and PostgreSQL; made at
09:00 local on Monday the 16th (a fixed clock). Every figure is worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from collector.assessment import WaterClass
from collector.reports.document import Emphasis, Report
from collector.reports.products import make, weekly
from collector.reports.products.weekly import hours_over
from collector.store.base import Received, Store
from protocols.messages import Reading, ReadingBatch
from tests.collector.reports.products import fixture_reports as fx

D = Decimal
MADE = datetime(2026, 11, 16, 1, tzinfo=UTC)  # 09:00 local, Monday 16 November


@pytest.fixture
def report(store: Store, tmp_path: Path) -> Report:
    fx.fill(store)
    return make(fx.context(store, tmp_path, MADE), "weekly", "2026-W46")


def records(report: Report, table: str, key: str = "section") -> dict[object, dict[str, object]]:
    return {r[key]: r for r in report.table(table).records()}


def test_classes_against_the_previous_week_and_a_year_earlier(report: Report) -> None:
    s = records(report, "sections")
    # 泊水村: NH3-N 4 × 4.4 + 4 × 4.6 = 36 / 8 = 4.500 → 劣V. Week 45 (2–8 Nov): 3.4 … 4.2 → 3.800, 劣V: unchanged.
    # Week 46 of 2025 (10–16 Nov 2025): NH3-N 0.900, TP 0.150 → III: worse.
    b = s["泊水村"]
    assert (b["class"], b["meets"], b["class_previous"], b["vs_previous"]) == ("劣V", False, "劣V", "持平")
    assert (b["class_last_year"], b["vs_last_year"]) == ("III", "变差")
    # 界河铺村: NH3-N 8 × 0.850 + 5.000 (11 Nov 02:00) = 11.8 / 9 = 1.3111 → 1.311 → IV; week 45 0.850 → III: worse.
    j = s["界河铺村"]
    assert (j["class"], j["class_previous"], j["vs_previous"], j["class_last_year"]) == (
        "IV",
        "III",
        "变差",
        None,
    )
    # 笔峰村: NH3-N (28 × 0.300 + 1.5 + 0.4 + 1.2 + 0.9) / 32 = 12.4 / 32 = 0.3875 → tie, 7 odd → 0.388 → II.
    assert (s["笔峰村"]["class"], s["笔峰村"]["class_previous"], s["笔峰村"]["vs_previous"]) == (
        "II",
        None,
        None,
    )
    assert s["川胡屯"]["status"] == "离线" and s["河西村"]["status"] == "结冰"
    assert s["梵王寺"]["status"] == "人工采样，本周无监测结果"
    table = report.table("sections")
    marks = dict(zip((r[0] for r in table.rows), table.emphasis, strict=True))
    assert (marks["泊水村"], marks["界河铺村"], marks["笔峰村"]) == (Emphasis.BAD, Emphasis.BAD, None)
    assert report.figures["worse_than_previous"] == ["jiehepucun"]
    assert report.figures["off_target_sections"] == ["boshuicun", "jiehepucun"]
    # Completeness: 笔峰村 56 (60 valid readings for 56 slots: the 4 extra count up to their item's schedule,
    # never beyond it), 泊水村 16, 界河铺村 13 of 7 × 56 = 392 expected (河西村 frozen: none):
    # 85 / 392 = 0.2168 → 0.217.
    assert report.completeness == D("0.217")


def test_main_pollutants_with_multiples(report: Report) -> None:
    rows = [
        (r["section"], r["rank"], r["item"], r["mean"], r["class"], r["multiple"])
        for r in report.table("main_pollutants").records()
    ]
    # (4.500 − 1.0) / 1.0 = 3.50; (1.311 − 1.0) / 1.0 = 0.311 → 0.31
    assert rows == [
        ("泊水村", 1, "氨氮", D("4.500"), "劣V", D("3.50")),
        ("界河铺村", 1, "氨氮", D("1.311"), "IV", D("0.31")),
    ]


def test_hours_over_target(report: Report) -> None:
    hours = {
        (r["section"], r["item"]): (r["hours_over"], r["hours"]) for r in report.table("hours_over").records()
    }
    # 笔峰村 NH3-N: 28 slot hours at 0.300, the 10:00 hour (1.5 + 0.4) / 2 = 0.950 (not over), the 11:00 hour
    # (1.2 + 0.9) / 2 = 1.050 (over): 1 of 30. A single reading of 1.5 over the limit is not an hour over.
    assert hours[("笔峰村", "氨氮")] == (1, 30) and hours[("笔峰村", "总磷")] == (0, 28)
    assert hours[("泊水村", "氨氮")] == (8, 8) and hours[("泊水村", "总磷")] == (0, 8)  # 4.4, 4.6 all over
    assert hours[("界河铺村", "氨氮")] == (1, 9)  # the 5.000 of 11 Nov 02:00; eight hours at 0.850
    assert hours[("界河铺村", "总磷")] == (0, 4)
    assert len(hours) == 6  # only stations with data in the week


def test_alerts_of_the_week(report: Report) -> None:
    # Opened in the week: a1, a2, a3; acknowledged in it: a1 (2.5 h), a2 (1.0 h), a4 (opened 1 Nov 00:00 UTC,
    # acknowledged 9 Nov 06:00 UTC: 198.0 h); resolved in it: a2, a4. Mean (2.5 + 1 + 198) / 3 = 67.1667 → 67.17 h,
    # median 2.50 h. a5 was resolved before the week: not listed.
    f = report.figures
    assert (f["alerts_opened"], f["alerts_acknowledged"], f["alerts_resolved"]) == (3, 3, 2)
    assert (f["ack_mean_h"], f["ack_median_h"]) == (D("67.17"), D("2.50"))
    listed = records(report, "alerts", "station")
    assert list(listed) == ["jiehepucun", "boshuicun", "chuanhutun", "huayuanzi"]  # by opening time
    assert (
        listed["jiehepucun"]["to_ack"],
        listed["huayuanzi"]["to_ack"],
        listed["chuanhutun"]["to_ack"],
    ) == (
        D("198.00"),
        D("2.50"),
        None,
    )
    assert listed["boshuicun"]["opened"] == "2026-11-09T10:00+08:00"
    assert report.table("alerts").emphasis == (
        None,
        None,
        Emphasis.WARN,
        None,
    )  # a3 neither acked nor resolved
    assert "确认3条" in report.summary[1].zh and "median 2.50 h" in report.summary[1].en


def test_station_operation(report: Report) -> None:
    ops = records(report, "operation", "station")
    # 7 days × 4 slots × 2 items = 56 expected per station.
    # 笔峰村: every slot, online all week → 1.000 each.
    assert (ops["bifengcun"]["uptime"], ops["bifengcun"]["capture"], ops["bifengcun"]["valid"]) == (
        D("1.000"),
    ) * 3
    # 泊水村: 9 and 10 Nov only: 16 / 56 = 0.2857 → 0.286.
    assert (ops["boshuicun"]["capture"], ops["boshuicun"]["valid"]) == (D("0.286"), D("0.286"))
    # 花园子: 8 readings, all flagged D: received 8 / 56 = 0.143, valid 0.
    assert (ops["huayuanzi"]["capture"], ops["huayuanzi"]["valid"]) == (D("0.143"), D("0.000"))
    # 川胡屯: online until 9 Nov 12:00 UTC: 20 h of 168 = 0.119; no readings in the week.
    assert (ops["chuanhutun"]["uptime"], ops["chuanhutun"]["capture"]) == (D("0.119"), D("0.000"))
    # 界河铺村: 8 NH3-N + 4 TP + the 11 Nov 02:00 NH3-N = 13 / 56 = 0.232; no state stored: no uptime.
    assert (ops["jiehepucun"]["capture"], ops["jiehepucun"]["uptime"]) == (D("0.232"), None)
    # 河西村: frozen all week: the 56 slots are excluded, nothing expected, no rate.
    assert (ops["hexicun"]["expected"], ops["hexicun"]["excluded"], ops["hexicun"]["capture"]) == (
        0,
        56,
        None,
    )
    table = report.table("operation")
    marks = dict(zip((r[0] for r in table.rows), table.emphasis, strict=True))
    assert marks["bifengcun"] is None and marks["hexicun"] is None and marks["boshuicun"] is Emphasis.WARN
    assert report.figures["low_operation"] == [
        "chuanhutun",
        "huayuanzi",
        "leijiaping",
        "boshuicun",
        "jiehepucun",
        "cigouyingqiao",
    ]


def test_sections_at_risk_for_the_month(report: Report) -> None:
    risk = {(r["section"], r["item"]): r for r in report.table("month_risk").records()}
    # As of Sunday 15 Nov; 16–30 Nov is 15 days × 4 = 60 values still expected.
    # 泊水村 NH3-N: 112 / 28 = 4.000; (1.0005 × 88 − 112) / 60 < 0: cannot be met.
    nh3 = risk[("泊水村", "氨氮")]
    assert (nh3["state"], nh3["month_mean"], nh3["remaining"], nh3["note"]) == (
        "超标",
        D("4.000"),
        60,
        "本月无法达标",
    )
    # 泊水村 TP: (0.2005 × 88 − 4.76) / 60 = 12.884 / 60 = 0.21473 → 0.214.
    assert risk[("泊水村", "总磷")]["headroom_high"] == D("0.214")
    # 界河铺村 NH3-N: (40 × 0.850 + 5.000) / 41 = 39 / 41 = 0.9512 → 0.951 (≥ 0.8: warning);
    # (1.0005 × 101 − 39) / 60 = 62.0505 / 60 = 1.034175 → 1.034.
    j = risk[("界河铺村", "氨氮")]
    assert (j["state"], j["month_mean"], j["headroom_high"]) == ("预警", D("0.951"), D("1.034"))
    assert report.figures["at_risk_month"] == ["boshuicun", "jiehepucun"]
    assert report.figures["counties_to_act"] == ["代县", "原平"]


def test_a_week_not_started_or_a_bad_ref_is_refused(store: Store, tmp_path: Path) -> None:
    ctx = fx.context(store, tmp_path, MADE)
    with pytest.raises(ValueError):
        weekly.make(ctx, "2026-W48")
    with pytest.raises(ValueError):
        weekly.make(ctx, "2026-46")


def test_hours_over_is_the_hourly_mean_rounded_as_the_judgement_rounds() -> None:
    # 1.0004 and 1.0006: mean 1.0005 → tie, 0 even → 1.000: within class III.
    assert hours_over({10: (2, 1.0004 + 1.0006)}, fx.NH3N, "river", WaterClass.III) == (0, 1)
    # 1.0006 and 1.0008: mean 1.0007 → 1.001 → IV: one hour over; the next hour 0.5: not over.
    two = {10: (2, 1.0006 + 1.0008), 11: (1, 0.5)}
    assert hours_over(two, fx.NH3N, "river", WaterClass.III) == (1, 2)
    assert hours_over(two, fx.NH3N, "river", WaterClass.IV) == (0, 2)
    # pH is judged both ways: an hour's mean of 5.9 is below 6, over target.
    assert hours_over({10: (2, 5.8 + 6.0), 11: (1, 7.0)}, "w01001", "river", WaterClass.III) == (1, 2)


def test_a_running_week_is_partial_and_judges_the_month_to_yesterday(store: Store, tmp_path: Path) -> None:
    fx.fill(store)
    ctx = fx.context(store, tmp_path, datetime(2026, 11, 18, 1, tzinfo=UTC))  # Wednesday of week 47, 09:00
    report = weekly.make(ctx, "2026-W47")
    assert report.partial and (report.first_day.isoformat(), report.last_day.isoformat()) == (
        "2026-11-16",
        "2026-11-22",
    )
    # The month to date as of Tuesday 17 Nov: 13 days (18–30 Nov) × 4 = 52 values still expected.
    assert {r["remaining"] for r in report.table("month_risk").records()} == {52}
    assert report.title_zh == "水质周研判" and not report.notes


def test_synthetic_history_is_noted(store: Store, tmp_path: Path) -> None:
    fx.fill(store)
    t = fx.local(12, 9)
    batch = ReadingBatch(
        station="leijiaping",
        seq=99,
        lane="backfill",
        sent_at=t,
        readings=[Reading(param=fx.NH3N, t=t, value=0.2, device="synthetic")],
    )
    store.apply([Received(batch, t)])
    report = weekly.make(fx.context(store, tmp_path, MADE), "2026-W46")
    assert [n.zh[:6] for n in report.notes] == ["合成演示数据"]
