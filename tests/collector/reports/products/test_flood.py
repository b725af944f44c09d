"""The flood-season ranking on a real store (SQLite and PostgreSQL), from the hand-computed 2025 season of
tests/collector/assessment/fixture_month.py, with a fixed clock and the national reference line of the config."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from collector.assessment import FloodSeason
from collector.reports.document import Emphasis, Report, dumps, from_json, loads, to_json
from collector.reports.products import make
from collector.reports.products.flood import season_year
from collector.reports.synthetic import NOTE
from collector.store.base import Received, Store
from protocols.messages import Reading, ReadingBatch
from tests.collector.assessment import fixture_month as fx
from tests.collector.assessment_replay import NOW, fill
from tests.collector.reports.products.test_monthly import _context

D = Decimal

# Season 2025 (July–September), target III: boshuicun TP 0.450 (5 August 08:00) / 0.2 = 2.25 → 2.2 (half-even);
# jiehepucun NH3-N 0.650 (30 September 23:00) / 1.0 = 0.65 → 0.6. The four other sections have no value in it.
RANKED = [
    (1, "泊水村", "总磷", D("0.450"), "2025-08-05T08:00+08:00", D("0.2"), D("2.2")),
    (2, "界河铺村", "氨氮", D("0.650"), "2025-09-30T23:00+08:00", D("1.0"), D("0.6")),
]


def _make(store: Store, tmp_path: Path, now: datetime = NOW, **settings: object) -> Report:
    return make(_context(store, tmp_path, now, **settings), "flood", fx.FLOOD_YEAR)


def _ranked(report: Report) -> list[tuple[object, ...]]:
    rows = report.table("flood_ranking").records()
    return [
        (r["rank"], r["section"], r["item"], r["value"], r["time"], r["limit"], r["ratio"])
        for r in rows
        if r["rank"] is not None
    ]


def test_every_section_ranked_by_intensity_with_the_reference_line(store: Store, tmp_path: Path) -> None:
    fill(store)
    report = _make(store, tmp_path, national_reference=2.0)
    assert report.period == "2025" and not report.partial
    assert (report.first_day.isoformat(), report.last_day.isoformat()) == ("2025-07-01", "2025-09-30")
    assert _ranked(report) == RANKED
    table = report.table("flood_ranking")
    rows = table.records()
    # the sections without a valid value in the season follow, unranked, in registry order
    assert [(r["section"], r["rank"], r["item"], r["ratio"]) for r in rows[2:]] == [
        ("河西村", None, "无有效数据", None),
        ("下茹越", None, "无有效数据", None),
        ("南庄", None, "无有效数据", None),
        ("笔峰村", None, "无有效数据", None),
    ]
    # 2.2 ≥ 2.0: at risk of the national top 50; 0.6 is not
    assert [r["at_risk"] for r in rows[:2]] == [True, False]
    assert table.emphasis == (Emphasis.BAD, None, None, None, None, None)
    assert table.note is not None and "国家参考线 2.0" in table.note.zh
    items = [(r["section"], r["item"], r["ratio"]) for r in report.table("flood_items").records()]
    assert items == [
        ("泊水村", "总磷", D("2.2")),
        ("泊水村", "氨氮", D("1.8")),  # 1.800 / 1.0
        ("泊水村", "高锰酸盐指数", D("1.5")),  # 9.00 / 6
        ("界河铺村", "氨氮", D("0.6")),
        ("界河铺村", "总磷", D("0.6")),  # 0.120 / 0.2
        ("界河铺村", "高锰酸盐指数", D("0.6")),  # 3.50 / 6 = 0.583
    ]
    chart = report.charts()[0]
    assert [(b["label_zh"], b["value"]) for b in chart.data["bars"]] == [
        ("泊水村", D("2.2")),
        ("界河铺村", D("0.6")),
    ]
    assert chart.data["reference"]["value"] == D("2.0")
    assert report.figures == {
        "sections": 6,
        "ranked": 2,
        "worst": ["boshuicun", "jiehepucun"],
        "reference": D("2.0"),
        "above_reference": 1,
    }
    summary = " ".join(t.zh for t in report.summary)
    assert "6个断面，2个有有效监测数据参与排名" in summary and "泊水村（2.2）、界河铺村（0.6）" in summary
    assert "1个断面达到或超过国家参考线 2.0" in summary
    assert report.notes == ()
    assert to_json(from_json(loads(dumps(to_json(report))))) == to_json(report)


@pytest.mark.parametrize(
    ("line", "marked"), [(2.2, [True, False]), (2.3, [False, False]), (0.6, [True, True])]
)
def test_a_section_at_the_line_is_at_risk(
    store: Store, tmp_path: Path, line: float, marked: list[bool]
) -> None:
    fill(store)
    report = _make(store, tmp_path, national_reference=line)
    rows = report.table("flood_ranking").records()
    assert [r["at_risk"] for r in rows[:2]] == marked
    assert report.figures["above_reference"] == sum(marked)


def test_without_a_line_nothing_is_marked(store: Store, tmp_path: Path) -> None:
    fill(store)
    report = _make(store, tmp_path)
    table = report.table("flood_ranking")
    assert all(r["at_risk"] is None for r in table.records()) and not any(table.emphasis)
    assert "reference" not in report.charts()[0].data
    assert table.note is not None and "未配置国家参考线" in table.note.zh
    assert report.figures["above_reference"] is None


def test_the_running_season_so_far(store: Store, tmp_path: Path) -> None:
    fill(store)
    now = datetime.fromisoformat(fx.RUNNING_FLOOD_NOW).astimezone(UTC)
    report = _make(store, tmp_path, now)
    assert report.partial and report.last_day.isoformat() == "2025-09-30"
    # up to 1 August 00:00 local: boshuicun TP 0.300 / 0.2 = 1.5; jiehepucun TP 0.120 / 0.2 = 0.6
    got = [(r[1], r[2], r[3], r[6]) for r in _ranked(report)]
    assert got == [("泊水村", "总磷", D("0.300"), D("1.5")), ("界河铺村", "总磷", D("0.120"), D("0.6"))]
    assert "汛期进行中" in report.summary[0].zh


def test_a_season_not_started_or_a_bad_year_is_refused(store: Store, tmp_path: Path) -> None:
    fill(store)
    with pytest.raises(ValueError, match="not started"):
        make(_context(store, tmp_path), "flood", "2026")  # 15 April 2026: July has not come
    with pytest.raises(ValueError, match="2026"):
        make(_context(store, tmp_path), "flood", "26")


def test_synthetic_history_is_said(store: Store, tmp_path: Path) -> None:
    fill(store)
    t = datetime(2025, 7, 10, tzinfo=UTC)  # boshuicun's first reading of the season, from the history
    batch = ReadingBatch(
        station="boshuicun",
        seq=200,
        lane="backfill",
        sent_at=NOW,
        readings=[Reading(param=fx.TP, t=t, value=0.010, device="synthetic")],
    )
    store.apply([Received(batch, NOW)])
    report = _make(store, tmp_path)
    assert report.notes == (NOTE,)
    assert _ranked(report) == RANKED  # its small value changes no maximum


def test_the_season_a_month_belongs_to() -> None:
    summer = FloodSeason(7, 9)
    assert [season_year(summer, 2026, m) for m in (6, 7, 9, 10)] == [None, 2026, 2026, None]
    winter = FloodSeason(11, 2)  # across the new year: named by the year it starts in
    assert [season_year(winter, 2027, m) for m in (1, 2, 3, 10, 11, 12)] == [
        2026,
        2026,
        None,
        None,
        2027,
        2027,
    ]
