"""The whole system compressed in time (issue 19): does anything grow that should stay flat?

Runs, each as its own process as in production: a real Mosquitto; the collector (and its receiver child) on a
SQLite store pre-filled with ``--prefill-days`` of hourly history for the 1,000-station publisher fleet
(benchmarks/fleet_load.py: a status every 30 s and a batch every 60 s per station); ``qingliu sim fleet`` with
two stations whose scenario puts faults on a schedule (``--scenario``, sped up), and a ``qingliu agent run``
for each, reading it over Modbus TCP. Alongside, a dashboard's API calls (overview, stations, a station's
readings and health, alerts, /metrics, /healthz: ``--api-every`` seconds per round) and ``--sse`` clients on
/api/stream (one of them reading slowly).

Every ``--sample-s`` seconds it samples, for every process: RSS, open file descriptors and threads; and the
inbox depth (/metrics), the size of every SQLite WAL file and of the store. At the end it prints, per series,
the first and last values and the least-squares slope over the second half of the run, and fails (exit 1,
last line FAIL) when:

- the collector's RSS grows by more than ``RSS_SLOPE_MAX`` MB/min over the second half;
- any process's descriptors or threads grow over the second half (the last tenth's maximum above the second
  half's first tenth's maximum by more than ``FD_SLACK`` / ``THREAD_SLACK``: a reconnect in flight may hold one);
- a WAL file ends larger than ``WAL_MAX_MB`` (checkpoints keep it small) or the inbox holds a backlog.

Every check is printed with its figure and bound; the last line is PASS or FAIL with the collector's RSS slope,
every check that failed, and how many passed.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_soak [--minutes 30 | --hours 4] [--stations 1000] [--prefill-days 2]

``--memtrace FILE`` runs the collector with QINGLIU_MEMTRACE (collector/memtrace.py) to see what grows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_fleet_1000 import collector_config, prefill, slope_per_min
from benchmarks.fleet_load import FleetStats, run_fleet, station_ids
from benchmarks.rounds import Check, conclude
from collector.config import ApiConfig
from simulators.demo import agent_config
from tests.support.broker import Mosquitto
from tests.support.ports import free_port, wait_for_port
from tests.support.processes import Proc, ProcessGroup, qingliu

RSS_SLOPE_MAX = 0.2  # MB/min, the collector over the second half
FD_SLACK = 4
THREAD_SLACK = 2
WAL_MAX_MB = 64.0
SIM_STATIONS = ("hexicun", "huayuanzi")  # the analyser_fault scenario's stations
SCENARIO = "analyser_fault"


@dataclass
class Series:
    """(seconds since start, value) samples of one quantity."""

    points: list[tuple[float, float]] = field(default_factory=list)

    def second_half(self) -> list[tuple[float, float]]:
        if not self.points:
            return []
        end = self.points[-1][0]
        return [p for p in self.points if p[0] >= end / 2]


def growth(points: list[tuple[float, float]]) -> float:
    """The last tenth's maximum less the first tenth's (0 with fewer than ten points)."""
    if len(points) < 10:
        return 0.0
    tenth = max(1, len(points) // 10)
    return max(v for _, v in points[-tenth:]) - max(v for _, v in points[:tenth])


def grew(points: list[tuple[float, float]], slack: float) -> bool:
    """A count that should be flat grew: the last tenth's maximum exceeds the first tenth's by > slack."""
    return growth(points) > slack


def proc_stat(pid: int) -> tuple[float, int, int] | None:
    """(RSS MB, open fds, threads) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    rss = re.search(r"VmRSS:\s+(\d+) kB", text)
    threads = re.search(r"Threads:\s+(\d+)", text)
    return (int(rss.group(1)) / 1024 if rss else 0.0), fds, int(threads.group(1)) if threads else 0


def children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        found: list[int] = []
        for task in tasks:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            found += [int(c) for c in text]
        return found
    except OSError:
        return []


def metric(api: str, name: str) -> float | None:
    """A metric's value, None when the scrape fails (a busy collector is measured, not a reason to stop)."""
    try:
        with urllib.request.urlopen(f"{api}/metrics", timeout=30) as response:
            text = response.read().decode()
    except (OSError, urllib.error.URLError):
        return None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


@dataclass
class Load:
    requests: int = 0
    errors: int = 0
    sse_events: int = 0
    sse_connects: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def api_load(api: str, stations: list[str], every_s: float, stop: threading.Event, load: Load) -> None:
    """What a few dashboards ask, one round every ``every_s`` seconds."""
    paths = ["/api/overview", "/api/stations", "/api/alerts", "/metrics", "/healthz", "/api/fleet/health"]
    n = 0
    while not stop.wait(every_s):
        station = stations[n % len(stations)]
        n += 1
        for path in [
            *paths,
            f"/api/stations/{station}",
            f"/api/stations/{station}/readings?param=w01010&points=200",
            f"/api/stations/{station}/health",
        ]:
            try:
                with urllib.request.urlopen(api + path, timeout=60) as response:
                    response.read()
                ok = True
            except (OSError, urllib.error.URLError):
                ok = False
            with load.lock:
                load.requests += 1
                load.errors += not ok


def sse_client(api: str, stop: threading.Event, load: Load, read_pause_s: float) -> None:
    """One browser tab on the live stream; ``read_pause_s`` > 0: a slow one."""
    while not stop.is_set():
        with load.lock:
            load.sse_connects += 1
        try:
            with urllib.request.urlopen(api + "/api/stream", timeout=60) as response:
                while not stop.is_set():
                    line = response.readline()
                    if not line:
                        break
                    if line.startswith(b"event:"):
                        with load.lock:
                            load.sse_events += 1
                    if read_pause_s:
                        time.sleep(read_pause_s)
        except (OSError, urllib.error.URLError):
            stop.wait(2.0)


def soak_config(path: Path, base: Path, sim_stations: list[dict[str, Any]], log_dir: Path) -> None:
    """The fleet's collector config plus the simulated stations and a rotating log file."""
    text = base.read_text()
    if "read_requires_login" in ApiConfig.model_fields and "read_requires_login" not in text:
        # the dashboard's reads without signing in
        text = text.replace("[api]\n", "[api]\nread_requires_login = false\n", 1)
    for station in sim_stations:
        text += (
            f'\n[[stations]]\nid = "{station["id"]}"\nname_zh = "{station["name_zh"]}"\n'
            f'river = "{station.get("river", "fen")}"\n'
        )
    text += f'\n[log]\nfile = "{log_dir / "collector.log"}"\nmax_bytes = 1000000\nbackups = 3\n'
    # Retention on: the pre-filled history older than a day moves into hourly aggregates while the fleet reports.
    text += "\n[retention]\nraw_days = 1\nbatch_hours = 24\npause_s = 0.1\n"
    path.write_text(text)


@dataclass
class Sampler:
    """Every process's RSS, fds and threads, the inbox depth, the WAL and store sizes, over time."""

    root: Path
    api: str
    procs: dict[str, Callable[[], int | None]]
    start: float = field(default_factory=time.monotonic)
    series: dict[str, Series] = field(default_factory=dict)

    def add(self, name: str, t: float, value: float) -> None:
        self.series.setdefault(name, Series()).points.append((t, value))

    def sample(self) -> None:
        t = time.monotonic() - self.start
        for name, pid_of in self.procs.items():
            pid = pid_of()
            stat = proc_stat(pid) if pid else None
            if stat is not None:
                self.add(f"{name} rss MB", t, stat[0])
                self.add(f"{name} fds", t, stat[1])
                self.add(f"{name} threads", t, stat[2])
        depth = metric(self.api, "qingliu_collector_inbox_depth")
        if depth is not None:
            self.add("inbox depth", t, depth)
        for wal in sorted(self.root.rglob("*-wal")):
            self.add(f"wal {wal.name} MB", t, wal.stat().st_size / 1e6)
        store = self.root / "collector.db"
        if store.exists():
            self.add("store MB", t, store.stat().st_size / 1e6)
        logs = list((self.root / "logs").glob("*"))
        self.add("log files MB", t, sum(p.stat().st_size for p in logs) / 1e6)


def verdicts(series: dict[str, Series]) -> list[Check]:
    out: list[Check] = []
    rss = series.get("collector rss MB")
    if rss is not None:
        slope = slope_per_min(rss.second_half())
        out.append(
            Check(
                "collector RSS slope over the second half",
                f"{slope:+.3f} MB/min",
                f"< {RSS_SLOPE_MAX:g} MB/min",
                slope < RSS_SLOPE_MAX,
            )
        )
    for name, s in sorted(series.items()):
        if name.endswith(" fds") or name.endswith(" threads"):
            slack = FD_SLACK if name.endswith(" fds") else THREAD_SLACK
            half = s.second_half()
            out.append(
                Check(
                    f"{name} growth over the second half",
                    f"{growth(half):+g}",
                    f"≤ {slack}",
                    not grew(half, slack),
                )
            )
        if name.startswith("wal "):
            last = s.points[-1][1]
            out.append(
                Check(f"{name} at the end", f"{last:.1f} MB", f"≤ {WAL_MAX_MB:g} MB", last <= WAL_MAX_MB)
            )
    depth = series.get("inbox depth")
    if depth is not None:
        last = depth.points[-1][1]
        out.append(Check("inbox depth at the end", f"{last:.0f} messages", "< 1000", last < 1000))
    return out


def report(series: dict[str, Series]) -> None:
    print(f"{'series':<34} {'first':>10} {'mid':>10} {'last':>10} {'slope/min (2nd half)':>22}")
    for name, s in sorted(series.items()):
        pts = s.points
        print(
            f"{name:<34} {pts[0][1]:>10.2f} {pts[len(pts) // 2][1]:>10.2f} {pts[-1][1]:>10.2f} "
            f"{slope_per_min(s.second_half()):>+22.4f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--hours", type=float, help="overrides --minutes (a real soak: --hours 24)")
    parser.add_argument("--stations", type=int, default=1000, help="publisher fleet size")
    parser.add_argument("--prefill-days", type=int, default=2)
    parser.add_argument("--api-every", type=float, default=5.0, help="seconds between dashboard API rounds")
    parser.add_argument("--sse", type=int, default=3, help="live-stream clients (one of them slow)")
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per second (scenario)")
    parser.add_argument("--no-agents", action="store_true", help="the publisher fleet only")
    parser.add_argument("--memtrace", help="QINGLIU_MEMTRACE file for the collector (slows it)")
    parser.add_argument(
        "--keep", help="keep the run's directory here (logs, store) instead of a temporary one"
    )
    args = parser.parse_args(argv)
    # A TERM (or an INT, ignored in a background job) ends the run through the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seconds = (args.hours * 3600) if args.hours else args.minutes * 60
    fleet_ids = station_ids(args.stations)
    with contextlib.ExitStack() as stack:
        root = Path(args.keep) if args.keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        root.mkdir(parents=True, exist_ok=True)
        rows = prefill(root / "collector.db", fleet_ids, args.prefill_days)
        print(
            f"prefill: {rows:,} readings for {args.stations} stations × {args.prefill_days} days", flush=True
        )
        broker = Mosquitto(root / "broker").start()
        stack.callback(broker.stop)
        group = ProcessGroup(root)
        stack.callback(group.stop_all)
        agents: list[Proc] = []
        sim_stations: list[dict[str, Any]] = []
        sim: Proc | None = None
        if not args.no_agents:
            manifest_path = root / "sim.json"
            # The sped-up sim clock ends at the soak's end, now: its readings are late, never ahead of the
            # collector's clock (those are kept apart as suspect).
            sim_start = datetime.now(UTC) - timedelta(seconds=seconds * args.speed)
            sim = group.start(
                "sim",
                qingliu(
                    "sim", "fleet", "--base-port", "0", "--stations", ",".join(SIM_STATIONS),
                    "--scenario", SCENARIO, "--speed", str(args.speed), "--nutrient-cycle-min", "5",
                    "--start", sim_start.isoformat(),
                    "--manifest", str(manifest_path), "--duration", str(int(seconds) + 120),
                ),
            )  # fmt: skip
            deadline = time.monotonic() + 60
            while not manifest_path.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            sim_stations = json.loads(manifest_path.read_text(encoding="utf-8"))["stations"]
        api_port = free_port()
        api = f"http://127.0.0.1:{api_port}"
        config = root / "collector.toml"
        collector_config(config, broker.url, root / "collector.db", api_port, fleet_ids)
        soak_config(config, config, sim_stations, root / "logs")
        env = {"QINGLIU_MEMTRACE": str(Path(args.memtrace).resolve())} if args.memtrace else {}
        collector = group.start("collector", qingliu("collector", "run", "--config", str(config)), env=env)
        wait_for_port(api_port, timeout=120)
        for station in sim_stations:
            path = root / f"agent-{station['id']}.toml"
            text = agent_config(station, broker.url, root)
            text += f'\n[log]\nfile = "{root / "logs" / ("agent-" + station["id"] + ".log")}"\nmax_bytes = 1000000\nbackups = 3\n'
            path.write_text(text)
            agents.append(
                group.start(f"agent-{station['id']}", qingliu("agent", "run", "--config", str(path)))
            )
        print(
            f"up: collector pid {collector.pid}, {len(agents)} agents, sim "
            f"{sim.pid if sim else '-'}; soaking for {seconds / 60:g} min",
            flush=True,
        )

        def receiver_pid() -> int | None:
            kids = children(collector.pid)
            return kids[0] if kids else None

        procs: dict[str, Callable[[], int | None]] = {
            "collector": lambda: collector.pid,
            "receiver": receiver_pid,
            "mosquitto": lambda: broker.proc.pid if broker.proc else None,
        }
        if sim is not None:
            procs["sim"] = lambda: sim.pid
        for agent in agents:
            procs[agent.name] = lambda a=agent: a.pid  # type: ignore[misc]
        sampler = Sampler(root, api, procs)
        stop = threading.Event()
        stack.callback(stop.set)  # the fleet's thread ends with the run, however it ends
        stats, load = FleetStats(), Load()
        threads = [
            threading.Thread(
                target=run_fleet, args=(broker.url, fleet_ids, seconds), kwargs={"stop": stop, "stats": stats}
            ),
            threading.Thread(
                target=api_load,
                args=(
                    api,
                    fleet_ids[:50] + [str(s["id"]) for s in sim_stations],
                    args.api_every,
                    stop,
                    load,
                ),
                daemon=True,
            ),
        ]
        threads += [
            threading.Thread(target=sse_client, args=(api, stop, load, 0.05 if i == 0 else 0.0), daemon=True)
            for i in range(args.sse)
        ]
        for thread in threads:
            thread.start()
        end = time.monotonic() + seconds
        next_report = time.monotonic() + 300
        while time.monotonic() < end:
            sampler.sample()
            if time.monotonic() >= next_report:
                next_report += 300
                rss = sampler.series.get("collector rss MB")
                print(
                    f"  {(time.monotonic() - sampler.start) / 60:5.1f} min: collector RSS "
                    f"{rss.points[-1][1] if rss else float('nan'):.1f} MB, {load.requests} API requests, "
                    f"{load.sse_events} SSE events",
                    flush=True,
                )
            time.sleep(max(0.0, min(args.sample_s, end - time.monotonic())))
        stop.set()
        threads[0].join(30)
        dead = [p.name for p in [collector, *agents] if not p.alive()]
        stored = metric(api, "qingliu_collector_readings_ingested_total")
        print(
            f"fleet: {stats.statuses} statuses, {stats.batches} batches; collector stored {stored} readings; "
            f"API {load.requests} requests ({load.errors} failed); SSE {load.sse_events} events over "
            f"{load.sse_connects} connections"
        )
        report(sampler.series)
    checks = verdicts(sampler.series)
    checks.append(Check("processes dead at the end", ", ".join(dead) or "none", "none", not dead))
    checks.append(
        Check(
            "API requests failed",
            f"{load.errors} of {load.requests}",
            "< 1 %",
            load.requests > 0 and load.errors <= load.requests / 100,
        )
    )
    for c in checks:
        print(f"{'PASS' if c.ok else 'FAIL'}  {c.name}: {c.figure} (bound {c.bound})")
    passed = sum(c.ok for c in checks)
    # The last line: the collector's RSS slope, every check that failed, and the count.
    shown = [c for c in checks if not c.ok or c.name.startswith("collector RSS")]
    return conclude([*shown, Check("checks passed", f"{passed}/{len(checks)}", "all", passed == len(checks))])


if __name__ == "__main__":
    raise SystemExit(main())
