"""Small pure pieces of acquisition: controller conditions and the state store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.acquisition import Acquisition, JsonFileStateStore
from agent.acquisition.controller import ControllerWatch
from agent.sink import MemorySink
from protocols.errors import ConfigError
from tests.agent.acquisition.acq_helpers import make_config


def test_controller_watch_reports_edges_only() -> None:
    watch = ControllerWatch()
    assert watch.update({"water_present": 1, "door_open": 0}) == []  # first sight of normal: no news
    changes = watch.update({"water_present": 0, "door_open": 0})
    assert [(c.condition.key, c.active) for c in changes] == [("no_water", True)]
    assert watch.update({"water_present": 0}) == []
    assert [(c.condition.key, c.active) for c in watch.update({"water_present": 1})] == [("no_water", False)]
    # A condition already active at start is reported.
    fresh = ControllerWatch()
    assert [c.condition.key for c in fresh.update({"mains_power": 0})] == ["mains_lost"]


def test_json_state_store_persists_and_survives_a_torn_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "acq-state.json"
    store = JsonFileStateStore(path)
    assert store.get("k") is None
    store.set("k", "2026-11-28T04:00:00+00:00")
    assert json.loads(path.read_text()) == {"k": "2026-11-28T04:00:00+00:00"}
    assert JsonFileStateStore(path).get("k") == "2026-11-28T04:00:00+00:00"
    path.write_text("{not json")
    assert JsonFileStateStore(path).get("k") is None


def test_config_errors_name_the_device() -> None:
    bad_profile = make_config(
        [{"name": "lan", "type": "tcp"}],
        [{"name": "x", "profile": "no_such_profile", "bus": "lan", "host": "h"}],
    )
    with pytest.raises(ConfigError, match="no_such_profile"):
        Acquisition(bad_profile, MemorySink())
    bad_address = make_config(
        [{"name": "com", "type": "ascii", "port": "/dev/null"}],
        [{"name": "old", "profile": "ascii_generic", "bus": "com", "unit": 100}],
    )
    with pytest.raises(ConfigError, match="old"):
        Acquisition(bad_address, MemorySink())


def test_set_interval_validates() -> None:
    config = make_config(
        [{"name": "lan", "type": "tcp"}],
        [
            {"name": "probe", "profile": "multiparam_probe", "bus": "lan", "host": "h"},
            {"name": "off", "profile": "multiparam_probe", "bus": "lan", "host": "h", "enabled": False},
        ],
    )
    acq = Acquisition(config, MemorySink())
    assert acq.intervals() == {"probe": 60.0}  # the profile's default; disabled devices are not polled
    with pytest.raises(KeyError):
        acq.set_interval("nope", 10)
    with pytest.raises(ValueError):
        acq.set_interval("probe", 0)
