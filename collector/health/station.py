"""One station's figures over a range: capture and valid-data rates per parameter and for the station, and its
uptime from its state transitions. Pure. The API's station health (collector/api/health.py) and the reports'
station operation (collector/reports/operation.py) both compute them here, so the two never disagree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from collector.health.capture import CaptureFigures, Mark, capture_from_marks, combine
from collector.health.schedule import Schedule
from collector.health.uptime import UptimeFigures, uptime
from protocols.messages import StationState


@dataclass(frozen=True, slots=True)
class StationFigures:
    params: dict[str, CaptureFigures]  # per scheduled parameter
    total: CaptureFigures  # the parameters rolled up
    uptime: UptimeFigures


def station_figures_from_marks(
    plan: Mapping[str, Schedule],
    start: datetime,
    end: datetime,
    marks: Mapping[str, Sequence[Mark]],
    changes: Iterable[tuple[datetime, StationState | str]],
    initial: StationState | str | None = None,
    excluded: Iterable[tuple[datetime, datetime]] = (),
) -> StationFigures:
    """``plan``: the schedule of each parameter expected (collector/health/schedule.schedules); ``marks``: each
    parameter's readings as (sample time in µs, valid) marks (collector/health/capture.py), in any order;
    ``changes``: (time, new state) of the transitions in the range and ``initial`` the state at ``start``;
    ``excluded``: ice / no-water windows, neither expected nor missing."""
    windows = list(excluded)
    params = {
        code: capture_from_marks(schedule, start, end, marks.get(code, ()), windows)
        for code, schedule in plan.items()
    }
    return StationFigures(params, combine(params.values()), uptime(changes, start, end, initial))
