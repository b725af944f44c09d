from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from protocols.sections import SECTIONS
from simulators.analysers.nutrient import Schedule
from simulators.clock import ManualClock
from simulators.fleet import build_fleet, station_entry, write_manifest
from simulators.journal import Journal, read_journal

T0 = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


def test_fleet_is_the_eight_sections_with_seven_units_each() -> None:
    fleet = build_fleet(ManualClock(T0))
    assert list(fleet.stations) == list(SECTIONS)
    for station in fleet.stations.values():
        units = {d.name: d.unit_id for d in station.devices.values()}
        assert units == {"probe": 1, "nh3n": 2, "codmn": 3, "tp": 4, "tn": 5, "cod": 6, "controller": 7}


def test_unknown_or_repeated_station_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown station"):
        build_fleet(ManualClock(T0), ["hexicun", "narnia"])
    with pytest.raises(ValueError, match="twice"):
        build_fleet(ManualClock(T0), ["hexicun", "hexicun"])


def test_manifest_shape_for_the_demo(tmp_path: Path) -> None:
    fleet = build_fleet(ManualClock(T0), ["boshuicun"])
    entry = station_entry(fleet.stations["boshuicun"], "127.0.0.1", 5021)
    path = tmp_path / "sub" / "fleet.json"
    write_manifest(path, {"stations": [entry]})
    loaded = json.loads(path.read_text(encoding="utf-8"))
    station = loaded["stations"][0]
    assert {k: station[k] for k in ("id", "name_zh", "host", "port")} == {
        "id": "boshuicun",
        "name_zh": "泊水村",
        "host": "127.0.0.1",
        "port": 5021,
    }
    assert [(d["name"], d["profile"], d["unit"]) for d in station["devices"]] == [
        ("probe", "multiparam_probe", 1),
        ("nh3n", "nutrient_nh3n", 2),
        ("codmn", "nutrient_codmn", 3),
        ("tp", "nutrient_tp", 4),
        ("tn", "nutrient_tn", 5),
        ("cod", "cod_analyser", 6),
        ("controller", "station_controller", 7),
    ]
    assert all(d["interval_s"] > 0 for d in station["devices"])
    assert not list(tmp_path.glob("sub/*.tmp"))


def test_journal_records_every_new_result_once(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    fleet = build_fleet(clock, ["hexicun"], schedule=Schedule.every(15), journal=journal)
    for _ in range(12):
        fleet.tick()
        fleet.stations["hexicun"].device("tp").read("holding", 0, 6)
        clock.advance(minutes=5)
    journal.close()
    records = read_journal(path)
    assert records == journal.records
    keys = [(r["device"], r["result_time"]) for r in records]
    assert len(keys) == len(set(keys))
    assert {r["device"] for r in records} == {"nh3n", "codmn", "tp", "tn", "cod"}
    tp_times = [r["result_time"] for r in records if r["device"] == "tp"]
    assert tp_times == [
        (T0 + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ") for m in (-15, 0, 15, 30, 45)
    ]
    assert all(set(r) == {"station", "device", "param", "result_time", "value", "flag"} for r in records)


def test_read_journal_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"station": "hexicun", "value": 1.0}\n{"station": "hexi', encoding="utf-8")
    assert read_journal(path) == [{"station": "hexicun", "value": 1.0}]
