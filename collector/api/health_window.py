"""A station's health over a window that starts no earlier than when the station was first heard: the time
before a station was commissioned is neither downtime nor missing data, so a station heard five minutes ago
is judged on those five minutes (issue 18). The store's reads for GET /api/stations/{id}/health and the
fleet's 24 h figures; the figures themselves are collector/api/health.py."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from collector import summaries
from collector.api import health
from collector.config import StationConfig
from collector.health import schedules
from collector.store.base import Transition

if TYPE_CHECKING:
    from collector.service import CollectorService

MAX_READINGS = 1_000_000


def first_heard(
    initial: Transition | None, transitions: list[Transition], start: datetime
) -> datetime | None:
    """When a station whose state at ``start`` is unknown was first heard inside the window (its first
    transition to a state other than offline), or None when the window needs no clipping."""
    if initial is not None:
        return None
    heard = next((t.at for t in transitions if t.new != "offline"), None)
    return heard if heard is not None and heard > start else None


def clipped_health(
    service: CollectorService, config: StationConfig, start: datetime, end: datetime
) -> dict[str, Any]:
    """The health body over ``[start, end)`` clipped to first heard; ``first_heard`` says where it was clipped
    (None when the window was taken as asked), ``asked_from`` what was asked."""
    store = service.store
    initial, transitions = store.transitions_between(config.id, start, end)
    heard = first_heard(initial, transitions, start)
    asked = start
    if heard is not None:
        start = heard
        initial, transitions = store.transitions_between(config.id, start, end)
    readings = {
        code: store.readings(config.id, param=code, start=start, end=end, limit=MAX_READINGS)
        for code in schedules(config, service.config.schedule)
    }
    excluded = [(e.start, e.end, e.reason) for e in service.excluded_periods(config.id, start, end)]
    body = health.station_health(
        config, service.config.schedule, start, end, readings, initial, transitions, excluded
    )
    body["from"], body["to"] = summaries.iso(start), summaries.iso(end)
    body["asked_from"] = summaries.iso(asked)
    body["first_heard"] = summaries.iso(heard) if heard is not None else None
    return body
