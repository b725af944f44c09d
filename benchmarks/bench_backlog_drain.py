"""A 30-day backlog of one station drained to a real collector while live polling stays on time (issue 4 §8).

Setup (all real processes, started by this script): Mosquitto on a free port, ``qingliu collector run``
(SQLite store), ``qingliu sim station`` and ``qingliu agent run``. Before the agent starts, its outbox is
filled through the real Outbox API the way the agent fills it during an outage: every minute for 30 days, one
``add_readings`` per poll (the probe's 6 parameters, then the other 6), each stamped as acquired at its own
time, with the outbox's housekeeping compaction run at the agent's housekeeping interval — 30 days x 1440
minutes x 12 parameters = 518,400 readings in the backfill lane. The agent then drains them while it polls
the simulator (live lane).

Figures, with the baseline (a plain paho QoS 1 publisher sending the same pre-encoded 500-reading batches,
waiting for every PUBACK, window ``outbox.inflight`` like the agent's; readings/s = messages/s x readings per
batch) measured in the same run and in the same conditions as the agent's drain: simulator and collector
running, the collector consuming and storing the baseline's batches too. They are published as a second
configured station (BASELINE_STATION, seqs in order: no gap for the collector to chase), as many readings as
the backlog, so nothing of them counts in the drain figures; the agent starts once the collector has stored
them all. The baseline runs twice, before and after the drain (the machine is noisy), and the ratio is taken
against the mean of the two.
  - agent side: from the agent's first backfill message to the PUBACK of its last (from the agent's outbox),
    readings/s and the ratio to the baseline — target >= 0.5; also from the agent process start;
  - end to end: agent start → the collector's store holds every backlog reading — target <= 120 s;
  - the live readings' delivery latency (collector received_at - t) and poll lateness during the drain.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_backlog_drain [--days 30] [--backfill-rate 10000000]
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
from protocols.topics import topic
from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup
from tests.support.stack import Stack

PARAMS: tuple[str, ...] = (
    *("w01010", "w01001", "w01009", "w01014", "w01003", "w01019"),
    *("w01018", "w21003", "w21011", "w21001", "w01017", "w21017"),
)
DRAIN_TARGET_S = 120.0
RATIO_TARGET = 0.5
DEFAULT_BACKFILL_RATE = 10_000_000.0  # readings/s: far above what the link carries, so not the limit
BASELINE_STATION = "chuanhutun"  # a default configured station beside the bench's hexicun


class BenchStack(Stack):
    backfill_rate: float = DEFAULT_BACKFILL_RATE

    def agent_config(self) -> Path:
        path = super().agent_config()
        text = path.read_text().replace("[outbox]\n", f"[outbox]\nbackfill_rate = {self.backfill_rate}\n", 1)
        path.write_text(text)
        return path


def fill_backlog(path: Path, station: str, days: int, end: datetime) -> tuple[int, float]:
    """Polls every minute for ``days`` days up to ``end``: one ``add_readings`` (one commit) per poll,
    stamped as acquired at its own time, and the compaction step of the agent's housekeeping every
    ``housekeeping_s`` of that time."""
    config = OutboxConfig()
    start = end - timedelta(days=days)
    clock = [start.timestamp()]
    outbox = Outbox(path, config, station, clock=lambda: clock[0])
    began = time.perf_counter()
    total = 0
    next_housekeeping = clock[0] + config.housekeeping_s
    polls = (PARAMS[:6], PARAMS[6:])
    for minute in range(days * 1440):
        at = start + timedelta(minutes=minute)
        for k, params in enumerate(polls):
            clock[0] = at.timestamp() + k  # the second device answers a second later
            total += outbox.add_readings(
                [
                    Reading(param=p, t=at, value=1.0 + minute % 100 / 100, flag=Flag.NORMAL, device="probe")
                    for p in params
                ]
            )
        if clock[0] >= next_housekeeping:
            outbox.compact_all()
            next_housekeeping += config.housekeeping_s
    outbox.close()
    return total, time.perf_counter() - began


def agent_side(outbox: Path, before_ms: int) -> tuple[float, float, int] | None:
    """(first backfill message bound, last one acknowledged, readings) from the agent's outbox (epoch s),
    or None while some backlog reading is not acknowledged."""
    with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=10) as db:
        left = db.execute(
            "SELECT COALESCE(SUM(n), 0) FROM chunks WHERE sent = 0 AND acquired_at < ?", (before_ms,)
        ).fetchone()[0]
        if left:
            return None
        # The last polls of the fill may fall in the live window at agent start: they count too.
        first, last, n = db.execute(
            "SELECT MIN(created_at), MAX(acked_at), SUM(n) FROM messages WHERE seq IN "
            "(SELECT msg_seq FROM chunks WHERE acquired_at < ?)",
            (before_ms,),
        ).fetchone()
    return first / 1000, last / 1000, int(n)


def baseline_payloads(station: str, count: int, per_batch: int, first_seq: int = 0) -> list[bytes]:
    """The same message shape the agent sends: a backfill ReadingBatch of ``per_batch`` readings; seqs from
    ``first_seq`` on, readings at times no other round uses (so the collector stores every one)."""
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    payloads = []
    for i in range(first_seq, first_seq + count):
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


def collector_count(db: Path, station: str, before_us: int = 2**62) -> int:
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
    parser.add_argument(
        "--backfill-rate", type=float, default=DEFAULT_BACKFILL_RATE, help="agent outbox.backfill_rate"
    )
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
            stack.root.mkdir(parents=True)
            (stack.root / "agent").mkdir()
            end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
            total, took = fill_backlog(stack.outbox_path, stack.station, args.days, end)
            print(
                f"backlog: {total} readings ({args.days} days x 1440 min x {len(PARAMS)}) written in {took:.1f} s"
            )
            end_us = int(end.timestamp() * 1_000_000)
            print(f"agent outbox.backfill_rate = {args.backfill_rate:.0f} readings/s")

            stack.start_sim()
            stack.start_collector()
            db = stack.root / "collector.db"

            config = OutboxConfig()
            per_batch = config.batch_max_readings
            messages = -(-total // per_batch)

            def baseline_round(n: int) -> float:
                """Readings/s of the plain publisher, round ``n``, once the collector stored them all."""
                print(
                    f"baseline round {n}: plain paho QoS 1 publisher as station {BASELINE_STATION}, "
                    f"{messages} batches of {per_batch} readings, window {config.inflight}, collector consuming"
                )
                payloads = baseline_payloads(BASELINE_STATION, messages, per_batch, first_seq=n * messages)
                msg_rate = paho_qos1_publish_rate(
                    "127.0.0.1",
                    broker.port,
                    topic(BASELINE_STATION, "readings"),
                    payloads,
                    inflight=config.inflight,
                )
                print(
                    f"  {msg_rate:.0f} messages/s = {msg_rate * per_batch:.0f} readings/s "
                    f"({statistics.mean(len(p) for p in payloads) / 1024:.1f} KiB per message)"
                )
                settle = time.monotonic()
                want = (n + 1) * messages * per_batch
                while (
                    collector_count(db, BASELINE_STATION) < want and time.monotonic() - settle < args.timeout
                ):
                    time.sleep(0.2)
                print(f"  the collector stored them {time.monotonic() - settle:.1f} s after the last PUBACK")
                return msg_rate * per_batch

            baselines = [baseline_round(0)]
            began = time.monotonic()
            began_wall = time.time()
            live_since = datetime.now(UTC)
            stack.start_agent()
            last_print = began
            agent: tuple[float, float, int] | None = None
            fill_end_ms = int(end.timestamp() * 1000) + 60_000
            while (held := collector_count(db, stack.station, end_us)) < total:
                if agent is None:
                    agent = agent_side(stack.outbox_path, fill_end_ms)
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
            if agent is None:
                agent = agent_side(stack.outbox_path, fill_end_ms)
            rate = total / drain_s
            time.sleep(3)  # a last live poll or two
            rows = live_rows(db, stack.station, int(live_since.timestamp() * 1_000_000))
            # The machine is noisy: the baseline again, after the drain, and the ratio against their mean.
            baselines.append(baseline_round(1))
            baseline = statistics.mean(baselines)
            latency = [(r - t) / 1e6 for _, t, r in rows]
            probe_t = [t / 1e6 for p, t, _ in rows if p == "w01010"]
            steps = [b - a for a, b in itertools.pairwise(probe_t)]
            lateness = [s - stack.probe_interval_s for s in steps]
        finally:
            processes.stop_all()
            broker.stop()

    ratio = rate / baseline
    ok_time = drain_s <= DRAIN_TARGET_S
    print(f"drain: {total} readings in {drain_s:.1f} s (agent start → all at the collector)")
    print(f"  target <= {DRAIN_TARGET_S:.0f} s: {'PASS' if ok_time else 'FAIL'}")
    print(
        f"baseline: {' and '.join(f'{b:.0f}' for b in baselines)} readings/s before and after the drain; "
        f"mean {baseline:.0f}"
    )
    print(f"readings/s end to end: {rate:.0f}; ratio {ratio:.2f} to the baseline (for information)")
    ok_ratio = False
    if agent is not None:
        first, last, carried = agent
        drain = max(last - first, 1e-3)
        agent_rate = total / drain
        ok_ratio = carried == total and agent_rate / baseline >= RATIO_TARGET
        print(
            f"agent side: {carried} backlog readings from the first message that carried them to the PUBACK of the "
            f"last in {drain:.2f} s = {agent_rate:.0f} readings/s, ratio {agent_rate / baseline:.2f} of the "
            f"baseline; from the agent process start {last - began_wall:.2f} s"
        )
    else:
        print("agent side: the backlog was not all acknowledged")
    print(f"  target >= {RATIO_TARGET} x baseline (agent side): {'PASS' if ok_ratio else 'FAIL'}")
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
