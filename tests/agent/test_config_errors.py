"""Config errors name the thing the operator wrote (``devices[probe].port``), in plain words, each once."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import parse_config
from protocols.errors import ConfigError

EXAMPLE = (Path(__file__).resolve().parents[2] / "deploy" / "examples" / "agent.toml").read_text(
    encoding="utf-8"
)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="agent.toml")
    return [line.strip() for line in str(caught.value).splitlines()[1:]]


def test_the_example_is_valid() -> None:
    assert parse_config(EXAMPLE).devices


def test_a_wrong_type_names_the_device_once_without_pydantic_wording() -> None:
    found = problems(EXAMPLE.replace("port = 502", 'port = "five"', 1))
    assert found == ["devices[probe].port: must be a whole number, not 'five'"]


def test_an_unknown_bus_points_at_the_device_s_bus_and_lists_the_buses() -> None:
    found = problems(EXAMPLE.replace('bus = "lan"', 'bus = "gatway"', 1))
    assert found == ["devices[probe].bus: unknown bus 'gatway' (buses: 'rs485-1', 'lan')"]


def test_a_union_tag_is_left_out_and_misspelt_settings_are_named() -> None:
    # msgspec reports the first problem only: each of the three is checked on its own.
    assert problems(EXAMPLE.replace("baudrate = 9600", 'baudrate = "fast"')) == [
        "bus[rs485-1].baudrate: must be a whole number, not 'fast'"
    ]
    assert problems(EXAMPLE.replace("interval_s = 300", "interval_s = -3", 1)) == [
        "devices[probe].interval_s: must be greater than 0.0, not -3"
    ]
    assert problems(EXAMPLE.replace("interval_s = 300", "interval_s = 300\nintervall_s = 5", 1)) == [
        "devices[probe].intervall_s: is not a known setting (misspelt?)"
    ]


def test_a_tcp_device_without_host_and_a_duplicate_name() -> None:
    assert problems(EXAMPLE.replace('host = "192.0.2.10"\n', "", 1)) == [
        "devices[probe].host: is required: the device is on TCP bus 'lan'"
    ]
    assert problems(EXAMPLE.replace('name = "codmn"', 'name = "nh3n"', 1)) == [
        "devices[nh3n].name: device name 'nh3n' is used twice"
    ]


def test_a_log_section_sets_the_rotating_file_and_refuses_a_size_too_small() -> None:
    config = parse_config(EXAMPLE + '\n[log]\nfile = "agent.log"\nmax_bytes = 2000000\nbackups = 2\n')
    assert (config.log.file, config.log.max_bytes, config.log.backups) == ("agent.log", 2_000_000, 2)
    assert parse_config(EXAMPLE).log.file == ""
    assert any(p.startswith("log.max_bytes") for p in problems(EXAMPLE + "\n[log]\nmax_bytes = 10\n"))
