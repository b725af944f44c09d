"""A station's health over a window that starts no earlier than when the station was first heard: the time
before a station was commissioned is neither downtime nor missing data, so a station heard five minutes ago
is judged on those five minutes (issue 18). The store's reads for GET /api/stations/{id}/health and the
fleet's 24 h figures (``clipped_headline``); the figures themselves are collector/api/health.py."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from collector import summaries
from collector.api import health
from collector.config import StationConfig
from collector.health import schedules
from collector.health.station import station_figures_from_marks
from collector.store.base import Transition

if TYPE_CHECKING:
    from collector.service import CollectorService


def first_heard(
    initial: Transition | None, transitions: list[Transition], start: datetime
) -> datetime | None:
    """When a station whose state at ``start`` is unknown was first heard inside the window (its first
    transition to a state other than offline), or None when the window needs no clipping."""
    if initial is not None:
        return None
    heard = next((t.at for t in transitions if t.new != "offline"), None)
    return heard if heard is not None and heard > start else None


def _clipped(
    service: CollectorService, station: str, start: datetime, end: datetime
) -> tuple[datetime, datetime | None, Transition | None, list[Transition]]:
    """``start`` moved to when the station was first heard (or as asked), that time (None when not moved),
    and the station's state at the window's start and its transitions in it."""
    store = service.store
    initial, transitions = store.transitions_between(station, start, end)
    heard = first_heard(initial, transitions, start)
    if heard is not None:
        start = heard
        initial, transitions = store.transitions_between(station, start, end)
    return start, heard, initial, transitions


def clipped_health(
    service: CollectorService, config: StationConfig, start: datetime, end: datetime
) -> dict[str, Any]:
    """The health body over ``[start, end)`` clipped to first heard; ``first_heard`` says where it was clipped
    (None when the window was taken as asked), ``asked_from`` what was asked."""
    store = service.store
    asked = start
    start, heard, initial, transitions = _clipped(service, config.id, start, end)
    marks = store.reading_marks(config.id, start, end)
    owners = store.device_owners(config.id, start, end)
    excluded = [(e.start, e.end, e.reason) for e in service.excluded_periods(config.id, start, end)]
    body = health.station_health_from_marks(
        config, service.config.schedule, start, end, marks, owners, initial, transitions, excluded
    )
    body["from"], body["to"] = summaries.iso(start), summaries.iso(end)
    body["asked_from"] = summaries.iso(asked)
    body["first_heard"] = summaries.iso(heard) if heard is not None else None
    return body


def clipped_headline(
    service: CollectorService, config: StationConfig, start: datetime, end: datetime
) -> dict[str, Any]:
    """What the fleet view shows of ``clipped_health``: from, first_heard and the three figures, equal to the
    body's, without its days and devices: every reading of every station is counted, and at 1,000 stations
    reporting each minute that is 8.6 million a day (benchmarks/bench_health.py)."""
    start, heard, initial, transitions = _clipped(service, config.id, start, end)
    plan = schedules(config, service.config.schedule)
    marks = service.store.reading_marks(config.id, start, end)
    excluded = [(e.start, e.end) for e in service.excluded_periods(config.id, start, end)]
    changes = [(t.at, t.new) for t in transitions]
    state0 = initial.new if initial is not None else None
    figures = station_figures_from_marks(plan, start, end, marks, changes, state0, excluded)
    return {
        "from": summaries.iso(start),
        "first_heard": summaries.iso(heard) if heard is not None else None,
        **health.headline(figures),
    }
