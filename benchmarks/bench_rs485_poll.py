"""One station on one RS-485 line at 9600 baud 8N1, polled by the real agent acquisition.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_rs485_poll [--cycles N] [--gap-ms G] [--rss-seconds S] [--no-rss]

Setup: a socat pty pair; ``qingliu sim station --rtu PTY --baud 9600 --wire-time`` (a separate process) serves
the probe, the four nutrient analysers (nh3n, codmn, tp, tn), the COD analyser and the controller as units
1-7 on the line; each answer is held back until it would have finished arriving on a real 9600-baud wire.

1. Poll-cycle time. ``agent.acquisition.Acquisition`` with a ``SerialBus`` rtu config polls all seven devices
   on one 1-second grid. A cycle runs from the grid tick to the moment the seventh device's answer is decoded
   and handed to the sink. The theoretical wire-time minimum for the same registers (the requests the
   coalescing planner makes, N_i registers each, K requests) is

       t_char = 10 bits / 9600 baud                      (8N1: start + 8 data + stop)
       T_min  = t_char × [ Σ_i (8 + 5 + 2·N_i)  +  3.5·K  +  3.5·(K − 1) ]

   i.e. every request frame (8 bytes) and response frame (5 + 2N bytes) on the wire, the slave's 3.5-character
   silent interval between each request and its answer, and the master's 3.5-character silent interval before
   each request but the first. Target: median cycle ÷ T_min ≤ 1.2, with requests per cycle equal to the
   minimum possible (one plan per profile; the greedy planner's count is minimal, see protocols.planning).

2. Resident memory. ``qingliu agent run`` (a real process) with the same station against the simulator and a
   real Mosquitto; VmRSS from /proc/PID/status after it has polled for a while. Target ≤ 32 MiB (issue 17).

The last line is PASS or FAIL with every figure and its bound (exit 1 on FAIL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from agent.acquisition import Acquisition
from agent.acquisition.serialline import SerialLine
from agent.config import AgentConfig, parse_config
from agent.sink import MemorySink
from benchmarks.rounds import Check, conclude
from benchmarks.station_install import agent_env, agent_python
from protocols.messages import DeviceStatus
from protocols.planning import ReadRequest, plan_profile
from protocols.profiles import load_profile
from simulators.fleet import DEVICE_LAYOUT
from tests.support.broker import Mosquitto
from tests.support.ptypair import start_pty_pair, stop_process

BAUD = 9600
BITS_PER_CHAR = 10  # 8N1
REQUEST_BYTES = 8
RATIO_TARGET = 1.2
RSS_TARGET_MIB = 32.0  # issue 17: seven devices on one RS-485 line

STATION = [(slot.name, slot.profile, slot.unit) for slot in DEVICE_LAYOUT]  # units 1-7 of one station


def char_time_s(baud: int = BAUD) -> float:
    return BITS_PER_CHAR / baud


def response_bytes(count: int) -> int:
    return 5 + 2 * count  # unit, function, byte count, 2N data, CRC(2)


def wire_minimum_s(counts: Sequence[int], baud: int = BAUD) -> float:
    """T_min for requests of ``counts`` registers each, back to back on one line (see module doc)."""
    k = len(counts)
    if k == 0:
        return 0.0
    frames = sum(REQUEST_BYTES + response_bytes(n) for n in counts)
    return char_time_s(baud) * (frames + 3.5 * k + 3.5 * (k - 1))


def station_plan() -> dict[str, list[ReadRequest]]:
    return {name: plan_profile(load_profile(profile)) for name, profile, _ in STATION}


def minimum_requests() -> int:
    """Fewest requests any master could use: every profile's spans covered, each request ≤ its max size.

    Contiguous-only plans can never be shorter than bridged ones, and the bridged greedy plan is minimal."""
    return sum(
        min(len(plan_profile(load_profile(p))), len(plan_profile(load_profile(p), max_gap=0)))
        for _, p, _ in STATION
    )


def agent_config(port: str, *, gap_ms: float, interval_s: float, extra: str = "") -> str:
    lines = [
        "[station]",
        'id = "hexicun"',
        extra,
        "[[bus]]",
        'name = "rs485"',
        'type = "rtu"',
        f'port = "{port}"',
        f"baudrate = {BAUD}",
        "timeout_s = 0.5",
        f"gap_ms = {gap_ms}",
    ]
    for name, profile, unit in STATION:
        lines += [
            "",
            "[[devices]]",
            f'name = "{name}"',
            f'profile = "{profile}"',
            'bus = "rs485"',
            f"unit = {unit}",
            f"interval_s = {interval_s}",
        ]
    return "\n".join(lines) + "\n"


class TimingSink(MemorySink):
    """Records when each device's status arrives (the poll's answer is decoded and handed over)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self._clock = clock
        self.answers: list[tuple[float, str, bool]] = []

    def set_device_status(self, device: str, status: DeviceStatus) -> None:
        super().set_device_status(device, status)
        self.answers.append((self._clock(), device, status.up and status.failures == 0))


class CountingLine:
    """Counts the transactions on the real SerialLine and times each one (patched in for the benchmark)."""

    count = 0
    spans: ClassVar[list[tuple[float, float]]] = []

    @classmethod
    def install(cls) -> None:
        original = SerialLine.rtu_read_blocking

        def counted(self: SerialLine, unit: int, function: int, address: int, count: int) -> list[int]:
            cls.count += 1
            start = time.monotonic()
            try:
                return original(self, unit, function, address, count)
            finally:
                cls.spans.append((start, time.monotonic()))

        SerialLine.rtu_read_blocking = counted  # type: ignore[method-assign]


def start_socat(workdir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    sim_end, master_end = workdir / "sim-tty", workdir / "agent-tty"
    return start_pty_pair(sim_end, master_end), str(sim_end), str(master_end)


def start_sim(workdir: Path, pty: str) -> subprocess.Popen[bytes]:
    manifest = workdir / "manifest.json"
    log = open(workdir / "sim.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "qingliu_cli", "sim", "station", "--station", "hexicun", "--rtu", pty),
            *("--baud", str(BAUD), "--wire-time", "--nutrient-cycle-min", "1", "--manifest", str(manifest)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while not manifest.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"simulator did not start: {(workdir / 'sim.log').read_text()}")
        time.sleep(0.05)
    return proc


async def measure_cycles(
    config: AgentConfig, cycles: int, interval_s: float
) -> tuple[list[float], TimingSink, float]:
    loop = asyncio.get_running_loop()
    sink = TimingSink(loop.time)
    acq = Acquisition(config, sink)
    stop_event = asyncio.Event()
    start = loop.time()
    task = asyncio.create_task(acq.run(stop_event))
    # The first tick opens the port; the grid starts at ``start`` (run() reads loop.time() at once).
    await asyncio.sleep(interval_s * (cycles + 1) + 0.5)
    stop_event.set()
    await task
    durations: list[float] = []
    n = len(STATION)
    for c in range(1, cycles + 1):  # cycle 0 includes opening the port: left out
        tick = start + c * interval_s
        batch = [t for t, _, _ in sink.answers if tick <= t < tick + interval_s]
        if len(batch) == n:
            durations.append(max(batch) - tick)
    return durations, sink, start


def vm_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line")


def measure_rss(
    workdir: Path, pty: str, gap_ms: float, seconds: float, python: str
) -> tuple[float, float, int]:
    broker = Mosquitto(workdir / "broker").start()
    try:
        extra = "\n".join(
            [
                "[mqtt]",
                f'url = "{broker.url}"',
                "[outbox]",
                f'path = "{workdir / "outbox.db"}"',
            ]
        )
        cfg = workdir / "agent.toml"
        cfg.write_text(agent_config(pty, gap_ms=gap_ms, interval_s=1.0, extra=extra))
        log = open(workdir / "agent.log", "wb")  # noqa: SIM115 - the child owns it
        agent = subprocess.Popen(
            [python, "-m", "qingliu_cli", "agent", "run", "--config", str(cfg)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=agent_env(),
        )
        try:
            samples: list[float] = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                time.sleep(0.5)
                if agent.poll() is not None:
                    raise RuntimeError(f"agent exited: {(workdir / 'agent.log').read_text()[-2000:]}")
                samples.append(vm_rss_mib(agent.pid))
            print(
                f"  VmRSS at 2 s: {samples[min(3, len(samples) - 1)]:.1f} MiB (growth after that shows a leak)"
            )
            last, peak = samples[-1], max(samples)
        finally:
            stop_process(agent)
        with contextlib.closing(sqlite3.connect(workdir / "outbox.db")) as db:
            rows = int(db.execute("SELECT COALESCE(SUM(n), 0) FROM chunks").fetchone()[0])
        return last, peak, rows
    finally:
        broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_rs485_poll", description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--gap-ms", type=float, default=None, help="bus gap_ms (default: the config default)")
    parser.add_argument("--rss-seconds", type=float, default=15.0)
    parser.add_argument("--no-rss", action="store_true")
    parser.add_argument(
        "--dev-agent", action="store_true", help="measure the development venv's agent, not a station install"
    )
    args = parser.parse_args(argv)

    from agent.config import RtuBus

    gap_ms = args.gap_ms if args.gap_ms is not None else RtuBus(name="x", port="x").gap_ms
    plans = station_plan()
    counts = [r.count for reqs in plans.values() for r in reqs]
    t_min = wire_minimum_s(counts)
    k_min = minimum_requests()
    print(f"line: {BAUD} baud 8N1, t_char = {char_time_s() * 1000:.4f} ms, gap_ms = {gap_ms:g}")
    for name, reqs in plans.items():
        print(f"  {name:<11} " + ", ".join(f"{r.address}+{r.count}" for r in reqs))
    print(
        f"theoretical minimum: {k_min} requests, {sum(counts)} registers, "
        f"T_min = t_char × [Σ(13 + 2N) + 3.5K + 3.5(K−1)] = {t_min * 1000:.1f} ms"
    )

    interval_s = 1.0
    with tempfile.TemporaryDirectory(prefix="bench-rs485-") as tmp:
        workdir = Path(tmp)
        socat, sim_end, agent_end = start_socat(workdir)
        sim = None
        try:
            sim = start_sim(workdir, sim_end)
            CountingLine.install()
            config = parse_config(agent_config(agent_end, gap_ms=gap_ms, interval_s=interval_s))
            durations, sink, start_tick = asyncio.run(measure_cycles(config, args.cycles, interval_s))
            # Requests that started inside each measured cycle's window (tick to tick + interval).
            windows = [start_tick + c * interval_s for c in range(1, args.cycles + 1)]
            per = [sum(1 for s, _ in CountingLine.spans if w <= s < w + interval_s) for w in windows]
            per_cycle = max(per)
            failures = sum(1 for _, _, ok in sink.answers if not ok)
            if not durations:
                return conclude([Check("complete poll cycles", "none", f"{args.cycles}", False)])
            median = statistics.median(durations)
            ratio = median / t_min
            spans = CountingLine.spans
            print(
                f"cycles measured: {len(durations)}/{args.cycles}, failed answers: {failures}, "
                f"readings: {len(sink.readings)}"
            )
            print(
                f"poll cycle: median {median * 1000:.1f} ms, min {min(durations) * 1000:.1f} ms, "
                f"max {max(durations) * 1000:.1f} ms"
            )
            busy = statistics.median(end - start for start, end in spans)
            print(f"  median transaction on the worker thread: {busy * 1000:.1f} ms")
            print(f"requests per cycle: {per_cycle:g} (minimum possible {k_min})")
            ratio_ok = ratio <= RATIO_TARGET and per_cycle == k_min and failures == 0
            print(
                f"ratio cycle / T_min = {ratio:.3f} (target ≤ {RATIO_TARGET}): "
                f"{'PASS' if ratio_ok else 'FAIL'}"
            )
            checks = [
                Check("cycle ÷ T_min", f"{ratio:.3f}", f"≤ {RATIO_TARGET:g}", ratio <= RATIO_TARGET),
                Check("requests per cycle", f"{per_cycle:g}", f"= {k_min}", per_cycle == k_min),
                Check("failed answers", f"{failures}", "= 0", failures == 0),
            ]
            if not args.no_rss:
                last, peak, rows = measure_rss(
                    workdir, agent_end, gap_ms, args.rss_seconds, agent_python(dev=args.dev_agent)
                )
                rss_ok = peak <= RSS_TARGET_MIB
                print(
                    f"agent process VmRSS after {args.rss_seconds:g} s: {last:.1f} MiB (peak seen {peak:.1f} MiB), "
                    f"outbox readings {rows}"
                )
                print(f"resident memory (target ≤ {RSS_TARGET_MIB:g} MiB): {'PASS' if rss_ok else 'FAIL'}")
                checks.append(
                    Check("agent VmRSS peak", f"{peak:.1f} MiB", f"≤ {RSS_TARGET_MIB:g} MiB", rss_ok)
                )
        finally:
            if sim is not None:
                stop_process(sim)
            stop_process(socat)
    return conclude(checks)


if __name__ == "__main__":
    sys.exit(main())
