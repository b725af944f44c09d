"""The shared [mqtt] connection settings: defaults, the URL check, derived host/port/TLS, subclassing."""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
import pytest

from protocols.errors import ConfigError
from protocols.mqtt import MqttConnection
from protocols.tomldoc import parse_toml_model


class SideConfig(MqttConnection, kw_only=True):
    """A side's own [mqtt] fields on top of the shared ones, as the agent and the collector declare them."""

    heartbeat_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0


def test_defaults_are_a_local_plain_broker_over_mqtt_5() -> None:
    config = MqttConnection()
    assert (config.url, config.protocol, config.keepalive_s) == ("mqtt://127.0.0.1:1883", "5", 30)
    assert (config.host, config.port, config.tls) == ("127.0.0.1", 1883, False)


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("mqtt://broker.example:1884", "broker.example", 1884, False),
        ("mqtts://broker.example", "broker.example", 8883, True),
        ("mqtt://10.0.0.5", "10.0.0.5", 1883, False),
    ],
)
def test_host_port_and_tls_come_from_the_url(url: str, host: str, port: int, tls: bool) -> None:
    config = MqttConnection(url=url)
    assert (config.host, config.port, config.tls) == (host, port, tls)


@pytest.mark.parametrize("url", ["http://broker:1883", "mqtt://", "broker:1883", "tcp://x"])
def test_a_url_that_is_not_mqtt_names_the_field(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_toml_model(SideConfig, f'url = "{url}"', source="x.toml", what="test config")
    assert "url: must look like mqtt://host:port or mqtts://host:port" in str(caught.value)


def test_unknown_keys_and_bad_values_are_refused_with_their_field() -> None:
    with pytest.raises(ConfigError, match="client_idd: is not a known setting"):
        parse_toml_model(SideConfig, 'client_idd = "x"', source="x.toml", what="test config")
    with pytest.raises(ConfigError, match=re.escape("protocol: must be one of '5' or '3.1.1'")):
        parse_toml_model(SideConfig, 'protocol = "4"', source="x.toml", what="test config")
    with pytest.raises(ConfigError, match="keepalive_s: must be at least 5"):
        parse_toml_model(SideConfig, "keepalive_s = 1", source="x.toml", what="test config")


def test_a_side_adds_its_own_fields_and_keeps_the_shared_ones() -> None:
    config = parse_toml_model(
        SideConfig,
        'url = "mqtts://b:8884"\nusername = "u"\nprotocol = "3.1.1"\nheartbeat_s = 5',
        source="x.toml",
        what="test config",
    )
    assert (config.port, config.tls, config.username, config.protocol, config.heartbeat_s) == (
        8884,
        True,
        "u",
        "3.1.1",
        5.0,
    )
    with pytest.raises(ConfigError, match="heartbeat_s: must be greater than 0"):
        parse_toml_model(SideConfig, "heartbeat_s = 0", source="x.toml", what="test config")


def test_both_ends_use_the_shared_model() -> None:
    from agent.config import MqttConfig as AgentMqtt
    from collector.config import MqttConfig as CollectorMqtt

    assert issubclass(AgentMqtt, MqttConnection) and issubclass(CollectorMqtt, MqttConnection)
    assert AgentMqtt(url="mqtts://h").tls and AgentMqtt().reconnect_max_s == 30.0
    assert (
        CollectorMqtt(url="mqtt://h:1999").port == 1999 and CollectorMqtt().client_id == "qingliu-collector"
    )
