from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from pymodbus.client import ModbusSerialClient, ModbusTcpClient

from protocols.profiles import builtin_names, load_profile
from protocols.registers import decode
from simulators.cli import main
from simulators.journal import read_journal
from simulators.register_image import profile_span
from tests.support.processes import ProcessGroup, qingliu


def wait_for(path: Path, proc: Any, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.alive(), proc.log()
        assert time.monotonic() < deadline, f"no manifest after {timeout} s:\n{proc.log()}"
        time.sleep(0.05)
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def read_value(client: ModbusTcpClient | ModbusSerialClient, profile_name: str, unit: int) -> dict[str, Any]:
    """Read a device the way an agent would, decoding with its profile."""
    profile = load_profile(profile_name)
    read = client.read_holding_registers if profile.table == "holding" else client.read_input_registers
    reply = read(0, count=profile_span(profile).stop, device_id=unit)
    assert not reply.isError(), reply
    regs = reply.registers
    out: dict[str, Any] = {}
    for field in profile.fields:
        raw = decode(regs[field.address : field.address + field.width], field.type, field.order)
        out[field.param or field.signal or ""] = None if raw == field.missing else raw * field.scale
    if profile.result_time is not None:
        rt = profile.result_time
        out["result_time"] = decode(regs[rt.address : rt.address + rt.width], rt.type, rt.order)
    return out


def test_lists_profiles_and_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in builtin_names())
    assert main(["scenarios"]) == 0
    listed = capsys.readouterr().out
    assert "pollution_plume" in listed and "winter_icing" in listed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["station", "--station", "atlantis"], "unknown station 'atlantis'"),
        (["station", "--station", "hexicun", "--scenario", "tsunami"], "unknown scenario 'tsunami'"),
        (["fleet", "--stations", "hexicun,atlantis"], "unknown station(s) atlantis"),
        (["station", "--station", "hexicun", "--start", "yesterday"], "not an ISO 8601 time"),
        (["station", "--station", "hexicun", "--nutrient-cycle-min", "0"], "must be > 0"),
    ],
)
def test_bad_arguments_fail_before_serving(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_station_over_tcp_serves_decodable_values_and_journals_results(
    processes: ProcessGroup, tmp_path: Path
) -> None:
    manifest_path, journal_path = tmp_path / "m.json", tmp_path / "j.jsonl"
    proc = processes.start(
        "sim",
        qingliu(
            "sim",
            "station",
            "--station",
            "huayuanzi",
            "--port",
            "0",
            "--manifest",
            str(manifest_path),
            "--journal",
            str(journal_path),
            "--nutrient-cycle-min",
            "0.05",
        ),
    )
    manifest = wait_for(manifest_path, proc)
    station = manifest["stations"][0]
    assert station["id"] == "huayuanzi" and station["name_zh"] == "花园子" and station["port"] > 0
    client = ModbusTcpClient("127.0.0.1", port=station["port"], timeout=2)
    assert client.connect()
    try:
        probe = read_value(client, "multiparam_probe", 1)
        assert -1.0 < probe["w01010"] < 30.0 and 7.0 < probe["w01001"] < 9.0 and 300 < probe["w01014"] < 2000
        controller = read_value(client, "station_controller", 7)
        assert controller["pump_running"] == 1 and controller["mains_power"] == 1
        seen: dict[int, float] = {}
        deadline = time.monotonic() + 12
        while len(seen) < 3 and time.monotonic() < deadline:
            nh3n = read_value(client, "nutrient_nh3n", 2)
            seen[nh3n["result_time"]] = nh3n["w21003"]
            time.sleep(0.3)
        cod = read_value(client, "cod_analyser", 6)
    finally:
        client.close()
    assert len(seen) >= 3, seen
    assert proc.stop() == 0
    assert "sim: stopping" in proc.log_path.read_text(encoding="utf-8")
    journal = {(r["result_time"], r["device"]): r for r in read_journal(journal_path)}
    for result_time, value in seen.items():
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(result_time))
        record = journal[(stamp, "nh3n")]
        assert record["station"] == "huayuanzi" and record["flag"] == "N"
        assert value == pytest.approx(record["value"], rel=1e-6)
    assert cod["w01018"] > 0


def test_fleet_with_a_scenario_and_clean_shutdown(processes: ProcessGroup, tmp_path: Path) -> None:
    manifest_path = tmp_path / "fleet.json"
    proc = processes.start(
        "fleet",
        qingliu(
            "sim",
            "fleet",
            "--base-port",
            "0",
            "--stations",
            "hexicun,huayuanzi",
            "--manifest",
            str(manifest_path),
            "--scenario",
            "analyser_fault",
            "--speed",
            "3600",
        ),
    )
    manifest = wait_for(manifest_path, proc)
    assert [s["id"] for s in manifest["stations"]] == ["hexicun", "huayuanzi"]
    assert manifest["scenario"]["name"] == "analyser_fault" and manifest["clock"]["speed"] == 3600
    assert len({s["port"] for s in manifest["stations"]}) == 2
    port = manifest["stations"][1]["port"]
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
    assert client.connect()
    codes = []
    try:
        deadline = time.monotonic() + 8  # codmn answers exception 4 from sim minute 60 to 180 (1-3 s real)
        while time.monotonic() < deadline:
            reply = client.read_holding_registers(0, count=6, device_id=3)
            codes.append(reply.exception_code if reply.isError() else 0)
            if 4 in codes and codes[-1] == 0:
                break
            time.sleep(0.1)
    finally:
        client.close()
    assert 4 in codes and codes[-1] == 0, codes
    assert proc.stop() == 0
    assert "codmn Modbus fault exception:4" in proc.log_path.read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")
def test_station_over_rtu_on_a_pty(processes: ProcessGroup, tmp_path: Path) -> None:
    sim_end, master_end = tmp_path / "sim-tty", tmp_path / "master-tty"
    processes.start("socat", ["socat", f"pty,raw,echo=0,link={sim_end}", f"pty,raw,echo=0,link={master_end}"])
    deadline = time.monotonic() + 5
    while not (sim_end.exists() and master_end.exists()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    manifest_path = tmp_path / "m.json"
    proc = processes.start(
        "sim",
        qingliu(
            "sim",
            "station",
            "--station",
            "leijiaping",
            "--rtu",
            str(sim_end),
            "--baud",
            "19200",
            "--manifest",
            str(manifest_path),
        ),
    )
    manifest = wait_for(manifest_path, proc)
    assert manifest["stations"][0]["transport"] == "rtu"
    assert manifest["stations"][0]["serial"]["port"] == str(sim_end)
    client = ModbusSerialClient(str(master_end), baudrate=19200, timeout=1)
    assert client.connect()
    try:
        probe = read_value(client, "multiparam_probe", 1)
        tn = read_value(client, "nutrient_tn", 5)
    finally:
        client.close()
    assert 300 < probe["w01014"] < 2000
    assert tn["w21001"] is not None and tn["result_time"] > 1.7e9
    assert proc.stop() == 0
