"""Helpers of the API tests: a fake MQTT connection, feeding the service, the admin header."""

from __future__ import annotations

from collector.service import CollectorService
from tests.collector.factories import payload

AUTH = {"Authorization": "Bearer s3cret"}


class FakeMqtt:
    def __init__(self, connected: bool = True, acknowledged: bool = True) -> None:
        self.connected = connected
        self.acknowledged = acknowledged
        self.published: list[tuple[str, bytes, int]] = []

    def publish(self, topic: str, body: bytes, *, qos: int = 1, timeout: float = 5.0) -> bool:
        self.published.append((topic, body, qos))
        return self.acknowledged

    def stop(self) -> None:
        pass


def feed(service: CollectorService, topic_kind: str, message: object, station: str = "hexicun") -> None:
    service.receiver.handle(f"qingliu/v1/{station}/{topic_kind}", payload(message), lambda: True)
    assert service.wait_idle(5)


def feed_raw(service: CollectorService, topic_kind: str, body: bytes, station: str = "hexicun") -> None:
    """Bytes as the receiver would take them from the broker, applied (or quarantined) before returning."""
    service.receiver.handle(f"qingliu/v1/{station}/{topic_kind}", body, lambda: True)
    assert service.wait_idle(5)
