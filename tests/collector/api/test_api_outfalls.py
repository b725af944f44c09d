"""GET /api/outfalls and /api/sections/{id}/outfalls (collector/api/outfalls.py) over a real service: the shipped
registry, the demo outfall reporting (its readings stored under its id), its latest values against its limits and
its own alert."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.api import create_app
from collector.service import CollectorService
from protocols.messages import Reading, ReadingBatch
from tests.collector.api.helpers import feed
from tests.collector.factories import T0, config

LOGGER = (
    '[hj212]\nloggers = [{ mn = "OUTFALLDEMO01", password = "123456", outfall = "hutuo_demo", st = "32" }]\n'
)
COD, NH3N, PH = "w01018", "w21003", "w01001"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CollectorService]:
    now = T0 + timedelta(minutes=10)
    svc = CollectorService(config(tmp_path, LOGGER), clock=lambda: now)
    svc.start(mqtt=False)
    yield svc
    svc.stop()


@pytest.fixture
def client(service: CollectorService) -> TestClient:
    return TestClient(create_app(service))


def outfall_batch(at: datetime) -> ReadingBatch:
    readings = [
        Reading(param=COD, t=at, value=64.04),  # over 50 mg/L
        Reading(param=NH3N, t=at, value=3.0),
        Reading(param=PH, t=at, value=5.0, flag="D"),  # below 6, but not a valid value
    ]
    return ReadingBatch(station="hutuo_demo", seq=1, lane="live", sent_at=at, readings=readings)


def by_id(body: dict[str, object]) -> dict[str, dict[str, object]]:
    outfalls = body["outfalls"]
    assert isinstance(outfalls, list)
    return {o["id"]: o for o in outfalls}


def test_the_registry_before_anything_reports(client: TestClient) -> None:
    response = client.get("/api/outfalls")
    assert response.status_code == 200
    found = by_id(response.json())
    assert list(found) == ["jinneng", "hutuo_demo"]
    jinneng = found["jinneng"]
    assert jinneng["reporting"] is False and jinneng["state"] == "unknown" and jinneng["section"] == "hexicun"
    assert jinneng["section_zh"] == "河西村" and jinneng["limits"] == {
        COD: {"min": None, "max": 50.0},
        PH: {"min": 6.0, "max": 9.0},
    }
    demo = found["hutuo_demo"]
    assert demo["reporting"] is True and demo["mn"] == "OUTFALLDEMO01" and demo["over"] == []
    assert demo["latest"][COD]["value"] is None and demo["latest"][COD]["limit_max"] == 50.0  # type: ignore[index]


def test_an_outfall_over_its_limit_shows_it_and_its_alert(
    client: TestClient, service: CollectorService
) -> None:
    feed(service, "readings", outfall_batch(T0), station="hutuo_demo")
    demo = by_id(client.get("/api/outfalls").json())["hutuo_demo"]
    assert demo["over"] == [COD]  # pH 5.0 is flagged D: not judged
    latest = demo["latest"]
    assert isinstance(latest, dict)
    assert (latest[COD]["value"], latest[COD]["over"], latest[COD]["unit"]) == (64.04, True, "mg/L")
    assert (latest[NH3N]["value"], latest[NH3N]["over"]) == (3.0, False)
    assert (latest[PH]["flag"], latest[PH]["over"]) == ("D", False)
    assert demo["open_alerts"] == 1
    alerts = client.get("/api/alerts", params={"station": "hutuo_demo"}).json()["alerts"]
    assert [(a["rule"], a["param"]) for a in alerts] == [("outfall_limit", COD)]
    assert "64.0 mg/L" in alerts[0]["message_zh"] and "50 mg/L" in alerts[0]["message_zh"]


def test_a_section_lists_the_outfalls_upstream(client: TestClient) -> None:
    body = client.get("/api/sections/jiehepucun/outfalls").json()
    assert body["section"] == "jiehepucun" and [o["id"] for o in body["outfalls"]] == ["hutuo_demo"]
    assert [o["id"] for o in client.get("/api/sections/qiaoergou/outfalls").json()["outfalls"]] == [
        "hutuo_demo"
    ]
    assert client.get("/api/sections/bifengcun/outfalls").json()["outfalls"] == []
    assert [o["id"] for o in client.get("/api/sections/hexicun/outfalls").json()["outfalls"]] == ["jinneng"]
    missing = client.get("/api/sections/nowhere/outfalls")
    assert missing.status_code == 404 and "unknown section" in missing.json()["detail"]


def test_the_fleet_shows_the_outfall_without_a_water_class(
    client: TestClient, service: CollectorService
) -> None:
    feed(service, "readings", outfall_batch(T0), station="hutuo_demo")
    body = client.get("/api/stations/hutuo_demo").json()
    assert body["kind"] == "outfall" and body["current_class"] is None and body["off_target"] is False
    assert body["latest"][COD]["value"] == 64.04  # its readings, as a station's
    assert client.get("/api/stations/hexicun").json()["kind"] == "station"
