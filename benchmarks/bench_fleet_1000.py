"""1,000 stations against one collector (issue 5 §8): ingest lag, memory, fleet API latency.

1. Pre-fills a SQLite store with hourly history for every station (``--prefill-days``, default 30: 1,000 ×
   720 h × 9 parameters = 6.5 M readings; a full year is 79 M rows, too long to write for a quick run) and
   the latest-value table the overview reads.
2. Starts a real Mosquitto and a real collector process on that store, with the 1,000 stations configured.
3. Runs the light publisher fleet (benchmarks.fleet_load: status every 30 s, a live batch every 60 s per
   station) for ``--minutes`` (default 10), sampling the collector's ingest lag (/metrics
   ``qingliu_collector_ingest_lag_seconds``) and RSS (/proc/PID/status) every second.
4. In the last part of the run, times GET /api/overview and /api/stations (p50/p95).

Targets: ingest lag < 5 s throughout; RSS flat (slope from 30 % to 60 % of the run < 1 MB/min); API p95 < 100 ms.
The last line is PASS or FAIL with every figure and its bound (exit 1 on FAIL).

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_fleet_1000 [--minutes 10] [--stations 1000] [--prefill-days 30]
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import statistics
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.fleet_load import NUTRIENTS, PROBE, FleetStats, run_fleet, station_ids
from benchmarks.rounds import Check, conclude
from collector.store.sqlite import SqliteStore
from collector.timestamps import to_us
from tests.support.broker import Mosquitto
from tests.support.ports import free_port, wait_for_port
from tests.support.processes import ProcessGroup, qingliu

LAG_TARGET_S = 5.0
P95_TARGET_MS = 100.0
RSS_SLOPE_MAX_MB_PER_MIN = 1.0
PARAMS = {**PROBE, **{k: v for k, v in NUTRIENTS.items()}}


def prefill(db_path: Path, stations: list[str], days: int) -> int:
    """Hourly history for every station and parameter, ending an hour ago; returns rows written."""
    SqliteStore(db_path).close()  # the schema
    db = sqlite3.connect(str(db_path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    hours = [to_us(end - timedelta(hours=h)) for h in range(days * 24)][::-1]
    rng = random.Random(1)
    rows = 0
    for sid in stations:
        db.execute("BEGIN")
        batch = [
            (sid, p, t, round(v * (1 + 0.05 * rng.random()), 4), "N", "probe", None, t)
            for p, v in PARAMS.items()
            for t in hours
        ]
        db.executemany("INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
        db.executemany(
            "INSERT OR REPLACE INTO latest VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(sid, p, hours[-1], v, "N", "probe", hours[-1]) for p, v in PARAMS.items()],
        )
        db.execute("COMMIT")
        rows += len(batch)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for line in db.execute(
        "EXPLAIN QUERY PLAN SELECT station, param, t, value, flag, device, received_at FROM latest WHERE station = ?",
        (stations[0],),
    ):
        print(f"query plan (overview's latest values): {line[-1]}")
    db.close()
    return rows


def collector_config(path: Path, broker_url: str, db: Path, api_port: int, stations: list[str]) -> Path:
    lines = [
        "[mqtt]",
        f'url = "{broker_url}"',
        'client_id = "bench-fleet-collector"',
        "",
        "[store]",
        f'url = "sqlite:///{db}"',
        "",
        "[api]",
        'host = "127.0.0.1"',
        f"port = {api_port}",
        "read_requires_login = false",  # timed reads without signing in
    ]
    for sid in stations:
        lines += ["", "[[stations]]", f'id = "{sid}"', f'name_zh = "站{sid[-4:]}"', 'river = "fen"']
    path.write_text("\n".join(lines) + "\n")
    return path


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else 0.0


def metric(api: str, name: str) -> float | None:
    with urllib.request.urlopen(f"{api}/metrics", timeout=10) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def timed_get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) in MB/min."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [s[0] for s in samples], [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--prefill-days", type=int, default=30)
    parser.add_argument("--api-samples", type=int, default=100, help="requests per endpoint")
    args = parser.parse_args(argv)
    stations = station_ids(args.stations)
    checks: list[Check] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = root / "collector.db"
        t0 = time.perf_counter()
        rows = prefill(db, stations, args.prefill_days)
        print(
            f"prefill: {args.stations} stations × {args.prefill_days * 24} h × {len(PARAMS)} params = {rows:,} "
            f"readings in {time.perf_counter() - t0:.0f} s, {db.stat().st_size / 1e9:.2f} GB"
        )
        broker = Mosquitto(root / "broker").start()
        group = ProcessGroup(root)
        try:
            api_port = free_port()
            api = f"http://127.0.0.1:{api_port}"
            config = collector_config(root / "collector.toml", broker.url, db, api_port, stations)
            proc = group.start("collector", qingliu("collector", "run", "--config", str(config)))
            wait_for_port(api_port, timeout=120)
            print(f"collector up (pid {proc.pid}), RSS {rss_mb(proc.pid):.0f} MB")

            seconds = args.minutes * 60
            stop = threading.Event()
            stats = FleetStats()
            fleet = threading.Thread(
                target=run_fleet, args=(broker.url, stations, seconds), kwargs={"stop": stop, "stats": stats}
            )
            start = time.monotonic()
            fleet.start()
            rss: list[tuple[float, float]] = []
            lags: list[float] = []
            timings: dict[str, list[float]] = {"/api/overview": [], "/api/stations": []}
            api_from = seconds * 0.6  # time the API once the fleet is fully reporting
            while fleet.is_alive():
                now = time.monotonic() - start
                rss.append((now, rss_mb(proc.pid)))
                lag = metric(api, "qingliu_collector_ingest_lag_seconds")
                if lag is not None:
                    lags.append(lag)
                if now >= api_from and len(timings["/api/stations"]) < args.api_samples:
                    for path in timings:
                        timings[path].append(timed_get(api + path))
                else:
                    time.sleep(1.0)
            fleet.join()
            stored = metric(api, "qingliu_collector_readings_ingested_total")
            # The fleet view's health columns: computed for every station on the first request, then kept for
            # CACHE_S (collector/api/fleet.py). For information: what the first visitor waits.
            fleet_first = timed_get(api + "/api/fleet/health")
            fleet_cached = [timed_get(api + "/api/fleet/health") for _ in range(5)]
        finally:
            group.stop_all()
            broker.stop()

    print(
        f"fleet: {args.stations} stations for {args.minutes:g} min: {stats.statuses} statuses, "
        f"{stats.batches} batches, {stats.readings} readings published; collector inserted {stored}"
    )
    max_lag = max(lags) if lags else float("nan")
    ok = bool(lags) and max_lag < LAG_TARGET_S
    checks.append(Check("max ingest lag", f"{max_lag:.3f} s", f"< {LAG_TARGET_S:g} s", ok))
    print(
        f"ingest lag: max {max_lag:.3f} s, median {statistics.median(lags) if lags else float('nan'):.3f} s "
        f"over {len(lags)} samples (target < {LAG_TARGET_S} s) {'PASS' if ok else 'FAIL'}"
    )
    # Every station has reported a few times by 30 % of the run (its records, alert memos and latest values
    # exist); from 60 % the API is timed too, which builds 2 MB responses: slopes of both parts.
    total = rss[-1][0]
    steady = [s for s in rss if 0.3 * total <= s[0] <= api_from]
    loaded = [s for s in rss if s[0] >= 0.3 * total]
    slope = slope_per_min(steady)
    mid = rss[len(rss) // 2][1]
    ok = slope < RSS_SLOPE_MAX_MB_PER_MIN
    checks.append(
        Check("collector RSS slope", f"{slope:+.2f} MB/min", f"< {RSS_SLOPE_MAX_MB_PER_MIN:g} MB/min", ok)
    )
    print(
        f"collector RSS: start {rss[0][1]:.0f} MB, middle {mid:.0f} MB, end {rss[-1][1]:.0f} MB; slope under the "
        f"fleet from 30 % to 60 % of the run {slope:+.2f} MB/min (target < {RSS_SLOPE_MAX_MB_PER_MIN}) "
        f"{'PASS' if ok else 'FAIL'}; from 30 % to the end (API timed too) {slope_per_min(loaded):+.2f} MB/min"
    )
    print(
        f"/api/fleet/health: first request (every station's 24 h computed) {fleet_first:.0f} ms, then from its "
        f"cache p50 {p(fleet_cached, 0.5):.1f} ms (for information)"
    )
    for path, values in timings.items():
        if not values:
            print(f"{path}: no samples FAIL")
            checks.append(Check(f"{path} p95", "no samples", f"< {P95_TARGET_MS:g} ms", False))
            continue
        p95 = p(values, 0.95)
        ok = p95 < P95_TARGET_MS
        checks.append(Check(f"{path} p95", f"{p95:.1f} ms", f"< {P95_TARGET_MS:g} ms", ok))
        print(
            f"{path}: p50 {p(values, 0.5):.1f} ms, p95 {p95:.1f} ms over {len(values)} requests with "
            f"{args.stations} stations (target p95 < {P95_TARGET_MS:g} ms) {'PASS' if ok else 'FAIL'}"
        )
    return conclude(checks)


if __name__ == "__main__":
    raise SystemExit(main())
