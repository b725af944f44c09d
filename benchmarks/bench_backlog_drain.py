"""A 30-day backlog of one station drained to a real collector while live polling stays on time (issue 4 §8).

Setup (all real processes, started by this script): Mosquitto on a free port, ``qingliu collector run``
(SQLite store), ``qingliu sim station`` and ``qingliu agent run``. Before the agent starts, its outbox is
filled through the real Outbox API with 30 days x 1440 minutes x 12 parameters = 518,400 readings, acquired
over those 30 days (so they go in the backfill lane). The agent then drains them while it polls the simulator
(live lane).

Figures: drain time (agent start → the collector holds every backlog reading), readings/s, the baseline
(plain paho QoS 1 publisher sending the same batches, waiting for every PUBACK; readings/s = messages/s x
readings per batch), the live readings' delivery latency (collector received_at - t) and poll lateness.
Targets: drain <= 120 s; readings/s >= 0.5 x baseline.

    /work/venv/bin/python -m benchmarks.bench_backlog_drain [--days 30] [--backfill-rate 100000]
"""

from __future__ import annotations

import argparse
import itertools
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import OutboxConfig
from agent.outbox import Outbox
from benchmarks.baselines import paho_qos1_publish_rate
from protocols.flags import Flag
from protocols.messages import Lane, Reading, ReadingBatch, encode
from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup
from tests.support.stack import Stack

PARAMS: tuple[str, ...] = (
    *("w01010", "w01001", "w01009", "w01014", "w01003", "w01019"),
    *("w01018", "w21003", "w21011", "w21001", "w01017", "w21017"),
)
DRAIN_TARGET_S = 120.0
RATIO_TARGET = 0.5


class BenchStack(Stack):
    backfill_rate: float = 100_000.0

    def agent_config(self) -> Path:
        path = super().agent_config()
        text = path.read_text().replace("[outbox]\n", f"[outbox]\nbackfill_rate = {self.backfill_rate}\n", 1)
        path.write_text(text)
        return path


def fill_backlog(path: Path, station: str, days: int, end: datetime) -> tuple[int, float]:
    """Readings every minute for ``days`` days up to ``end``, committed an hour at a time, each hour
    stamped as acquired at its own time."""
    start = end - timedelta(days=days)
    clock = [start.timestamp()]
    outbox = Outbox(path, OutboxConfig(), station, clock=lambda: clock[0])
    began = time.perf_counter()
    total = 0
    for hour in range(days * 24):
        base = start + timedelta(hours=hour)
        clock[0] = (base + timedelta(hours=1)).timestamp()
        rows = [
            Reading(
                param=p, t=base + timedelta(minutes=m), value=1.0 + m / 100, flag=Flag.NORMAL, device="probe"
            )
            for m in range(60)
            for p in PARAMS
        ]
        total += outbox.add_readings(rows)
    outbox.close()
    return total, time.perf_counter() - began


def baseline_payloads(station: str, count: int, per_batch: int) -> list[bytes]:
    """The same message shape the agent sends: a backfill ReadingBatch of ``per_batch`` readings."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    payloads = []
    for i in range(count):
        readings = [
            Reading(
                param=PARAMS[k % len(PARAMS)],
                t=t0 + timedelta(minutes=i * per_batch + k),
                value=1.0 + k / 100,
                flag=Flag.NORMAL,
                device="probe",
            )
            for k in range(per_batch)
        ]
        message = ReadingBatch(
            station=station, seq=i, lane=Lane.BACKFILL, sent_at=datetime.now(UTC), readings=readings
        )
        payloads.append(encode(message))
    return payloads


def collector_count(db: Path, station: str, before_us: int) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            row = conn.execute(
                "SELECT count(*) FROM readings WHERE station = ? AND t < ?", (station, before_us)
            ).fetchone()
        return int(row[0])
    except sqlite3.OperationalError:
        return 0


def live_rows(db: Path, station: str, since_us: int) -> list[tuple[str, int, int]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return [
            (str(p), int(t), int(r))
            for p, t, r in conn.execute(
                "SELECT param, t, received_at FROM readings WHERE station = ? AND t >= ? ORDER BY t",
                (station, since_us),
            )
        ]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--backfill-rate", type=float, default=100_000.0, help="agent outbox.backfill_rate")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep", help="run in this (new) folder and keep the logs and databases")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-drain-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        broker = Mosquitto(root / "broker").start()
        processes = ProcessGroup(root)
        stack = BenchStack(root / "stack", broker, processes, probe_interval_s=1.0, analyser_interval_s=2.0)
        stack.backfill_rate = args.backfill_rate
        stack.nutrient_cycle_min = 0.5
        try:
            per_batch = OutboxConfig().batch_max_readings
            print(f"baseline: plain paho QoS 1 publisher, batches of {per_batch} readings ...")
            payloads = baseline_payloads(stack.station, 400, per_batch)
            msg_rate = paho_qos1_publish_rate(
                "127.0.0.1", broker.port, "bench/baseline", payloads, inflight=OutboxConfig().inflight
            )
            baseline = msg_rate * per_batch
            print(
                f"  {msg_rate:.0f} messages/s = {baseline:.0f} readings/s "
                f"({statistics.mean(len(p) for p in payloads) / 1024:.1f} KiB per message)"
            )

            stack.root.mkdir(parents=True)
            (stack.root / "agent").mkdir()
            end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
            total, took = fill_backlog(stack.outbox_path, stack.station, args.days, end)
            print(
                f"backlog: {total} readings ({args.days} days x 1440 min x {len(PARAMS)}) written in {took:.1f} s"
            )
            end_us = int(end.timestamp() * 1_000_000)

            stack.start_sim()
            stack.start_collector()
            db = stack.root / "collector.db"
            began = time.monotonic()
            live_since = datetime.now(UTC)
            stack.start_agent()
            last_print = began
            agent_done: float | None = None
            while (held := collector_count(db, stack.station, end_us)) < total:
                if agent_done is None and stack.outbox_path.exists() and stack.agent_unsent() == 0:
                    agent_done = time.monotonic() - began
                if time.monotonic() - began > args.timeout:
                    print(f"TIMEOUT: collector holds {held} of {total}")
                    break
                if time.monotonic() - last_print >= 10:
                    last_print = time.monotonic()
                    print(
                        f"  {time.monotonic() - began:5.0f} s: collector holds {held}, "
                        f"agent has {stack.agent_unsent()} unacknowledged"
                    )
                time.sleep(0.5)
            drain_s = time.monotonic() - began
            rate = total / drain_s
            time.sleep(3)  # a last live poll or two
            rows = live_rows(db, stack.station, int(live_since.timestamp() * 1_000_000))
            latency = [(r - t) / 1e6 for _, t, r in rows]
            probe_t = [t / 1e6 for p, t, _ in rows if p == "w01010"]
            steps = [b - a for a, b in itertools.pairwise(probe_t)]
            lateness = [s - stack.probe_interval_s for s in steps]
        finally:
            processes.stop_all()
            broker.stop()

    ratio = rate / baseline
    ok_time, ok_ratio = drain_s <= DRAIN_TARGET_S, ratio >= RATIO_TARGET
    print(f"drain: {total} readings in {drain_s:.1f} s (agent start → all at the collector)")
    print(f"  target <= {DRAIN_TARGET_S:.0f} s: {'PASS' if ok_time else 'FAIL'}")
    if agent_done is not None:
        print(
            f"agent side: every backlog reading acknowledged by the broker after {agent_done:.1f} s "
            f"({total / agent_done:.0f} readings/s, ratio {total / agent_done / baseline:.2f} of the baseline)"
        )
    print(f"readings/s end to end: {rate:.0f}; baseline {baseline:.0f}; ratio {ratio:.2f}")
    print(f"  target >= {RATIO_TARGET} x baseline: {'PASS' if ok_ratio else 'FAIL'}")
    if latency:
        print(
            f"live readings during the drain: {len(latency)}; delivery latency p50 {pct(latency, 0.5):.2f} s, "
            f"p95 {pct(latency, 0.95):.2f} s, max {max(latency):.2f} s"
        )
    if lateness:
        print(
            f"probe polls (every {stack.probe_interval_s:g} s): {len(steps) + 1}; lateness p95 "
            f"{pct(lateness, 0.95):.2f} s, max {max(lateness):.2f} s"
        )
    ok = ok_time and ok_ratio
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
