"""GET /api/dead-letters lists what the applier quarantined; POST /api/dead-letters/reapply runs it again."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.service import CollectorService
from tests.collector.api.helpers import AUTH, feed_raw

POISON = b'{"v": 1, "type": "readings", "station": "hexicun", "seq": "x\xff'


def test_dead_letters_listed_with_counts_and_filters(service: CollectorService, client: TestClient) -> None:
    assert client.get("/api/dead-letters").json() == {"counts": {}, "items": []}
    feed_raw(service, "readings", POISON)
    feed_raw(service, "status", b"[]", station="boshuicun")
    body = client.get("/api/dead-letters").json()
    assert body["counts"] == {"malformed": 2}
    assert len(body["items"]) == 2
    letter = next(i for i in body["items"] if i["station"] == "hexicun")
    assert letter["reason"] == "malformed" and letter["count"] == 1 and letter["last_seen"].endswith("Z")
    for key in ("id", "topic", "error", "first_seen", "size", "preview"):
        assert key in letter
    only = client.get("/api/dead-letters", params={"station": "hexicun"}).json()["items"]
    assert [i["id"] for i in only] == [letter["id"]]
    assert (
        client.get("/api/dead-letters", params={"reason": "malformed", "station": "nowhere"}).json()["items"]
        == []
    )
    assert len(client.get("/api/dead-letters", params={"limit": 1}).json()["items"]) == 1


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"reason": "Bad Reason"}, {"station": "x" * 65}]
)
def test_dead_letter_filters_are_bounded(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get("/api/dead-letters", params=params).status_code == 422


def test_reapply_needs_the_token_and_reports(service: CollectorService, client: TestClient) -> None:
    feed_raw(service, "readings", POISON)
    assert client.post("/api/dead-letters/reapply").status_code == 401
    [letter] = client.get("/api/dead-letters").json()["items"]
    r = client.post("/api/dead-letters/reapply", json={"ids": [letter["id"]]}, headers=AUTH)
    assert r.status_code == 200 and r.json() == {"reapplied": 0, "still_failing": 1}  # still malformed
    assert client.post("/api/dead-letters/reapply", headers=AUTH).json() == {
        "reapplied": 0,
        "still_failing": 1,
    }
    for bad in ({"ids": [0]}, {"ids": [2**63]}, {"ids": "all"}, {"what": 1}):
        assert client.post("/api/dead-letters/reapply", json=bad, headers=AUTH).status_code == 422, bad


def test_reapply_with_the_store_down_is_503(service: CollectorService, client: TestClient) -> None:
    def down(ids: Any = None) -> dict[str, int]:
        raise OSError("disk I/O error")

    service.applier.reapply = down  # type: ignore[method-assign]
    r = client.post("/api/dead-letters/reapply", headers=AUTH)
    assert r.status_code == 503 and "store is down" in r.text
