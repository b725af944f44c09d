"""When each product is made (issue 13 item 7), pure: the ``[reports]`` cron times (croniter, in Asia/Shanghai)
and what each run makes, given what was done before.

A product's run is its latest scheduled time at or before now. A run not yet done is due, once: after a
restart that missed several runs, only the latest is made (the one whose product is wanted now). A product
never scheduled before (a first start) is not made at once; its memory starts at its latest time, so a fresh
collector does not make every product on its first second. "" turns a product off.

The flood ranking runs only while the flood season runs (its figures so far) and on its first run after the
season ended (the season's final ranking: the run whose interval since the previous run holds the season's
end).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

from collector.assessment.periods import ZONE, FloodSeason
from collector.config import ReportsConfig
from collector.reports.context import due_ref
from collector.reports.document import ReportKind

_TICK = timedelta(microseconds=1)


def cron_of(settings: ReportsConfig, kind: ReportKind) -> str:
    return {
        ReportKind.DAILY: settings.daily_at,
        ReportKind.WEEKLY: settings.weekly_at,
        ReportKind.MONTHLY: settings.monthly_at,
        ReportKind.FLOOD: settings.flood_at,
    }[kind]


def last_time(cron: str, now: datetime) -> datetime | None:
    """The latest time of ``cron`` (Asia/Shanghai) at or before ``now``, in UTC; None when off."""
    if not cron:
        return None
    at: datetime = croniter(cron, now.astimezone(ZONE) + _TICK).get_prev(datetime)
    return at.astimezone(UTC)


def next_time(cron: str, now: datetime) -> datetime | None:
    """The first time of ``cron`` after ``now``, in UTC; None when off."""
    if not cron:
        return None
    at: datetime = croniter(cron, now.astimezone(ZONE)).get_next(datetime)
    return at.astimezone(UTC)


def season_year(season: FloodSeason, day_month: int, year: int) -> int:
    """The year a season containing a local date of ``day_month``/``year`` is named by (its start)."""
    if season.first_month <= season.last_month or day_month >= season.first_month:
        return year
    return year - 1  # January of a November–February season belongs to the season that started before


def season_end(season: FloodSeason, year: int) -> datetime:
    """The instant (UTC) the season named ``year`` ends: local midnight after its last day."""
    last = season.window(year)[1] + timedelta(days=1)
    return datetime(last.year, last.month, last.day, tzinfo=ZONE).astimezone(UTC)


def flood_ref(season: FloodSeason, at: datetime, since: datetime) -> tuple[str, bool] | None:
    """What a flood run at ``at`` makes, the previous run having been at ``since``: (the season's year,
    True) while a season runs; (its year, False), its final ranking, when a season ended in (since, at];
    else None."""
    local = at.astimezone(ZONE)
    if season.contains(at):
        return str(season_year(season, local.month, local.year)), True
    for year in (local.year, local.year - 1):
        if since < season_end(season, year) <= at:
            return str(year), False
    return None


@dataclass(frozen=True, slots=True)
class Run:
    kind: ReportKind
    at: datetime  # the scheduled time (UTC) this run answers
    ref: str  # the period it makes


@dataclass(frozen=True, slots=True)
class Memory:
    """What the scheduler has done: per product, the scheduled time of its last run. Kept in the store (a
    blob) across restarts."""

    done: Mapping[str, datetime] = field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        return {"done": {k: v.isoformat() for k, v in self.done.items()}}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Memory:
        return cls({str(k): datetime.fromisoformat(str(v)).astimezone(UTC) for k, v in data["done"].items()})


def plan(
    settings: ReportsConfig, season: FloodSeason, now: datetime, memory: Memory
) -> tuple[list[Run], Memory]:
    """The runs due at ``now`` and the memory once they are done (a failed run counts as done: it is not
    retried every tick)."""
    runs: list[Run] = []
    done = dict(memory.done)
    for kind in ReportKind:
        at = last_time(cron_of(settings, kind), now)
        if at is None:
            continue
        before = done.get(kind.value)
        if before is not None and before >= at:
            continue  # done already
        done[kind.value] = at
        if before is None:
            continue  # first start: no catch-up of what was never scheduled here
        if kind is ReportKind.FLOOD:
            found = flood_ref(season, at, before)
            if found is not None:
                runs.append(Run(kind, at, found[0]))
        else:
            runs.append(Run(kind, at, due_ref(kind, at)))
    return runs, Memory(done)


def next_runs(settings: ReportsConfig, now: datetime) -> dict[str, datetime | None]:
    """Each product's next scheduled time (UTC; None: off), for status pages and logs."""
    return {kind.value: next_time(cron_of(settings, kind), now) for kind in ReportKind}


__all__ = [
    "Memory",
    "Run",
    "cron_of",
    "flood_ref",
    "last_time",
    "next_runs",
    "next_time",
    "plan",
    "season_end",
    "season_year",
]
