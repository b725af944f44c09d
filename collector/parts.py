"""The parts a CollectorService wires together, and their defaults built from the config.

The service takes its store, inbox, notifier and publish-only MQTT connection from here rather than building
them itself, so a test hands in a fake (an in-memory store, a publisher that records) instead of swapping
attributes on a running service. ``default_parts`` fills in whatever was not given, from the config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from collector.config import CollectorConfig, MqttConfig
from collector.inbox import Inbox
from collector.mqtt_client import CollectorMqtt
from collector.notify.sender import Notifier, Publish, specs_from_config
from collector.store import open_store
from collector.store.base import Store


class Publisher(Protocol):
    """The main process's publish-only MQTT connection: commands and alert notifications."""

    @property
    def connected(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, timeout: float = 5.0) -> bool: ...


# The publisher is made at start(mqtt=True), from the [mqtt] section.
PublisherFactory = Callable[[MqttConfig], Publisher]
# The notifier is given the service's way to publish an alert (on the publisher, while it is connected).
NotifierFactory = Callable[[Publish], Notifier]


@dataclass(frozen=True, slots=True)
class Parts:
    store: Store
    inbox: Inbox
    notifier: NotifierFactory
    publisher: PublisherFactory


def mqtt_publisher(config: MqttConfig) -> Publisher:
    return CollectorMqtt(config)


def default_parts(
    config: CollectorConfig,
    *,
    store: Store | None = None,
    inbox: Inbox | None = None,
    notifier: NotifierFactory | None = None,
    publisher: PublisherFactory | None = None,
) -> Parts:
    """The given parts, and the others as the config says (the store opened first, as before: an engine that
    does not answer fails the start before the inbox is claimed)."""
    specs = specs_from_config(config.notify)
    return Parts(
        store=store if store is not None else open_store(config.store.url),
        inbox=inbox if inbox is not None else Inbox(config.inbox_path, owner=True),
        notifier=notifier if notifier is not None else lambda publish: Notifier(specs, publish=publish),
        publisher=publisher if publisher is not None else mqtt_publisher,
    )
