"""The alerts of a report's period, read once from the store and sorted out in Python: which were active at
some time in it (a section without data: was an analyser faulty?), which were opened, acknowledged or resolved
in it, and how long acknowledgement took."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from collector.alerts.model import Alert
from collector.assessment.rounding import round_value
from collector.store.base import Store

MAX_ALERTS = 1_000_000  # the store lists alerts newest first without a time filter: read them all once
FAULT_TYPES = frozenset({"fault_flag", "device_down"})  # an analyser faulty or not answering
HOURS_PLACES = 2


def all_alerts(store: Store) -> list[Alert]:
    return store.alerts(limit=MAX_ALERTS)


def active_during(alert: Alert, start: datetime, end: datetime) -> bool:
    """Open (or acknowledged) at some instant of [start, end)."""
    return alert.opened_at < end and (alert.resolved_at is None or alert.resolved_at > start)


def _in(t: datetime | None, start: datetime, end: datetime) -> bool:
    return t is not None and start <= t < end


@dataclass(frozen=True, slots=True)
class AlertFigures:
    opened: int  # opened in the period
    acknowledged: int  # acknowledged in the period (whenever opened)
    resolved: int  # resolved in the period (whenever opened)
    ack_mean_h: Decimal | None  # time from opening to acknowledgement, hours, of those acknowledged in it
    ack_median_h: Decimal | None
    listed: tuple[
        Alert, ...
    ]  # opened, acknowledged or resolved in the period, or active through it; oldest first


def alert_figures(alerts: Sequence[Alert], start: datetime, end: datetime) -> AlertFigures:
    """Counts and times to acknowledge over [start, end). Pure."""
    opened = [a for a in alerts if _in(a.opened_at, start, end)]
    acked = [a for a in alerts if _in(a.acknowledged_at, start, end)]
    resolved = [a for a in alerts if _in(a.resolved_at, start, end)]
    waits = [
        (a.acknowledged_at - a.opened_at).total_seconds() / 3600
        for a in acked
        if a.acknowledged_at is not None
    ]
    listed = sorted((a for a in alerts if active_during(a, start, end)), key=lambda a: (a.opened_at, a.id))
    return AlertFigures(
        len(opened),
        len(acked),
        len(resolved),
        round_value(statistics.fmean(waits), HOURS_PLACES) if waits else None,
        round_value(statistics.median(waits), HOURS_PLACES) if waits else None,
        tuple(listed),
    )


__all__ = ["FAULT_TYPES", "AlertFigures", "active_during", "alert_figures", "all_alerts"]
