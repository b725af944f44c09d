"""Every API input is bounded: a bad one is a 422 that says what is wrong (404 for a station), never a 500;
commands are checked per kind when they are POSTed, as the agent would check them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.service import CollectorService
from protocols import messages
from protocols.messages import Command
from tests.collector.api.helpers import AUTH, FakeMqtt, feed
from tests.collector.factories import T0, status

H = "/api/stations/hexicun"


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        (f"{H}/health", {"to": "9999-12-31T23:59:59Z"}, "between"),
        (f"{H}/health", {"from": "0001-01-01T00:00:00Z"}, "between"),
        (f"{H}/health", {"from": "0001-01-01T00:00:00+14:00"}, "after"),
        (f"{H}/health", {"to": "0001-01-01T00:00:00-14:00"}, "between"),
        (f"{H}/health", {"from": "1999-12-31T23:59:59Z", "to": "2000-01-02T00:00:00Z"}, "between"),
        (f"{H}/health", {"to": "2030-01-01T00:00:00Z"}, "must not lie after"),  # beyond the clock + 1 year
        (f"{H}/health", {"from": "2026-07-02T00:00:00Z", "to": "2026-07-01T00:00:00Z"}, "before"),
        (f"{H}/health", {"from": "2026-01-01T00:00:00Z", "to": "2026-07-01T00:00:00Z"}, "at most 92 days"),
        (f"{H}/health", {"from": "2026-07-01T00:00:00"}, "time zone"),
        (f"{H}/readings", {"to": "9999-12-31T23:59:59Z"}, "between"),
        (f"{H}/readings", {"from": "0001-01-01T00:00:00+14:00"}, "after"),
        (f"{H}/readings", {"param": "w99999"}, "unknown parameter"),
        (f"{H}/readings", {"limit": 0}, "greater than or equal to 1"),
        (f"{H}/readings", {"limit": 10**30}, "less than or equal to"),
        ("/api/alerts", {"limit": 10**6}, "less than or equal to 10000"),
        ("/api/alerts", {"limit": -1}, "greater than or equal to 1"),
        ("/api/alerts", {"state": "bogus"}, "open"),
        ("/api/alerts", {"severity": "fatal"}, "critical"),
    ],
)
def test_bad_query_parameters_are_422_with_a_message(
    service: CollectorService, client: TestClient, path: str, params: dict[str, Any], says: str
) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert says in r.text, r.text


def test_bad_input_is_counted(client: TestClient) -> None:
    client.get(f"{H}/health", params={"to": "9999-12-31T23:59:59Z"})
    client.get(f"{H}/readings", params={"param": "w99999"})
    assert (
        'qingliu_collector_api_rejected_total{reason="invalid_request"} 2.0\n' in client.get("/metrics").text
    )


def test_unknown_stations_are_404_in_the_path_and_in_filters(client: TestClient) -> None:
    for path in ("/api/stations/nowhere/health", "/api/stations/nowhere/gaps", "/api/stations/" + "x" * 65):
        assert client.get(path).status_code in (404, 422), path
    assert client.get("/api/stations/nowhere/health").status_code == 404
    r = client.get("/api/alerts", params={"station": "nowhere"})
    assert r.status_code == 404 and "nowhere" in r.text
    assert client.get("/api/alerts", params={"station": "hexicun"}).status_code == 200
    assert client.get("/api/alerts", params={"station": ""}).status_code == 200  # empty: no filter


def test_good_edges_are_accepted(client: TestClient) -> None:
    ok = {"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00+08:00"}
    assert client.get(f"{H}/health", params=ok).status_code == 200
    assert client.get(f"{H}/readings", params={"to": "2027-07-01T00:00:00Z"}).status_code == 200
    assert client.get("/api/alerts", params={"limit": 10_000}).status_code == 200


def test_free_text_with_a_lone_surrogate_is_refused(client: TestClient) -> None:
    body = b'{"by": "\\ud800", "note": ""}'
    r = client.post("/api/alerts/a1/ack", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422 and "unicode" in r.text  # not a 500 from echoing it back
    r = client.post(
        "/api/login", content=b'{"token": "\\udfff"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422


def post(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post(f"{H}/commands", json=body, headers=AUTH)


@pytest.fixture
def mqtt(service: CollectorService) -> FakeMqtt:
    fake = FakeMqtt()
    service.mqtt = fake  # type: ignore[assignment]
    feed(service, "status", status(at=T0, devices={"probe": True, "nh3n": True}, next_seq=100))
    return fake


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"kind": "set_interval", "args": {"device": "nh3n", "interval_s": "abc"}}, "'interval_s'"),
        (
            {"kind": "set_interval", "args": {"device": "nh3n", "seconds": "abc"}},
            "'seconds' must be a number",
        ),
        ({"kind": "set_interval", "args": {}}, "'device' is required"),
        ({"kind": "set_interval", "args": {"device": "tp", "seconds": 60}}, "unknown device 'tp'"),
        ({"kind": "set_interval", "args": {"device": "nh3n", "seconds": 0}}, "from 1 to 86400"),
        ({"kind": "set_interval", "args": {"device": "nh3n", "seconds": 1e300}}, "from 1 to 86400"),
        ({"kind": "resend", "args": {}}, "not neither"),
        ({"kind": "resend", "args": {"seq_from": 9, "seq_to": 3}}, "must not be after"),
        ({"kind": "resend", "args": {"seq_from": 0, "seq_to": 2**64}}, "must not exceed"),
        (
            {"kind": "resend", "args": {"from": "2026-07-01T00:00:00Z", "to": "9999-01-01T00:00:00Z"}},
            "between",
        ),
        (
            {"kind": "resend", "args": {"from": "2026-07-01T01:00:00Z", "to": "2026-07-01T00:00:00Z"}},
            "before",
        ),
        ({"kind": "sync_clock", "args": {"reference_time": "now"}}, "ISO 8601"),
        ({"kind": "get_config", "args": {"all": True}}, "does not take 'all'"),
    ],
)
def test_commands_with_bad_arguments_are_422_and_never_sent(
    client: TestClient, mqtt: FakeMqtt, body: dict[str, Any], says: str
) -> None:
    r = post(client, body)
    assert r.status_code == 422, r.text
    assert says in r.json()["detail"], r.text
    assert mqtt.published == []


def test_non_finite_numbers_in_a_command_are_422(client: TestClient, mqtt: FakeMqtt) -> None:
    for raw in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"kind": "set_interval", "args": {"device": "nh3n", "seconds": ' + raw + b"}}"
        r = client.post(f"{H}/commands", content=body, headers={**AUTH, "Content-Type": "application/json"})
        assert r.status_code == 422, r.text
    assert mqtt.published == []


def sent(mqtt: FakeMqtt) -> Command:
    message = messages.decode(mqtt.published[-1][1], expected_station="hexicun")
    assert isinstance(message, Command)
    return message


def test_good_commands_go_out_as_checked(client: TestClient, mqtt: FakeMqtt) -> None:
    r = post(client, {"kind": "set_interval", "args": {"device": "nh3n", "seconds": 600}})
    assert r.status_code == 202 and sent(mqtt).args == {"device": "nh3n", "seconds": 600.0}
    assert post(client, {"kind": "resend", "args": {"seq_from": 3, "seq_to": 9}}).status_code == 202
    assert sent(mqtt).args == {"seq_from": 3, "seq_to": 9}
    assert post(client, {"kind": "get_config"}).status_code == 202 and sent(mqtt).args == {}


def test_sync_clock_without_a_reference_uses_the_collectors_clock(client: TestClient, mqtt: FakeMqtt) -> None:
    r = post(client, {"kind": "sync_clock"})
    assert r.status_code == 202
    assert r.json()["args"] == {"reference_time": "2026-07-01T00:10:00Z"}  # the service clock
    assert sent(mqtt).args == {"reference_time": "2026-07-01T00:10:00Z"}
    given = {"reference_time": "2026-07-01T00:09:00+00:00"}
    assert post(client, {"kind": "sync_clock", "args": given}).json()["args"] == given


def test_set_interval_before_the_station_reported_its_devices(
    service: CollectorService, client: TestClient
) -> None:
    service.mqtt = FakeMqtt()  # type: ignore[assignment]
    r = post(client, {"kind": "set_interval", "args": {"device": "nh3n", "seconds": 60}})
    assert r.status_code == 422 and "this station has []" in r.json()["detail"]
