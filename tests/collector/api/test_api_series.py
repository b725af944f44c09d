"""GET /api/stations/{id}/readings?points=N: a chart's series covers its whole range, newest included; more
readings than N come back as buckets (count, min, mean, max of valid values) chosen for the range."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from collector.service import CollectorService
from tests.collector.api.helpers import feed
from tests.collector.factories import T0, batch

Z = "%Y-%m-%dT%H:%M:%SZ"


def test_a_long_range_is_served_as_buckets_ending_at_the_newest_reading(
    service: CollectorService, client: TestClient, clock: list[datetime]
) -> None:
    clock[0] = T0 + timedelta(hours=1)
    feed(service, "readings", batch(n=30, param="w01010", value=10.0))  # 10.0 … 39.0 at T0 + 0 … 29 min
    span = {"param": "w01010", "from": T0.strftime(Z), "to": (T0 + timedelta(minutes=30)).strftime(Z)}
    body = client.get("/api/stations/hexicun/readings", params={**span, "points": 10}).json()
    assert body["bucket_s"] == 300 and body["count"] == 30 and body["unit"] == "°C"
    assert [p["value"] for p in body["readings"]] == [12.0, 17.0, 22.0, 27.0, 32.0, 37.0]
    last = body["readings"][-1]
    assert (last["min"], last["max"], last["n"], last["flagged"]) == (35.0, 39.0, 5, 0)
    assert last["t"] == "2026-07-01T00:29:00Z" and last["from"] == "2026-07-01T00:25:00Z"

    raw = client.get("/api/stations/hexicun/readings", params={**span, "points": 30}).json()
    assert raw["bucket_s"] is None and [r["value"] for r in raw["readings"]] == [10.0 + i for i in range(30)]
    # The old way still answers the first `limit` of the range: what a chart must not use.
    first = client.get("/api/stations/hexicun/readings", params={**span, "limit": 10}).json()
    assert first["readings"][-1]["t"] == "2026-07-01T00:09:00Z"
    assert client.get("/api/stations/hexicun/readings", params={**span, "points": 5}).status_code == 422
