"""Controller signal history and the ice / no-water periods that capture figures leave out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.api import create_app
from collector.api.health import station_health
from collector.config import ScheduleConfig, StationConfig
from collector.controller_history import ControllerHistory, Interval, is_ice
from collector.service import CollectorService
from collector.store.base import StoredReading
from protocols import messages
from protocols.messages import StationState, Status
from tests.collector.factories import batch, config

T0 = datetime(2026, 1, 10, tzinfo=UTC)
S = "hexicun"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def status(minutes: float, **signals: float | bool | str) -> Status:
    return Status(station=S, state=StationState.ONLINE, at=at(minutes), controller=dict(signals))


def test_runs_of_equal_values_become_intervals() -> None:
    h = ControllerHistory()
    h.on_status(status(0, water_present=1, mains_power=1))
    h.on_status(status(1, water_present=1, mains_power=1))
    h.on_status(status(2, water_present=0, mains_power=1))
    h.on_status(status(5, water_present=1, mains_power=0))
    assert h.intervals(S, "water_present") == [
        Interval(1, at(0), at(2)),
        Interval(0, at(2), at(5)),
        Interval(1, at(5)),
    ]
    assert h.intervals(S, "mains_power") == [Interval(1, at(0), at(5)), Interval(0, at(5))]
    assert h.intervals(S, "door_open") == []


def test_an_older_status_does_not_rewrite_history() -> None:
    h = ControllerHistory()
    h.on_status(status(10, water_present=1))
    assert not h.on_status(status(5, water_present=0))  # a stale retained status
    assert h.counters["stale_statuses"] == 1
    assert h.intervals(S, "water_present") == [Interval(1, at(10))]


def test_no_water_periods_join_both_signals_and_clip_to_the_range() -> None:
    h = ControllerHistory()
    h.on_status(status(0, water_present=1, sampling_state=1))
    h.on_status(status(10, water_present=0, sampling_state=1))
    h.on_status(status(20, water_present=0, sampling_state=3))
    h.on_status(status(30, water_present=1, sampling_state=3))
    h.on_status(status(40, water_present=1, sampling_state=0))
    h.on_status(status(100, water_present=0, sampling_state=0))  # still dry at the end of the range
    assert h.no_water_periods(S, at(0), at(120)) == [(at(10), at(40)), (at(100), at(120))]
    assert h.no_water_periods(S, at(15), at(35)) == [(at(15), at(35))]


def test_ice_rule_uses_cold_water_before_or_during_the_period() -> None:
    cold = [(at(-300), 0.4)]  # 5 h before the flow stopped
    assert is_ice(at(0), at(60), cold, 0.5)
    assert not is_ice(at(0), at(60), [(at(-400), 0.2)], 0.5)  # more than 6 h before: no evidence
    assert not is_ice(at(0), at(60), [(at(-10), 0.6), (at(30), 3.0)], 0.5)
    assert is_ice(at(0), at(60), [(at(30), 0.5)], 0.5)  # at the threshold counts


def test_the_controllers_own_ice_signal_wins() -> None:
    h = ControllerHistory()
    h.on_status(status(0, water_present=0, ice=1))
    (period,) = h.excluded(S, at(0), at(60), water_temps=[(at(0), 8.0)])
    assert period.reason == "ice"
    assert period.as_dict() == {"from": "2026-01-10T00:00:00Z", "to": "2026-01-10T01:00:00Z", "reason": "ice"}


def test_dump_and_load_round_trip() -> None:
    h = ControllerHistory()
    h.on_status(status(0, water_present=1))
    h.on_status(status(3, water_present=0, on_battery=True))
    copy = ControllerHistory.load(h.dump())
    assert copy.intervals(S, "water_present") == h.intervals(S, "water_present")
    assert copy.intervals(S, "on_battery") == [Interval(True, at(3))]
    assert not copy.on_status(status(1, water_present=1))  # the last-seen time came back too
    with pytest.raises(ValueError, match="controller history"):
        ControllerHistory.load('{"v": 1}')


def test_station_health_figures_leave_excluded_slots_out() -> None:
    # Two hours, one value every 10 min: 12 slots. Values for the first hour only; no water 01:00-01:40.
    site = StationConfig(id=S, expected_params=["w01010"])
    schedule = ScheduleConfig(every_s={"w01010": 600.0}, slot_params=[])
    readings = {"w01010": [_stored(at(10 * i)) for i in range(6)]}
    excluded = [(at(60), at(100), "no_water")]
    body = station_health(site, schedule, at(0), at(120), readings, None, [], excluded)
    (param,) = body["params"]
    # 4 slots (01:00, 01:10, 01:20, 01:30) excluded; 8 expected, 6 received.
    assert (param["expected"], param["received"], param["excluded"]) == (8, 6, 4)
    assert body["capture_rate"] == 0.75
    assert body["excluded"] == [
        {"from": "2026-01-10T01:00:00Z", "to": "2026-01-10T01:40:00Z", "reason": "no_water"}
    ]
    plain = station_health(site, schedule, at(0), at(120), readings, None, [])
    assert plain["capture_rate"] == 0.5


def _stored(t: datetime) -> StoredReading:
    return StoredReading(S, "w01010", t, 4.0, "N", "probe", t)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CollectorService]:
    extra = "[schedule]\nevery_s = {w01010 = 600.0}\nslot_params = []\n[gaps]\nenabled = false\n"
    svc = CollectorService(config(tmp_path, extra), clock=lambda: at(120))
    svc.start(mqtt=False)
    yield svc
    svc.stop()


def feed(service: CollectorService, kind: str, message: messages.Message) -> None:
    service.receiver.handle(f"qingliu/v1/{S}/{kind}", messages.encode(message), lambda: True)
    assert service.wait_idle(5)


@pytest.mark.parametrize(("water_c", "reason"), [(0.3, "ice"), (6.0, "no_water")])
def test_health_api_reports_ice_or_no_water_from_status_history(
    service: CollectorService, water_c: float, reason: str
) -> None:
    feed(service, "readings", batch(S, 1, start=at(0), n=6, step_s=600, value=water_c))
    feed(service, "status", status(0, water_present=1, sampling_state=1))
    feed(service, "status", status(60, water_present=0, sampling_state=3))
    feed(service, "status", status(100, water_present=1, sampling_state=1))
    client = TestClient(create_app(service))
    body = client.get(
        f"/api/stations/{S}/health", params={"from": "2026-01-10T00:00:00Z", "to": "2026-01-10T02:00:00Z"}
    ).json()
    assert body["excluded"] == [
        {"from": "2026-01-10T01:00:00Z", "to": "2026-01-10T01:40:00Z", "reason": reason}
    ]
    assert body["params"][0]["expected"] == 8
    assert body["params"][0]["received"] == 6
    assert body["capture_rate"] == 0.75
    assert any(day["ice_or_dry"] for day in body["days"])


def test_controller_history_survives_a_restart(tmp_path: Path) -> None:
    cfg = config(tmp_path, "[gaps]\nenabled = false\n")
    first = CollectorService(cfg, clock=lambda: at(120))
    first.start(mqtt=False)
    feed(first, "status", status(0, water_present=0))
    first.stop()
    second = CollectorService(cfg, clock=lambda: at(120))
    assert second.controller.no_water_periods(S, at(0), at(30)) == [(at(0), at(30))]
    second.store.close()
