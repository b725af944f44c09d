"""Acquisition over real Modbus TCP (a small server in acq_slaves, and pymodbus's own server for interop)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from agent.acquisition import Acquisition, MemoryStateStore
from agent.sink import MemorySink, StorageFailed
from protocols.flags import Flag
from protocols.messages import EventKind, Reading
from tests.agent.acquisition.acq_helpers import SteppingClock, make_config, run_until
from tests.agent.acquisition.acq_slaves import TcpSlave, Units, free_port, profile_registers

PROBE = {"w01010": 12.5, "w01001": 7.5, "w01009": 8.25, "w01014": 412.0, "w01003": 35.5}
TCP = {"name": "lan", "type": "tcp", "timeout_s": 0.3}


def probe_device(
    name: str, port: int, unit: int = 1, interval: float = 0.1, **extra: object
) -> dict[str, object]:
    return {
        "name": name,
        "profile": "multiparam_probe",
        "bus": "lan",
        "host": "127.0.0.1",
        "port": port,
        "unit": unit,
        "interval_s": interval,
        **extra,
    }


def test_reads_decodes_and_stamps_with_the_injected_clock() -> None:
    async def main() -> None:
        units = Units({1: profile_registers("multiparam_probe", PROBE)})
        async with TcpSlave(units) as slave:
            clock = SteppingClock()
            sink = MemorySink()
            acq = Acquisition(make_config([TCP], [probe_device("probe", slave.port)]), sink, clock=clock)
            await run_until(acq, lambda: len(sink.readings) >= 5)
        first = sink.readings[:5]
        assert {r.param: r.value for r in first} == PROBE
        assert {r.flag for r in first} == {Flag.NORMAL}
        assert {r.device for r in first} == {"probe"}
        assert first[0].t > datetime(2026, 11, 28, 8, 0, tzinfo=UTC) and first[0].t.tzinfo is not None
        assert sink.devices["probe"].up and sink.devices["probe"].flag == Flag.NORMAL
        counts = acq.counters()["devices"]["probe"]
        assert counts["ok"] >= 1 and counts["timeout"] == 0
        assert units.requests[1] == counts["polls"]  # one request per poll: the 0..20 block is coalesced

    asyncio.run(main())


def test_dead_and_silent_devices_do_not_delay_the_live_one() -> None:
    async def main() -> None:
        live_units = Units({1: profile_registers("multiparam_probe", PROBE)})
        silent_units = Units({1: profile_registers("multiparam_probe", PROBE)}, silent={1})
        async with TcpSlave(live_units) as live, TcpSlave(silent_units) as silent:
            nothing = free_port()  # nothing listens here
            devices = [
                probe_device("live", live.port, interval=0.1),
                probe_device("refused", nothing, interval=0.1, backoff_max_s=0.4),
                probe_device("silent", silent.port, interval=0.1, backoff_max_s=0.4),
            ]
            sink = MemorySink()
            acq = Acquisition(make_config([TCP], devices), sink)
            elapsed = await run_until(acq, lambda: False, timeout=1.6)
        live_polls = acq.counters()["devices"]["live"]["ok"]
        # On schedule: one poll per 0.1 s tick (first at t=0), allowing for a loaded machine.
        assert live_polls >= int(elapsed / 0.1) * 0.8, (live_polls, elapsed)
        counters = acq.counters()["devices"]
        assert counters["refused"]["connection"] >= 3 and counters["refused"]["down"] == 1
        assert counters["silent"]["timeout"] >= 3 and counters["silent"]["down"] == 1
        down = [e for e in sink.events if e.kind == EventKind.DEVICE_DOWN]
        assert {e.device for e in down} == {"refused", "silent"}
        assert not sink.devices["silent"].up and sink.devices["silent"].flag == Flag.COMM_FAILED
        # While down: B readings (value None) every interval, but far fewer probes than ticks (back-off).
        b = [r for r in sink.readings if r.device == "refused"]
        assert b and all(r.flag == Flag.COMM_FAILED and r.value is None for r in b)
        ticks_down = len(b) // 5
        probes = counters["refused"]["polls"] - 3
        assert ticks_down >= 5 and probes < ticks_down
        assert {r.param for r in b} == set(PROBE)

    asyncio.run(main())


def test_device_comes_back_up_with_an_event() -> None:
    async def main() -> None:
        units = Units({1: profile_registers("multiparam_probe", PROBE)}, silent={1})
        async with TcpSlave(units) as slave:
            sink = MemorySink()
            acq = Acquisition(
                make_config(
                    [TCP], [probe_device("probe", slave.port, failures_before_down=2, backoff_max_s=0.2)]
                ),
                sink,
            )
            stop = asyncio.Event()
            task = asyncio.create_task(acq.run(stop))
            for _ in range(300):
                await asyncio.sleep(0.01)
                if any(e.kind == EventKind.DEVICE_DOWN for e in sink.events):
                    break
            units.silent.clear()
            for _ in range(300):
                await asyncio.sleep(0.01)
                if any(e.kind == EventKind.DEVICE_UP for e in sink.events):
                    break
            stop.set()
            await asyncio.wait_for(task, 5)
        kinds = [e.kind for e in sink.events if e.kind in (EventKind.DEVICE_DOWN, EventKind.DEVICE_UP)]
        assert kinds == [EventKind.DEVICE_DOWN, EventKind.DEVICE_UP]
        assert sink.devices["probe"].up
        assert any(r.flag == Flag.NORMAL and r.value is not None for r in sink.readings)
        assert acq.counters()["devices"]["probe"]["consecutive_failures"] == 0

    asyncio.run(main())


def test_nutrient_result_taken_once_per_result_time_and_remembered_across_restarts() -> None:
    rt1 = int(datetime(2026, 11, 28, 4, 0, tzinfo=UTC).timestamp())
    rt2 = rt1 + 4 * 3600

    async def main() -> None:
        units = Units({3: profile_registers("nutrient_nh3n", {"w21003": 0.412}, result_time=rt1)})
        state = MemoryStateStore()
        async with TcpSlave(units) as slave:
            dev = {
                "name": "nh3n",
                "profile": "nutrient_nh3n",
                "bus": "lan",
                "host": "127.0.0.1",
                "port": slave.port,
                "unit": 3,
                "interval_s": 0.05,
            }
            sink = MemorySink()
            acq = Acquisition(make_config([TCP], [dev]), sink, state=state)
            await run_until(acq, lambda: acq.counters()["devices"]["nh3n"]["ok"] >= 5)
            assert len(sink.readings) == 1
            reading = sink.readings[0]
            assert reading.t == datetime.fromtimestamp(rt1, UTC) and reading.value is not None
            assert abs(reading.value - 0.412) < 1e-6

            # A restarted agent (same state store) does not take the same result again ...
            sink2 = MemorySink()
            acq2 = Acquisition(make_config([TCP], [dev]), sink2, state=state)
            await run_until(acq2, lambda: acq2.counters()["devices"]["nh3n"]["ok"] >= 3)
            assert sink2.readings == []
            # ... but takes the next one, stamped with its own sample time.
            units.registers[3] = profile_registers("nutrient_nh3n", {"w21003": 0.5}, result_time=rt2)
            await run_until(acq2, lambda: len(sink2.readings) >= 1)
            assert [r.t for r in sink2.readings] == [datetime.fromtimestamp(rt2, UTC)]

    asyncio.run(main())


def test_bridged_read_refused_falls_back_to_contiguous_reads() -> None:
    async def main() -> None:
        # A strict device: registers 10-19 (the hole before the status word) are not defined.
        units = Units({1: profile_registers("multiparam_probe", PROBE, status=1)}, strict=True)
        async with TcpSlave(units) as slave:
            sink = MemorySink()
            acq = Acquisition(make_config([TCP], [probe_device("probe", slave.port)]), sink)
            await run_until(acq, lambda: len(sink.readings) >= 10)
        counts = acq.counters()["devices"]["probe"]
        assert counts["exception"] == 1 and counts["down"] == 0
        assert {r.flag for r in sink.readings} == {Flag.CALIBRATION}
        assert [e.kind for e in sink.events] == [EventKind.DEVICE_STATE]

    asyncio.run(main())


def test_set_interval_takes_effect_at_once() -> None:
    async def main() -> None:
        units = Units({1: profile_registers("multiparam_probe", PROBE)})
        async with TcpSlave(units) as slave:
            sink = MemorySink()
            acq = Acquisition(make_config([TCP], [probe_device("probe", slave.port, interval=3600)]), sink)
            assert acq.intervals() == {"probe": 3600}
            stop = asyncio.Event()
            task = asyncio.create_task(acq.run(stop))
            await asyncio.sleep(0.3)
            assert acq.counters()["devices"]["probe"]["polls"] == 1
            acq.set_interval("probe", 0.05)
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.wait_for(task, 5)
        assert acq.counters()["devices"]["probe"]["polls"] >= 5
        assert acq.intervals() == {"probe": 0.05}

    asyncio.run(main())


def test_controller_signals_and_condition_events() -> None:
    normal = {
        "pump_running": 1,
        "sample_flow": 2.5,
        "water_present": 1,
        "mains_power": 1,
        "on_battery": 0,
        "door_open": 0,
        "sampling_state": 1,
        "battery_pct": 97,
    }

    async def main() -> None:
        units = Units({9: profile_registers("station_controller", normal)})
        async with TcpSlave(units) as slave:
            dev = {
                "name": "plc",
                "profile": "station_controller",
                "bus": "lan",
                "host": "127.0.0.1",
                "port": slave.port,
                "unit": 9,
                "interval_s": 0.05,
            }
            sink = MemorySink()
            acq = Acquisition(make_config([TCP], [dev]), sink)
            stop = asyncio.Event()
            task = asyncio.create_task(acq.run(stop))
            await asyncio.sleep(0.2)
            assert sink.events == [] and sink.controller["water_present"] == 1
            units.registers[9] = profile_registers(
                "station_controller",
                {**normal, "water_present": 0, "mains_power": 0, "on_battery": 1, "sampling_state": 3},
            )
            await asyncio.sleep(0.3)
            units.registers[9] = profile_registers("station_controller", normal)
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.wait_for(task, 5)
        assert sink.readings == []  # signals are not readings
        assert abs(float(sink.controller["sample_flow"]) - 2.5) < 1e-9
        events = [(e.detail["condition"], e.detail["active"], e.severity.value) for e in sink.events]
        assert events == [
            ("no_water", True, "warning"),
            ("mains_lost", True, "critical"),
            ("on_battery", True, "warning"),
            ("sampling_no_water", True, "warning"),
            ("no_water", False, "info"),
            ("mains_lost", False, "info"),
            ("on_battery", False, "info"),
            ("sampling_no_water", False, "info"),
        ]
        assert all(e.kind == EventKind.CONTROLLER for e in sink.events)

    asyncio.run(main())


def test_stuck_and_logic_violation_events_through_the_pipeline() -> None:
    async def main() -> None:
        units = Units({1: profile_registers("multiparam_probe", {**PROBE, "w01001": 14.5})})
        async with TcpSlave(units) as slave:
            sink = MemorySink()
            clock = SteppingClock(step=timedelta(hours=1))
            config = make_config(
                [TCP],
                [probe_device("probe", slave.port, interval=0.05)],
                flagging={"stuck_after_s": 3 * 3600},
            )
            acq = Acquisition(config, sink, clock=clock)
            await run_until(acq, lambda: acq.counters()["devices"]["probe"]["ok"] >= 6)
        ph = [r for r in sink.readings if r.param == "w01001"]
        assert {r.flag for r in ph} == {Flag.FAULT} and {r.value for r in ph} == {
            14.5
        }  # flagged, not clamped
        logic = [e for e in sink.events if e.kind == EventKind.LOGIC_VIOLATION]
        assert len(logic) == 1 and logic[0].detail["rule"] == "ph_range" and logic[0].param == "w01001"
        stuck = [e for e in sink.events if e.kind == EventKind.STUCK_VALUE]
        assert sorted(str(e.param) for e in stuck) == sorted(PROBE)  # each once, though polled more often

    asyncio.run(main())


def test_interop_with_pymodbus_server() -> None:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    words = profile_registers("multiparam_probe", PROBE)
    regs = [words.get(a, 0) for a in range(21)]

    async def main() -> None:
        port = free_port()
        bits = [SimData(0, values=[False] * 8, datatype=DataType.BITS)]
        device = SimDevice(
            id=1,
            simdata=(
                bits,
                bits,
                [SimData(0, values=regs, datatype=DataType.REGISTERS)],
                [SimData(0, values=[0], datatype=DataType.REGISTERS)],
            ),
        )
        server = ModbusTcpServer([device], address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        try:
            sink = MemorySink()
            acq = Acquisition(make_config([TCP], [probe_device("probe", port)]), sink)
            await run_until(acq, lambda: len(sink.readings) >= 5)
        finally:
            await server.shutdown()
        assert {r.param: r.value for r in sink.readings[:5]} == PROBE

    asyncio.run(main())


class FlakySink(MemorySink):
    """A sink whose first add_readings fails (e.g. the disk was momentarily full)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    def add_readings(self, readings: Sequence[Reading]) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise OSError("disk full")
        super().add_readings(readings)


def test_result_time_is_remembered_only_after_the_sink_stored_the_reading() -> None:
    rt = int(datetime(2026, 11, 28, 4, 0, tzinfo=UTC).timestamp())

    async def main() -> None:
        units = Units({1: profile_registers("nutrient_tp", {"w21011": 0.083}, result_time=rt)})
        state = MemoryStateStore()
        async with TcpSlave(units) as slave:
            dev = {
                "name": "tp",
                "profile": "nutrient_tp",
                "bus": "lan",
                "host": "127.0.0.1",
                "port": slave.port,
                "interval_s": 0.05,
            }
            sink = FlakySink()
            acq = Acquisition(make_config([TCP], [dev]), sink, state=state)
            await run_until(acq, lambda: acq.counters()["devices"]["tp"]["ok"] >= 4)
        assert acq.counters()["devices"]["tp"]["internal"] == 1  # counted, and the bus went on
        assert [r.t for r in sink.readings] == [datetime.fromtimestamp(rt, UTC)]  # taken again, once
        assert state.get("acquisition.result_time.tp") == datetime.fromtimestamp(rt, UTC).isoformat()

    asyncio.run(main())


class FullDiskSink(MemorySink):
    """A sink on a full disk: every add_readings raises StorageFailed (the outbox counted the loss)."""

    def add_readings(self, readings: Sequence[Reading]) -> None:
        raise StorageFailed("outbox could not store: database or disk is full")


def test_a_full_disk_costs_no_traceback_per_poll_and_the_bus_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        units = Units({1: profile_registers("multiparam_probe", PROBE)})
        async with TcpSlave(units) as slave:
            sink = FullDiskSink()
            acq = Acquisition(make_config([TCP], [probe_device("probe", slave.port, interval=0.02)]), sink)
            await run_until(acq, lambda: acq.counters()["devices"]["probe"]["storage_failed"] >= 10)
        counts = acq.counters()["devices"]["probe"]
        assert counts["internal"] == 0 and counts["ok"] >= 10
        assert not any(r.exc_info for r in caplog.records)  # the outbox logs, once a minute

    caplog.set_level(logging.DEBUG)
    asyncio.run(main())
