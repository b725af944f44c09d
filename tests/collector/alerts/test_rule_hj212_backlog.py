"""The hj212_backlog rule: one alert per HJ 212 target whose undelivered readings pass the limit, resolved
below the clear level; stations without targets are never judged, and old statuses without the field parse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from collector.alerts import AlertEngine, AlertsConfig
from collector.alerts.rules.uplink import Hj212BacklogRule
from protocols.messages import StationState, Status, UplinkStatus, decode

T0 = datetime(2026, 7, 15, 0, 0, tzinfo=UTC)
ST = "hexicun"


def status(minutes: float, **targets: dict[str, Any]) -> Status:
    uplinks = {name: UplinkStatus(**fields) for name, fields in targets.items()} if targets else None
    return Status(station=ST, at=T0 + timedelta(minutes=minutes), state=StationState.ONLINE, uplinks=uplinks)


def test_one_alert_per_target_past_the_limit_and_resolved_below_the_clear_level() -> None:
    e = AlertEngine(AlertsConfig(rules=[Hj212BacklogRule(id="hj", max_backlog=1000, clear_backlog=100)]))
    assert e.on_status(status(0, national={"backlog": 900}, province={"backlog": 5})) == []
    opened = e.on_status(status(1, national={"backlog": 1500, "connected": False}, province={"backlog": 5}))
    assert [(t.kind.value, t.alert.subject) for t in opened] == [("opened", "national")]
    alert = opened[0].alert
    assert alert.value == 1500 and alert.detail["connected"] is False
    assert (
        "national" in alert.message_zh and "1500" in alert.message_en and "not connected" in alert.message_en
    )
    assert (
        e.on_status(status(2, national={"backlog": 500}, province={"backlog": 5})) == []
    )  # between: still open
    resolved = e.on_status(status(3, national={"backlog": 100}, province={"backlog": 5}))
    assert [(t.kind.value, t.alert.subject) for t in resolved] == [("resolved", "national")]


def test_stations_without_targets_are_not_judged() -> None:
    e = AlertEngine(AlertsConfig(rules=[Hj212BacklogRule(id="hj", max_backlog=0, clear_backlog=0)]))
    assert e.on_status(status(0)) == []
    old = decode(b'{"v":1,"type":"status","station":"hexicun","state":"online","at":"2026-07-15T00:00:00Z"}')
    assert isinstance(old, Status) and old.uplinks is None
