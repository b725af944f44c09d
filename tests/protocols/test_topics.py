"""The MQTT topic scheme: build and parse agree; nothing else parses as an agent topic."""

from __future__ import annotations

import pytest

from protocols import topics
from protocols.sections import SECTIONS

KINDS = ("readings", "status", "events", "cmd", "reply")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("station", ["hexicun", "a", "st-01_x", "0" * 32])
def test_build_and_parse_round_trip(station: str, kind: topics.Kind) -> None:
    built = topics.topic(station, kind)
    assert built == f"qingliu/v1/{station}/{kind}"
    assert topics.parse(built) == topics.ParsedTopic(station, kind)


def test_every_section_station_id_is_valid() -> None:
    for station in SECTIONS:
        assert topics.is_station_id(station)
        assert topics.parse(topics.topic(station, "readings")) == topics.ParsedTopic(station, "readings")


@pytest.mark.parametrize(
    "station", ["", "Hexicun", "-lead", "_lead", "a/b", "a+b", "a#", "$sys", "x" * 33, "河西村", "a b"]
)
def test_bad_station_ids_refused(station: str) -> None:
    assert not topics.is_station_id(station)
    with pytest.raises(ValueError, match="station id"):
        topics.topic(station, "readings")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "qingliu/v1/hexicun",
        "qingliu/v1/hexicun/readings/extra",
        "qingliu/v2/hexicun/readings",
        "other/v1/hexicun/readings",
        "qingliu/v1/HEXICUN/readings",
        "qingliu/v1/+/readings",
        "qingliu/v1/#",
        "qingliu/v1/hexicun/alerts",
        "qingliu/v1/hexicun/Readings",
        "qingliu/v1//readings",
        "/qingliu/v1/hexicun/readings",
        "qingliu/v1/alerts/hexicun",
        "$share/g/qingliu/v1/hexicun/readings",
    ],
)
def test_parse_refuses_non_agent_topics(value: str) -> None:
    assert topics.parse(value) is None


def test_collector_subscriptions_cover_uplink_only() -> None:
    filters = topics.collector_subscriptions()
    assert filters == [f"qingliu/v1/+/{k}" for k in ("readings", "status", "events", "reply")]
    assert "qingliu/v1/+/cmd" not in filters  # the collector writes commands, it does not read them


def test_shared_subscriptions() -> None:
    shared = topics.collector_subscriptions("collectors")
    assert shared == [f"$share/collectors/qingliu/v1/+/{k}" for k in topics.UPLINK_KINDS]
    # An empty group name means no sharing, not "$share//…" (which brokers refuse).
    assert topics.collector_subscriptions("") == topics.collector_subscriptions()


def test_alert_topic() -> None:
    assert topics.alert_topic("boshuicun") == "qingliu/v1/alerts/boshuicun"
    assert topics.parse(topics.alert_topic("boshuicun")) is None


def test_alert_topics_never_parse_as_agent_topics() -> None:
    for kind in KINDS:
        assert topics.parse(topics.alert_topic(kind)) is None


def test_station_id_with_trailing_newline_refused() -> None:
    assert not topics.is_station_id("hexicun\n")
