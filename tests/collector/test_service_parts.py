"""CollectorService wires the parts it is handed (collector/parts.py): a test gives it a store, an inbox, a
notifier and a publisher instead of swapping attributes on a running service; what it is not given is built
from the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import MqttConfig
from collector.inbox import Inbox
from collector.notify.sender import Notifier, Publish
from collector.parts import default_parts, mqtt_publisher
from collector.service import CollectorService
from collector.store.sqlite import SqliteStore
from protocols import messages
from protocols.errors import CommandError
from protocols.messages import CommandKind
from tests.collector.factories import T0, config


class RecordingPublisher:
    def __init__(self, *, connected: bool = True) -> None:
        self.connected = connected
        self.started = self.stopped = 0
        self.published: list[tuple[str, bytes, int]] = []

    def start(self) -> None:
        self.started += 1

    def stop(self) -> None:
        self.stopped += 1

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, timeout: float = 5.0) -> bool:
        self.published.append((topic, payload, qos))
        return True


def test_the_service_uses_the_parts_it_is_handed(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "mine.db")
    inbox = Inbox(tmp_path / "mine-inbox.db", owner=True)
    publisher = RecordingPublisher()
    made: list[MqttConfig] = []
    given: list[Publish] = []

    def make_publisher(cfg: MqttConfig) -> RecordingPublisher:
        made.append(cfg)
        return publisher

    def make_notifier(publish: Publish) -> Notifier:
        given.append(publish)
        return Notifier([], publish=publish)

    cfg = config(tmp_path)
    svc = CollectorService(
        cfg, store=store, inbox=inbox, notifier=make_notifier, publisher=make_publisher, clock=lambda: T0
    )
    assert svc.store is store and svc.inbox is inbox and svc.applier.store is store
    assert len(given) == 1 and svc.notifier.workers == []
    svc.start(mqtt=False)  # no broker; the publisher handed in is made all the same
    try:
        assert made == [cfg.mqtt] and publisher.started == 1 and svc.mqtt is publisher
        command = svc.send_command("hexicun", CommandKind.GET_CONFIG, {})
        [(topic, body, qos)] = publisher.published
        assert topic == "qingliu/v1/hexicun/cmd" and qos == 1 and messages.decode(body) == command
        assert store.command("hexicun", command.id) is not None
        # The notifier's way out is the publisher, while it is connected.
        assert given[0]("qingliu/v1/alerts/hexicun", b"{}", 1, 1.0)
        publisher.connected = False
        assert not given[0]("qingliu/v1/alerts/hexicun", b"{}", 1, 1.0)
        with pytest.raises(CommandError) as err:
            svc.send_command("hexicun", CommandKind.GET_CONFIG, {})
        assert err.value.reason == "not_connected"
    finally:
        svc.stop()
    assert publisher.stopped == 1


def test_without_a_publisher_start_without_mqtt_makes_none(tmp_path: Path) -> None:
    svc = CollectorService(config(tmp_path), clock=lambda: T0)
    svc.start(mqtt=False)
    try:
        assert svc.mqtt is None
        with pytest.raises(CommandError):
            svc.send_command("hexicun", CommandKind.GET_CONFIG, {})
    finally:
        svc.stop()


def test_default_parts_build_what_is_not_given(tmp_path: Path) -> None:
    cfg = config(tmp_path, '[[notify]]\nkind = "mqtt"\nname = "bus"\n')
    store = SqliteStore(tmp_path / "given.db")
    parts = default_parts(cfg, store=store)
    try:
        assert parts.store is store and parts.publisher is mqtt_publisher
        assert parts.inbox.path == cfg.inbox_path
        notifier = parts.notifier(lambda topic, payload, qos, timeout: True)
        assert [w.spec.name for w in notifier.workers] == ["bus"]
    finally:
        parts.inbox.close()
        store.close()
