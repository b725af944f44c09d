"""GET /api/stations/{id}/health: uptime, data capture and valid-data rates over a range, by parameter,
device and local day, computed with collector.health from stored readings and state transitions. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collector.config import ScheduleConfig, StationConfig
from collector.health import CaptureFigures, combine, schedules, uptime
from collector.health.capture import Mark, capture_by_day_from_marks, marks_of
from collector.health.station import StationFigures, station_figures_from_marks
from collector.store.base import StoredReading, Transition


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _days(start: datetime, end: datetime, tz: str) -> tuple[date, date]:
    zone = ZoneInfo(tz)
    last = end - timedelta(microseconds=1)
    return start.astimezone(zone).date(), last.astimezone(zone).date()


def headline(figures: StationFigures) -> dict[str, float | None]:
    """A station's uptime, capture and valid-data rates as its health body and the fleet view give them."""
    return {
        "uptime_pct": _pct(figures.uptime.uptime_pct),
        "capture_rate": _rate(figures.total.capture_rate),
        "valid_rate": _rate(figures.total.valid_rate),
    }


def station_health(
    site: StationConfig,
    config: ScheduleConfig,
    start: datetime,
    end: datetime,
    readings: Mapping[str, Sequence[StoredReading]],
    initial: Transition | None,
    transitions: Sequence[Transition],
    excluded: Sequence[tuple[datetime, datetime, str]] = (),
) -> dict[str, Any]:
    """``excluded``: ice / no-water periods (from, to, reason "ice" | "no_water"); their slots are neither
    expected nor missing. ``readings``: per parameter, oldest first."""
    plan = schedules(site, config)
    marks = {code: marks_of((r.t, r.flag) for r in readings.get(code, ())) for code in plan}
    owners: dict[str, str] = {}
    for code in plan:
        devices = Counter(r.device for r in readings.get(code, ()) if r.device)
        if devices:  # ties: the device heard first (a Counter keeps first-seen order)
            owners[code] = devices.most_common(1)[0][0]
    return station_health_from_marks(site, config, start, end, marks, owners, initial, transitions, excluded)


def station_health_from_marks(
    site: StationConfig,
    config: ScheduleConfig,
    start: datetime,
    end: datetime,
    marks: Mapping[str, Sequence[Mark]],
    owners: Mapping[str, str],
    initial: Transition | None,
    transitions: Sequence[Transition],
    excluded: Sequence[tuple[datetime, datetime, str]] = (),
) -> dict[str, Any]:
    """``station_health`` of readings given as the store's marks (collector/health/capture.py) and each
    parameter's device (the one that reported most of its readings): no object per reading (a week of
    one-minute data took 0.65 s that way, 0.13 s this way: benchmarks/bench_health.py)."""
    plan = schedules(site, config)
    stream = {code: sorted(marks.get(code, ())) for code in plan}
    windows = [(a, b) for a, b, _ in excluded]
    changes = [(t.at, t.new) for t in transitions]
    state0 = initial.new if initial is not None else None
    overall = station_figures_from_marks(plan, start, end, stream, changes, state0, windows)
    per_param = overall.params

    # A parameter belongs to the device that reported most of its readings.
    by_device: dict[str, list[CaptureFigures]] = {}
    for code in plan:
        device = owners.get(code)
        if device is not None:
            by_device.setdefault(device, []).append(per_param[code])

    first_day, last_day = _days(start, end, config.timezone)
    daily: dict[date, list[CaptureFigures]] = {}
    for code, schedule in plan.items():
        for day, figures in capture_by_day_from_marks(
            schedule, first_day, last_day, stream[code], windows, tz=config.timezone
        ).items():
            daily.setdefault(day, []).append(figures)
    zone = ZoneInfo(config.timezone)
    days = []
    day = first_day
    while day <= last_day:
        a = max(start, datetime(day.year, day.month, day.day, tzinfo=zone))
        nxt = day + timedelta(days=1)
        b = min(end, datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone))
        day_state = state0
        for t, state in changes:
            if t <= a:
                day_state = state
        figures = combine(daily.get(day, []))
        days.append(
            {
                "date": day.isoformat(),
                "uptime_pct": _pct(uptime(changes, a, b, day_state).uptime_pct),
                "capture_rate": _rate(figures.capture_rate),
                "valid_rate": _rate(figures.valid_rate),
                "ice_or_dry": figures.excluded > 0,
            }
        )
        day = nxt

    return {
        "station": site.id,
        "from": start,
        "to": end,
        **headline(overall),
        "params": [
            {
                "param": code,
                "expected": f.expected,
                "received": f.received,
                "valid": f.valid,
                "excluded": f.excluded,
                "capture_rate": _rate(f.capture_rate),
                "valid_rate": _rate(f.valid_rate),
            }
            for code, f in per_param.items()
        ],
        "devices": [
            {
                "device": device,
                "expected": (f := combine(figs)).expected,
                "received": f.received,
                "capture_rate": _rate(f.capture_rate),
            }
            for device, figs in sorted(by_device.items())
        ],
        "days": days,
        "excluded": [
            {"from": _iso(a), "to": _iso(b), "reason": reason} for a, b, reason in excluded
        ],  # ice / no-water periods from the controller history (collector/controller_history.py)
    }
