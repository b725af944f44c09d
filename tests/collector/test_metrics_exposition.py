"""/metrics through prometheus_client: the same metric names, types and labels as the hand-written page the
dashboards were built on, values read from the live state at each scrape, each service with its own registry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from collector.api import create_app
from collector.service import CollectorService
from tests.collector.factories import T0, batch, config, payload

# Captured from the hand-written exposition (collector/metrics.py before prometheus_client) on the running
# test app: (name, type, label names). A dashboard query names these; none may change.
FAMILIES = [
    ("qingliu_collector_stations_online", "gauge", ()),
    ("qingliu_collector_stations", "gauge", ("state",)),
    ("qingliu_collector_readings_ingested_total", "counter", ()),
    ("qingliu_collector_readings_duplicate_total", "counter", ()),
    ("qingliu_collector_messages_duplicate_total", "counter", ()),
    ("qingliu_collector_messages_received_total", "counter", ("type",)),
    ("qingliu_collector_payload_errors_total", "counter", ("reason",)),
    ("qingliu_collector_suspect_readings_total", "counter", ("reason",)),
    ("qingliu_collector_reading_revisions_total", "counter", ()),
    ("qingliu_collector_commits_total", "counter", ()),
    ("qingliu_collector_commit_errors_total", "counter", ()),
    ("qingliu_collector_ingest_lag_seconds", "gauge", ()),
    ("qingliu_collector_ingest_queue_depth", "gauge", ()),
    ("qingliu_collector_mqtt_connected", "gauge", ()),
    ("qingliu_collector_receiver_up", "gauge", ()),
    ("qingliu_collector_receiver_restarts_total", "counter", ()),
    ("qingliu_collector_receiver_accepted_total", "counter", ()),
    ("qingliu_collector_receiver_rejected_total", "counter", ("reason",)),
    ("qingliu_collector_receiver_commits_total", "counter", ()),
    ("qingliu_collector_receiver_commit_errors_total", "counter", ()),
    ("qingliu_collector_receiver_acks_total", "counter", ()),
    ("qingliu_collector_receiver_acks_skipped_total", "counter", ()),
    ("qingliu_collector_receiver_quota_pauses_total", "counter", ()),
    ("qingliu_collector_inbox_depth", "gauge", ()),
    ("qingliu_collector_inbox_oldest_age_seconds", "gauge", ()),
    ("qingliu_collector_inbox_bytes", "gauge", ()),
    ("qingliu_collector_resend_requests_total", "counter", ("kind",)),
    ("qingliu_collector_resend_events_total", "counter", ("event",)),
    ("qingliu_collector_resend_outstanding", "gauge", ()),
    ("qingliu_collector_notifications_total", "counter", ("outcome", "target")),
    ("qingliu_collector_notification_failures_total", "counter", ("target",)),
    ("qingliu_collector_notification_queue_depth", "gauge", ("target",)),
    ("qingliu_collector_alerts_open", "gauge", ("severity",)),
    ("qingliu_collector_api_rejected_total", "counter", ("reason",)),
    ("qingliu_collector_dead_letters_total", "counter", ("reason",)),
    ("qingliu_collector_inbox_write_errors_total", "counter", ()),
    ("qingliu_collector_inbox_write_failing", "gauge", ()),
    ("qingliu_collector_applier_retrying", "gauge", ()),
    ("qingliu_collector_applier_gave_way_seconds_total", "counter", ()),
    ("qingliu_collector_store_unreadable_rows", "gauge", ("table",)),
    ("qingliu_collector_controller_stale_statuses_total", "counter", ()),
]
# Families whose samples this test's traffic produces, so that their labels are checked too.
NOT_EXERCISED = {"qingliu_collector_store_unreadable_rows"}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CollectorService]:
    svc = CollectorService(
        config(tmp_path, '[[notify]]\nkind = "mqtt"\nname = "bus"\n'),
        clock=lambda: T0 + timedelta(minutes=10),
    )
    svc.start(mqtt=False)
    yield svc
    svc.stop()


def scrape(service: CollectorService) -> str:
    response = TestClient(create_app(service)).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.text


def traffic(service: CollectorService) -> None:
    """A stored batch, a malformed payload, an unknown station, a reading from the future, a bad API call."""
    assert service.receiver is not None
    handle = service.receiver.handle
    handle("qingliu/v1/hexicun/readings", payload(batch(n=2)), lambda: True)
    handle("qingliu/v1/hexicun/readings", b"not json", lambda: True)
    handle("qingliu/v1/stranger/readings", payload(batch("stranger")), lambda: True)
    handle(
        "qingliu/v1/hexicun/readings", payload(batch(seq=2, n=1, start=T0.replace(year=2100))), lambda: True
    )
    assert service.wait_idle(5)
    assert TestClient(create_app(service)).get("/api/stations/hexicun/readings?limit=0").status_code == 422


def test_the_metric_names_types_and_labels_are_those_dashboards_use(service: CollectorService) -> None:
    traffic(service)
    text = scrape(service)
    declared = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M)
    assert sorted(declared) == sorted((name, kind) for name, kind, _ in FAMILIES)
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    for name, _, labels in FAMILIES:
        family = parsed[name.removesuffix("_total")]  # the parser names a counter without its suffix
        if name in NOT_EXERCISED:
            assert all(set(s.labels) == set(labels) for s in family.samples)
            continue
        assert family.samples, name
        assert all(tuple(sorted(s.labels)) == labels for s in family.samples), (name, family.samples)


def test_values_follow_the_live_state_at_each_scrape(service: CollectorService) -> None:
    before = scrape(service)
    assert "qingliu_collector_readings_ingested_total 0.0\n" in before
    traffic(service)
    after = scrape(service)
    assert "qingliu_collector_readings_ingested_total 2.0\n" in after
    assert 'qingliu_collector_payload_errors_total{reason="malformed"} 1.0\n' in after
    assert 'qingliu_collector_receiver_rejected_total{reason="unknown_station"} 1.0\n' in after
    assert 'qingliu_collector_suspect_readings_total{reason="ahead_of_clock"} 1.0\n' in after
    assert 'qingliu_collector_api_rejected_total{reason="invalid_request"} 1.0\n' in after
    assert 'qingliu_collector_notifications_total{outcome="ok",target="bus"} 0.0\n' in after
    assert 'qingliu_collector_dead_letters_total{reason="malformed"} 1.0\n' in after


def test_each_service_has_its_own_registry(tmp_path: Path, service: CollectorService) -> None:
    (tmp_path / "other").mkdir()
    other = CollectorService(config(tmp_path / "other"), clock=lambda: T0)
    try:
        assert other.metrics is not service.metrics
        traffic(service)
        other.start(mqtt=False)
        assert "qingliu_collector_readings_ingested_total 0.0\n" in scrape(other)
    finally:
        other.stop()
