"""The collector service around the quarantine: health that tells the truth, dead-letter counts across a
restart, re-apply, the dead_letters / inbox_write alerts, suspect readings that never close an alert, and a
store holding an unreadable status that still starts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from collector.exposition import render
from collector.service import CollectorService
from collector.store.base import ApplyResult, Received
from collector.store.sqlite import SqliteStore
from tests.collector.factories import T0, batch, config, payload, status

READINGS = "qingliu/v1/hexicun/readings"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def feed(svc: CollectorService, topic: str, body: bytes) -> None:
    assert svc.receiver is not None
    svc.receiver.handle(topic, body, lambda: True)
    assert svc.wait_idle(10)


def metrics_text(svc: CollectorService) -> str:
    return render(svc.metrics).decode()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(hours=1))


@pytest.fixture
def service(tmp_path: Path, clock: Clock) -> Iterator[CollectorService]:
    svc = CollectorService(config(tmp_path), clock=clock, tick_s=3600)
    svc.start(mqtt=False)
    yield svc
    svc.stop()


def test_dead_letters_listed_counted_alerted_and_kept_across_a_restart(tmp_path: Path, clock: Clock) -> None:
    svc = CollectorService(config(tmp_path), clock=clock, tick_s=3600)
    svc.start(mqtt=False)
    feed(svc, READINGS, b'{"v": 1, "type": "readings", "station": "hexicun", "seq": "x\xff')
    feed(svc, READINGS, payload(batch(seq=1)))
    [letter] = svc.dead_letters()
    assert letter["station"] == "hexicun" and letter["topic"] == READINGS and letter["reason"] == "malformed"
    assert letter["count"] == 1 and letter["size"] > 0 and letter["preview"].startswith('{"v": 1')
    assert letter["first_seen"].endswith("Z") and letter["last_seen"] == letter["first_seen"]
    assert isinstance(letter["id"], int) and letter["error"]
    assert svc.dead_letters(station="other") == [] and svc.dead_letters(reason="schema") == []
    assert svc.dead_letter_counts() == {"malformed": 1}
    [alert] = [a for a in svc.alert_engine.active() if a.rule_type == "dead_letters"]
    assert alert.station == "hexicun" and alert.title_zh == "站点消息被隔离"
    assert 'qingliu_collector_dead_letters_total{reason="malformed"} 1' in metrics_text(svc)
    svc.stop()

    again = CollectorService(config(tmp_path), clock=clock, tick_s=3600)
    again.start(mqtt=False)
    try:
        assert again.dead_letter_counts() == {"malformed": 1}
        text = metrics_text(again)
        assert 'qingliu_collector_dead_letters_total{reason="malformed"} 1' in text
        assert 'qingliu_collector_payload_errors_total{reason="malformed"} 1' in text  # not reset
        _, body = again.health_report()
        assert body["dead_letters"] == 1
        # the alert resolves after its quiet period (an hour by default)
        clock.now += timedelta(hours=2)
        with again.alerts.lock:
            again.alert_engine.tick(clock.now)
        assert not [a for a in again.alert_engine.active() if a.rule_type == "dead_letters"]
    finally:
        again.stop()


def test_reapply_through_the_service(service: CollectorService) -> None:
    bad = json.dumps({**json.loads(payload(batch(seq=3))), "surprise": 1}).encode()
    feed(service, READINGS, bad)
    assert service.reapply_dead_letters() == {"reapplied": 0, "still_failing": 1}
    # "After an upgrade": a classifier that accepts it (the extra field dropped).
    real = service.applier.classifier

    def upgraded(topic: str, body: bytes, **kwargs: Any) -> Any:
        document = json.loads(body)
        document.pop("surprise", None)
        return real(topic, json.dumps(document).encode(), **kwargs)

    service.applier.classifier = upgraded
    ids = [d["id"] for d in service.dead_letters()]
    assert service.reapply_dead_letters(ids) == {"reapplied": 1, "still_failing": 0}
    assert service.dead_letters() == [] and len(service.store.readings("hexicun")) == 3
    assert service.tracker.get("hexicun") is not None
    assert service.dead_letter_counts() == {"schema": 1}  # a total: re-applying does not lower it


class FlakyStore:
    def __init__(self, inner: SqliteStore, down: int) -> None:
        self.inner = inner
        self.down = down
        self.reports: list[tuple[bool, dict[str, Any]]] = []
        self.service: CollectorService | None = None

    def apply(self, items: Sequence[Received]) -> ApplyResult:
        if self.down:
            self.down -= 1
            if self.service is not None and self.down == 0:
                self.reports.append(self.service.health_report())
            raise sqlite3.OperationalError("unable to open database file")
        return self.inner.apply(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_store_down_makes_health_not_ok_then_recovers_with_nothing_lost(tmp_path: Path, clock: Clock) -> None:
    inner = SqliteStore(tmp_path / "collector.db")
    flaky = FlakyStore(inner, down=4)
    svc = CollectorService(config(tmp_path), store=flaky, clock=clock, tick_s=3600)  # type: ignore[arg-type]
    flaky.service = svc
    svc.applier.retry_s = 0.02
    svc.start(mqtt=False)
    try:
        for seq in range(3):
            feed_nowait = svc.receiver
            assert feed_nowait is not None
            feed_nowait.handle(
                READINGS, payload(batch(seq=seq, start=T0 + timedelta(minutes=5 * seq))), lambda: True
            )
        assert svc.wait_idle(10)
        [(ok, body)] = flaky.reports
        assert not ok and body["applier"] == "retrying"
        assert any("store is down" in r and "unable to open" in r for r in body["reasons"])
        ok, body = svc.health_report()
        assert body["applier"] == "running" and not any("store" in r for r in body["reasons"])
        assert set(body) >= {
            "ok",
            "store",
            "mqtt",
            "receiver",
            "receiver_restarts",
            "inbox_depth",
            "inbox_oldest_age_s",
            "applier",
            "reasons",
            "dead_letters",
            "inbox_write_errors",
        }
        assert len(inner.readings("hexicun")) == 9 and inner.dead_letters() == []
    finally:
        svc.stop()


def test_health_says_when_the_inbox_is_old_or_the_applier_stalls(service: CollectorService) -> None:
    service.applier.stop(0)  # nothing applies the inbox any more
    assert service.receiver is not None
    service.receiver.clock_us = lambda: 0  # the message looks as old as the epoch
    service.receiver.handle(READINGS, payload(batch()), lambda: True)
    assert service.receiver.wait_idle(5)
    ok, body = service.health_report()
    assert not ok and body["applier"] == "stopped"
    assert any("oldest message" in r for r in body["reasons"])
    assert any("applier is not running" in r for r in body["reasons"])
    service.applier._apply_lock.acquire()  # the applier will take the batch and hang in the store
    try:
        service.applier.start()
        service.applier.last_progress -= 3600  # as if it had been stuck for an hour
        ok, body = service.health_report()
        assert not ok and body["applier"] == "running"
        assert any("no progress for 3600 s with 1 messages waiting" in r for r in body["reasons"])
    finally:
        service.applier._apply_lock.release()
    assert service.wait_idle(5)


def test_inbox_write_errors_in_health_metrics_and_an_alert(
    service: CollectorService, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = [True]
    real_append = service.inbox.append

    def append(rows: Any, counts: Any = None) -> None:
        if failing[0] and rows:
            raise sqlite3.OperationalError("database or disk is full")
        real_append(rows, counts)

    monkeypatch.setattr(service.inbox, "append", append)
    assert service.receiver is not None
    service.receiver.retry_s = 0.02
    acks: list[int] = []
    service.receiver.handle(READINGS, payload(batch()), lambda: acks.append(1) is None)
    assert not service.receiver.wait_idle(0.3)
    assert acks == []
    ok, body = service.health_report()
    assert not ok and body["inbox_write_errors"] >= 2
    assert any("cannot commit to its inbox" in r and "disk is full" in r for r in body["reasons"])
    text = metrics_text(service)
    assert "qingliu_collector_inbox_write_failing 1" in text
    service._check_inbox_writes()
    [alert] = [a for a in service.alert_engine.active() if a.rule_type == "inbox_write"]
    assert alert.station == "_collector" and alert.severity.value == "critical" and alert.title_en
    assert service.store.alerts(station="_collector")[0].id == alert.id  # persisted like any alert
    failing[0] = False
    assert service.wait_idle(5) and acks == [1]
    assert not service.receiver_write_status()["failing"]
    assert not any("inbox" in r for r in service.health_report()[1]["reasons"])


def test_a_suspect_reading_is_not_latest_and_does_not_close_a_stale_alert(
    service: CollectorService, clock: Clock
) -> None:
    feed(service, READINGS, payload(batch(seq=1, n=1, start=T0 + timedelta(minutes=59))))
    clock.now = T0 + timedelta(hours=3)  # three hours without w01010: stale (3 × 5 min)
    with service.alerts.lock:
        service.alerts.apply(service.alert_engine.tick(clock.now))
    assert [a.param for a in service.alert_engine.active() if a.rule_type == "stale"] == ["w01010"]
    future = batch(seq=2, n=1, start=T0.replace(year=2100))
    feed(service, READINGS, payload(future))
    with service.alerts.lock:
        service.alerts.apply(service.alert_engine.tick(clock.now))
    assert [a.param for a in service.alert_engine.active() if a.rule_type == "stale"] == ["w01010"]
    assert service.store.latest("hexicun")["w01010"].t == T0 + timedelta(minutes=59)
    record = service.tracker.get("hexicun")
    assert record is not None and record.last_reading_at == T0 + timedelta(minutes=59)
    [event] = service.store.events("hexicun")
    assert event.event.kind.value == "analyser_clock"
    assert 'qingliu_collector_suspect_readings_total{reason="ahead_of_clock"} 1' in metrics_text(service)


def test_revisions_raise_an_alert(service: CollectorService) -> None:
    first = batch(seq=1, n=2, start=T0)
    feed(service, READINGS, payload(first))
    revised = msgspec.structs.replace(
        first, seq=2, readings=[msgspec.structs.replace(r, value=50.0) for r in first.readings]
    )
    feed(service, READINGS, payload(revised))
    [alert] = [a for a in service.alert_engine.active() if a.rule_type == "revisions"]
    assert alert.station == "hexicun" and alert.value == 2
    assert "qingliu_collector_reading_revisions_total 2" in metrics_text(service)


def test_a_store_with_an_unreadable_status_row_starts(tmp_path: Path, clock: Clock) -> None:
    """The old collector stored controller Infinity as null and then refused to start."""
    store = SqliteStore(tmp_path / "collector.db")
    body = json.loads(payload(status()))
    body["controller"] = {"pump": None}
    with store._transaction() as db:
        db.execute("INSERT INTO statuses VALUES ('hexicun', 0, ?, 0)", (json.dumps(body),))
    store.close()
    svc = CollectorService(config(tmp_path), clock=clock, tick_s=3600)
    svc.start(mqtt=False)
    try:
        record = svc.tracker.get("hexicun")
        assert record is not None and record.status is None  # treated as no status
        assert 'qingliu_collector_store_unreadable_rows{table="statuses"} 1' in metrics_text(svc)
        feed(svc, "qingliu/v1/hexicun/status", payload(status(at=clock.now)))
        assert svc.store.statuses()["hexicun"].status.at == clock.now
    finally:
        svc.stop()
