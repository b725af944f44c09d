"""JSON shapes of the API that only the HTTP layer shows, as pure functions of stored values. The summaries
the service shares (StationSummary, alerts, the overview) are in collector/summaries.py. Times are UTC ISO 8601
with a Z."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from collector import quality
from collector.config import StationConfig
from collector.gap_windows import split_recovered
from collector.stations import StationRecord
from collector.store.base import SeqSummary, StoredCommand, StoredEvent, StoredReading, Transition
from collector.summaries import AlertSummary, iso, param_order, station_summary
from protocols import catalogue
from protocols.flags import FLAG_NAMES, VALID_FLAGS
from protocols.messages import to_builtins


def transition(t: Transition) -> dict[str, Any]:
    return {
        "at": iso(t.at),
        "from": t.old.value if t.old else None,
        "to": t.new.value,
        "reason": "; ".join(t.reasons) or "ok",
        "reasons": list(t.reasons),
    }


def station_detail(
    site: StationConfig,
    record: StationRecord | None,
    latest: dict[str, StoredReading],
    transitions: list[Transition],
    events: list[StoredEvent],
    now: datetime,
    alerts: AlertSummary | None = None,
) -> dict[str, Any]:
    body = station_summary(site, record, latest, now, alerts)
    status = record.status if record else None
    body.update(
        {
            "expected_params": site.expected_params,
            "agent_version": status.agent_version if status else None,
            "heartbeat_s": status.heartbeat_s if status else None,
            "next_seq": status.next_seq if status else None,
            "oldest_unsent": iso(status.oldest_unsent) if status else None,
            "status_at": iso(status.at) if status else None,
            "devices": {
                name: {
                    "up": d.up,
                    "flag": d.flag.value,
                    "failures": d.failures,
                    "last_ok": iso(d.last_ok),
                    "error": d.error,
                }
                for name, d in (status.devices.items() if status else [])
            },
            "controller": dict(status.controller) if status else {},
            "intervals": dict(status.intervals) if status else {},
            # HJ 212 platforms the station reports to (agent/hj212up), by target name; absent without any.
            "uplinks": (
                {name: to_builtins(u) for name, u in status.uplinks.items()}
                if status and status.uplinks
                else {}
            ),
            "transitions": [transition(t) for t in transitions],
            "events": [event(e) for e in events],
        }
    )
    return body


def event(stored: StoredEvent) -> dict[str, Any]:
    e = stored.event
    return {
        "id": e.id,
        "at": iso(e.at),
        "kind": e.kind.value,
        "severity": e.severity.value,
        "device": e.device,
        "param": e.param,
        "message": e.message,
        "detail": e.detail,
        "received_at": iso(stored.received_at),
    }


def reading(r: StoredReading) -> dict[str, Any]:
    return {
        "param": r.param,
        "t": iso(r.t),
        "value": r.value,
        "flag": r.flag,
        "device": r.device,
        "received_at": iso(r.received_at),
    }


def command(stored: StoredCommand) -> dict[str, Any]:
    c, r = stored.command, stored.reply
    return {
        "id": c.id,
        "station": c.station,
        "kind": c.kind.value,
        "args": c.args,
        "issued_at": iso(c.issued_at),
        "reply": None
        if r is None
        else {
            "ok": r.ok,
            "at": iso(r.at),
            "message": r.message,
            "result": r.result,
            "received_at": iso(stored.reply_received_at),
        },
    }


def gaps(
    station: str, summary: SeqSummary, next_seq: int | None, recovered: Sequence[tuple[int, int]] = ()
) -> dict[str, Any]:
    """Received seq ranges and the holes between them. A hole whose re-send the station answered in full
    came back under new numbers: it is listed under ``recovered``, not ``missing``."""
    missing, back = split_recovered(summary.missing, recovered)
    return {
        "station": station,
        "ranges": [list(r) for r in summary.ranges],
        "missing": [list(m) for m in missing],
        "missing_count": sum(hi - lo + 1 for lo, hi in missing),
        "recovered": [list(r) for r in back],
        "recovered_count": sum(hi - lo + 1 for lo, hi in back),
        "next_seq": next_seq,
    }


def parameters() -> list[dict[str, Any]]:
    return [
        {
            "code": p.code,
            "name_zh": p.name_zh,
            "name_en": p.name_en,
            "unit": p.unit,
            "decimals": p.decimals,
            "range_min": p.range_min,
            "range_max": p.range_max,
            "basic": p.code in catalogue.BASIC_PARAMETERS,
        }
        for p in sorted(catalogue.PARAMETERS.values(), key=lambda p: param_order(p.code))
    ]


def flags() -> list[dict[str, Any]]:
    return [
        {"flag": f.value, "name_zh": zh, "name_en": en, "valid": f in VALID_FLAGS}
        for f, (zh, en) in FLAG_NAMES.items()
    ]


def readings(
    site: StationConfig,
    param: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    rows: list[StoredReading],
) -> dict[str, Any]:
    entry = catalogue.PARAMETERS.get(param) if param else None
    limits, direction = quality.limits_table(param, site.water_type) if param else (None, None)
    return {
        "station": site.id,
        "param": param,
        "unit": entry.unit if entry else None,
        "limits": limits,
        "target_class": quality.ROMAN[site.target_class - 1],
        "direction": direction,
        "from": iso(start),
        "to": iso(end),
        "limit": limit,
        "count": len(rows),
        "readings": [reading(r) for r in rows],
    }
