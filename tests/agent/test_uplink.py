"""Uplink and publisher against a real Mosquitto: PUBACK marks sent, an ACL refusal does not, and a broker
outage loses nothing."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import MqttConfig, OutboxConfig
from agent.outbox import Outbox
from agent.publisher import Publisher
from agent.uplink import MqttUplink, PublishError, backoff_delay
from protocols.messages import Lane
from tests.agent.conftest import readings
from tests.agent.mqtt_helpers import Collector
from tests.support.broker import Mosquitto
from tests.support.ports import free_port, wait_for_port

STATION = "hexicun"
READINGS_TOPIC = f"qingliu/v1/{STATION}/readings"


def uplink_for(broker: Mosquitto, **mqtt: object) -> MqttUplink:
    config = MqttConfig(url=broker.url, reconnect_min_s=0.1, reconnect_max_s=0.5, **mqtt)
    return MqttUplink(config, client_id=f"agent-{STATION}", station=STATION)


@pytest.fixture
def collector(mosquitto: Mosquitto) -> Iterator[Collector]:
    sub = Collector(mosquitto.port, [f"qingliu/v1/{STATION}/#"])
    yield sub
    sub.close()


async def until(predicate: object, timeout: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


def test_backoff_delay_is_bounded_and_grows() -> None:
    assert backoff_delay(0, 0.5, 30, rand=lambda: 1.0) == 0.5
    assert backoff_delay(3, 0.5, 30, rand=lambda: 1.0) == 4.0
    assert backoff_delay(20, 0.5, 30, rand=lambda: 1.0) == 30.0
    assert backoff_delay(20, 0.5, 30, rand=lambda: 0.0) == 0.5


def test_puback_marks_sent(tmp_path: Path, mosquitto: Mosquitto, collector: Collector) -> None:
    outbox = Outbox(tmp_path / "o.db", OutboxConfig(batch_max_readings=10), STATION)
    outbox.add_readings(readings(35))

    async def main() -> None:
        uplink = uplink_for(mosquitto)
        await uplink.start()
        assert await uplink.wait_connected(10)
        publisher = Publisher(outbox, uplink, STATION, outbox.config)
        publisher.pump()
        assert len(publisher.inflight) == 4  # 35 readings → 4 messages in flight
        assert outbox.stats().backlog == 35  # nothing is sent before its PUBACK
        assert await until(lambda: outbox.stats().backlog == 0)
        assert publisher.counters["acked"] == 4
        await uplink.stop()

    asyncio.run(asyncio.wait_for(main(), 30))
    assert collector.wait_for(lambda: len(collector.of_type("readings")) == 4)
    batches = collector.of_type("readings")
    assert sorted(b.seq for b in batches) == [0, 1, 2, 3]
    assert sorted(r.value for b in batches for r in b.readings) == [float(i) for i in range(35)]
    assert all(b.lane is Lane.LIVE and b.station == STATION for b in batches)


def test_publish_when_not_connected_fails_at_once(mosquitto: Mosquitto) -> None:
    async def main() -> None:
        uplink = uplink_for(mosquitto)
        await uplink.start()
        future = uplink.publish(READINGS_TOPIC, b"{}")  # before CONNACK
        with pytest.raises(PublishError) as info:
            await future
        assert info.value.reason == "not_connected"
        await uplink.stop()

    asyncio.run(asyncio.wait_for(main(), 20))


def test_acl_denied_publish_is_not_marked_sent(tmp_path: Path) -> None:
    acl = (
        f"user {STATION}\n"
        f"topic read qingliu/v1/{STATION}/cmd\n"
        f"topic write qingliu/v1/{STATION}/status\n"
    )  # may not write readings
    broker = Mosquitto(tmp_path / "broker", users={STATION: "pw"}, acl=acl, persistence=False).start()
    outbox = Outbox(tmp_path / "o.db", OutboxConfig(), STATION)
    outbox.add_readings(readings(5))
    try:

        async def main() -> None:
            uplink = uplink_for(broker, username=STATION, password="pw")
            await uplink.start()
            assert await uplink.wait_connected(10)
            denied = uplink.publish(READINGS_TOPIC, b"{}")
            with pytest.raises(PublishError) as info:
                await denied
            assert info.value.reason == "refused" and info.value.code == 0x87  # Not authorized
            allowed = uplink.publish(f"qingliu/v1/{STATION}/status", b"{}", retain=True)
            await allowed  # the same connection still works for what the ACL allows

            publisher = Publisher(outbox, uplink, STATION, outbox.config, retry_min_s=5, retry_max_s=5)
            publisher.pump()
            assert await until(lambda: publisher.counters["refused"] >= 1)
            assert outbox.stats().backlog == 5 and outbox.stats().unacked_messages == 1
            assert publisher.retry_at and not publisher.inflight  # waits for its back-off
            publisher.pump()  # nothing re-sent before the back-off
            assert not publisher.inflight
            await uplink.stop()

        asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        broker.stop()
    assert outbox.stats().backlog == 5
    assert outbox.counters()["publish_refused"] == 1


def test_broker_outage_readings_accumulate_then_all_arrive(
    tmp_path: Path, mosquitto: Mosquitto, collector: Collector
) -> None:
    outbox = Outbox(tmp_path / "o.db", OutboxConfig(batch_max_readings=20), STATION)

    async def main() -> None:
        uplink = uplink_for(mosquitto)
        await uplink.start()
        assert await uplink.wait_connected(10)
        publisher = Publisher(outbox, uplink, STATION, outbox.config)
        runner = asyncio.create_task(publisher.run(tick_s=0.05))
        outbox.add_readings(readings(10))
        assert await until(lambda: outbox.stats().backlog == 0)

        mosquitto.stop()
        assert await until(lambda: not uplink.connected)
        for i in range(1, 6):  # acquisition goes on during the outage
            outbox.add_readings(readings(20, first_value=i * 100))
            await asyncio.sleep(0.05)
        assert outbox.stats().backlog == 100
        await asyncio.to_thread(mosquitto.start)
        assert await until(lambda: uplink.connected, timeout=20)
        assert await until(lambda: outbox.stats().backlog == 0, timeout=20)
        runner.cancel()
        await uplink.stop()

    asyncio.run(asyncio.wait_for(main(), 60))
    expected = sorted(
        [float(i) for i in range(10)] + [float(i * 100 + j) for i in range(1, 6) for j in range(20)]
    )
    assert collector.wait_for(
        lambda: len({r.value for b in collector.of_type("readings") for r in b.readings}) == len(expected),
        timeout=15,
    )
    got = {r.value for b in collector.of_type("readings") for r in b.readings}
    assert sorted(got) == expected
    seqs = sorted({b.seq for b in collector.of_type("readings")})
    assert seqs == list(range(len(seqs)))  # no seq skipped


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_pki(d: Path) -> None:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        extra = ["-extfile", "san.ext"] if name == "server" else []
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "1",
            *extra,
            cwd=d,
        )


def test_tls_with_client_certificate(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    _make_pki(pki)
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        "user root\n"
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        f"cafile {pki / 'ca.crt'}\ncertfile {pki / 'server.crt'}\nkeyfile {pki / 'server.key'}\n"
        "require_certificate true\n"
    )
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port)

        async def main() -> None:
            config = MqttConfig(
                url=f"mqtts://127.0.0.1:{port}",
                ca_file=str(pki / "ca.crt"),
                client_cert=str(pki / "client.crt"),
                client_key=str(pki / "client.key"),
                reconnect_min_s=0.1,
                reconnect_max_s=0.5,
            )
            uplink = MqttUplink(config, client_id="tls-agent", station=STATION)
            await uplink.start()
            assert await uplink.wait_connected(10)
            await asyncio.wait_for(uplink.publish(READINGS_TOPIC, b"{}"), 5)  # PUBACK over TLS
            await uplink.stop()

            no_cert = MqttUplink(
                MqttConfig(
                    url=f"mqtts://127.0.0.1:{port}",
                    ca_file=str(pki / "ca.crt"),
                    reconnect_min_s=0.1,
                    reconnect_max_s=0.5,
                ),
                client_id="no-cert",
                station=STATION,
            )
            await no_cert.start()
            assert not await no_cert.wait_connected(1.5)  # the broker demands a client certificate
            await no_cert.stop()

        asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_wrong_password_is_refused_and_nothing_is_sent(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", users={STATION: "right"}, persistence=False).start()
    try:

        async def main() -> None:
            uplink = uplink_for(broker, username=STATION, password="wrong")
            await uplink.start()
            assert not await uplink.wait_connected(1.5)
            with pytest.raises(PublishError) as info:
                await uplink.publish(READINGS_TOPIC, b"{}")
            assert info.value.reason == "not_connected"
            await uplink.stop()

        asyncio.run(asyncio.wait_for(main(), 20))
    finally:
        broker.stop()


def test_paho_without_openssl_still_reports_a_dropped_connection() -> None:
    """agent/notls.py: with OpenSSL kept out, paho's except clauses name NO_TLS's exceptions, so a socket
    error reaches paho's reconnect logic as itself (with ssl None it would be an AttributeError)."""
    import paho.mqtt.client as mqtt

    from agent import notls

    class Dropped:
        def recv(self, _n: int) -> bytes:
            raise ConnectionResetError("peer went away")

        def send(self, _b: bytes) -> int:
            raise BrokenPipeError("peer went away")

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    saved = mqtt.ssl
    mqtt.ssl = notls.NO_TLS  # type: ignore[assignment]
    try:
        client._sock = Dropped()  # type: ignore[assignment]
        with pytest.raises(ConnectionResetError):
            client._sock_recv(16)
        with pytest.raises(BrokenPipeError):
            client._sock_send(b"x")
    finally:
        mqtt.ssl = saved
        client._sock = None
