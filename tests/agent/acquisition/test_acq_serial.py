"""Acquisition over a real serial line (socat pty pair): Modbus RTU and the ASCII line protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from agent.acquisition import Acquisition
from agent.sink import MemorySink
from protocols.asciiline import LineAnswer
from protocols.flags import Flag
from protocols.messages import EventKind
from tests.agent.acquisition.acq_helpers import make_config, run_until
from tests.agent.acquisition.acq_slaves import AsciiSlave, RtuSlave, Units, profile_registers, socat_pair

PROBE = {"w01010": 12.5, "w01001": 7.5, "w01009": 8.25, "w01014": 412.0, "w01003": 35.5}


@pytest.fixture
def pty_pair() -> Iterator[tuple[str, str]]:
    with socat_pair() as pair:
        yield pair


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every serial port opened by the agent, counted independently of the agent's own counter."""
    calls: list[str] = []
    real = serial.serial_for_url

    def counting(url: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(url)
        return real(url, *args, **kwargs)

    monkeypatch.setattr(serial, "serial_for_url", counting)
    return calls


def rtu_bus(port: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "rs485",
        "type": "rtu",
        "port": port,
        "baudrate": 9600,
        "timeout_s": 0.15,
        "gap_ms": 5,
        **extra,
    }


def rtu_device(name: str, unit: int, interval: float = 0.1, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "profile": "multiparam_probe",
        "bus": "rs485",
        "unit": unit,
        "interval_s": interval,
        **extra,
    }


def test_silent_unit_does_not_stop_the_live_one_and_the_port_stays_open(pty_pair, opens) -> None:
    agent_side, device_side = pty_pair
    units = Units({1: profile_registers("multiparam_probe", PROBE)})  # unit 2 is on the line but silent
    with RtuSlave(device_side, units):
        sink = MemorySink()
        config = make_config(
            [rtu_bus(agent_side)], [rtu_device("live", 1), rtu_device("silent", 2, backoff_max_s=0.3)]
        )
        acq = Acquisition(config, sink)
        elapsed = asyncio.run(run_until(acq, lambda: False, timeout=2.0))
    counters = acq.counters()
    live = counters["devices"]["live"]
    silent = counters["devices"]["silent"]
    # The live unit is read on (nearly) every tick; each silent probe costs it at most one timeout.
    assert live["ok"] >= int(elapsed / 0.1) * 0.6, (live, elapsed)
    assert live["timeout"] == live["crc"] == live["garbage"] == 0
    assert silent["timeout"] >= 3 and silent["ok"] == 0 and silent["down"] == 1
    assert silent["polls"] < int(elapsed / 0.1)  # backed off while down
    assert counters["buses"]["rs485"]["opens"] == 1
    assert opens == [agent_side]  # never closed and reopened
    assert {r.param: r.value for r in sink.readings if r.device == "live" and r.flag == Flag.NORMAL} == PROBE
    assert [e.device for e in sink.events if e.kind == EventKind.DEVICE_DOWN] == ["silent"]


def test_crc_errors_garbage_and_exceptions_are_counted_per_device(pty_pair, opens) -> None:
    agent_side, device_side = pty_pair
    regs = profile_registers("multiparam_probe", PROBE)
    units = Units({1: regs, 3: regs, 4: regs, 5: regs})
    units.strict = True
    units.registers[5] = {a: w for a, w in regs.items() if a < 10}  # status word missing → exception 2
    with RtuSlave(device_side, units) as slave:
        slave.corrupt.add(3)
        slave.garbage.add(4)
        sink = MemorySink()
        config = make_config(
            [rtu_bus(agent_side)],
            [
                rtu_device("ok", 1, interval=0.2),
                rtu_device("badcrc", 3, interval=0.2),
                rtu_device("noise", 4, interval=0.2),
                rtu_device("refuses", 5, interval=0.2),
            ],
        )
        acq = Acquisition(config, sink)
        asyncio.run(run_until(acq, lambda: acq.counters()["devices"]["ok"]["ok"] >= 6, timeout=6.0))
    devices = acq.counters()["devices"]
    assert devices["badcrc"]["crc"] >= 3 and devices["badcrc"]["ok"] == 0
    assert devices["noise"]["garbage"] >= 3 and devices["noise"]["ok"] == 0
    assert devices["refuses"]["exception"] >= 3 and devices["refuses"]["ok"] == 0
    assert devices["ok"]["ok"] >= 6 and devices["ok"]["crc"] == devices["ok"]["garbage"] == 0
    assert acq.counters()["buses"]["rs485"]["opens"] == 1 and len(opens) == 1


def test_missing_port_is_a_counted_connection_failure_and_retried(tmp_path) -> None:
    sink = MemorySink()
    config = make_config(
        [rtu_bus(str(tmp_path / "no-such-tty"))], [rtu_device("probe", 1, interval=0.05, backoff_max_s=0.05)]
    )
    acq = Acquisition(config, sink)
    asyncio.run(run_until(acq, lambda: acq.counters()["devices"]["probe"]["connection"] >= 4))
    bus = acq.counters()["buses"]["rs485"]
    assert bus["opens"] == 0 and bus["open_failures"] >= 4
    assert not sink.devices["probe"].up


def test_ascii_line_protocol_over_a_pty(pty_pair) -> None:
    agent_side, device_side = pty_pair
    with AsciiSlave(device_side) as slave:
        slave.answers[1] = LineAnswer(1, {"w01010": 12.3, "w01001": 7.85, "w01009": None, "w21011": 12.5}, 0)
        slave.answers[2] = LineAnswer(2, {"w21003": 0.3}, 1)
        slave.raw[3] = b"*03,w01010=1,ST=0,CS=00\r"  # bad checksum
        bus = {"name": "com1", "type": "ascii", "port": agent_side, "timeout_s": 0.15}
        devices = [
            {"name": f"old{i}", "profile": "ascii_generic", "bus": "com1", "unit": i, "interval_s": 0.1}
            for i in (1, 2, 3, 4)
        ]  # 4 is silent
        sink = MemorySink()
        acq = Acquisition(make_config([bus], devices), sink)
        asyncio.run(run_until(acq, lambda: acq.counters()["devices"]["old2"]["ok"] >= 3, timeout=6.0))
    by_device: dict[str, dict[str, Any]] = {}
    for r in sink.readings:
        by_device.setdefault(r.device or "", {})[r.param] = (r.value, r.flag)
    assert by_device["old1"] == {
        "w01010": (12.3, Flag.NORMAL),
        "w01001": (7.85, Flag.NORMAL),
        "w21011": (12.5, Flag.OVER_RANGE),
    }  # w01009 "-": no result, skipped
    assert by_device["old2"] == {"w21003": (0.3, Flag.CALIBRATION)}
    devices_counters = acq.counters()["devices"]
    assert devices_counters["old1"]["missing"] >= 1
    assert devices_counters["old3"]["crc"] >= 1 and devices_counters["old3"]["ok"] == 0
    assert devices_counters["old4"]["timeout"] >= 1 and devices_counters["old4"]["ok"] == 0
