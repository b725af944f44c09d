from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import SEVEN_DAYS_S, load_config, parse_config
from protocols.errors import ConfigError
from protocols.sections import SECTIONS


def test_defaults_give_the_eight_plan_sections() -> None:
    config = parse_config("")
    assert [s.id for s in config.stations] == list(SECTIONS)
    hexicun = config.station("hexicun")
    assert hexicun is not None
    assert (hexicun.name_zh, hexicun.river, hexicun.basin, hexicun.level, hexicun.county) == (
        "河西村",
        "fen",
        "yellow",
        "national",
        "静乐",
    )
    assert hexicun.target_class == 3 and hexicun.water_type == "river"
    assert config.mqtt.client_id == "qingliu-collector"
    assert config.mqtt.session_expiry_s == SEVEN_DAYS_S
    assert config.mqtt.shared_group is None
    assert config.store.url == "sqlite:///var/collector.db"
    assert config.api.port == 8000 and config.api.admin_token == ""
    assert config.accept_unknown_stations is False


def test_full_config_parses() -> None:
    config = parse_config("""
accept_unknown_stations = true
[mqtt]
url = "mqtts://broker.example:8883"
username = "collector"
password = "pw"
ca_file = "/etc/qingliu/ca.pem"
client_id = "c1"
shared_group = "collectors"
session_expiry_s = 3600
[store]
url = "sqlite:///tmp/x.db"
[api]
host = "0.0.0.0"
port = 9000
admin_token = "t"
[[stations]]
id = "lake1"
name_zh = "湖一"
target_class = 2
water_type = "lake"
expected_params = ["w21011", "w21001"]
""")
    assert config.mqtt.tls and config.mqtt.host == "broker.example" and config.mqtt.port == 8883
    assert config.mqtt.shared_group == "collectors"
    assert config.store.kind == "sqlite" and config.store.sqlite_path == "tmp/x.db"
    assert [s.id for s in config.stations] == ["lake1"]
    assert config.stations[0].water_type == "lake" and config.stations[0].target_class == 2


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[mqtt]\nurl = "http://x"', "mqtt.url"),
        ("[mqtt]\nbogus = 1", "mqtt.bogus"),
        ('[store]\nurl = "mysql://x"', "store.url"),
        ("[api]\nport = 0", "api.port"),
        ('[[stations]]\nid = "Bad Id"', "stations[Bad Id].id"),
        ('[[stations]]\nid = "a"\ntarget_class = 6', "stations[a].target_class"),
        ('[[stations]]\nid = "a"\nwater_type = "sea"', "stations[a].water_type"),
        ('[[stations]]\nid = "a"\nexpected_params = ["w99999"]', "stations[a].expected_params"),
        ('[mqtt]\nshared_group = "a/b"', "mqtt.shared_group"),
        ("surprise = true", "surprise"),
    ],
)
def test_bad_fields_are_named(text: str, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert field in str(info.value)


def test_duplicate_station_ids_refused() -> None:
    with pytest.raises(ConfigError, match="unique"):
        parse_config('[[stations]]\nid = "a"\n[[stations]]\nid = "a"\n')


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[mqtt\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
