"""The shipped broker config binds client ids to identities (issue 16): a station cannot take over the
collector's session or another station's, and station credentials do not work on the collector's listener."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.config import MqttConfig
from collector.mqtt_client import CollectorMqtt
from collector.mqtt_subscriber import Subscriber
from tests.support.shipped_broker import DEPLOY, ShippedMosquitto

STATIONS = {"hexicun": "pw-h", "boshuicun": "pw-b"}
COLLECTOR = {"qingliu-collector": "pw-c"}


class Client:
    """A paho v5 client that remembers its CONNACK, disconnects and messages."""

    def __init__(self, client_id: str, user: str, password: str) -> None:
        self.connack: int | None = None
        self.connected = threading.Event()
        self.disconnects = 0
        self.messages: list[str] = []
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.paho.username_pw_set(user, password)
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = lambda *_a: setattr(self, "disconnects", self.disconnects + 1)
        self.paho.on_message = lambda _c, _u, m: self.messages.append(m.topic)

    def _on_connect(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        self.connack = reason.value  # type: ignore[attr-defined]
        self.connected.set()

    def connect(self, port: int, ca_file: Path | None = None, *, persistent: bool = False) -> int:
        if ca_file is not None:
            self.paho.tls_set(ca_certs=str(ca_file))
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600 if persistent else 0
        self.paho.connect("127.0.0.1", port, clean_start=not persistent, properties=props)
        self.paho.loop_start()
        assert self.connected.wait(10), "no CONNACK"
        assert self.connack is not None
        return self.connack

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def wait_until(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[ShippedMosquitto]:
    started = ShippedMosquitto(tmp_path / "broker", stations=STATIONS, collector=COLLECTOR).start()
    yield started
    started.stop()


def collector_config(broker: ShippedMosquitto) -> MqttConfig:
    return MqttConfig(
        url=f"mqtt://127.0.0.1:{broker.plain_port}", username="qingliu-collector", password="pw-c"
    )


def test_a_station_using_the_collectors_client_id_cannot_take_its_queued_messages(
    broker: ShippedMosquitto,
) -> None:
    got: list[bytes] = []

    def receive(_topic: str, body: bytes, ack: Callable[[], bool]) -> None:
        got.append(body)
        ack()

    collector = Subscriber(collector_config(broker), receive)
    station = Client("hexicun", "hexicun", "pw-h")
    impostor = Client("qingliu-collector", "hexicun", "pw-h")
    try:
        collector.start()
        assert collector.wait_connected(10)
        assert station.connect(broker.tls_port, broker.ca_file) == 0
        # The collector's subscription is in place once a probe reading reaches it.
        station.paho.publish("qingliu/v1/hexicun/readings", b"probe", qos=1).wait_for_publish(5)
        assert wait_until(lambda: got == [b"probe"])
        collector.stop()  # offline: the broker queues for its persistent session
        for n in range(5):
            station.paho.publish("qingliu/v1/hexicun/readings", str(n).encode(), qos=1).wait_for_publish(5)
        # Accepted, but as "hexicun" (its user name): the collector's session is not handed over.
        assert impostor.connect(broker.tls_port, broker.ca_file, persistent=True) == 0
        collector = Subscriber(collector_config(broker), receive)
        collector.start()
        assert wait_until(lambda: len(got) >= 6)
        assert got == [b"probe", b"0", b"1", b"2", b"3", b"4"]  # 5/5 delivered to the collector
        assert impostor.messages == []
    finally:
        collector.stop()
        station.close()
        impostor.close()


def test_a_station_using_another_stations_client_id_does_not_kick_it_off(broker: ShippedMosquitto) -> None:
    boshuicun = Client("boshuicun", "boshuicun", "pw-b")
    impostor = Client("boshuicun", "hexicun", "pw-h")
    publisher = CollectorMqtt(collector_config(broker))
    try:
        assert boshuicun.connect(broker.tls_port, broker.ca_file) == 0
        boshuicun.paho.subscribe("qingliu/v1/boshuicun/cmd", qos=1)
        publisher.start()
        assert publisher.wait_connected(10)
        assert impostor.connect(broker.tls_port, broker.ca_file) == 0
        impostor.paho.subscribe("qingliu/v1/boshuicun/cmd", qos=1)  # refused by the ACL as hexicun
        assert wait_until(lambda: publisher.publish("qingliu/v1/boshuicun/cmd", b"{}") and boshuicun.messages)
        assert boshuicun.messages[0] == "qingliu/v1/boshuicun/cmd"
        assert boshuicun.disconnects == 0  # a takeover would have disconnected it before the command came
        assert impostor.messages == []
    finally:
        publisher.stop()
        boshuicun.close()
        impostor.close()


BAD_CREDENTIALS = 0x86
NOT_AUTHORIZED = 0x87


def test_station_credentials_are_refused_on_the_collectors_listener(broker: ShippedMosquitto) -> None:
    station = Client("hexicun", "hexicun", "pw-h")
    try:
        assert station.connect(broker.plain_port) in (BAD_CREDENTIALS, NOT_AUTHORIZED)
    finally:
        station.close()


def test_the_collectors_credentials_are_refused_on_the_station_listener(broker: ShippedMosquitto) -> None:
    collector = Client("qingliu-collector", "qingliu-collector", "pw-c")
    try:
        assert collector.connect(broker.tls_port, broker.ca_file) in (BAD_CREDENTIALS, NOT_AUTHORIZED)
    finally:
        collector.close()


def test_stations_need_tls_with_the_shipped_ca(broker: ShippedMosquitto, tmp_path: Path) -> None:
    """The station listener speaks TLS only, with the server certificate from the shipped make-certs.sh."""
    connect = bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([5, 2, 0, 30, 0, 0, 0])  # CONNECT v5, empty id
    with socket.create_connection(("127.0.0.1", broker.tls_port), timeout=10) as plain:
        plain.sendall(connect)
        try:
            answer = plain.recv(16)
        except ConnectionResetError:
            answer = b""
    assert answer[:1] != b"\x20"  # no CONNACK to plain MQTT: the broker hangs up
    other_ca = tmp_path / "other-ca"
    subprocess.run(["bash", str(DEPLOY / "make-certs.sh"), str(other_ca), "localhost"], check=True)
    station = Client("hexicun", "hexicun", "pw-h")
    with pytest.raises(ssl.SSLCertVerificationError):
        station.connect(broker.tls_port, other_ca / "ca.crt")
    assert Client("hexicun", "hexicun", "pw-h").connect(broker.tls_port, broker.ca_file) == 0
