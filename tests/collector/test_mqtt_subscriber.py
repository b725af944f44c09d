"""collector/mqtt_subscriber.py: the packet codec on its own, then the session against a real Mosquitto (plain,
TLS, MQTT 3.1.1 framing, refused credentials, acknowledgements that must and must not go out, the keepalive)."""

from __future__ import annotations

import contextlib
import logging
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from collector.config import MqttConfig
from collector.mqtt_subscriber import (
    MAX_PACKET_BYTES,
    ProtocolError,
    Refused,
    Subscriber,
    connect_packet,
    parse_connack,
    parse_publish,
    read_varint,
    split_packets,
    suback_refusals,
    varint,
)
from tests.fuzz_settings import Budget, budgets, check
from tests.support.broker import Mosquitto
from tests.support.stack import wait_until

TOPIC = "qingliu/v1/hexicun/readings"


def _s(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def publish(
    topic: bytes, payload: bytes, *, qos: int = 1, pid: int = 7, props: bytes = b"", v5: bool = True
) -> bytes:
    body = _s(topic) + (struct.pack("!H", pid) if qos else b"")
    if v5:
        body += varint(len(props)) + props
    body += payload
    return bytes([0x30 | (qos << 1)]) + varint(len(body)) + body


# -- the codec -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455])
def test_variable_byte_integers_round_trip_at_every_length_boundary(n: int) -> None:
    encoded = varint(n)
    assert len(encoded) == 1 + (n > 127) + (n > 16383) + (n > 2097151)
    assert read_varint(b"x" + encoded + b"tail", 1) == (n, 1 + len(encoded))
    assert read_varint(encoded[:-1], 0) is None  # cut short: wait for more bytes


def test_a_variable_byte_integer_of_five_bytes_is_refused() -> None:
    with pytest.raises(ProtocolError, match="four bytes"):
        read_varint(b"\xff\xff\xff\xff\x01", 0)


def test_packets_are_cut_from_the_stream_whole_and_a_partial_one_waits() -> None:
    one, two = publish(b"a/b", b"first"), publish(b"a/c", b"second", qos=0)
    stream = one + two + b"\xd0\x00" + one[:5]
    packets, used = split_packets(bytearray(stream))
    assert [first for first, _ in packets] == [one[0], two[0], 0xD0]
    assert used == len(one) + len(two) + 2
    rest = bytearray(stream[used:] + one[5:])
    packets, used = split_packets(rest)
    assert len(packets) == 1 and used == len(one)


def test_a_packet_over_the_limit_is_refused_before_it_is_read() -> None:
    header = b"\x30" + varint(MAX_PACKET_BYTES + 1)
    with pytest.raises(ProtocolError, match="over the"):
        split_packets(bytearray(header))


def test_publish_fields_in_both_protocols_and_both_qos() -> None:
    # MQTT 5 with properties (payload format indicator, a user property) between the packet id and the payload
    props = b"\x01\x01" + b"\x26" + _s(b"k") + _s(b"v")
    packet = publish(TOPIC.encode(), b'{"x": 1}', pid=0x1234, props=props)
    (first, body), *_ = split_packets(bytearray(packet))[0]
    assert parse_publish(first, body, v5=True) == (TOPIC, b'{"x": 1}', 1, b"\x12\x34")
    packet = publish(TOPIC.encode(), b"{}", qos=0, v5=False)
    (first, body), *_ = split_packets(bytearray(packet))[0]
    assert parse_publish(first, body, v5=False) == (TOPIC, b"{}", 0, b"")


def test_a_topic_that_is_not_utf8_comes_out_marked_so_that_the_topic_check_refuses_it() -> None:
    packet = publish(b"qingliu/v1/\xffbad/readings", b"{}")
    (first, body), *_ = split_packets(bytearray(packet))[0]
    topic, *_ = parse_publish(first, body, v5=True)
    assert "\ufffd" in topic


@pytest.mark.parametrize(
    ("first", "body"),
    [
        (0x32, b"\x00"),  # shorter than the topic length
        (0x32, _s(b"a/b") + b"\x00"),  # packet id cut
        (0x36, _s(b"a/b") + b"\x00\x01"),  # QoS 3
        (0x32, _s(b"a/b") + b"\x00\x01" + b"\x05\x01"),  # properties longer than the packet
    ],
)
def test_malformed_publish_packets_raise_the_codec_error(first: int, body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_publish(first, body, v5=True)


def test_connack_session_present_server_keepalive_and_refusals() -> None:
    props = (
        b"\x1f" + _s(b"welcome") + b"\x21\x00\x10" + b"\x13\x00\x3c"
    )  # reason string, receive max, keep alive
    assert parse_connack(b"\x01\x00" + varint(len(props)) + props, v5=True) == (True, 60)
    assert parse_connack(b"\x00\x00\x00", v5=True) == (False, None)
    assert parse_connack(b"\x00\x00", v5=False) == (False, None)
    with pytest.raises(Refused, match="0x86"):
        parse_connack(b"\x00\x86\x00", v5=True)
    with pytest.raises(Refused, match="not authorized"):
        parse_connack(b"\x00\x05", v5=False)


def test_suback_names_the_refused_filters() -> None:
    body = b"\x00\x01" + b"\x00" + b"\x01\x87"
    assert suback_refusals(body, ["a/#", "b/#"], v5=True) == ["b/# (0x87)"]
    assert suback_refusals(b"\x00\x01\x01\x80", ["a/#", "b/#"], v5=False) == ["b/# (0x80)"]


def test_connect_carries_the_persistent_session_and_the_credentials() -> None:
    config = MqttConfig(client_id="c1", username="u", password="p", keepalive_s=30, receive_maximum=100)
    packet = connect_packet(config)
    (first, body), *_ = split_packets(bytearray(packet))[0]
    assert first == 0x10 and body[:7] == b"\x00\x04MQTT\x05"
    assert body[7] == 0xC0  # user name and password; clean start off
    assert body[8:10] == b"\x00\x1e"
    assert b"\x21\x00\x64" in body and body.endswith(_s(b"c1") + _s(b"u") + _s(b"p"))
    v3 = connect_packet(MqttConfig(client_id="c1", protocol="3.1.1"))
    assert v3[2:9] == b"\x00\x04MQTT\x04" and v3[9] == 0x00


@budgets(ci=2000)
def test_any_bytes_either_parse_or_raise_the_codec_error(budget: Budget) -> None:
    def prop(data: bytes, v5: bool) -> None:
        try:
            packets, used = split_packets(bytearray(data), max_packet=1 << 16)
        except ProtocolError:
            return
        assert used <= len(data)
        for first, body in packets:
            if first >> 4 == 3:
                with contextlib.suppress(ProtocolError):
                    parse_publish(first, body, v5=v5)
            elif first >> 4 == 2:
                with contextlib.suppress(ProtocolError, Refused):
                    parse_connack(body, v5=v5)

    check(prop, budget, st.binary(max_size=300), st.booleans())


@budgets(ci=2000)
def test_any_connack_or_suback_body_parses_or_raises_the_codec_error(budget: Budget) -> None:
    def prop(body: bytes, v5: bool) -> None:
        with contextlib.suppress(ProtocolError, Refused):
            parse_connack(body, v5=v5)
        with contextlib.suppress(ProtocolError):
            suback_refusals(body, ["a/#", "b/#"], v5=v5)

    # a success code and a property length first, so that the walk over the properties is what is tried
    bodies = st.builds(
        lambda rest, n: b"\x00\x00" + bytes([n]) + rest, st.binary(max_size=40), st.integers(0, 60)
    )
    check(prop, budget, st.one_of(bodies, st.binary(max_size=40)), st.booleans())


# -- the session against Mosquitto -----------------------------------------------------------------------------


class Inbox:
    """What a handler saw, and the ack functions it was given (acknowledged or kept)."""

    def __init__(self, ack: bool = True) -> None:
        self.ack = ack
        self.got: list[bytes] = []
        self.kept: list[Callable[[], bool]] = []
        self.lock = threading.Lock()

    def __call__(self, topic: str, payload: bytes, ack: Callable[[], bool]) -> None:
        with self.lock:
            self.got.append(payload)
        if self.ack:
            assert ack()
        else:
            self.kept.append(ack)


def send(port: int, payloads: list[bytes], topic: str = TOPIC) -> None:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-pub", protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    try:
        for payload in payloads:
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        pub.disconnect()
        pub.loop_stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    started = Mosquitto(tmp_path / "broker", tls=True).start()
    yield started
    started.stop()


def running(config: MqttConfig, handler: Inbox) -> Subscriber:
    subscriber = Subscriber(config, handler)
    subscriber.start()
    assert subscriber.wait_connected(10), "not connected"
    return subscriber


def end(subscriber: Subscriber) -> None:
    subscriber.stop()


def test_over_tls_messages_arrive_and_what_was_acknowledged_is_not_delivered_again(broker: Mosquitto) -> None:
    config = MqttConfig(url=broker.tls_url, ca_file=str(broker.ca_file), client_id="sub-tls")
    handler = Inbox()
    subscriber = running(config, handler)
    send(broker.port, [b"m%d" % i for i in range(200)])
    wait_until(lambda: len(handler.got) == 200, 10, 0.02)
    subscriber.flush()
    end(subscriber)
    again = Inbox()
    subscriber = running(config, again)
    send(broker.port, [b"after"])
    wait_until(lambda: again.got == [b"after"], 10, 0.02)  # nothing of the 200 came back
    end(subscriber)


def test_a_broker_certificate_from_an_unknown_ca_is_refused(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "qingliu.collector.mqtt")
    subscriber = Subscriber(MqttConfig(url=broker.tls_url, client_id="sub-noca"), Inbox())
    subscriber.start()
    try:
        assert not subscriber.wait_connected(3)
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    finally:
        end(subscriber)


def test_unacknowledged_messages_come_again_and_an_ack_from_the_old_connection_is_refused(
    broker: Mosquitto,
) -> None:
    config = MqttConfig(url=broker.url, client_id="sub-keep")
    first = Inbox(ack=False)
    subscriber = running(config, first)
    send(broker.port, [b"a", b"b", b"c"])
    wait_until(lambda: len(first.got) == 3, 10, 0.02)
    assert first.kept[0]()  # "a" acknowledged (queued, then flushed)
    subscriber.flush()
    time.sleep(0.3)
    broker.restart()  # the connection ends; the broker's persistence keeps the session and its messages
    wait_until(lambda: subscriber.connected and len(first.got) >= 5, 20, 0.02)
    assert not first.kept[1]() and not first.kept[2]()  # packet ids of the lost connection: not sent
    assert sorted(first.got[3:]) == [b"b", b"c"]  # delivered again on the new connection, "a" not
    end(subscriber)


def test_mqtt_311_framing(mosquitto: Mosquitto) -> None:
    handler = Inbox()
    subscriber = running(MqttConfig(url=mosquitto.url, client_id="sub-311", protocol="3.1.1"), handler)
    send(mosquitto.port, [b"x", b"y"])
    wait_until(lambda: handler.got == [b"x", b"y"], 10, 0.02)
    end(subscriber)


@pytest.fixture
def broker_with_users(tmp_path: Path) -> Iterator[Mosquitto]:
    started = Mosquitto(tmp_path / "auth", users={"qingliu-collector": "right"}).start()
    yield started
    started.stop()


def test_wrong_credentials_are_logged_as_refused_and_retried(
    broker_with_users: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "qingliu.collector.mqtt")
    subscriber = Subscriber(
        MqttConfig(
            url=broker_with_users.url, client_id="sub-auth", username="qingliu-collector", password="wrong"
        ),
        Inbox(),
    )
    subscriber.start()
    try:
        assert not subscriber.wait_connected(3)
        assert "refused the connection" in caplog.text
    finally:
        end(subscriber)


def test_an_idle_session_stays_up_on_its_pings(broker: Mosquitto) -> None:
    # The broker drops a client silent for 1.5 × its keepalive (7.5 s here).
    handler = Inbox()
    subscriber = running(MqttConfig(url=broker.url, client_id="sub-idle", keepalive_s=5), handler)
    states: list[bool] = []
    subscriber.on_state = states.append
    time.sleep(9)
    assert subscriber.connected and states == []
    send(broker.port, [b"still here"])
    wait_until(lambda: handler.got == [b"still here"], 10, 0.02)
    end(subscriber)
