"""When products are made (collector/reports/schedule.py): cron times in Asia/Shanghai, the period each run makes,
no catch-up on a first start, one catch-up after a restart, and the flood ranking only in season and once after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from collector.assessment.periods import FloodSeason
from collector.config import ReportsConfig
from collector.reports.document import ReportKind
from collector.reports.schedule import Memory, Run, flood_ref, last_time, next_runs, next_time, plan

SH = ZoneInfo("Asia/Shanghai")
SEASON = FloodSeason(7, 9)
DAILY_ONLY = ReportsConfig(weekly_at="", monthly_at="", flood_at="")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SH).astimezone(UTC)


def test_cron_times_are_local_times() -> None:
    assert last_time("0 8 * * *", sh(2026, 7, 2, 8, 0)) == datetime(2026, 7, 2, 0, 0, tzinfo=UTC)
    assert last_time("0 8 * * *", sh(2026, 7, 2, 7, 59, 59)) == sh(2026, 7, 1, 8, 0)
    assert next_time("0 8 * * *", sh(2026, 7, 2, 8, 0)) == sh(2026, 7, 3, 8, 0)
    assert next_time("0 9 3 * *", sh(2026, 7, 2, 8, 0)) == sh(2026, 7, 3, 9, 0)
    assert last_time("", sh(2026, 7, 2)) is None and next_time("", sh(2026, 7, 2)) is None
    assert next_runs(ReportsConfig(weekly_at=""), sh(2026, 7, 1, 12, 0)) == {
        "daily": sh(2026, 7, 2, 8, 0),
        "weekly": None,
        "monthly": sh(2026, 7, 3, 9, 0),
        "flood": sh(2026, 7, 2, 8, 30),
    }


def test_a_first_start_makes_nothing_and_the_next_time_makes_yesterday() -> None:
    runs, memory = plan(DAILY_ONLY, SEASON, sh(2026, 7, 2, 10, 0), Memory())
    assert runs == [] and memory.done == {"daily": sh(2026, 7, 2, 8, 0)}
    runs, memory = plan(DAILY_ONLY, SEASON, sh(2026, 7, 3, 7, 59), memory)
    assert runs == []
    runs, memory = plan(DAILY_ONLY, SEASON, sh(2026, 7, 3, 8, 0, 5), memory)
    assert runs == [Run(ReportKind.DAILY, sh(2026, 7, 3, 8, 0), "2026-07-02")]
    assert plan(DAILY_ONLY, SEASON, sh(2026, 7, 3, 8, 1), memory)[0] == []  # made once


def test_a_restart_after_missed_runs_catches_up_the_latest_once() -> None:
    memory = Memory({"daily": sh(2026, 7, 1, 8, 0)})
    runs, memory = plan(DAILY_ONLY, SEASON, sh(2026, 7, 5, 6, 0), memory)  # down for the 2nd, 3rd, 4th
    assert runs == [Run(ReportKind.DAILY, sh(2026, 7, 4, 8, 0), "2026-07-03")]
    assert plan(DAILY_ONLY, SEASON, sh(2026, 7, 5, 7, 0), memory)[0] == []
    # The memory survives as JSON in the store.
    assert Memory.load(memory.dump()) == memory


def test_each_product_makes_the_period_just_ended() -> None:
    settings = ReportsConfig()  # daily 08:00, weekly Monday 09:00, monthly the 3rd 09:00, flood 08:30
    before = sh(2026, 8, 2, 23, 0)
    memory = Memory({k.value: before - timedelta(days=30) for k in ReportKind})
    runs, _ = plan(settings, SEASON, sh(2026, 8, 3, 9, 0), memory)  # Monday 3 August 2026
    assert runs == [
        Run(ReportKind.DAILY, sh(2026, 8, 3, 8, 0), "2026-08-02"),
        Run(ReportKind.WEEKLY, sh(2026, 8, 3, 9, 0), "2026-W31"),
        Run(ReportKind.MONTHLY, sh(2026, 8, 3, 9, 0), "2026-07"),
        Run(ReportKind.FLOOD, sh(2026, 8, 3, 8, 30), "2026"),  # in season: the figures so far
    ]


def test_the_flood_ranking_runs_in_season_and_once_after_it_ended() -> None:
    only = ReportsConfig(daily_at="", weekly_at="", monthly_at="")
    memory = Memory({"flood": sh(2026, 9, 29, 8, 30)})
    runs, memory = plan(only, SEASON, sh(2026, 9, 30, 9, 0), memory)
    assert runs == [Run(ReportKind.FLOOD, sh(2026, 9, 30, 8, 30), "2026")]  # last day of the season
    runs, memory = plan(only, SEASON, sh(2026, 10, 1, 9, 0), memory)
    assert runs == [Run(ReportKind.FLOOD, sh(2026, 10, 1, 8, 30), "2026")]  # the final ranking
    runs, memory = plan(only, SEASON, sh(2026, 10, 2, 9, 0), memory)
    assert runs == [] and memory.done["flood"] == sh(2026, 10, 2, 8, 30)  # out of season: nothing
    # Down from late September to mid-October: the catch-up run is the final ranking.
    runs, _ = plan(only, SEASON, sh(2026, 10, 15, 9, 0), Memory({"flood": sh(2026, 9, 28, 8, 30)}))
    assert runs == [Run(ReportKind.FLOOD, sh(2026, 10, 15, 8, 30), "2026")]
    # In June nothing: last year's season ended long before the previous run.
    assert plan(only, SEASON, sh(2027, 6, 2, 9, 0), Memory({"flood": sh(2027, 6, 1, 8, 30)}))[0] == []


def test_a_season_across_the_new_year_is_named_by_its_first_year() -> None:
    winter = FloodSeason(11, 2)
    assert flood_ref(winter, sh(2027, 1, 10, 8, 30), sh(2027, 1, 9, 8, 30)) == ("2026", True)
    assert flood_ref(winter, sh(2027, 3, 1, 8, 30), sh(2027, 2, 28, 8, 30)) == ("2026", False)
    assert flood_ref(winter, sh(2027, 3, 2, 8, 30), sh(2027, 3, 1, 8, 30)) is None
