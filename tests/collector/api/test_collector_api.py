from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from fastapi.testclient import TestClient

from collector.api import create_app
from collector.api.health import station_health
from collector.health import schedules
from collector.service import CollectorService
from protocols import messages
from protocols.flags import Flag
from protocols.messages import Command, CommandReply, Lane, Reading, ReadingBatch, StationState
from tests.collector.api.helpers import AUTH, FakeMqtt, feed
from tests.collector.factories import T0, batch, config, event, payload, reply, status

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def walk_times(value: object) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, str) and (
                key in ("t", "at") or key.endswith("_at") or key.endswith("_since")
            ):
                found.append(inner)
            else:
                found += walk_times(inner)
    elif isinstance(value, list):
        for inner in value:
            found += walk_times(inner)
    return found


def test_station_list_shape(service: CollectorService, client: TestClient) -> None:
    feed(service, "readings", batch(n=3, start=T0 + timedelta(minutes=5)))
    feed(service, "readings", batch(seq=2, n=1, param="w21003", value=0.42, start=T0 + timedelta(minutes=6)))
    feed(service, "status", status(at=T0 + timedelta(minutes=9), backlog=4, dropped=0))
    body = client.get("/api/stations").json()
    stations = {s["id"]: s for s in body}
    assert len(stations) == 8
    hexicun = stations["hexicun"]
    for key in (
        "id",
        "name_zh",
        "river",
        "basin",
        "level",
        "county",
        "state",
        "online",
        "last_reading_at",
        "last_status_at",
        "backlog",
        "dropped",
        "latest",
    ):
        assert key in hexicun
    assert hexicun["name_zh"] == "河西村" and hexicun["river_zh"] == "汾河" and hexicun["level"] == "national"
    assert hexicun["state"] == "online" and hexicun["online"] is True and hexicun["backlog"] == 4
    assert hexicun["last_reading_at"] == "2026-07-01T00:07:00Z"
    assert hexicun["latest"]["w21003"] == {
        "value": 0.42,
        "flag": "N",
        "t": "2026-07-01T00:06:00Z",
        "unit": "mg/L",
        "name_zh": "氨氮",
        "name_en": "ammonia nitrogen",
        "class": "II",
        "limit_target": 1.0,
    }
    assert (
        hexicun["target_class"] == "III"
        and hexicun["current_class"] == "II"
        and hexicun["off_target"] is False
    )
    assert hexicun["data_age_s"] == 180.0  # the service clock is 00:10, the newest reading 00:07
    assert hexicun["open_alerts"] == 0 and hexicun["worst_alert_severity"] is None
    assert hexicun["latest"]["w01010"]["value"] == 12.0
    assert stations["chuanhutun"]["state"] == "unknown" and stations["chuanhutun"]["online"] is False
    times = walk_times(body)
    assert times and all(ISO_Z.match(t) for t in times)


def test_station_detail(service: CollectorService, client: TestClient) -> None:
    feed(service, "status", status(at=T0 + timedelta(minutes=9), devices={"probe": True, "tp": False}))
    feed(service, "events", event())
    body = client.get("/api/stations/hexicun").json()
    assert body["state"] == StationState.DEGRADED.value
    assert body["devices"]["tp"]["up"] is False and body["devices"]["probe"]["up"] is True
    assert body["target_class"] == "III" and body["controller"] == {}
    assert [t["to"] for t in body["transitions"]] == ["degraded", "offline"]
    assert body["transitions"][0]["reasons"] == ["devices down: tp"]
    assert body["transitions"][0]["reason"] == "devices down: tp"
    assert body["events"][0]["id"] == "e1"
    assert all(ISO_Z.match(t) for t in walk_times(body))
    assert client.get("/api/stations/nowhere").status_code == 404


def test_readings_query(service: CollectorService, client: TestClient) -> None:
    feed(service, "readings", batch(n=10))
    feed(service, "readings", batch(seq=2, n=10, param="w01001", value=7.0))
    r = client.get(
        "/api/stations/hexicun/readings",
        params={"param": "w01010", "from": "2026-07-01T00:02:00Z", "to": "2026-07-01T08:05:00+08:00"},
    )
    assert r.status_code == 200
    body = r.json()
    assert [x["t"] for x in body["readings"]] == [
        "2026-07-01T00:02:00Z",
        "2026-07-01T00:03:00Z",
        "2026-07-01T00:04:00Z",
    ]
    assert body["count"] == 3 and body["readings"][0]["value"] == 12.0 and body["readings"][0]["flag"] == "N"
    assert client.get("/api/stations/hexicun/readings").json()["count"] == 20
    newest = client.get("/api/stations/hexicun/readings", params={"limit": 3, "param": "w01010"}).json()
    assert [x["t"][11:16] for x in newest["readings"]] == ["00:07", "00:08", "00:09"]  # no 'from': the newest
    first = client.get(
        "/api/stations/hexicun/readings",
        params={"limit": 3, "param": "w01010", "from": "2026-07-01T00:00:00Z"},
    ).json()
    assert [x["t"][11:16] for x in first["readings"]] == ["00:00", "00:01", "00:02"]


@pytest.mark.parametrize(
    "params",
    [
        {"param": "w99999"},
        {"from": "yesterday"},
        {"from": "2026-07-01T00:00:00"},  # no zone
        {"from": "2026-07-02T00:00:00Z", "to": "2026-07-01T00:00:00Z"},
        {"limit": 0},
        {"limit": "many"},
    ],
)
def test_readings_bad_params_422(client: TestClient, params: dict[str, object]) -> None:
    r = client.get("/api/stations/hexicun/readings", params=params)
    assert r.status_code == 422, r.text


def test_unknown_station_404(client: TestClient) -> None:
    for path in (
        "/api/stations/nowhere/readings",
        "/api/stations/nowhere/gaps",
        "/api/stations/nowhere/commands/abc",
    ):
        assert client.get(path).status_code == 404, path


def test_gaps(service: CollectorService, client: TestClient) -> None:
    for seq in (0, 1, 4, 5, 8):
        feed(service, "readings", batch(seq=seq, n=1, start=T0 + timedelta(hours=seq)))
    feed(service, "status", status(at=T0 + timedelta(minutes=9), next_seq=10))
    body = client.get("/api/stations/hexicun/gaps").json()
    assert body == {
        "station": "hexicun",
        "ranges": [[0, 1], [4, 5], [8, 8]],
        "missing": [[2, 3], [6, 7]],
        "missing_count": 4,
        "recovered": [],
        "recovered_count": 0,
        "next_seq": 10,
    }


def test_parameters_stats_metrics(service: CollectorService, client: TestClient) -> None:
    feed(service, "readings", batch(n=2))
    feed(service, "readings", batch(n=2))
    service.receiver.handle("qingliu/v1/hexicun/readings", b"not json", lambda: True)
    service.receiver.handle("qingliu/v1/stranger/readings", payload(batch("stranger")), lambda: True)
    assert service.wait_idle(5)
    params = client.get("/api/parameters").json()
    codes = {p["code"]: p for p in params}
    assert codes["w21011"]["name_zh"] == "总磷" and codes["w21011"]["unit"] == "mg/L"
    assert codes["w21011"]["decimals"] == 3
    assert {f["flag"] for f in client.get("/api/flags").json()} == set("NFMSDCTB")
    stats = client.get("/api/stats").json()
    assert stats["ingest"]["readings_inserted"] == 2 and stats["ingest"]["readings_duplicate"] == 2
    assert stats["ingest"]["payload_errors"] == {"malformed": 1}
    assert stats["store"]["readings"] == 2 and stats["mqtt_connected"] is False
    text = client.get("/metrics").text
    assert "qingliu_collector_readings_ingested_total 2.0\n" in text
    assert "qingliu_collector_readings_duplicate_total 2.0\n" in text
    assert 'qingliu_collector_payload_errors_total{reason="malformed"} 1.0\n' in text
    # The receiving side: refused before the inbox by its cheap checks; the inbox drained.
    assert 'qingliu_collector_receiver_rejected_total{reason="unknown_station"} 1.0\n' in text
    assert "qingliu_collector_receiver_accepted_total 3.0\n" in text
    assert "qingliu_collector_inbox_depth 0.0\n" in text
    assert stats["receiver"]["inbox_depth"] == 0 and stats["receiver_counters"]["accepted"] == 3
    assert "qingliu_collector_stations_online 1.0\n" in text
    assert "qingliu_collector_ingest_lag_seconds " in text


def test_healthz(service: CollectorService, client: TestClient) -> None:
    receiver = {"receiver": "up", "receiver_restarts": 0, "inbox_depth": 0, "inbox_oldest_age_s": 0.0}
    rest = {"applier": "running", "dead_letters": 0, "inbox_write_errors": 0}
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json() == {
        "ok": False,
        "store": "ok",
        "mqtt": "disconnected",
        **receiver,
        **rest,
        "reasons": ["the receiver is not connected to the broker"],
    }
    assert service.receiver is not None
    service.receiver.mqtt = FakeMqtt()  # type: ignore[assignment]  # the receiving side's connection
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "store": "ok", "mqtt": "connected", **receiver, **rest, "reasons": []}


def test_commands_need_the_admin_token(service: CollectorService, client: TestClient) -> None:
    fake = FakeMqtt()
    service.mqtt = fake  # type: ignore[assignment]
    body = {"kind": "resend", "args": {"from": "2026-07-01T00:00:00Z", "to": "2026-07-01T01:00:00Z"}}
    assert client.post("/api/stations/hexicun/commands", json=body).status_code == 401
    wrong = client.post("/api/stations/hexicun/commands", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert fake.published == []
    assert (
        client.post("/api/stations/hexicun/commands", json={"kind": "reboot"}, headers=AUTH).status_code
        == 422
    )
    assert (
        client.post("/api/stations/hexicun/commands", json={**body, "x": 1}, headers=AUTH).status_code == 422
    )
    assert client.post("/api/stations/nowhere/commands", json=body, headers=AUTH).status_code == 404

    r = client.post("/api/stations/hexicun/commands", json=body, headers=AUTH)
    assert r.status_code == 202
    cmd_id = r.json()["id"]
    [(topic, raw, qos)] = fake.published
    sent = messages.decode(raw, expected_station="hexicun")
    assert isinstance(sent, Command) and sent.id == cmd_id and sent.kind.value == "resend"
    assert sent.args == body["args"] and topic == "qingliu/v1/hexicun/cmd" and qos == 1

    pending = client.get(f"/api/stations/hexicun/commands/{cmd_id}").json()
    assert pending["reply"] is None and pending["kind"] == "resend" and ISO_Z.match(pending["issued_at"])
    feed(service, "reply", reply(command_id=cmd_id, at=T0 + timedelta(minutes=9)))
    done = client.get(f"/api/stations/hexicun/commands/{cmd_id}").json()
    assert done["reply"]["ok"] is True and done["reply"]["result"] == {"n": 3}
    assert client.get("/api/stations/hexicun/commands/unknown").status_code == 404


def test_commands_when_broker_unavailable(service: CollectorService, client: TestClient) -> None:
    service.mqtt = FakeMqtt(connected=False)  # type: ignore[assignment]
    body = {"kind": "sync_clock"}
    assert client.post("/api/stations/hexicun/commands", json=body, headers=AUTH).status_code == 503
    service.mqtt = FakeMqtt(acknowledged=False)  # type: ignore[assignment]
    assert client.post("/api/stations/hexicun/commands", json=body, headers=AUTH).status_code == 504


def test_commands_disabled_without_token(tmp_path: Path) -> None:
    svc = CollectorService(config(tmp_path, admin_token=""))
    svc.mqtt = FakeMqtt()  # type: ignore[assignment]
    r = TestClient(create_app(svc)).post(
        "/api/stations/hexicun/commands", json={"kind": "get_config"}, headers={"Authorization": "Bearer "}
    )
    assert r.status_code == 403
    svc.store.close()


def test_dashboard_is_served_at_the_root(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)  # nothing from the internet


def test_overview(service: CollectorService, client: TestClient) -> None:
    feed(
        service, "readings", batch(n=1, param="w21011", value=0.25, start=T0 + timedelta(minutes=5))
    )  # TP class IV
    body = client.get("/api/overview").json()
    assert ISO_Z.match(body["generated_at"]) and len(body["stations"]) == 8
    hutuo = next(r for r in body["rivers"] if r["id"] == "hutuo")
    assert hutuo["stations"] == ["bifengcun", "boshuicun", "jiehepucun"] and hutuo["basin"] == "hai"
    basins = {b["id"]: b for b in body["basins"]}
    assert basins["hai"]["rivers"] == ["hutuo", "qingyang"] and basins["yellow"]["name_zh"] == "黄河流域"
    assert body["counts"] == {
        "online": 1,
        "degraded": 0,
        "offline": 0,
        "unknown": 7,
        "open_alerts": 0,
        "off_target": 1,
    }
    hexicun = next(s for s in body["stations"] if s["id"] == "hexicun")
    assert hexicun["current_class"] == "IV" and hexicun["off_target"] is True


def test_readings_carry_limits_for_one_parameter(service: CollectorService, client: TestClient) -> None:
    feed(service, "readings", batch(n=2, param="w21003", value=0.4))
    body = client.get("/api/stations/hexicun/readings", params={"param": "w21003"}).json()
    assert body["unit"] == "mg/L" and body["direction"] == "max" and body["target_class"] == "III"
    assert body["limits"] == {"I": 0.15, "II": 0.5, "III": 1.0, "IV": 1.5, "V": 2.0}
    ph = client.get("/api/stations/hexicun/readings", params={"param": "w01001"}).json()
    assert ph["direction"] == "range" and ph["limits"]["III"] == [6.0, 9.0]
    temp = client.get("/api/stations/hexicun/readings", params={"param": "w01010"}).json()
    assert temp["limits"] is None and temp["direction"] is None


def test_login(client: TestClient) -> None:
    assert client.post("/api/login", json={"token": "s3cret"}).json() == {"ok": True}
    assert client.post("/api/login", json={"token": "nope"}).status_code == 401
    assert client.post("/api/login", json={}).status_code == 422


def test_station_health(service: CollectorService, client: TestClient, clock: list[datetime]) -> None:
    feed(service, "status", status(at=clock[0]))  # first heard at 00:10
    clock[0] = T0 + timedelta(days=1)  # the day's readings arrive after it: none is ahead of the clock
    readings = [
        Reading(
            param="w01010", t=T0 + timedelta(hours=h), value=4.0, flag="D" if h == 6 else "N", device="probe"
        )
        for h in range(23)
        if h != 5
    ]
    feed(service, "readings", ReadingBatch(station="hexicun", seq=1, sent_at=T0, readings=readings))
    r = client.get(
        "/api/stations/hexicun/health", params={"from": "2026-07-01T00:00:00Z", "to": "2026-07-02T00:00:00Z"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    # The station was first heard at 00:10: the window starts there (issue 18), so the hourly slots are
    # 01:00 … 23:00 (23) and the 00:00 reading lies before it; 22 readings less the one at 00:00 = 21.
    assert body["from"] == "2026-07-01T00:10:00Z" and body["first_heard"] == "2026-07-01T00:10:00Z"
    assert body["asked_from"] == "2026-07-01T00:00:00Z"
    temp = next(p for p in body["params"] if p["param"] == "w01010")
    assert (temp["expected"], temp["received"], temp["valid"]) == (23, 21, 20)
    assert temp["capture_rate"] == round(21 / 23, 4) and temp["valid_rate"] == round(20 / 23, 4)
    nh3n = next(p for p in body["params"] if p["param"] == "w21003")
    assert (nh3n["expected"], nh3n["received"]) == (5, 0)  # 4-hourly slots 04:00 … 20:00, none reported
    assert body["capture_rate"] == round(21 / (5 * 23 + 4 * 5), 4)
    assert body["devices"] == [
        {"device": "probe", "expected": 23, "received": 21, "capture_rate": round(21 / 23, 4)}
    ]
    assert body["uptime_pct"] == 100.0  # online all the time since it was first heard
    assert [d["date"] for d in body["days"]] == ["2026-07-01", "2026-07-02"]  # Beijing days 08:00 → 08:00
    assert body["excluded"] == []
    assert (
        client.get("/api/stations/hexicun/health", params={"from": "2026-07-01T00:00:00"}).status_code == 422
    )
    too_long = {"from": "2026-01-01T00:00:00Z", "to": "2026-07-01T00:00:00Z"}
    assert client.get("/api/stations/hexicun/health", params=too_long).status_code == 422
    assert client.get("/api/stations/nowhere/health").status_code == 404


def nh3n(seq: int, start: datetime, values: list[float]) -> ReadingBatch:
    """Ammonia-nitrogen results every 4 hours from ``start``."""
    readings = [
        Reading(param="w21003", t=start + timedelta(hours=4 * i), value=v, device="nh3n")
        for i, v in enumerate(values)
    ]
    return ReadingBatch(station="hexicun", seq=seq, sent_at=start, readings=readings)


def test_alerts_open_list_ack_and_survive_restart(tmp_path: Path) -> None:
    clock = [T0 + timedelta(hours=5)]  # after the readings: a reading ahead of the clock is kept apart
    svc = CollectorService(config(tmp_path), clock=lambda: clock[0])
    svc.start(mqtt=False)
    client = TestClient(create_app(svc))
    # Two valid NH3-N values in class V (target III): the exceedance rule opens after two in a row.
    feed(svc, "readings", nh3n(1, T0, [1.8, 1.9]))
    body = client.get("/api/alerts", params={"state": "open"}).json()
    [alert] = [a for a in body["alerts"] if a["rule"] == "exceedance"]
    assert alert["station"] == "hexicun" and alert["station_zh"] == "河西村" and alert["param"] == "w21003"
    assert alert["state"] == "open" and alert["last_value"] == 1.9 and ISO_Z.match(alert["opened_at"])
    assert "氨氮" in alert["title_zh"]
    summary = next(s for s in client.get("/api/stations").json() if s["id"] == "hexicun")
    assert summary["open_alerts"] >= 1 and summary["worst_alert_severity"] in ("warning", "critical")

    url = f"/api/alerts/{alert['id']}/ack"
    assert client.post(url, json={"by": "张工"}).status_code == 401
    acked = client.post(url, json={"by": "张工", "note": "checking"}, headers=AUTH)
    assert (
        acked.status_code == 200
        and acked.json()["state"] == "acknowledged"
        and acked.json()["acked_by"] == "张工"
    )
    assert client.post("/api/alerts/nope/ack", json={}, headers=AUTH).status_code == 404
    assert client.get("/api/alerts", params={"state": "bogus"}).status_code == 422
    svc.stop()

    # A restart keeps the alert and the engine's memory: good values resolve it (after three in a row).
    svc2 = CollectorService(config(tmp_path), clock=lambda: clock[0])
    svc2.start(mqtt=False)
    client2 = TestClient(create_app(svc2))
    assert (
        client2.get("/api/alerts", params={"state": "acknowledged"}).json()["alerts"][0]["id"] == alert["id"]
    )
    start = T0 + timedelta(hours=8)
    clock[0] = start + timedelta(hours=9)
    feed(svc2, "readings", nh3n(2, start, [0.3, 0.3, 0.3]))
    resolved = client2.get("/api/alerts", params={"state": "resolved"}).json()["alerts"]
    assert [a["id"] for a in resolved] == [alert["id"]] and ISO_Z.match(resolved[0]["resolved_at"])
    assert client2.post(url, json={}, headers=AUTH).status_code == 409
    svc2.stop()


def test_redelivered_batch_is_not_new_evidence_for_alerts(
    service: CollectorService, client: TestClient, clock: list[datetime]
) -> None:
    clock[0] = T0 + timedelta(hours=5)  # after every reading below
    once = nh3n(1, T0, [1.8])
    feed(service, "readings", once)
    feed(service, "readings", once)  # QoS 1 redelivery of the same batch
    feed(service, "readings", msgspec.structs.replace(once, seq=9, lane=Lane.RESEND))
    assert [a for a in client.get("/api/alerts").json()["alerts"] if a["rule"] == "exceedance"] == []
    feed(service, "readings", nh3n(2, T0 + timedelta(hours=4), [1.9]))  # a second bad value: now it opens
    assert [a["rule"] for a in client.get("/api/alerts").json()["alerts"]].count("exceedance") == 1


def test_default_health_window_starts_when_a_new_station_was_first_heard(tmp_path: Path) -> None:
    """A station commissioned minutes ago is not reported as down for the week before it existed."""
    now = [T0 + timedelta(minutes=10)]
    svc = CollectorService(config(tmp_path), clock=lambda: now[0])
    svc.start(mqtt=False)
    try:
        client = TestClient(create_app(svc))
        feed(svc, "status", status(at=T0 + timedelta(minutes=10)))
        svc.tick()  # the tracker records the station's first online transition at T0 + 10 min
        now[0] = T0 + timedelta(hours=2)
        body = client.get("/api/stations/hexicun/health").json()
        assert body["from"] == "2026-07-01T00:10:00Z"  # from first heard, not seven days back
        assert body["uptime_pct"] > 50.0
        assert body["first_heard"] == "2026-07-01T00:10:00Z"
        explicit = client.get(
            "/api/stations/hexicun/health",
            params={"from": "2026-06-24T02:00:00Z", "to": "2026-07-01T02:00:00Z"},
        ).json()
        assert explicit["from"] == "2026-07-01T00:10:00Z"  # any window: from first heard (issue 18)
        assert explicit["asked_from"] == "2026-06-24T02:00:00Z"
        assert explicit["uptime_pct"] == 100.0
        fleet = client.get("/api/fleet/health").json()
        [hexicun] = [s for s in fleet["stations"] if s["id"] == "hexicun"]
        assert hexicun["from"] == "2026-07-01T00:10:00Z" and hexicun["uptime_pct"] == 100.0
        assert fleet["from"] == "2026-06-30T02:00:00Z" and fleet["hours"] == 24
        never = [s for s in fleet["stations"] if s["id"] != "hexicun"]
        assert never and all(s["first_heard"] is None for s in never)  # never heard: taken as asked
        assert all(s["from"] == fleet["from"] for s in never)
    finally:
        svc.stop()


def test_fleet_health_figures_equal_each_stations_health(tmp_path: Path) -> None:
    """The fleet view counts from the store's marks, not from reading objects (issue 17, at 1,000 stations):
    its figures must be the station health's over the same window, gaps, invalid flags, a value stamped a
    little early and a station first heard inside the window included."""
    now = [T0 + timedelta(minutes=30)]
    svc = CollectorService(config(tmp_path), clock=lambda: now[0])
    svc.start(mqtt=False)
    try:
        client = TestClient(create_app(svc))
        feed(svc, "status", status(at=now[0]))
        svc.tick()  # hexicun heard: the others are "never heard" from now
        now[0] = T0 + timedelta(hours=5)
        feed(svc, "status", status("chuanhutun", at=now[0]), station="chuanhutun")
        svc.tick()
        now[0] = T0 + timedelta(hours=24, minutes=10)  # the fleet's 24 h start before any of it: clipped
        hourly = [
            Reading(
                param="w01010",
                t=T0 + timedelta(hours=h, minutes=-2 if h == 7 else 0),  # h7 stamped 2 min early: its slot
                value=10.0 + h,
                flag=Flag.FAULT if h in (4, 5) else Flag.MAINTENANCE if h == 9 else Flag.NORMAL,
                device="spare" if h in (20, 21) else "probe",
            )
            for h in range(1, 25)
            if h not in (12, 13, 14)  # a gap
        ]
        nutrients = [
            Reading(
                param="w21003",
                t=T0 + timedelta(hours=h),
                value=0.4,
                flag=Flag.CALIBRATION if h == 8 else Flag.NORMAL,
                device="nh3n",
            )
            for h in (0, 4, 8, 16, 20, 24)
        ]
        feed(
            svc,
            "readings",
            ReadingBatch(station="hexicun", seq=1, sent_at=now[0], readings=hourly + nutrients),
        )
        late = [Reading(param="w01010", t=T0 + timedelta(hours=h, minutes=1), value=1.0) for h in (6, 7, 8)]
        feed(
            svc,
            "readings",
            ReadingBatch(station="chuanhutun", seq=1, sent_at=now[0], readings=late),
            station="chuanhutun",
        )
        fleet = client.get("/api/fleet/health").json()
        entries = {s["id"]: s for s in fleet["stations"]}
        assert set(entries) == {s.id for s in svc.config.stations}
        for station, entry in entries.items():
            body = client.get(
                f"/api/stations/{station}/health", params={"from": fleet["from"], "to": fleet["to"]}
            ).json()
            shown = {k: body[k] for k in ("from", "first_heard", "uptime_pct", "capture_rate", "valid_rate")}
            assert {k: v for k, v in entry.items() if k != "id"} == shown, station
            # The body itself, counted from the store's marks, equals the one made from reading objects.
            site = svc.site(station)
            assert site is not None
            start, end = (datetime.fromisoformat(body[k].replace("Z", "+00:00")) for k in ("from", "to"))
            initial, transitions = svc.store.transitions_between(station, start, end)
            readings = {
                code: svc.store.readings(station, param=code, start=start, end=end, limit=100_000)
                for code in schedules(site, svc.config.schedule)
            }
            from_objects = station_health(
                site, svc.config.schedule, start, end, readings, initial, transitions
            )
            clipping = ("from", "to", "asked_from", "first_heard")
            assert {k: v for k, v in body.items() if k not in clipping} == {
                k: v for k, v in from_objects.items() if k not in clipping
            }, station
        hexicun, chuanhutun = entries["hexicun"], entries["chuanhutun"]
        assert hexicun["first_heard"] == "2026-07-01T00:30:00Z"
        assert chuanhutun["first_heard"] == "2026-07-01T05:00:00Z"
        assert entries["huayuanzi"]["first_heard"] is None  # never heard: taken as asked
        # Not vacuous: readings missing and invalid ones are seen apart.
        assert 0 < hexicun["valid_rate"] < hexicun["capture_rate"] < 1
        assert 0 < chuanhutun["capture_rate"] < 1
        devices = client.get("/api/stations/hexicun/health", params={"from": fleet["from"]}).json()["devices"]
        assert [d["device"] for d in devices] == ["nh3n", "probe"]  # "spare" reported less of w01010
    finally:
        svc.stop()


def test_gaps_filled_by_a_resend_are_listed_as_recovered(
    service: CollectorService, client: TestClient, clock: list[datetime]
) -> None:
    """After a broker kill -9 the agent re-sends a lost seq range under new numbers: once it answers that it
    found every message, the old numbers are 'recovered', no longer 'missing', and are not asked again."""
    fake = FakeMqtt()
    service.mqtt = fake  # type: ignore[assignment]
    for seq in (1, 2, 5, 6, 9):
        feed(service, "readings", batch(seq=seq, n=1, start=T0 + timedelta(minutes=seq)))
    service.check_gaps(samples=False)
    clock[0] += timedelta(seconds=service.config.gaps.grace_s + 1)
    assert service.check_gaps(samples=False) == 2
    asks = [messages.decode(raw, expected_station="hexicun") for _, raw, _ in fake.published]
    assert [c.args for c in asks if isinstance(c, Command)] == [
        {"seq_from": 3, "seq_to": 4},
        {"seq_from": 7, "seq_to": 8},
    ]
    first, second = (c for c in asks if isinstance(c, Command))
    for command, unknown in ((first, 0), (second, 1)):
        result = {"queued": 2 - unknown, "unknown_seqs": unknown}
        feed(
            service,
            "reply",
            CommandReply(station="hexicun", id=command.id, ok=True, at=clock[0], result=result),
        )
    feed(
        service, "readings", batch(seq=10, n=2, start=T0 + timedelta(minutes=3), lane="resend")
    )  # new numbers
    body = client.get("/api/stations/hexicun/gaps").json()
    assert body["ranges"] == [[1, 2], [5, 6], [9, 10]]
    assert body["recovered"] == [[3, 4]] and body["recovered_count"] == 2
    assert body["missing"] == [[7, 8]] and body["missing_count"] == 2  # one of them the station did not have
    clock[0] += timedelta(hours=1)
    assert service.check_gaps(samples=False) == 0


def test_station_detail_carries_the_hj212_platforms(service: CollectorService, client: TestClient) -> None:
    assert client.get("/api/stations/hexicun").json()["uplinks"] == {}  # none reported
    up = messages.UplinkStatus(
        host="10.0.0.1", port=9000, connected=False, backlog=12000, refusals=3, alert=True
    )
    sent = msgspec.structs.replace(status(at=T0 + timedelta(minutes=9)), uplinks={"province": up})
    feed(service, "status", sent)
    province = client.get("/api/stations/hexicun").json()["uplinks"]["province"]
    assert province["backlog"] == 12000 and province["connected"] is False and province["alert"] is True
    assert province["refusals"] == 3 and province["last_reply"] is None
