"""The daily warning (collector/reports/products/daily.py) of 10 November 2026 over the hand-made month of
fixture_reports.py, on SQLite and PostgreSQL; made at 08:00 local on the 11th (a fixed clock). Every figure is
worked out by hand in the comments (four values a local day per item; target III: NH3-N ≤ 1.0, TP ≤ 0.2;
warning at 0.8 × the limit; 1–10 Nov is 40 slots, 11–30 Nov is 80)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from collector.reports.document import ChartKind, Emphasis, Report, dumps, from_json, loads, to_json
from collector.reports.products import daily, make
from collector.reports.products.daily import trend_arrow
from collector.store.base import Received, Store
from protocols.flags import Flag
from protocols.messages import Reading, ReadingBatch
from tests.collector.reports.products import fixture_reports as fx

D = Decimal
MADE = datetime(2026, 11, 11, 0, tzinfo=UTC)  # 08:00 local on the 11th


@pytest.fixture
def report(store: Store, tmp_path: Path) -> Report:
    fx.fill(store)
    return make(fx.context(store, tmp_path, MADE), "daily", "2026-11-10")


def rows(report: Report, table: str) -> dict[str, dict[str, object]]:
    return {str(r["section"]): r for r in report.table(table).records()}


def test_headline_figures_and_the_counties_that_must_act(report: Report) -> None:
    # Off target on the day: 泊水村 (NH3-N 4.600, 劣V). At warning: 界河铺村 (NH3-N 0.850 ≥ 0.8, class III).
    # No class: 河西村 (ice), 川胡屯 (offline), 花园子 (fault), 雷家坪 and 茨沟营桥 (never heard), and the twelve
    # manual sections without a result (下茹越 has one): 5 + 12 = 17. Judged: 泊水村, 界河铺村, 笔峰村, 下茹越.
    assert report.figures["sections"] == 21
    assert report.figures["off_target"] == 1 and report.figures["off_target_sections"] == ["boshuicun"]
    assert report.figures["at_warning"] == 1 and report.figures["at_warning_sections"] == ["jiehepucun"]
    assert report.figures["no_data"] == 17 and report.figures["manual_no_result"] == 12
    assert report.figures["counties_to_act"] == ["代县", "原平"]  # 泊水村 and 界河铺村, registry order
    assert report.figures["cannot_be_met"] == ["boshuicun"]
    assert not report.notes  # no synthetic history in the store
    assert (report.period, report.first_day.isoformat(), report.partial) == (
        "2026-11-10",
        "2026-11-10",
        False,
    )
    # Completeness of the day: 泊水村, 界河铺村, 笔峰村 8 of 8 each; 川胡屯, 花园子, 雷家坪, 茨沟营桥 0 of 8;
    # 河西村 frozen (nothing expected): 24 / 56 = 0.4286 → 0.429.
    assert report.completeness == D("0.429")
    assert "代县、原平" in report.summary[1].zh and "代县, 原平" in report.summary[1].en
    assert "泊水村" in report.summary[2].zh  # cannot be met this month
    assert report.push is not None
    assert report.push.zh.startswith("【水质日预警 2026-11-10】21个断面：超标1个，预警1个，无数据17个。")
    assert "泊水村（劣V，氨氮 3.60倍）" in report.push.zh and "Counties to act: 代县, 原平." in report.push.en


def test_each_sections_day_and_month_to_date(report: Report) -> None:
    sections = rows(report, "sections")
    # 泊水村: NH3-N on the 10th 4.600 → 劣V; month to date 4 × (3.4 + … + 4.6) / 28 = 112 / 28 = 4.000 → 劣V.
    b = sections["泊水村"]
    assert (b["class"], b["meets"], b["month_class"], b["month_meets"]) == ("劣V", False, "劣V", False)
    assert b["items"] == "氨氮（超标 3.60倍）、总磷（预警）"  # (4.6 − 1.0) / 1.0 = 3.60; TP 0.170 ≥ 0.16
    # 界河铺村: NH3-N 0.850 → III; TP 0.100 → II; the 5.000 of the 11th is after the day and the month to date.
    j = sections["界河铺村"]
    assert (j["class"], j["meets"], j["month_class"], j["items"]) == ("III", True, "III", "氨氮（预警）")
    # 笔峰村: NH3-N 0.300 → II, TP 0.050 → II; nothing at risk.
    assert (sections["笔峰村"]["class"], sections["笔峰村"]["items"]) == ("II", None)
    assert sections["下茹越"]["class"] == "II"  # manual NH3-N 0.400 (II), TP 0.100 (II)
    # 川胡屯 has no class on the 10th but a month to date: NH3-N 0.500 on the 8th → II.
    assert (sections["川胡屯"]["class"], sections["川胡屯"]["month_class"]) == (None, "II")
    marks = dict(
        zip((r[0] for r in report.table("sections").rows), report.table("sections").emphasis, strict=True)
    )
    assert (marks["泊水村"], marks["界河铺村"], marks["笔峰村"]) == (Emphasis.BAD, Emphasis.WARN, None)


def test_items_at_risk_with_headroom_and_trend(report: Report) -> None:
    table = report.table("items_at_risk")
    items = {(r["section"], r["item"]): r for r in table.records()}
    assert list(items) == [("泊水村", "氨氮"), ("泊水村", "总磷"), ("界河铺村", "氨氮")]
    # 泊水村 NH3-N: off target, cannot be met: the rest (80 values) would need
    # (1.0005 × 108 − 112) / 80 = −3.946 / 80 = −0.0493 mg/L.
    nh3 = items[("泊水村", "氨氮")]
    assert (nh3["state"], nh3["day_mean"], nh3["multiple"], nh3["month_mean"]) == (
        "超标",
        D("4.600"),
        D("3.60"),
        D("4.000"),
    )
    assert (nh3["remaining"], nh3["headroom_high"], nh3["headroom"]) == (80, None, "本月无法达标")
    assert nh3["trend"] == "↑"  # 3.4 → 4.6 over seven days
    # 泊水村 TP: 28 values of 0.170 (sum 4.76); (0.2005 × 108 − 4.76) / 80 = 16.894 / 80 = 0.211175 → 0.211.
    tp = items[("泊水村", "总磷")]
    assert (tp["state"], tp["multiple"], tp["limit"], tp["headroom_high"]) == (
        "预警",
        None,
        D("0.2"),
        D("0.211"),
    )
    assert tp["headroom"] == "余下80个数据均值不高于0.211 mg/L" and tp["trend"] == "→"
    # 界河铺村 NH3-N: 40 values of 0.850 (sum 34); (1.0005 × 120 − 34) / 80 = 86.06 / 80 = 1.07575 → 1.075.
    j = items[("界河铺村", "氨氮")]
    assert (j["month_mean"], j["headroom_high"], j["remaining"], j["trend"]) == (
        D("0.850"),
        D("1.075"),
        80,
        "→",
    )
    assert table.emphasis == (Emphasis.BAD, Emphasis.WARN, Emphasis.WARN)


def test_every_section_without_data_says_why(report: Report) -> None:
    reasons = {r["section"]: (r["reason"], r["reason_en"]) for r in report.table("no_data").records()}
    assert len(reasons) == 17
    assert reasons["河西村"] == ("结冰", "ice")
    assert reasons["川胡屯"] == ("离线", "offline")  # offline since the 9th, 12:00 UTC
    assert reasons["花园子"] == (
        "分析仪故障（氨氮）",
        "analyser fault (ammonia nitrogen)",
    )  # D flags + alert a1
    assert (
        reasons["雷家坪"]
        == reasons["茨沟营桥"]
        == ("离线：站点从未上报", "offline: the station was never heard")
    )
    manual = [s for s, (zh, _) in reasons.items() if zh == "人工采样，当日无监测结果"]
    assert len(manual) == 12 and "下茹越" not in reasons


def test_charts_map_and_trends(report: Report) -> None:
    charts = {c.key: c for c in report.charts()}
    classes = {
        s["name_zh"]: (s["class"], s["status"])
        for river in charts["section_map"].data["rivers"]
        for s in river["sections"]
    }
    assert len(classes) == 21
    assert classes["泊水村"] == ("劣V", "judged") and classes["河西村"] == (None, "not_measured")
    trend = charts["trend_boshuicun_w21003"]
    assert trend.kind is ChartKind.TREND
    assert [p[1] for p in trend.data["points"]] == [
        D(v) for v in ("3.400", "3.600", "3.800", "4.000", "4.200", "4.400", "4.600")
    ]
    assert trend.data["points"][0][0] == "2026-11-04"  # seven days ending on the 10th
    assert (trend.data["limit"], trend.data["warning"]) == (D("1.0"), D("0.80"))
    assert sorted(k for k in charts if k.startswith("trend_")) == [
        "trend_boshuicun_w21003",
        "trend_boshuicun_w21011",
        "trend_jiehepucun_w21003",
    ]


def test_json_round_trip_keeps_the_figures(report: Report) -> None:
    again = from_json(loads(dumps(to_json(report))))
    assert again.table("items_at_risk").rows == report.table("items_at_risk").rows
    assert again.figures == report.figures and again.push == report.push


def test_a_day_not_over_or_a_bad_date_is_refused(store: Store, tmp_path: Path) -> None:
    ctx = fx.context(store, tmp_path, MADE)
    with pytest.raises(ValueError, match="not ended"):
        daily.make(ctx, "2026-11-11")  # it is 08:00 on the 11th
    with pytest.raises(ValueError):
        daily.make(ctx, "2026-11-31")
    with pytest.raises(ValueError):
        daily.make(ctx, "yesterday")


def test_trend_arrow() -> None:
    assert trend_arrow([1.0, 1.1, 1.2]) == "↑"  # change 0.2 over the window, 20 % of the mean 1.1
    assert trend_arrow([1.2, None, 1.0]) == "↓"
    assert trend_arrow([1.00, 1.02, 1.01], scale=1.0) == "→"  # 0.01 < 5 % of 1.0
    assert trend_arrow([None, 1.0, None]) is None


def test_nothing_received_and_nothing_valid_are_told_apart(store: Store, tmp_path: Path) -> None:
    fx.fill(store)
    t = fx.local(3, 8)
    batch = ReadingBatch(
        station="leijiaping",
        seq=7,
        lane="live",
        sent_at=t,
        readings=[Reading(param=fx.NH3N, t=t, value=0.3, flag=Flag.FAULT)],  # D, no fault alert
    )
    store.apply([Received(batch, t)])
    report = daily.make(fx.context(store, tmp_path, MADE), "2026-11-03")
    reasons = {r["section"]: r["reason"] for r in report.table("no_data").records()}
    assert reasons["雷家坪"] == "收到的数据均无效"
    # 川胡屯 and 花园子 were online on the 3rd but sent nothing that day (花园子's fault alert opened on the 10th).
    assert reasons["川胡屯"] == reasons["花园子"] == "未收到数据"
    assert reasons["茨沟营桥"] == "离线：站点从未上报"
