"""What a product is made from, and which period a product covers for a given day or a scheduled run.

A product is ``make(ctx, ref) -> Report`` (collector/reports/products/<kind>.py). ``ref`` is the period
reference of its kind: daily "2026-12-02", weekly "2026-W48", monthly "2026-11", flood "2026" (the season
starting in that year). Pure apart from ``ctx``: the store is read through the assessor and ``ctx.store``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from collector.assessing import Assessor
from collector.assessment.periods import ZONE
from collector.config import CollectorConfig, ReportsConfig, StationConfig
from collector.reports.document import ReportKind
from collector.store.base import Store


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReportContext:
    assessor: Assessor
    store: Store
    settings: ReportsConfig = field(default_factory=ReportsConfig)
    stations: Sequence[StationConfig] = ()
    config: CollectorConfig = field(default_factory=CollectorConfig)
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def from_config(
        cls, config: CollectorConfig, store: Store, *, clock: Callable[[], datetime] = utcnow
    ) -> ReportContext:
        return cls(
            assessor=Assessor.from_config(config, store, clock=clock),
            store=store,
            settings=config.reports,
            stations=config.stations,  # the configured sites, or the city plan's eight
            config=config,
            clock=clock,
        )

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)


def period_ref(kind: ReportKind, day: date) -> str:
    """The period of ``kind`` that contains the local date ``day``."""
    if kind is ReportKind.DAILY:
        return day.isoformat()
    if kind is ReportKind.WEEKLY:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if kind is ReportKind.MONTHLY:
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}"


def due_ref(kind: ReportKind, now: datetime) -> str:
    """The period a scheduled run at ``now`` makes: the day, ISO week or month just ended (local time); for
    the flood ranking, the season of this year (so far while it runs)."""
    today = now.astimezone(ZONE).date()
    if kind is ReportKind.DAILY:
        return period_ref(kind, today - timedelta(days=1))
    if kind is ReportKind.WEEKLY:
        return period_ref(kind, today - timedelta(days=7))
    if kind is ReportKind.MONTHLY:
        return period_ref(kind, today.replace(day=1) - timedelta(days=1))
    return period_ref(kind, today)


__all__ = ["ReportContext", "due_ref", "period_ref", "utcnow"]
