"""Domain summaries of stations and alerts, as pure functions of stored values: the StationSummary the live
stream publishes and the API lists, an alert's public shape, alert counts per station, the fleet overview and
a quarantined message's listing. The service (collector/service.py) and the HTTP layer (collector/api/) both
use them, so they live here, below both. Times are UTC ISO 8601 with a Z."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collector import quality
from collector.alert_values import value_texts
from collector.alerts.model import SEVERITY_RANK, Alert, AlertStatus
from collector.alerts.sources import with_clause
from collector.config import StationConfig
from collector.names import station_en
from collector.stations import StationRecord
from collector.store.base import StoredDeadLetter, StoredReading
from protocols import catalogue
from protocols.messages import StationState
from protocols.sections import BASIN_NAMES, RIVERS

STATES = ("online", "degraded", "offline", "unknown")


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def param_order(code: str) -> tuple[int, str]:
    """Basic parameters first, in the catalogue's order, then the rest by code."""
    basic = catalogue.BASIC_PARAMETERS
    return (basic.index(code) if code in basic else len(basic), code)


def latest_value(reading: StoredReading, site: StationConfig) -> dict[str, Any]:
    param = catalogue.PARAMETERS.get(reading.param)
    return {
        "value": reading.value,
        "flag": reading.flag,
        "t": iso(reading.t),
        "unit": param.unit if param else "",
        "name_zh": param.name_zh if param else reading.param,
        "name_en": param.name_en if param else reading.param,
        "class": quality.value_class(reading.param, reading.value, site.water_type),
        "limit_target": quality.limit_for(reading.param, site.target_class, site.water_type),
    }


def api_state(record: StationRecord | None) -> str:
    """online / degraded / offline, or unknown for a station never heard since the store began."""
    if record is None or record.last_heard_at is None:
        return "unknown"
    return record.state.value


@dataclass(frozen=True, slots=True)
class AlertSummary:
    open_alerts: int = 0  # not yet acknowledged
    worst_severity: str | None = None  # of those
    active_alerts: int = 0  # open or acknowledged


def alert_summary(active: Iterable[Alert], station: str) -> AlertSummary:
    """The counts of ``station``'s active alerts; "open" is what nobody has acknowledged yet (an ack takes the
    alert out of the count and the ring)."""
    mine = [a for a in active if a.station == station]
    unseen = [a for a in mine if a.status is AlertStatus.OPEN]
    if not unseen:
        return AlertSummary(active_alerts=len(mine))
    worst = max(unseen, key=lambda a: SEVERITY_RANK[a.severity]).severity
    return AlertSummary(len(unseen), worst.value, len(mine))


def station_summary(
    site: StationConfig,
    record: StationRecord | None,
    latest: dict[str, StoredReading],
    now: datetime,
    alerts: AlertSummary | None = None,
) -> dict[str, Any]:
    """StationSummary of the API contract (collector/api/app.py), plus a few extra keys."""
    river = RIVERS.get(site.river)
    basin = BASIN_NAMES.get(site.basin)  # type: ignore[call-overload]
    status = record.status if record else None
    state = record.state if record else StationState.OFFLINE
    last_reading = record.last_reading_at if record else None
    current, latest_block = _quality_parts(site, latest)
    alerts = alerts or AlertSummary()
    return {
        "id": site.id,
        "name_zh": site.name_zh,
        "name_en": station_en(site.id),
        "river": site.river,
        "river_zh": river.name_zh if river else site.river,
        "river_en": river.name_en if river else site.river,
        "basin": site.basin,
        "basin_zh": basin[0] if basin else site.basin,
        "basin_en": basin[1] if basin else site.basin,
        "level": site.level,
        "county": site.county,
        "target_class": quality.ROMAN[site.target_class - 1],
        "water_type": site.water_type,
        "state": api_state(record),
        "state_reasons": list(record.reasons) if record else ["never heard"],
        "state_since": iso(record.since) if record else None,
        "online": state is not StationState.OFFLINE,
        "last_reading_at": iso(last_reading),
        "last_status_at": iso(record.status_received_at) if record else None,
        "last_heard_at": iso(record.last_heard_at) if record else None,
        "data_age_s": round((now - last_reading).total_seconds(), 1) if last_reading else None,
        "backlog": status.backlog if status else None,
        "dropped": status.dropped if status else None,
        "clock_offset_s": status.clock_offset_s if status else None,
        # An outfall's effluent is judged against its discharge limits (GET /api/outfalls), never GB 3838.
        "kind": site.kind,
        "current_class": None if site.kind == "outfall" else current.water_class,
        "off_target": False if site.kind == "outfall" else current.off_target,
        "open_alerts": alerts.open_alerts,
        "worst_alert_severity": alerts.worst_severity,
        "active_alerts": alerts.active_alerts,
        "latest": latest_block,
    }


# Per station: the classified latest values, reused while they are unchanged (a station reports every few
# minutes; the fleet overview asks for all of them on every request). Entries are replaced, never mutated.
_QUALITY_CACHE: dict[str, tuple[tuple[Any, ...], Any, dict[str, Any]]] = {}


def _quality_parts(site: StationConfig, latest: dict[str, StoredReading]) -> tuple[Any, dict[str, Any]]:
    key = (site.water_type, site.target_class, tuple(sorted(latest.items())))
    held = _QUALITY_CACHE.get(site.id)
    if held is not None and held[0] == key:
        return held[1], held[2]
    current = quality.current_class(latest, site.water_type, site.target_class)
    block = {code: latest_value(latest[code], site) for code in sorted(latest, key=param_order)}
    _QUALITY_CACHE[site.id] = (key, current, block)
    return current, block


def overview(sites: list[StationConfig], summaries: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """GET /api/overview: every station, rivers (upstream → downstream) and basins, and counts."""
    configured = {s.id for s in sites}
    rivers: list[dict[str, Any]] = []
    for river in RIVERS.values():
        members = [s for s in river.stations if s in configured]
        if members:
            rivers.append(
                {
                    "id": river.id,
                    "name_zh": river.name_zh,
                    "name_en": river.name_en,
                    "basin": river.basin,
                    "stations": members,
                }
            )
    known = {s for r in rivers for s in r["stations"]}
    for site in sites:  # rivers that only the config knows, in config order
        if site.id in known:
            continue
        entry = next((r for r in rivers if r["id"] == site.river), None)
        if entry is None:
            entry = {
                "id": site.river,
                "name_zh": site.river,
                "name_en": site.river,
                "basin": site.basin,
                "stations": [],
            }
            rivers.append(entry)
        entry["stations"].append(site.id)
    basins: list[dict[str, Any]] = []
    for basin_id in dict.fromkeys(r["basin"] for r in rivers):
        names = BASIN_NAMES.get(basin_id, (basin_id, basin_id))
        basins.append(
            {
                "id": basin_id,
                "name_zh": names[0],
                "name_en": names[1],
                "rivers": [r["id"] for r in rivers if r["basin"] == basin_id],
            }
        )
    counts = {state: sum(1 for s in summaries if s["state"] == state) for state in STATES}
    counts["open_alerts"] = sum(int(s["open_alerts"]) for s in summaries)
    counts["off_target"] = sum(1 for s in summaries if s["off_target"])
    return {
        "generated_at": iso(now),
        "stations": summaries,
        "rivers": rivers,
        "basins": basins,
        "counts": counts,
    }


def alert(a: Alert, site: StationConfig | None) -> dict[str, Any]:
    """An alert in the shape of the API contract."""
    shown = value_texts(a.rule_type, a.param, a.value)
    message_zh, message_en = with_clause(a.message_zh, a.message_en, a.detail)
    device = a.detail.get("device")
    if device is None and a.rule_type == "device_down":
        device = a.subject or None
    return {
        "id": a.id,
        "station": a.station,
        "station_zh": site.name_zh if site else a.station,
        "station_en": station_en(a.station),
        "rule": a.rule,
        "rule_type": a.rule_type,
        "param": a.param,
        "device": device,
        "severity": a.severity.value,
        "state": a.status.value,
        "title_zh": a.title_zh,
        "title_en": a.title_en,
        # An exceedance keeps naming the outfalls upstream found when it opened (collector/sourcing.py).
        "message_zh": message_zh,
        "message_en": message_en,
        "opened_at": iso(a.opened_at),
        "acked_at": iso(a.acknowledged_at),
        "acked_by": a.acknowledged_by,
        "ack_note": a.detail.get("ack_note") or None,
        "resolved_at": iso(a.resolved_at),
        "last_value": a.value,
        # As people read it: rounded to the parameter's decimals with its unit, or an age, a count (issue 18).
        "last_value_zh": shown[0],
        "last_value_en": shown[1],
        "last_bad_at": iso(a.last_bad_at),
        # The flood-season judgement of an exceedance (collector/supervising.py), None otherwise.
        "supervision": a.detail.get("supervision") or None,
        # The outfalls upstream of a section's exceedance and their values (collector/sourcing.py), or None.
        "sources": a.detail.get("sources") or None,
    }


def dead_letter(d: StoredDeadLetter) -> dict[str, Any]:
    """A quarantined message as /api/dead-letters lists it: a preview, not the whole payload."""
    return {
        "id": d.id,
        "station": d.station,
        "topic": d.topic,
        "reason": d.reason,
        "error": d.error,
        "first_seen": iso(d.first_seen),
        "last_seen": iso(d.last_seen),
        "count": d.count,
        "size": len(d.payload),
        "preview": d.payload[:800].decode("utf-8", errors="replace")[:200],
    }
