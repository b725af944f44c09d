"""Interop: the agent reads the simulated station over Modbus TCP and Modbus RTU, and so does mbpoll.

The agent side is the real ``agent.acquisition.Acquisition`` (in-process, with a recording sink) or the real
``qingliu agent run`` process; the station side is the simulator's own servers (in-process, so the test can
see the exact registers each answer carried and change fault plans) or the real ``qingliu sim`` process. RTU
runs on a socat pty pair.
"""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agent.acquisition import Acquisition
from agent.acquisition.decoding import decode_sample
from agent.config import AgentConfig, parse_config
from agent.sink import MemorySink
from protocols.flags import Flag
from protocols.messages import EventKind, Reading
from protocols.planning import RegisterImage
from simulators.analysers.nutrient import Schedule
from simulators.clock import Clock, SimClock
from simulators.fleet import Station, build_fleet
from simulators.journal import Journal, read_journal
from simulators.modbus import start_rtu_server, start_tcp_server
from simulators.scenarios import ScenarioRunner, load_scenario
from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup, qingliu
from tests.support.ptypair import pty_pair
from tests.support.stack import STATION_DEVICES, iso, outbox_readings, wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed"),
]

STATION = "hexicun"
PROBE_PARAMS = ("w01010", "w01001", "w01009", "w01014", "w01003")
NUTRIENTS = {"nh3n": "w21003", "codmn": "w01019", "tp": "w21011", "tn": "w21001", "cod": "w01018"}
FAST = Schedule.every(0.03)  # a nutrient/COD result every 1.8 s (cycle 0.9 s)


# -- fixtures and helpers ---------------------------------------------------------------------------------


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body on a fresh event loop (no async plugin here), bounded in time."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 40))

    return wrapper


@pytest.fixture
def line(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An RS-485 line as a socat pty pair: (simulator end, master end)."""
    with pty_pair(tmp_path / "sim-tty", tmp_path / "master-tty") as ends:
        yield ends


def agent_config(
    transport: str,
    where: str | int,
    *,
    interval_s: float = 0.3,
    timeout_s: float = 1.0,
    failures_before_down: int = 2,
    extra: str = "",
) -> AgentConfig:
    if transport == "rtu":
        bus = ['name = "rs485"', 'type = "rtu"', f'port = "{where}"', "baudrate = 9600"]
    else:
        bus = ['name = "rs485"', 'type = "tcp"']
    lines = [f'[station]\nid = "{STATION}"', extra, "[[bus]]", *bus, f"timeout_s = {timeout_s}"]
    for name, profile, unit in STATION_DEVICES:
        lines += [
            "[[devices]]",
            f'name = "{name}"',
            f'profile = "{profile}"',
            'bus = "rs485"',
            f"unit = {unit}",
            f"interval_s = {interval_s}",
            f"failures_before_down = {failures_before_down}",
            "backoff_max_s = 0.6",
        ]
        if transport == "tcp":
            lines += ['host = "127.0.0.1"', f"port = {where}"]
    return parse_config("\n".join(lines) + "\n")


@asynccontextmanager
async def served_station(
    transport: str, sim_end: str | None, *, clock: Clock, journal: Journal | None = None
) -> AsyncIterator[tuple[Station, str | int]]:
    """The simulated station in this process; yields it and the port (TCP) to give the agent."""
    fleet = build_fleet(clock, [STATION], seed=5, schedule=FAST, journal=journal)
    station = fleet.stations[STATION]
    server: Any
    if transport == "tcp":
        server = await start_tcp_server(station.by_unit(), "127.0.0.1", 0)
        where: str | int = server.port
    else:
        assert sim_end is not None
        server = await start_rtu_server(station.by_unit(), sim_end, baudrate=9600)
        where = ""
    try:
        yield station, where
    finally:
        await server.close()


async def acquire(config: AgentConfig, seconds: float, sink: MemorySink | None = None) -> MemorySink:
    sink = sink if sink is not None else MemorySink()
    acq = Acquisition(config, sink)
    stop = asyncio.Event()
    task = asyncio.create_task(acq.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 5)
    return sink


def record_answers(station: Station, device: str) -> list[list[int]]:
    """Every register block the simulated device answered with, in order."""
    dev = station.devices[device]
    answers: list[list[int]] = []
    original = dev.read

    def recording(table: Any, address: int, count: int) -> list[int]:
        words = original(table, address, count)
        answers.append(list(words))
        return words

    dev.read = recording  # type: ignore[method-assign]
    return answers


def by_time(readings: list[Reading], device: str) -> list[dict[str, Reading]]:
    """The device's readings grouped per poll (one sample time each), in order."""
    groups: dict[datetime, dict[str, Reading]] = {}
    for r in readings:
        if r.device == device:
            groups.setdefault(r.t, {})[r.param] = r
    return [groups[t] for t in sorted(groups)]


def check_nutrients(readings: list[Reading], journal: list[dict[str, Any]]) -> None:
    """Each nutrient/COD reading is one journalled result: sample time = result time, same value and flag."""
    for device, param in NUTRIENTS.items():
        results = {iso(r["result_time"]): r for r in journal if r["device"] == device}
        got = [r for r in readings if r.param == param]
        assert len(got) >= 2, (device, got)
        assert len({r.t for r in got}) == len(got), f"{device}: a result was taken twice"
        for reading in got:
            result = results[iso(reading.t)]
            assert reading.value is not None
            tolerance = 0.0051 if param == "w01018" else 1e-6 * abs(result["value"])  # COD: int ×0.01
            assert reading.value == pytest.approx(result["value"], abs=tolerance), (device, reading, result)
            assert reading.flag == Flag(result["flag"])


# -- the agent reads the station over both transports ------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
@run_async
async def test_agent_reads_every_parameter_of_the_station(transport: str, line: tuple[str, str]) -> None:
    journal = Journal()
    async with served_station(transport, line[0], clock=SimClock(), journal=journal) as (station, where):
        probe_answers = record_answers(station, "probe")
        config = agent_config(transport, where if transport == "tcp" else line[1])
        sink = await acquire(config, 4.5)

    assert not [e for e in sink.events if e.kind == EventKind.DEVICE_DOWN]
    # Probe: every poll's readings are exactly the values in the registers the simulator sent.
    polls = by_time(sink.readings, "probe")
    assert len(polls) >= 8 and len(polls) == len(probe_answers)
    profile = station.devices["probe"].profile
    for poll, words in zip(polls, probe_answers, strict=True):
        expected = decode_sample(profile, RegisterImage.of(dict(enumerate(words))))
        assert set(poll) == set(PROBE_PARAMS)
        for pv in expected.values:
            assert poll[pv.param].value == pv.value
            assert poll[pv.param].flag == Flag.NORMAL
    # Nutrient and COD analysers: the simulator's own journal of results.
    check_nutrients(sink.readings, journal.records)
    # Controller: signals, not readings.
    assert sink.controller["water_present"] == 1 and sink.controller["mains_power"] == 1
    assert all(status.up and status.flag == Flag.NORMAL for status in sink.devices.values())
    assert set(sink.devices) == {name for name, _, _ in STATION_DEVICES}


# -- a faulty device on the RTU line --------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["no_answer", "crc_error", "garbage"])
@run_async
async def test_faulty_device_does_not_stall_the_line_and_recovers(fault: str, line: tuple[str, str]) -> None:
    async with served_station("rtu", line[0], clock=SimClock()) as (station, _):
        config = agent_config("rtu", line[1], timeout_s=0.25)
        sink = MemorySink()
        acq = Acquisition(config, sink)
        stop = asyncio.Event()
        task = asyncio.create_task(acq.run(stop))
        await asyncio.sleep(0.6)
        station.devices["cod"].set_fault(fault)
        faulted_at = len(sink.readings)
        await asyncio.sleep(2.0)
        during = sink.readings[faulted_at:]
        counts = acq.counters()
        station.devices["cod"].set_fault("none")
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.wait_for(task, 5)

    kinds = [(e.kind, e.device) for e in sink.events]
    assert (EventKind.DEVICE_DOWN, "cod") in kinds
    assert (EventKind.DEVICE_UP, "cod") in kinds
    assert kinds.index((EventKind.DEVICE_DOWN, "cod")) < kinds.index((EventKind.DEVICE_UP, "cod"))
    assert not [d for k, d in kinds if k == EventKind.DEVICE_DOWN and d != "cod"]
    # While cod was down it was reported with B (no value), and the probe kept its pace on the same line.
    b = [r for r in during if r.device == "cod"]
    assert b and all(r.flag == Flag.COMM_FAILED and r.value is None for r in b)
    probe_polls = len({r.t for r in during if r.device == "probe"})
    assert probe_polls >= 4, probe_polls  # ~6 in 2 s at 0.3 s, less a timeout per cycle; stalled: none
    expected_kind = {"no_answer": "timeout", "crc_error": "crc", "garbage": "garbage"}[fault]
    cod = counts["devices"]["cod"]
    assert cod[expected_kind] >= 2 and cod["down"] == 1
    assert counts["buses"]["rs485"]["opens"] == 1  # the port stayed open through the silence
    assert sink.devices["cod"].up and sink.devices["cod"].flag == Flag.NORMAL
    assert all(counts["devices"][d]["down"] == 0 for d in ("probe", "nh3n", "controller"))


# -- real processes: qingliu sim station --rtu and qingliu agent run ------------------------------------


def test_agent_process_reads_sim_process_over_rtu(
    tmp_path: Path, line: tuple[str, str], mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    journal_path = tmp_path / "journal.jsonl"
    manifest = tmp_path / "manifest.json"
    sim = processes.start(
        "sim",
        qingliu(
            "sim", "station", "--station", STATION, "--rtu", line[0], "--baud", "9600", "--seed", "3",
            "--nutrient-cycle-min", "0.03", "--journal", str(journal_path), "--manifest", str(manifest),
        ),
    )  # fmt: skip
    wait_until(manifest.exists, 20, what="the simulator's manifest")
    outbox = tmp_path / "outbox.db"
    extra = f'[mqtt]\nurl = "{mosquitto.url}"\n[outbox]\npath = "{outbox}"\n'
    config = agent_config("rtu", line[1], interval_s=0.5, extra=extra)
    cfg_path = tmp_path / "agent.toml"
    cfg_path.write_text(_toml(config, extra))
    agent = processes.start("agent", qingliu("agent", "run", "--config", str(cfg_path)))

    def readings() -> list[tuple[str, str, float | None, str]]:
        return outbox_readings(outbox)

    every = set(PROBE_PARAMS) | set(NUTRIENTS.values())

    def complete() -> bool:
        got = readings()
        per_param = {p: sum(1 for r in got if r[0] == p) for p in every}
        return all(n >= 2 for n in per_param.values())

    wait_until(complete, 30, what=f"two readings of each parameter (agent log: {agent.log()[-800:]})")
    assert agent.alive() and sim.alive()
    got = readings()
    journal = read_journal(journal_path)
    for device, param in NUTRIENTS.items():
        results = {iso(r["result_time"]): r for r in journal if r["device"] == device}
        mine = [r for r in got if r[0] == param]
        for _, t, value, flag in mine:
            assert value == pytest.approx(results[t]["value"], abs=0.0051 if param == "w01018" else 1e-5)
            assert flag == results[t]["flag"] == "N"
    probe = [r for r in got if r[0] in PROBE_PARAMS]
    assert all(flag == "N" and value is not None for _, _, value, flag in probe)
    assert agent.stop() == 0
    with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=10) as db:
        kinds = [str(k) for (k,) in db.execute("SELECT kind FROM events").fetchall()]
    assert "device_down" not in kinds, kinds


def _toml(config: AgentConfig, extra: str) -> str:
    """Back to TOML: the same config the in-process tests use, for the agent process."""
    bus = config.bus[0]
    lines = [f'[station]\nid = "{config.station.id}"', extra, "[[bus]]"]
    lines += [f"{k} = {_value(v)}" for k, v in msgspec.to_builtins(bus).items()]
    for dev in config.devices:
        lines.append("[[devices]]")
        lines += [f"{k} = {_value(v)}" for k, v in msgspec.to_builtins(dev).items() if v is not None]
    return "\n".join(lines) + "\n"


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


# -- mbpoll reads the station's profiles over TCP and RTU -----------------------------------------------

_WORD = re.compile(r"^\[(\d+)\]:\s+(0x[0-9A-Fa-f]+|-?\d+)", re.MULTILINE)


def mbpoll_words(arguments: list[str]) -> dict[int, int]:
    proc = subprocess.run(["mbpoll", *arguments], capture_output=True, text=True, timeout=15)
    return {int(ref): int(value, 0) & 0xFFFF for ref, value in _WORD.findall(proc.stdout)}


@pytest.mark.skipif(shutil.which("mbpoll") is None, reason="mbpoll not installed")
@pytest.mark.parametrize("transport", ["tcp", "rtu"])
@run_async
async def test_mbpoll_reads_every_profile_of_the_station(transport: str, line: tuple[str, str]) -> None:
    async with served_station(transport, line[0], clock=SimClock()) as (station, where):
        for device in station.devices.values():
            span = range(0, max(device.ranges[device.profile.table][0]) + 1)
            kind = "4:hex" if device.profile.table == "holding" else "3:hex"
            common = ["-a", str(device.unit_id), "-0", "-r", "0", "-c", str(len(span)), "-t", kind, "-1"]
            if transport == "tcp":
                args = ["-m", "tcp", *common, "-p", str(where), "127.0.0.1"]
            else:
                args = ["-m", "rtu", "-b", "9600", "-P", "none", *common, line[1]]
            words = await asyncio.to_thread(mbpoll_words, args)
            # What mbpoll printed is what the device's registers held for that answer, word for word.
            served = device.get_registers(device.profile.table, 0, len(span))
            assert words == dict(enumerate(served)), (device.name, words)
            sample = decode_sample(device.profile, RegisterImage.of(dict(enumerate(served))))
            assert sample.device_flag == Flag.NORMAL and not sample.errors


# -- scenario: the flags the standard expects ------------------------------------------------------------

SCENARIO = """
name = "interop_flags"
description = "compressed: over range, calibration, fault, no sample water"
stations = ["hexicun"]
speed = 1.0

[[steps]]
at_min = 0
action = "override"
device = "probe"
param = "w01003"
value = 1500.0
duration_min = 0.04

[[steps]]
at_min = 0
action = "override"
device = "tp"
param = "w21011"
value = 7.5

[[steps]]
at_min = 0
action = "state"
device = "nh3n"
state = "calibration"

[[steps]]
at_min = 0
action = "state"
device = "codmn"
state = "fault"

[[steps]]
at_min = 0.05
action = "state"
device = "probe"
state = "fault"
duration_min = 0.03

[[steps]]
at_min = 0.1
action = "sample_water"
present = false
"""


@run_async
async def test_scenario_flags_reach_the_readings(tmp_path: Path) -> None:
    path = tmp_path / "interop_flags.toml"
    path.write_text(SCENARIO)
    scenario = load_scenario(str(path))
    clock = SimClock()
    async with served_station("tcp", None, clock=clock) as (station, port):
        runner = ScenarioRunner(scenario, {STATION: station}, clock.now())

        def before(now: datetime) -> None:
            runner.tick(now)
            station.tick(now)

        for device in station.devices.values():
            device.on_refresh = before
        sink = await acquire(agent_config("tcp", port), 8.5)
    begin = runner.begin
    phase = [begin.timestamp() + s for s in (2.4, 3.0, 4.8, 6.0)]  # ends of override, fault; water off

    probe = [r for r in sink.readings if r.device == "probe"]
    turbidity = [r for r in probe if r.param == "w01003"]
    over = [r for r in turbidity if r.t.timestamp() < phase[0] - 0.3]
    assert over and all(r.value == pytest.approx(1500.0) and r.flag == Flag.OVER_RANGE for r in over)
    # Probe in fault: the missing turbidity is reported as no value with D, never as the -9999 sentinel.
    faulted = [r for r in probe if phase[1] + 0.3 < r.t.timestamp() < phase[2] - 0.3]
    assert faulted and all(r.flag == Flag.FAULT for r in faulted)
    assert {r.value for r in faulted if r.param == "w01003"} == {None}
    # No sample water: the probe's status says stopped (F); the analysers' status 6 (F) reaches their state.
    dry = [r for r in probe if r.t.timestamp() > phase[3] + 0.5]
    assert dry and all(r.flag == Flag.STOPPED for r in dry)
    assert all(sink.devices[d].flag == Flag.STOPPED for d in ("tp", "tn", "cod")), sink.devices
    assert all(station.devices[d].get_registers("holding", 6, 1) == [6] for d in ("tn",))  # status 6
    states = [e for e in sink.events if e.kind == EventKind.DEVICE_STATE and e.device == "tn"]
    assert states and states[-1].detail["flag"] == "F"
    assert all(r.value != -9999.0 for r in sink.readings)
    # TP over its range: T, the value as measured (not clamped to 5).
    tp = [r for r in sink.readings if r.param == "w21011"]
    assert tp and any(r.flag == Flag.OVER_RANGE and r.value == pytest.approx(7.5) for r in tp)
    # NH3-N in calibration: the check standard's results carry C.
    nh3n = [r for r in sink.readings if r.param == "w21003" and r.t >= begin]
    assert nh3n and all(r.flag == Flag.CALIBRATION for r in nh3n)
    # CODMn in fault: its state turned D (an event and the device status), and no new result was taken.
    states = [e for e in sink.events if e.kind == EventKind.DEVICE_STATE and e.device == "codmn"]
    assert states and states[0].detail["flag"] == "D"
    assert not [r for r in sink.readings if r.param == "w01019" and r.t > begin]


# -- the RS-485 benchmark's yardstick ------------------------------------------------------------------------


def test_benchmark_wire_minimum_formula() -> None:
    from benchmarks.bench_rs485_poll import minimum_requests, station_plan, wire_minimum_s
    from protocols.modbus import rtu_transaction_time_s

    t_char = 10 / 9600
    # One read of 10 registers: request 8 + response 25 characters, and the slave's 3.5-character turnaround.
    assert wire_minimum_s([10]) == pytest.approx(36.5 * t_char)
    assert wire_minimum_s([10]) == pytest.approx(rtu_transaction_time_s(8, 25, 9600))
    # Two reads: both transactions, plus the master's 3.5-character silence between them.
    assert wire_minimum_s([10, 2]) == pytest.approx((33 + 3.5 + 17 + 3.5 + 3.5) * t_char)
    # The station needs one request per device after coalescing, and no plan could use fewer.
    assert minimum_requests() == 7 == sum(len(r) for r in station_plan().values())
