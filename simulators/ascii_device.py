"""Simulated analysers that speak the ASCII line protocol (protocols.asciiline) on a serial line (a socat pty).

Several analysers may share one line, each at its own two-digit address; each answers ``#AARD\\r`` with
``*AA,code=value,...,ST=s,CS=hh\\r`` built from its model's current reading (any AnalyserModel: the values whose
keys are HJ 212 codes are sent, "no result" as ``-``). Requests for addresses not served here are ignored, as
on a shared bus; lines that are not a read request are counted and ignored.

Faults come from the same ``FaultPlan`` specs as the Modbus simulators, so scenario fault steps apply too:

- ``no_answer``: nothing is sent.            - ``late:S``: the correct line, S seconds late.
- ``crc_error``: the line with a wrong CS.   - ``garbage``: random printable bytes, then CR.
- ``exception``: the analyser reports a fault of its own (ST=3, every value ``-``).

    qingliu sim ascii --pty PATH [--station ID] [--devices probe:1,nh3n:2] [--fault nh3n=crc_error]
                      [--nutrient-cycle-min M] [--seed N] [--duration S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from protocols import asciiline, catalogue
from protocols.errors import ConfigError, FrameError
from simulators.analysers.base import AnalyserModel, DeviceState
from simulators.clock import Clock
from simulators.modbus.faults import FaultPlan
from simulators.ptyline import PtyLine

log = logging.getLogger(__name__)

ASCII_STATES: dict[DeviceState, int] = {
    DeviceState.NORMAL: 0,
    DeviceState.CALIBRATION: 1,
    DeviceState.MAINTENANCE: 2,
    DeviceState.FAULT: 3,
    DeviceState.STOPPED: 4,
    DeviceState.NO_WATER: 4,  # the protocol has no "no water" state: the analyser is stopped
}
FAULT_STATE = 3
MAX_REQUEST = 64  # a request line is 6 bytes; anything longer without CR is noise


@dataclass
class AsciiAnalyser:
    """One analyser on the line: its address, its model, its fault plan and a record of what it answered."""

    address: int
    model: AnalyserModel
    clock: Clock
    faults: FaultPlan = field(default_factory=FaultPlan)
    on_refresh: Callable[[datetime], None] | None = None  # e.g. the station's tick
    answers: deque[asciiline.LineAnswer] = field(default_factory=lambda: deque(maxlen=1000))

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 99:
            raise ConfigError(f"ASCII address {self.address} is outside 00-99")

    def answer(self) -> asciiline.LineAnswer:
        """What the analyser shows now (recorded in ``answers``)."""
        now = self.clock.now()
        if self.on_refresh is not None:
            self.on_refresh(now)
        reading = self.model.read(now)
        # As the line carries them (build_answer writes 6 significant digits), so tests compare exactly.
        values = {
            k: None if v is None else float(f"{v:g}")
            for k, v in reading.values.items()
            if catalogue.is_known(k)
        }
        answer = asciiline.LineAnswer(self.address, values, ASCII_STATES[reading.state])
        self.answers.append(answer)
        return answer

    def respond(self) -> tuple[bytes | None, float]:
        """The bytes to send for one read request (None: stay silent) and how long to wait first."""
        fault = self.faults.draw()
        if fault == "no_answer":
            return None, 0.0
        if fault == "exception":
            answer = asciiline.LineAnswer(self.address, dict.fromkeys(self._codes()), FAULT_STATE)
            return asciiline.build_answer(answer), 0.0
        line = asciiline.build_answer(self.answer())
        if fault == "crc_error":
            body, _, cs = line.rstrip(asciiline.TERMINATOR).rpartition(b",CS=")
            wrong = f"{(int(cs, 16) + 0x5A) & 0xFF:02X}".encode("ascii")
            return body + b",CS=" + wrong + asciiline.TERMINATOR, 0.0
        if fault == "garbage":
            junk = bytes(0x21 + b % 0x5E for b in self.faults.garbage(len(line) - 1))  # printable, no CR
            return junk + asciiline.TERMINATOR, 0.0
        return line, self.faults.delay_s if fault == "late" else 0.0

    def _codes(self) -> list[str]:
        last = self.answers[-1].values if self.answers else {}
        return list(last) or [k for k in self.model.read(self.clock.now()).values if catalogue.is_known(k)]


@dataclass
class LineStats:
    requests: int = 0
    responses: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # malformed, overlong, unknown_address, io


class AsciiLineServer:
    """Serves ``analysers`` (address → AsciiAnalyser) on the serial device ``port_path``, one answer at a time."""

    def __init__(self, analysers: Mapping[int, AsciiAnalyser], port_path: str) -> None:
        self.analysers = analysers
        self.port_path = port_path
        self.stats = LineStats()
        self.line = PtyLine(port_path, self._on_data, label="ASCII line", on_io_error=self._count_io_error)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buffer = bytearray()
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> AsciiLineServer:
        self._loop = asyncio.get_running_loop()
        self.line.open()
        self._worker = asyncio.create_task(self._work(), name=f"ascii-line {self.port_path}")
        return self

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        self.line.close()

    def _count_io_error(self) -> None:
        self.stats.errors["io"] += 1

    def _on_data(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(asciiline.TERMINATOR)
            if end < 0:
                if len(self._buffer) > MAX_REQUEST:
                    self.stats.errors["overlong"] += 1
                    self._buffer.clear()
                return
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            self._queue.put_nowait(line)

    async def _work(self) -> None:
        while True:
            line = await self._queue.get()
            try:
                await self._handle(line)
            except OSError as exc:
                self.stats.errors["io"] += 1
                log.warning("ASCII line %s: write failed: %s", self.port_path, exc)

    async def _handle(self, line: bytes) -> None:
        stripped = line.lstrip(b"\n")  # a master that ends lines with CRLF leaves LF before the next request
        if not stripped.strip():
            return
        self.stats.requests += 1
        try:
            address = asciiline.parse_request(stripped)
        except FrameError:
            self.stats.errors["malformed"] += 1
            return
        analyser = self.analysers.get(address)
        if analyser is None:
            self.stats.errors["unknown_address"] += 1
            return
        out, delay = analyser.respond()
        if out is None:
            return
        if delay > 0:
            await asyncio.sleep(delay)
        await self.line.write_all(out)
        self.stats.responses += 1


async def start_ascii_server(analysers: Mapping[int, AsciiAnalyser], port_path: str) -> AsciiLineServer:
    return await AsciiLineServer(analysers, port_path).start()


# -- qingliu sim ascii --------------------------------------------------------------------------------------

DEFAULT_DEVICES = "probe:1,nh3n:2,codmn:3,tp:4,tn:5,cod:6"


def parse_devices(text: str) -> dict[str, int]:
    """``probe:1,nh3n:2`` → {"probe": 1, "nh3n": 2}; ConfigError if malformed or an address repeats."""
    out: dict[str, int] = {}
    for item in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, addr = item.partition(":")
        if not sep or not addr.strip().isdigit() or not 0 <= int(addr) <= 99:
            raise ConfigError(f"--devices item {item!r} must look like NAME:ADDRESS with address 0-99")
        if int(addr) in out.values() or name in out:
            raise ConfigError(f"--devices item {item!r} repeats a device or an address")
        out[name.strip()] = int(addr)
    if not out:
        raise ConfigError("--devices names no device")
    return out


def parse_faults(items: list[str]) -> dict[str, str]:
    faults: dict[str, str] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep:
            raise ConfigError(f"--fault {item!r} must look like DEVICE=SPEC, e.g. nh3n=crc_error")
        FaultPlan.parse(spec)  # validates
        faults[name.strip()] = spec.strip()
    return faults


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ascii",
        help="serve analysers speaking the ASCII line protocol on a serial device",
        description="Serve analysers speaking the ASCII line protocol on a serial device (a pty from socat).",
    )
    parser.add_argument("--pty", required=True, metavar="PTY_PATH", help="serial device to serve on")
    parser.add_argument("--station", default="hexicun", help="station whose river the analysers measure")
    parser.add_argument(
        "--devices", default=DEFAULT_DEVICES, help=f"NAME:ADDRESS list (default {DEFAULT_DEVICES})"
    )
    parser.add_argument(
        "--fault", action="append", default=[], metavar="DEVICE=SPEC", help="e.g. nh3n=crc_error"
    )
    parser.add_argument("--nutrient-cycle-min", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=None, help="stop after S real seconds")


def run_cli(args: argparse.Namespace) -> int:
    from protocols.sections import SECTIONS
    from simulators.analysers.nutrient import Schedule
    from simulators.clock import SimClock
    from simulators.fleet import build_station

    if args.station not in SECTIONS:
        raise ConfigError(f"unknown station {args.station!r}; known: {', '.join(SECTIONS)}")
    devices = parse_devices(args.devices)
    faults = parse_faults(args.fault)
    if args.nutrient_cycle_min is not None and not args.nutrient_cycle_min > 0:
        raise ConfigError("--nutrient-cycle-min must be > 0")
    schedule = Schedule.every(args.nutrient_cycle_min) if args.nutrient_cycle_min else Schedule()
    clock = SimClock()
    station = build_station(args.station, clock, seed=args.seed, schedule=schedule)
    unknown = [n for n in [*devices, *faults] if n not in station.models or n == "controller"]
    if unknown:
        analysers = ", ".join(n for n in station.models if n != "controller")
        raise ConfigError(f"unknown analyser(s) {', '.join(unknown)}; known: {analysers}")
    served = {
        address: AsciiAnalyser(
            address,
            station.models[name],
            clock,
            faults=FaultPlan.parse(faults.get(name, "none"), seed=args.seed),
            on_refresh=station.tick,
        )
        for name, address in devices.items()
    }

    async def serve() -> int:
        server = await start_ascii_server(served, args.pty)
        listing = ", ".join(f"{name}@{address:02d}" for name, address in devices.items())
        print(f"sim: {args.station} ASCII analysers on {args.pty}: {listing}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.duration)
        finally:
            await server.close()
        print(
            f"sim: stopping ({server.stats.requests} requests, {server.stats.responses} answers)", flush=True
        )
        return 0

    return asyncio.run(serve())
