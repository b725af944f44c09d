"""The shipped example configs and broker files are what the README and the installers point at: keep them valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import load_config as load_agent_config
from collector.config import load_config as load_collector_config
from protocols.profiles import load_profile
from tests.support.broker import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy" / "examples"


@pytest.mark.parametrize("name", ["agent.toml", "agent-local.toml"])
def test_example_agent_configs_validate_and_name_real_profiles(name: str) -> None:
    config = load_agent_config(EXAMPLES / name)
    assert config.devices
    for device in config.devices:
        assert load_profile(device.profile).name == device.profile


def test_example_collector_config_validates_and_fills_sections_from_the_city_plan() -> None:
    config = load_collector_config(EXAMPLES / "collector.toml")
    hexicun = config.station("hexicun")
    assert hexicun is not None
    assert (hexicun.name_zh, hexicun.river, hexicun.level, hexicun.county) == (
        "河西村",
        "fen",
        "national",
        "静乐",
    )
    assert config.station("chuanhutun") is not None and config.station("chuanhutun").target_class == 2  # type: ignore[union-attr]
    assert (
        config.inbox.max_bytes > 0
        and config.inbox_path == Path.home() / ".local/state/qingliu/collector.inbox.db"
    )


@pytest.mark.parametrize("kind", ["agent", "collector"])
def test_check_command_accepts_the_examples(kind: str) -> None:
    name = "agent-local.toml" if kind == "agent" else "collector.toml"
    result = subprocess.run(
        [sys.executable, "-m", "qingliu_cli", kind, "check", "--config", str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_check_command_names_the_wrong_field(tmp_path: Path) -> None:
    bad = tmp_path / "agent.toml"
    bad.write_text('[station]\nid = "hexicun"\n[outbox]\nbatch_max_readings = -5\n')
    result = subprocess.run(
        [sys.executable, "-m", "qingliu_cli", "agent", "check", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "outbox.batch_max_readings" in result.stderr + result.stdout


def test_broker_acl_lets_a_station_publish_only_as_itself(tmp_path: Path) -> None:
    """deploy/mosquitto/qingliu.acl, loaded into a real Mosquitto: hexicun may not publish as boshuicun."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    broker = Mosquitto(
        tmp_path / "broker",
        users={"hexicun": "pw-h", "qingliu-collector": "pw-c"},
        acl=(ROOT / "deploy" / "mosquitto" / "qingliu.acl").read_text(),
    ).start()
    try:
        results: dict[str, int] = {}
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hexicun", protocol=mqtt.MQTTv5)
        client.username_pw_set("hexicun", "pw-h")
        topics: dict[int, str] = {}
        client.on_publish = lambda _c, _u, mid, rc, _p: results.__setitem__(topics[mid], rc.value)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        for topic in (
            "qingliu/v1/hexicun/readings",
            "qingliu/v1/boshuicun/readings",
            "qingliu/v1/hexicun/cmd",
        ):
            info = client.publish(topic, b"{}", qos=1)
            topics[info.mid] = topic
        import time

        deadline = time.monotonic() + 10
        while len(results) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        client.loop_stop()
        client.disconnect()
    finally:
        broker.stop()
    assert results["qingliu/v1/hexicun/readings"] < 0x80
    assert (
        results["qingliu/v1/boshuicun/readings"] == 0x87
    )  # Not authorized: a station cannot speak for another
    assert results["qingliu/v1/hexicun/cmd"] == 0x87  # nor send itself commands


def test_broker_acl_lets_the_collector_receive_and_publish_on_its_two_connections(tmp_path: Path) -> None:
    """The receiving process (client id qingliu-collector) reads station topics; the main process
    (qingliu-collector-pub, same user) publishes commands and alerts."""
    import time

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from collector.config import MqttConfig
    from collector.mqtt_client import CollectorMqtt
    from collector.mqtt_subscriber import Subscriber

    broker = Mosquitto(
        tmp_path / "broker",
        users={"hexicun": "pw-h", "qingliu-collector": "pw-c"},
        acl=(ROOT / "deploy" / "mosquitto" / "qingliu.acl").read_text(),
    ).start()
    got: list[str] = []
    config = MqttConfig(url=broker.url, username="qingliu-collector", password="pw-c")
    receiving = Subscriber(config, lambda topic, _body, ack: (got.append(topic), ack()))
    publishing = CollectorMqtt(config)
    station = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hexicun", protocol=mqtt.MQTTv5)
    station.username_pw_set("hexicun", "pw-h")
    commands: list[str] = []
    station.on_message = lambda _c, _u, m: commands.append(m.topic)
    try:
        receiving.start()
        publishing.start()
        assert receiving.wait_connected(10) and publishing.wait_connected(10)
        assert publishing.client_id == "qingliu-collector-pub"
        station.connect("127.0.0.1", broker.port)
        station.subscribe("qingliu/v1/hexicun/cmd", qos=1)
        station.loop_start()
        time.sleep(0.5)
        station.publish("qingliu/v1/hexicun/readings", b"{}", qos=1).wait_for_publish(5)
        assert publishing.publish("qingliu/v1/hexicun/cmd", b"{}", qos=1)
        assert publishing.publish("qingliu/v1/alerts/hexicun", b"{}", qos=1)
        deadline = time.monotonic() + 10
        while (not got or not commands) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got == ["qingliu/v1/hexicun/readings"] and commands == ["qingliu/v1/hexicun/cmd"]
    finally:
        station.loop_stop()
        station.disconnect()
        receiving.stop()
        publishing.stop()
        broker.stop()
