"""The ASCII line-protocol analyser simulator: its answers and faults, the agent's ascii bus reading it over a
socat pty, and ``qingliu sim ascii`` as a process."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import serial

from agent.acquisition import Acquisition
from agent.config import parse_config
from agent.sink import MemorySink
from protocols import asciiline
from protocols.errors import ConfigError, FrameError
from protocols.flags import Flag
from protocols.messages import EventKind
from simulators.analysers.base import DeviceState
from simulators.analysers.nutrient import Schedule
from simulators.ascii_device import AsciiAnalyser, parse_devices, parse_faults, start_ascii_server
from simulators.clock import ManualClock, SimClock
from simulators.fleet import Station, build_station
from simulators.modbus.faults import FaultPlan
from tests.support.processes import ProcessGroup, qingliu

needs_socat = pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")
T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


def station(clock: ManualClock | SimClock) -> Station:
    return build_station("hexicun", clock, seed=2, schedule=Schedule.every(0.03))


def analyser(name: str = "probe", address: int = 1, fault: str = "none") -> AsciiAnalyser:
    clock = ManualClock(T0)
    st = station(clock)
    return AsciiAnalyser(address, st.models[name], clock, faults=FaultPlan.parse(fault), on_refresh=st.tick)


# -- answers and faults (no I/O) ---------------------------------------------------------------------------


def test_answer_carries_the_models_values_and_state() -> None:
    probe = analyser()
    line, delay = probe.respond()
    assert line is not None and delay == 0
    answer = asciiline.parse_answer(line, address=1)
    assert answer == probe.answers[-1]
    assert set(answer.values) == {"w01010", "w01001", "w01009", "w01014", "w01003"}
    assert answer.flag == Flag.NORMAL
    probe.model.set_state(DeviceState.CALIBRATION)
    line, _ = probe.respond()
    assert line is not None and asciiline.parse_answer(line).flag == Flag.CALIBRATION


def test_nutrient_analyser_sends_its_last_result() -> None:
    nh3n = analyser("nh3n", 2)
    line, _ = nh3n.respond()
    assert line is not None
    answer = asciiline.parse_answer(line, address=2)
    assert list(answer.values) == ["w21003"]
    value = answer.values["w21003"]
    assert value is not None and 0 < value < 20


@pytest.mark.parametrize(
    ("fault", "reason"), [("crc_error", "checksum"), ("garbage", None), ("no_answer", "silent")]
)
def test_faults_spoil_the_answer(fault: str, reason: str | None) -> None:
    dev = analyser(fault=fault)
    line, _ = dev.respond()
    if reason == "silent":
        assert line is None
        return
    assert line is not None and line.endswith(b"\r")
    with pytest.raises(FrameError) as info:
        asciiline.parse_answer(line, address=1)
    if reason is not None:
        assert info.value.reason == reason


def test_exception_fault_reports_an_analyser_fault_and_late_waits() -> None:
    dev = analyser(fault="exception")
    line, _ = dev.respond()
    assert line is not None
    answer = asciiline.parse_answer(line, address=1)
    assert answer.flag == Flag.FAULT and set(answer.values.values()) == {None}
    dev.faults.set("late:0.7")
    line, delay = dev.respond()
    assert line is not None and delay == 0.7


def test_cli_arguments_are_checked() -> None:
    assert parse_devices("probe:1, nh3n:12") == {"probe": 1, "nh3n": 12}
    for bad in ("probe", "probe:100", "probe:1,nh3n:1", ""):
        with pytest.raises(ConfigError):
            parse_devices(bad)
    assert parse_faults(["tp=crc_error@0.5"]) == {"tp": "crc_error@0.5"}
    for bad in ("tp", "tp=melt"):
        with pytest.raises(ConfigError):
            parse_faults([bad])
    with pytest.raises(ConfigError):
        analyser(address=100)


# -- the agent's ascii bus reads the simulator on a pty -----------------------------------------------------


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    sim_end, master_end = tmp_path / "sim-tty", tmp_path / "master-tty"
    proc = subprocess.Popen(
        ["socat", f"pty,raw,echo=0,link={sim_end}", f"pty,raw,echo=0,link={master_end}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while not (sim_end.exists() and master_end.exists()):
            assert proc.poll() is None and time.monotonic() < deadline, "socat did not start"
            time.sleep(0.01)
        yield str(sim_end), str(master_end)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def ascii_config(port: str) -> str:
    lines = [
        '[station]\nid = "hexicun"',
        "[[bus]]",
        'name = "rs232"',
        'type = "ascii"',
        f'port = "{port}"',
        "timeout_s = 0.2",
    ]
    for name, address in (("probe", 1), ("nh3n", 2)):
        lines += [
            "[[devices]]",
            f'name = "{name}"',
            'profile = "ascii_generic"',
            'bus = "rs232"',
            f"unit = {address}",
            "interval_s = 0.2",
            "failures_before_down = 2",
            "backoff_max_s = 0.4",
        ]
    return "\n".join(lines) + "\n"


@needs_socat
def test_agent_ascii_bus_reads_the_simulator_and_survives_a_bad_checksum(pty_pair: tuple[str, str]) -> None:
    async def main() -> tuple[MemorySink, dict[int, AsciiAnalyser], int]:
        clock = SimClock()
        st = station(clock)
        served = {
            1: AsciiAnalyser(1, st.models["probe"], clock, on_refresh=st.tick),
            2: AsciiAnalyser(2, st.models["nh3n"], clock, on_refresh=st.tick),
        }
        server = await start_ascii_server(served, pty_pair[0])
        sink = MemorySink()
        acq = Acquisition(parse_config(ascii_config(pty_pair[1])), sink)
        stop = asyncio.Event()
        task = asyncio.create_task(acq.run(stop))
        try:
            await asyncio.sleep(1.0)
            served[2].faults.set("crc_error")
            await asyncio.sleep(1.2)
            served[2].faults.set("none")
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)
            await server.close()
        return sink, served, acq.counters()["devices"]["nh3n"]["crc"]

    sink, served, crc_failures = asyncio.run(asyncio.wait_for(main(), 30))
    # Every probe poll is exactly what the simulator sent (values as written on the line, state N).
    probe_polls: dict[datetime, dict[str, float | None]] = {}
    for r in sink.readings:
        if r.device == "probe":
            assert r.flag == Flag.NORMAL
            probe_polls.setdefault(r.t, {})[r.param] = r.value
    sent = [dict(a.values) for a in served[1].answers]
    assert len(probe_polls) >= 10
    assert [probe_polls[t] for t in sorted(probe_polls)] == sent
    # The bad checksums put nh3n down (B), the probe kept going, and nh3n came back.
    kinds = [(e.kind, e.device) for e in sink.events]
    assert kinds.count((EventKind.DEVICE_DOWN, "nh3n")) == 1 and (EventKind.DEVICE_UP, "nh3n") in kinds
    assert crc_failures >= 2
    assert any(r.device == "nh3n" and r.flag == Flag.COMM_FAILED and r.value is None for r in sink.readings)
    nh3n = [r for r in sink.readings if r.device == "nh3n" and r.flag == Flag.NORMAL]
    assert nh3n and all(r.value == served[2].answers[0].values["w21003"] for r in nh3n[:1])
    assert sink.devices["nh3n"].up


@needs_socat
def test_qingliu_sim_ascii_serves_a_pty(pty_pair: tuple[str, str], processes: ProcessGroup) -> None:
    proc = processes.start(
        "sim-ascii",
        qingliu("sim", "ascii", "--pty", pty_pair[0], "--devices", "probe:7,tp:8", "--fault", "tp=crc_error"),
    )
    deadline = time.monotonic() + 20
    while "ASCII analysers" not in proc.log():
        assert proc.alive() and time.monotonic() < deadline, proc.log()
        time.sleep(0.05)
    with serial.serial_for_url(pty_pair[1], baudrate=9600, timeout=2) as port:
        port.write(asciiline.build_request(7))
        answer = asciiline.parse_answer(port.read_until(b"\r"), address=7)
        assert answer.flag == Flag.NORMAL and len(answer.values) == 5
        port.write(asciiline.build_request(8))
        with pytest.raises(FrameError, match="checksum"):
            asciiline.parse_answer(port.read_until(b"\r"), address=8)
        port.write(asciiline.build_request(9))  # nobody there: silence
        assert port.read_until(b"\r") == b""
    assert proc.stop() == 0
    assert "2 answers" in proc.log()


def test_qingliu_sim_ascii_refuses_bad_arguments(processes: ProcessGroup, tmp_path: Path) -> None:
    proc = processes.start(
        "bad", qingliu("sim", "ascii", "--pty", str(tmp_path / "x"), "--devices", "pump:1")
    )
    assert proc.popen.wait(timeout=20) == 2
    assert "unknown analyser" in proc.log()
