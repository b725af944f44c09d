"""Ingest against a real Mosquitto: QoS 1, persistent session, manual acknowledgement after the inbox commit.

Most tests run the receiver in the test process (``receiver="thread"``); the ``process`` ones run the real
receiving child process that ``qingliu collector run`` uses."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from collector.config import CollectorConfig
from collector.inbox import Inbox
from collector.mqtt_subscriber import subscriptions
from collector.service import CollectorService
from collector.store.base import ApplyResult, Received
from collector.store.sqlite import SqliteStore
from protocols.messages import StationState
from tests.collector.factories import T0, batch, config, payload, status
from tests.support.broker import Mosquitto

pytestmark = pytest.mark.timeout(60)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout} s")


@pytest.fixture
def publisher(mosquitto: Mosquitto) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-station", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def state_of(service: CollectorService, station: str = "hexicun") -> StationState | None:
    record = service.tracker.get(station)
    return record.state if record is not None else None


def publish(client: mqtt.Client, topic: str, body: bytes, *, retain: bool = False) -> None:
    info = client.publish(topic, body, qos=1, retain=retain)
    info.wait_for_publish(5)
    assert info.is_published()


def start(cfg: CollectorConfig, store: Any = None, *, mode: str = "thread") -> CollectorService:
    service = CollectorService(cfg, store=store, drain_s=0.5, receiver=mode)  # type: ignore[arg-type]
    service.start()
    assert service.wait_connected(15)
    assert service.mqtt is not None and service.mqtt.wait_connected(10)  # the publishing connection
    time.sleep(0.2)  # let the SUBACK arrive
    return service


def receiver_counts(service: CollectorService) -> dict[str, int]:
    return service.inbox.counters()


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_same_batch_twice_is_stored_once(
    tmp_path: Path, mosquitto: Mosquitto, publisher: mqtt.Client, mode: str
) -> None:
    service = start(config(tmp_path, broker_url=mosquitto.url), mode=mode)
    try:
        body = payload(batch(n=50))
        publish(publisher, "qingliu/v1/hexicun/readings", body)
        publish(publisher, "qingliu/v1/hexicun/readings", body)
        publish(publisher, "qingliu/v1/hexicun/readings", b"{broken")
        publish(publisher, "qingliu/v1/stranger/readings", payload(batch("stranger")))
        wait_for(lambda: receiver_counts(service).get("acks") == 4, what="four acknowledgements")
        assert service.wait_idle(10)
        counts = receiver_counts(service)
        assert (
            counts["accepted"] == 3 and counts["rejected:unknown_station"] == 1
        )  # refused: not in the inbox
        snap = service.counters.snapshot()
        assert snap["readings_inserted"] == 50 and snap["readings_duplicate"] == 50
        assert snap["messages_duplicate"] == 1
        assert snap["payload_errors"] == {"malformed": 1}  # the full validation, in the main process
        assert len(service.store.readings("hexicun", limit=1000)) == 50
        assert service.store.readings("stranger") == []
        assert service.inbox.depth() == 0
        if mode == "process":  # a group of its own, this session: the applier's lower priority counts
            child = service.receiving.process
            assert child is not None and child.pid is not None
            assert os.getpgid(child.pid) == child.pid and os.getsid(child.pid) == os.getsid(0)
    finally:
        service.stop()


def test_retained_status_sets_state(tmp_path: Path, mosquitto: Mosquitto, publisher: mqtt.Client) -> None:
    now = time.time()
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(now, tz=UTC)
    publish(publisher, "qingliu/v1/hexicun/status", payload(status(at=at, backlog=3)), retain=True)
    service = start(config(tmp_path, broker_url=mosquitto.url))  # subscribes after: gets the retained copy
    try:
        wait_for(lambda: state_of(service) is StationState.ONLINE, what="hexicun online")
        publish(
            publisher,
            "qingliu/v1/hexicun/status",
            payload(status(at=at + timedelta(seconds=1), state=StationState.OFFLINE)),
            retain=True,
        )
        wait_for(lambda: state_of(service) is StationState.OFFLINE, what="hexicun offline")
        kinds = [t.new for t in service.store.transitions("hexicun")]
        assert kinds[:2] == [StationState.OFFLINE, StationState.ONLINE]
    finally:
        service.stop()


class FailingStore:
    """Never commits: what was received stays in the inbox."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.attempts = 0

    def apply(self, items: Sequence[Received]) -> ApplyResult:
        self.attempts += 1
        raise OSError("disk full")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_store_down_keeps_messages_in_the_inbox_until_a_restart_applies_them(
    tmp_path: Path, mosquitto: Mosquitto, publisher: mqtt.Client
) -> None:
    cfg = config(tmp_path, broker_url=mosquitto.url)
    failing = FailingStore(SqliteStore(tmp_path / "other.db"))
    first = start(cfg, store=failing)
    try:
        publish(publisher, "qingliu/v1/hexicun/readings", payload(batch(n=5)))
        wait_for(lambda: failing.attempts >= 1, what="a store commit attempt")
        # Committed to the inbox, so acknowledged: the broker may forget it.
        wait_for(lambda: receiver_counts(first).get("acks") == 1, what="the acknowledgement")
        assert first.inbox.depth() == 1
    finally:
        first.stop()  # the store never committed: the message stays in the inbox

    second = start(cfg)  # the applier applies the inbox at start; the broker has nothing to redeliver
    try:
        wait_for(lambda: len(second.store.readings("hexicun")) == 5, what="the inbox applied")
        assert second.wait_idle(5) and second.inbox.depth() == 0
        assert receiver_counts(second)["accepted"] == 1  # received once, not again from the broker
    finally:
        second.stop()

    third = start(cfg)  # nothing comes again
    try:
        time.sleep(1.0)
        assert third.counters.snapshot()["received"] == {}
        assert len(third.store.readings("hexicun")) == 5
    finally:
        third.stop()


def test_unacknowledged_until_the_inbox_commit_so_redelivered_after_restart(
    tmp_path: Path, mosquitto: Mosquitto, publisher: mqtt.Client
) -> None:
    cfg = config(tmp_path, broker_url=mosquitto.url)
    first = start(cfg)
    assert first.receiver is not None
    calls: list[int] = []

    def failing_append(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        raise OSError("disk full")

    first.receiver.inbox.append = failing_append  # type: ignore[method-assign]
    try:
        publish(publisher, "qingliu/v1/hexicun/readings", payload(batch(n=5)))
        wait_for(lambda: calls, what="an inbox commit attempt")
    finally:
        first.stop()  # never committed: it stays unacknowledged in our persistent session
    assert Inbox(cfg.inbox_path).depth() == 0

    second = start(cfg)  # same client id, clean_start=False: the broker redelivers it
    try:
        wait_for(lambda: len(second.store.readings("hexicun")) == 5, what="the redelivered batch stored")
        wait_for(lambda: receiver_counts(second).get("acks") == 1, what="the acknowledgement after commit")
    finally:
        second.stop()


def test_messages_arriving_while_down_are_kept_by_the_session(
    tmp_path: Path, mosquitto: Mosquitto, publisher: mqtt.Client
) -> None:
    cfg = config(tmp_path, broker_url=mosquitto.url)
    start(cfg).stop()  # creates the persistent session and its subscriptions
    for seq in range(20):
        publish(
            publisher,
            "qingliu/v1/hexicun/readings",
            payload(batch(seq=seq, n=2, start=T0 + timedelta(hours=seq))),
        )
    service = start(cfg)
    try:
        wait_for(lambda: len(service.store.readings("hexicun")) == 40, what="readings published while down")
        assert service.store.seq_summary("hexicun").ranges == [(0, 19)]
    finally:
        service.stop()


def test_shared_group_keeps_status_unshared() -> None:
    filters = subscriptions("collectors")
    assert "qingliu/v1/+/status" in filters
    assert "$share/collectors/qingliu/v1/+/readings" in filters
    assert all(f.startswith("$share/collectors/") for f in filters if not f.endswith("/status"))
    assert subscriptions(None) == [f"qingliu/v1/+/{k}" for k in ("readings", "status", "events", "reply")]


@pytest.fixture
def amqtt_port() -> Iterator[int]:
    """The demo's embedded broker (amqtt, MQTT 3.1.1 only) in a thread of its own."""
    import asyncio
    import threading

    from amqtt.broker import Broker

    from tests.support.ports import free_port

    port = free_port()
    ready, done = threading.Event(), threading.Event()

    def run() -> None:
        async def main() -> None:
            broker = Broker(
                {
                    "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
                    "plugins": {
                        "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                    },
                }
            )
            await broker.start()
            ready.set()
            while not done.is_set():
                await asyncio.sleep(0.05)
            await broker.shutdown()

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield port
    done.set()
    thread.join(10)


def test_mqtt_311_against_amqtt(tmp_path: Path, amqtt_port: int) -> None:
    cfg = config(tmp_path, broker_url=f"mqtt://127.0.0.1:{amqtt_port}", mqtt_extra='protocol = "3.1.1"')
    service = start(cfg)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-station-311", protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", amqtt_port)
    client.loop_start()
    try:
        body = payload(batch(n=5))
        publish(client, "qingliu/v1/hexicun/readings", body)
        publish(client, "qingliu/v1/hexicun/readings", body)
        wait_for(lambda: receiver_counts(service).get("acks") == 2, what="two acknowledgements")
        assert service.wait_idle(5)
        assert len(service.store.readings("hexicun")) == 5
        assert service.counters.snapshot()["readings_duplicate"] == 5
    finally:
        client.disconnect()
        client.loop_stop()
        service.stop()
