"""Alerts end to end: simulator scenario → station hardware → agent → Mosquitto → collector → /api/alerts.

Each test runs a compressed scenario (tests/e2e/scenarios/*.toml, sim minutes = real minutes at speed 1, so the
analysers' result times and the agent's clock agree) and checks that the collector's default alert rules open
the right alerts and resolve them when the condition ends. Rules with minute-long debounces (controller
conditions: 60 s; device down: 300 s) run behind ``@pytest.mark.long``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.config import CollectorConfig
from protocols.sections import SECTIONS
from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup
from tests.support.stack import Stack, http_json, wait_until

pytestmark = pytest.mark.e2e

SCENARIOS = Path(__file__).parent / "scenarios"

# Rules with short debounces, for a collector whose config has an [alerts] section; otherwise the defaults
# (device down after 300 s, controller conditions after 60 s, sudden rise over ≥ 10 min) and the checks that
# need the short ones are skipped.
ALERTS_CONFIGURABLE = "alerts" in CollectorConfig.model_fields
# Time is compressed (a plume crosses a reach in 24 s), so the sudden-rise rule compares against a value 30 s
# older; its rates are raised to match (0.5 mg/L NH3-N within 30 s), or the analysers' ordinary noise between two
# results 30 s apart reads as a "rise" at both stations at once.
FAST_RULES = """
[alerts]
rules = [
  { id = "offline", type = "offline" },
  { id = "device_down", type = "device_down", open_after_s = 5.0 },
  { id = "fault_flag", type = "fault_flag" },
  { id = "exceedance", type = "exceedance" },
  { id = "sudden_rise", type = "sudden_rise", min_span_s = 30.0, max_gap_s = 600.0, rates_per_hour = { w21003 = 60.0, w01019 = 240.0 } },
  { id = "no_water", type = "controller", condition = "no_water", open_after_s = 5.0 },
  { id = "mains_lost", type = "controller", condition = "mains_lost", open_after_s = 5.0 },
]
"""
ALERTS = FAST_RULES if ALERTS_CONFIGURABLE else ""

# GB 3838 class III limits (the default target class of every section), mg/L.
NH3N_III = 1.0
CODMN_III = 6.0
TP_III_RIVER = 0.2


def alerts(stack: Stack, **query: str) -> list[dict[str, Any]]:
    params = "&".join(f"{k}={v}" for k, v in {"limit": "1000", **query}.items())
    status, body = http_json(f"{stack.api}/api/alerts?{params}")
    assert status == 200, body
    return list(body["alerts"])


def find(stack: Stack, rule: str, station: str | None = None, **match: Any) -> list[dict[str, Any]]:
    found = []
    for alert in alerts(stack, station=station or stack.station):
        if alert["rule"] == rule and all(alert.get(k) == v for k, v in match.items()):
            found.append(alert)
    return found


def wait_alert(
    stack: Stack,
    rule: str,
    timeout: float,
    *,
    state: str | None = None,
    station: str | None = None,
    **match: Any,
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        for alert in find(stack, rule, station, **match):
            if state is None or alert["state"] == state:
                return alert
        return None

    found: dict[str, Any] = wait_until(
        probe, timeout, interval=0.5, what=f"alert {rule} {match} {state or ''}"
    )
    return found


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def start_scenario(stack: Stack, scenario: str) -> Stack:
    stack.root.mkdir(parents=True, exist_ok=True)
    stack.start_sim("--scenario", str(SCENARIOS / scenario), "--speed", "1")
    if stack.collector is None:
        stack.start_collector()
    stack.start_agent()
    return stack


def test_analyser_fault_opens_and_resolves(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    stack = Stack(
        tmp_path / "stack",
        mosquitto,
        processes,
        agent_extra="\n[flagging]\nstuck_after_s = 5.0\n",
        collector_extra=ALERTS,
    )
    start_scenario(stack, "analyser_fault_fast.toml")

    # The CODMn analyser stops answering from 6 s to 36 s: the agent sends its values flagged B (communication
    # failed), the alert opens after two of them.
    opened = wait_alert(stack, "fault_flag", 40, param="w01019")
    assert opened["severity"] == "warning"
    assert "communication failed" in opened["title_en"]
    flagged = sorted(
        (r for r in stack.collector_readings("w01019") if r["flag"] == "B"), key=lambda r: r["t"]
    )
    assert len(flagged) >= 2
    # Debounce: opened at the second B value, not the first.
    assert at(opened["opened_at"]) == at(flagged[1]["t"])

    # The link returns at 36 s: the first valid CODMn result after the last B value resolves it.
    resolved = wait_alert(stack, "fault_flag", 50, state="resolved", param="w01019")
    assert resolved["id"] == opened["id"]
    rows = sorted(stack.collector_readings("w01019"), key=lambda r: r["t"])
    last_b = max(at(r["t"]) for r in rows if r["flag"] == "B")
    first_good = next(r for r in rows if at(r["t"]) > last_b)
    assert first_good["flag"] in ("N", "T")
    assert at(resolved["resolved_at"]) == at(first_good["t"])
    assert not [a for a in alerts(stack, state="active") if a["rule"] == "fault_flag"]

    # The TP analyser's own fault state (6 s to 36 s) reaches the collector as device-state events; it has no
    # results meanwhile (the device-down alert needs 300 s: see the long test).
    status, body = http_json(f"{stack.api}/api/stations/{stack.station}")
    assert status == 200, body
    assert [e for e in body["events"] if e["kind"] == "device_state" and e["device"] == "tp"]
    if ALERTS_CONFIGURABLE:  # device down after 5 s of statuses saying so, resolved when the fault clears
        down = wait_alert(stack, "device_down", 30, device="tp")
        assert down["title_en"].startswith("Device tp")
        wait_alert(stack, "device_down", 30, state="resolved", device="tp")

    # NH3-N repeats one value all along: the agent reports a stuck value, which the collector keeps as an event.
    def stuck_events() -> list[dict[str, Any]]:
        status, body = http_json(f"{stack.api}/api/stations/{stack.station}")
        assert status == 200, body
        return [e for e in body.get("events", []) if e["kind"] == "stuck_value"]

    events = wait_until(stuck_events, 20, what="a stuck_value event")
    assert events[0]["param"] == "w21003"
    values = {r["value"] for r in stack.collector_readings("w21003") if r["flag"] == "N"}
    assert len(values) == 1  # the stuck value itself is passed on untouched


def test_pollution_plume_upstream_first(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    assert SECTIONS["chuanhutun"].river == SECTIONS["hexicun"].river == "fen"
    up = Stack(tmp_path / "up", mosquitto, processes, station="chuanhutun", collector_extra=ALERTS)
    down = Stack(tmp_path / "down", mosquitto, processes, station="hexicun", api_port=up.api_port)
    start_scenario(up, "plume_fast.toml")
    down.collector = up.collector  # one collector for both stations
    start_scenario(down, "plume_fast.toml")

    first = wait_alert(up, "exceedance", 60, param="w21003")
    second = wait_alert(up, "exceedance", 60, station="hexicun", param="w21003")
    assert at(first["opened_at"]) < at(second["opened_at"]), (first, second)
    # The plume takes 24 s between the stations.
    assert 10 <= (at(second["opened_at"]) - at(first["opened_at"])).total_seconds() <= 45

    for stack, alert in ((up, first), (down, second)):
        over = sorted(
            (r for r in stack.collector_readings("w21003") if r["flag"] == "N" and r["value"] > NH3N_III),
            key=lambda r: r["t"],
        )
        # Debounce: two results worse than class III in a row; it opened on the second.
        assert len(over) >= 2
        assert at(alert["opened_at"]) == at(over[1]["t"]), (alert, over[:2])
        assert alert["last_value"] > NH3N_III
    codmn = wait_alert(up, "exceedance", 30, param="w01019")
    assert codmn["last_value"] > CODMN_III
    if ALERTS_CONFIGURABLE:  # rise faster than 0.5 mg/L per hour against a value ≥ 30 s older
        rise_up = wait_alert(up, "sudden_rise", 30, param="w21003")
        rise_down = wait_alert(up, "sudden_rise", 30, station="hexicun", param="w21003")
        assert at(rise_up["opened_at"]) < at(rise_down["opened_at"])
        assert rise_up["last_value"] > NH3N_III

    # The plume passes: three results back within class III resolve each alert, upstream first.
    first_done = wait_alert(up, "exceedance", 60, state="resolved", param="w21003")
    second_done = wait_alert(up, "exceedance", 60, state="resolved", station="hexicun", param="w21003")
    assert at(first_done["resolved_at"]) < at(second_done["resolved_at"])


def test_uptime_and_capture_match_a_controlled_outage(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    # Water temperature expected every 2 s; no other parameter is scheduled.
    schedule = "\n[schedule]\nevery_s = { w01010 = 2.0 }\nslot_params = []\n"
    stack = Stack(tmp_path / "stack", mosquitto, processes, collector_extra=schedule).start_all()
    wait_until(lambda: len(stack.collector_readings("w01010")) >= 4, 30, what="probe readings")
    t0 = datetime.now(UTC)
    time.sleep(12)
    assert stack.agent is not None
    stopped = datetime.now(UTC)
    stack.agent.stop()  # clean stop: the agent says offline before it goes
    time.sleep(12)
    stack.start_agent()
    restarted = datetime.now(UTC)
    time.sleep(12)
    t1 = datetime.now(UTC)

    query = f"from={t0.strftime('%Y-%m-%dT%H:%M:%SZ')}&to={t1.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    status, body = http_json(f"{stack.api}/api/stations/{stack.station}/health?{query}")
    assert status == 200, body
    span = (at(body["to"]) - at(body["from"])).total_seconds()
    down_s = (restarted - stopped).total_seconds()
    expected_uptime = 100.0 * (span - down_s) / span
    # Down from the agent's stop until the restarted agent's first status (a Python start-up: ≤ 5 s more).
    assert expected_uptime - 5 / span * 100 - 2 <= body["uptime_pct"] <= expected_uptime + 2, body
    param = next(p for p in body["params"] if p["param"] == "w01010")
    slots = round(span / 2.0)
    assert abs(param["expected"] - slots) <= 1
    # Every 2-s slot while the agent ran holds a reading; the ones while it was stopped are missing.
    missing = param["expected"] - param["received"]
    assert round(down_s / 2) - 1 <= missing <= round((down_s + 5) / 2) + 1, param
    assert param["valid"] == param["received"]


@pytest.mark.long
def test_icing_no_water_and_mains_lost(tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup) -> None:
    schedule = "\n[schedule]\nevery_s = { w01010 = 2.0 }\nslot_params = []\n"
    stack = Stack(tmp_path / "stack", mosquitto, processes, collector_extra=schedule + ALERTS)
    start_scenario(stack, "icing_fast.toml")

    no_water = wait_alert(stack, "no_water", 100)
    mains = wait_alert(stack, "mains_lost", 20)
    assert no_water["title_en"].startswith("No sample water") and mains["title_en"] == "Mains power lost"

    # While there is no sample water the analysers say so: the probe's readings arrive flagged F (stopped).
    window_from = at(no_water["opened_at"])  # inside the ice (6 s to 90 s) whatever the debounce
    stopped = [r for r in stack.collector_readings("w01010") if r["flag"] == "F"]
    assert stopped, "no readings flagged F during the ice"

    wait_alert(stack, "no_water", 150, state="resolved")  # the ice lasts until 90 s
    wait_alert(stack, "mains_lost", 30, state="resolved")

    # The ice window is not missing data: its probe slots are excluded (ice / no water) where the collector
    # knows the controller history, else each holds a reading flagged F.
    window_to = window_from + timedelta(seconds=20)
    query = f"from={window_from.strftime('%Y-%m-%dT%H:%M:%SZ')}&to={window_to.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    status, body = http_json(f"{stack.api}/api/stations/{stack.station}/health?{query}")
    assert status == 200, body
    param = next(p for p in body["params"] if p["param"] == "w01010")
    assert param["expected"] + param.get("excluded", 0) >= 9, param
    assert param["received"] == param["expected"], param  # nothing missing
    if param.get("excluded"):
        assert [w for w in body["excluded"] if w["reason"] in ("ice", "no_water")], body["excluded"]


@pytest.mark.long
def test_flood_mains_lost_station_dark(tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup) -> None:
    stack = Stack(tmp_path / "stack", mosquitto, processes, collector_extra=ALERTS)
    start_scenario(stack, "flood_fast.toml")

    tp = wait_alert(stack, "exceedance", 40, param="w21011")
    assert tp["last_value"] > TP_III_RIVER
    # The battery is flat ~30 s after mains goes: the devices stop answering, readings arrive flagged B.
    dark = wait_alert(stack, "fault_flag", 90, param="w01010")
    assert "communication failed" in dark["title_en"], dark
    if ALERTS_CONFIGURABLE:
        wait_alert(stack, "device_down", 30, device="probe")
    mains = wait_alert(stack, "mains_lost", 40)
    assert mains["severity"] == "warning"
    # Mains back at 90 s: the station lights up again, both resolve.
    wait_alert(stack, "mains_lost", 60, state="resolved")
    wait_alert(stack, "fault_flag", 60, state="resolved", param="w01010")


@pytest.mark.long
@pytest.mark.timeout(1000)
def test_plume_sudden_rise(tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup) -> None:
    """The default rise rule compares with a value ≥ 10 min older: this one runs ~13 min at speed 1."""
    stack = Stack(tmp_path / "stack", mosquitto, processes, station="chuanhutun")
    start_scenario(stack, "plume_slow.toml")
    rise = wait_alert(stack, "sudden_rise", 13 * 60, param="w21003")
    rows = sorted(stack.collector_readings("w21003"), key=lambda r: r["t"])
    # Not before there is a value 10 min older to compare with.
    assert (at(rise["opened_at"]) - at(rows[0]["t"])).total_seconds() >= 10 * 60

    # The plume (10.5 min in) drives it: an alert on the rise holds a value beyond class III.
    def plume_rise() -> dict[str, Any] | None:
        found = find(stack, "sudden_rise", param="w21003")
        return next((a for a in found if (a["last_value"] or 0) > NH3N_III), None)

    plume = wait_until(plume_rise, 120, interval=1, what="a sudden-rise alert carrying the plume's value")
    # The plume passes: two values no longer rising resolve it.
    wait_alert(stack, "sudden_rise", 120, state="resolved", param="w21003", id=plume["id"])
