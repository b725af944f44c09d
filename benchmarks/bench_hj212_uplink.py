"""HJ 212 upward link: a 7-day backlog drained to one platform, against a bare client; the agent's memory with two.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_hj212_uplink [--days 7] [--poll-min 5] [--reply-delay-ms 10]
        [--rounds 2] [--rss-seconds 15] [--no-rss]

1. Drain. An outbox holds ``--days`` of a station's probe polls (five items every ``--poll-min`` minutes, stored
   when taken: all of it older than the live window, so it is the backlog lane that drains it). The platform is
   ``qingliu sim hj212-platform --reply-delay`` (its own process): each 9014 comes that long after the upload, so
   the platform's reply rate bounds both sides. The agent's target (``agent.hj212up.target.Hj212Uplink``, its
   ``backlog_rate`` set above the reply rate) sends every poll as a 2011 and every closed hour as a 2061,
   stop-and-wait, keeping its cursor in the outbox after each 9014. The baseline is a bare asyncio client that
   sends the same frames, encoded beforehand, one at a time, each after the 9014 of the one before, and does
   nothing else. Figure: frames per second, agent ÷ baseline. Target ≥ 0.7.

2. Memory. ``qingliu agent run`` (a real process) polling a simulated station over Modbus TCP, with a real
   Mosquitto and two platform targets (two platform processes) draining the same week's backlog; VmRSS from
   /proc/PID/status as ``bench_rs485_poll`` reads it, beside the same agent without targets. Printed against
   the station budget of that benchmark (32 MiB, issue 17): with two targets the agent stays within it (issue
   15), and what the targets add is ≤ 5 MiB.

The last line is PASS or FAIL with every figure and its bound; the exit status is non-zero on FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import Hj212Target, OutboxConfig
from agent.hj212up.frames import CodeMap, period_frame, realtime_frames
from agent.hj212up.target import Hj212Uplink
from agent.outbox import Outbox
from agent.outbox import feed as feedrows
from benchmarks.bench_rs485_poll import RSS_TARGET_MIB, vm_rss_mib  # the station budget (issue 17)
from benchmarks.rounds import Check, conclude
from benchmarks.station_install import agent_env, agent_python
from protocols import hj212
from protocols.hj212_periods import aggregate, period_end, period_start
from protocols.messages import Reading
from simulators.fleet import DEVICE_LAYOUT
from tests.support.broker import Mosquitto
from tests.support.ports import free_port, wait_for_port
from tests.support.ptypair import stop_process

RATIO_TARGET = 0.7
RSS_ADDED_MIB = 5.0  # what two HJ 212 targets may add to the agent without them
STATION = "hexicun"
MN = "QL0000000001"
PW = "123456"
PROBE = (("w01010", 18.0), ("w01001", 7.6), ("w01009", 8.1), ("w01014", 420.0), ("w01003", 12.0))


def fill(path: Path, days: float, poll_min: float, now: datetime) -> int:
    """A week of probe polls stored as they were taken. Returns readings stored."""
    at = [0.0]
    outbox = Outbox(path, OutboxConfig(), STATION, clock=lambda: at[0])
    outbox.enable_feed()
    t = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    end = now - timedelta(hours=1)
    count = i = 0
    while t < end:
        at[0] = t.timestamp()
        poll = [
            Reading(param=code, t=t, value=round(base + (i % 17) / 10, 2), device="probe")
            for code, base in PROBE
        ]
        outbox.add_readings(poll)
        count += len(poll)
        t += timedelta(minutes=poll_min)
        i += 1
    outbox.close()
    return count


def target(port: int, name: str = "national") -> Hj212Target:
    return Hj212Target(
        name=name,
        host="127.0.0.1",
        port=port,
        mn=MN,
        password=PW,
        realtime_interval_s=1.0,
        period_grace_s=0,
        backlog_rate=100_000,  # above any reply rate: the platform sets the pace
        reply_timeout_s=5.0,
    )


def start_platform(workdir: Path, port: int, delay_ms: float, name: str) -> subprocess.Popen[bytes]:
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it
    delay = ("--reply-delay", str(delay_ms / 1000))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qingliu_cli",
            "sim",
            "hj212-platform",
            "--port",
            str(port),
            "--pw",
            PW,
            *delay,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, timeout=20)
    return proc


def frames_of(path: Path, tgt: Hj212Target, now: datetime) -> list[bytes]:
    """The frames the agent sends for the stored week, encoded: a 2011 per poll, a 2061 per closed hour."""
    outbox = Outbox(path, OutboxConfig(), STATION)
    codes = CodeMap.of(tgt)
    qn_at = now
    wire: list[bytes] = []
    readings: list[Reading] = []
    with outbox.store.lock:
        rows = feedrows.rows(outbox.store.db, 0, 1 << 62, 1 << 30)
    for row in rows:
        got = row.readings()
        readings.extend(got)
        qn_at += timedelta(milliseconds=1)
        wire += [hj212.encode_frame(f) for f in realtime_frames(got, tgt, codes, qn_at, reply=True)]
    hours: dict[datetime, list[tuple[str, float | None, str]]] = {}
    for r in readings:
        hours.setdefault(period_start(hj212.CN_HOURLY, r.t), []).append((r.param, r.value, r.flag))
    for start, items in sorted(hours.items()):
        if period_end(hj212.CN_HOURLY, start) <= now:
            qn_at += timedelta(milliseconds=1)
            frame = period_frame(
                "2061", start, aggregate(items), tgt, codes, hj212.format_qn(qn_at), reply=True
            )
            wire.append(hj212.encode_frame(frame))
    outbox.close()
    return wire


async def bare_client(port: int, wire: list[bytes]) -> float:
    """Send each pre-encoded frame and wait for the 9014 with its QN. Returns seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=64 * 1024)
    started = time.perf_counter()
    for data in wire:
        qn = data[data.index(b"QN=") + 3 : data.index(b"QN=") + 20]
        writer.write(data)
        await writer.drain()
        while True:
            line = await reader.readuntil(b"\r\n")
            if b"CN=9014" in line and qn in line:
                break
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed


async def agent_drain(path: Path, port: int, now: datetime) -> tuple[float, int]:
    """The agent's target drains the stored week. Returns (seconds, frames sent)."""
    outbox = Outbox(path, OutboxConfig(), STATION, clock=lambda: now.timestamp())
    outbox.enable_feed()
    uplink = Hj212Uplink(
        target(port), outbox, live_window_s=600, history_days=90, clock=lambda: now.timestamp()
    )
    started = time.perf_counter()
    task = asyncio.create_task(uplink.run())
    last_hour = iso_hour(now)
    try:
        while True:
            state = uplink.state
            with outbox.store.lock:
                head = feedrows.head(outbox.store.db)
            done = state.inflight is None and state.done_below == state.live_next == head
            if done and state.hour_next == last_hour:
                break
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    sent = uplink.state.sent_frames
    outbox.close()
    return elapsed, sent


def fresh_copy(source: Path, target: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    for suffix in ("", ".seq"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")


def iso_hour(now: datetime) -> str:
    from agent.outbox.chunks import iso_utc

    return iso_utc(period_start(hj212.CN_HOURLY, now))


def agent_toml(workdir: Path, broker_url: str, sim_port: int, ports: list[int]) -> str:
    lines = [
        "[station]",
        f'id = "{STATION}"',
        "[mqtt]",
        f'url = "{broker_url}"',
        "[outbox]",
        f'path = "{workdir / "rss-outbox.db"}"',
        "[[bus]]",
        'name = "lan"',
        'type = "tcp"',
    ]
    for slot in DEVICE_LAYOUT:
        lines += [
            "[[devices]]",
            f'name = "{slot.name}"',
            f'profile = "{slot.profile}"',
            'bus = "lan"',
            'host = "127.0.0.1"',
            f"port = {sim_port}",
            f"unit = {slot.unit}",
            "interval_s = 1.0",
        ]
    for n, port in enumerate(ports):
        lines += [
            "[[uplink.hj212]]",
            f'name = "platform{n + 1}"',
            'host = "127.0.0.1"',
            f"port = {port}",
            f'mn = "{MN}"',
            f'password = "{PW}"',
            "backlog_rate = 200",
        ]
    return "\n".join(lines) + "\n"


def measure_rss(
    workdir: Path,
    seconds: float,
    delay_ms: float,
    days: float,
    poll_min: float,
    python: str,
    targets: int = 2,
) -> tuple[float, float]:
    for suffix in ("", "-wal", "-shm", ".seq", ".acquisition-state.json"):
        Path(f"{workdir / 'rss-outbox.db'}{suffix}").unlink(missing_ok=True)
    fill(workdir / "rss-outbox.db", days, poll_min, datetime.now(UTC))
    broker = Mosquitto(workdir / "broker").start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sim_port = free_port()
        log = open(workdir / "sim.log", "wb")  # noqa: SIM115 - the child owns it
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "qingliu_cli",
                    "sim",
                    "station",
                    "--station",
                    STATION,
                    "--port",
                    str(sim_port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        wait_for_port(sim_port, timeout=20)
        ports = [free_port() for _ in range(targets)]
        for n, port in enumerate(ports):
            procs.append(start_platform(workdir, port, delay_ms, f"rss-platform{n + 1}"))
        cfg = workdir / "agent.toml"
        cfg.write_text(agent_toml(workdir, broker.url, sim_port, ports))
        alog = open(workdir / "agent.log", "wb")  # noqa: SIM115 - the child owns it
        agent = subprocess.Popen(
            [python, "-m", "qingliu_cli", "agent", "run", "--config", str(cfg)],
            stdout=alog,
            stderr=subprocess.STDOUT,
            env=agent_env(),
        )
        procs.append(agent)
        samples: list[float] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if agent.poll() is not None:
                raise RuntimeError(f"agent exited: {(workdir / 'agent.log').read_text()[-2000:]}")
            samples.append(vm_rss_mib(agent.pid))
        return samples[-1], max(samples)
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_hj212_uplink", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--poll-min", type=float, default=5.0, help="minutes between stored probe polls")
    parser.add_argument(
        "--reply-delay-ms", type=float, default=10.0, help="the platform's delay before each 9014"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs of each side, alternating; the best counts"
    )
    parser.add_argument("--rss-seconds", type=float, default=15.0)
    parser.add_argument("--no-rss", action="store_true")
    parser.add_argument(
        "--dev-agent", action="store_true", help="measure the development venv's agent, not a station install"
    )
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="bench-hj212-") as tmp:
        workdir = Path(tmp)
        stored = fill(workdir / "outbox.db", args.days, args.poll_min, now)
        wire = frames_of(workdir / "outbox.db", target(1), now)
        print(
            f"backlog: {args.days:g} days, {stored} readings, {len(wire)} frames (2011 per poll, 2061 per hour); "
            f"platform replies after {args.reply_delay_ms:g} ms"
        )
        base_s = agent_s = float("inf")
        sent = 0
        # Alternating rounds, the best of each side: a shared machine's load falls on both alike.
        for n in range(args.rounds):
            port = free_port()
            platform = start_platform(workdir, port, args.reply_delay_ms, f"platform-baseline-{n}")
            try:
                base_s = min(base_s, asyncio.run(bare_client(port, wire)))
            finally:
                stop_process(platform)
            port = free_port()
            platform = start_platform(workdir, port, args.reply_delay_ms, f"platform-agent-{n}")
            fresh_copy(workdir / "outbox.db", workdir / "drain.db")  # every round drains the same week
            try:
                seconds, sent = asyncio.run(agent_drain(workdir / "drain.db", port, now))
                agent_s = min(agent_s, seconds)
            finally:
                stop_process(platform)
            print(
                f"  round {n + 1}: baseline {len(wire) / base_s:.1f}/s best so far, agent {sent / seconds:.1f}/s"
            )
        base_rate, agent_rate = len(wire) / base_s, sent / agent_s
        ratio = agent_rate / base_rate
        print(
            f"baseline (bare client, pre-encoded, stop-and-wait): {len(wire)} frames in {base_s:.2f} s, {base_rate:.0f}/s"
        )
        print(
            f"agent target (cursor kept after each 9014):          {sent} frames in {agent_s:.2f} s, {agent_rate:.0f}/s"
        )
        drain_ok = sent == len(wire) and ratio >= RATIO_TARGET
        print(
            f"ratio agent / baseline = {ratio:.3f} (target ≥ {RATIO_TARGET}): {'PASS' if drain_ok else 'FAIL'}"
        )
        checks += [
            Check("agent ÷ bare client", f"{ratio:.3f}", f"≥ {RATIO_TARGET:g}", ratio >= RATIO_TARGET),
            Check("frames sent", f"{sent} of {len(wire)}", "all", sent == len(wire)),
        ]
        if not args.no_rss:
            python = agent_python(dev=args.dev_agent)
            bare_last, _ = measure_rss(
                workdir, args.rss_seconds, args.reply_delay_ms, args.days, args.poll_min, python, 0
            )
            last, peak = measure_rss(
                workdir, args.rss_seconds, args.reply_delay_ms, args.days, args.poll_min, python, 2
            )
            added = last - bare_last
            print(
                f"agent process VmRSS after {args.rss_seconds:g} s: {last:.1f} MiB with two platform targets "
                f"draining the week (peak seen {peak:.1f} MiB); {bare_last:.1f} MiB without targets"
            )
            print(
                f"  station budget {RSS_TARGET_MIB:g} MiB (bench_rs485_poll): "
                f"{'within' if peak <= RSS_TARGET_MIB else 'over'} with targets, "
                f"{'within' if bare_last <= RSS_TARGET_MIB else 'over'} without"
            )
            rss_ok = added <= RSS_ADDED_MIB
            print(
                f"memory the targets add: {added:+.1f} MiB (target ≤ {RSS_ADDED_MIB:g} MiB): {'PASS' if rss_ok else 'FAIL'}"
            )
            checks += [
                Check(
                    "agent VmRSS peak with two targets",
                    f"{peak:.1f} MiB",
                    f"≤ {RSS_TARGET_MIB:g} MiB",
                    peak <= RSS_TARGET_MIB,
                ),
                Check("memory the targets add", f"{added:+.1f} MiB", f"≤ {RSS_ADDED_MIB:g} MiB", rss_ok),
            ]
    return conclude(checks)


if __name__ == "__main__":
    sys.exit(main())
