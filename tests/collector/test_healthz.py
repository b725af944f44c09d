"""/healthz as a pure function of the parts' reports: the HJ 212 server's part (where enabled)."""

from __future__ import annotations

from typing import Any

from collector.config import IngestConfig
from collector.healthz import health_report

RECEIVER = {"running": True, "restarts": 0, "inbox_depth": 0, "inbox_oldest_age_s": 0.0}
WRITES = {"errors": 0, "failing": False, "last_error": ""}
APPLIER = {"state": "running", "since_progress_s": 0.0, "last_error": ""}


def report(hj212: dict[str, Any] | None, *, running: bool = True) -> tuple[bool, dict[str, Any]]:
    return health_report(
        IngestConfig(),
        store_ok=True,
        mqtt_ok=True,
        receiver=RECEIVER,
        writes=WRITES,
        applier=APPLIER,
        running=running,
        dead_letters=0,
        hj212=hj212,
    )


def test_without_the_hj212_server_the_body_does_not_name_it() -> None:
    ok, body = report(None)
    assert ok and "hj212" not in body and "hj212_restarts" not in body


def test_a_running_hj212_server_is_up_with_its_restarts() -> None:
    ok, body = report({"running": True, "restarts": 2})
    assert ok and (body["hj212"], body["hj212_restarts"]) == ("up", 2)


def test_a_stopped_hj212_server_makes_the_collector_unwell() -> None:
    ok, body = report({"running": False, "restarts": 3})
    assert not ok and body["hj212"] == "down"
    assert body["reasons"] == ["the HJ 212 server is not running: data loggers cannot report"]
    ok, body = report({"running": False, "restarts": 3}, running=False)  # the collector is stopping
    assert ok and body["hj212"] == "down"
