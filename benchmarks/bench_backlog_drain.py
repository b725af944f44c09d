"""A 30-day backlog of one station drained to a real collector while live polling stays on time (issue 4 §8),
and the agent's drain rate against a plain publisher in alternating rounds (issue 17).

Setup (all real processes, started by this script): Mosquitto on a free port, ``qingliu collector run``
(SQLite store), ``qingliu sim station`` and ``qingliu agent run``. Before the agent starts, its outbox is
filled through the real Outbox API the way the agent fills it during an outage: every minute for 30 days, one
``add_readings`` per poll (the probe's 6 parameters, then the other 6), each stamped as acquired at its own
time, with the outbox's housekeeping compaction run at the agent's housekeeping interval — 30 days x 1440
minutes x 12 parameters = 518,400 readings in the backfill lane. The agent then drains them while it polls
the simulator (live lane).

The baseline is a plain paho QoS 1 publisher sending pre-encoded backfill batches of the agent's size (500
readings), waiting for every PUBACK, window ``outbox.inflight`` like the agent's; readings/s = messages/s x
readings per batch. It runs in the agent's conditions: simulator and collector running, the collector
consuming and storing its batches too. It publishes as a second configured station (BASELINE_STATION, seqs
in order: no gap for the collector to chase), so nothing of it counts in the agent's figures, and every
stream waits until the collector has stored the previous one.

1. The scenario. A first baseline stream (as many readings as the backlog) sizes the rounds; then the agent
   starts and drains the 30 days. Printed: agent start → the collector's store holds every backlog reading
   — target <= 120 s; the agent side (its first backfill message to the PUBACK of its last, from its outbox)
   for information; the live readings' delivery latency (collector received_at - t) and poll lateness.
2. The ratio. A template outbox is filled the same way with as many days as the faster of the agent and the
   first baseline stream would carry in 1.2 x ``--window`` seconds (``--round-days`` to set them).
   ``--rounds`` alternating rounds (benchmarks/rounds.py): a fresh agent drains a copy of the template as
   another configured station (one per round: at most six), polling the simulator; then the baseline publishes
   exactly as many readings. Both sides carry the same count because the rate depends on it: the collector
   consumes while they publish, and a stream twice as long spent more of itself competing with it (sizing the
   baseline's streams from its previous rate made them alternate between 3 and 7.5 million readings and its
   rate between 1.7 and 0.63 million/s, so the ratios went 0.42 to 1.16 round by round). Target (issue 17):
   agent side >= 0.7 x baseline, the median of the rounds, and every backlog reading acknowledged.

A full run (30 days, 5 rounds of 3 s) is long, most of it the collector storing each round's readings before
the next starts; ``--days 1 --window 0.1 --rounds 2`` is a smoke run (under 30 s).

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_backlog_drain [--days 30] [--round-days N] [--window 3] \
        [--rounds 5] [--backfill-rate 10000000]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import shutil
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import OutboxConfig
from agent.outbox import Outbox
from benchmarks import rounds
from benchmarks.baselines import paho_qos1_publish_rate
from benchmarks.bench_hj212_uplink import fresh_copy
from collector.config import default_stations
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
RATIO_TARGET = 0.7  # issue 17 (issue 4 §8 asked 0.5)
DEFAULT_BACKFILL_RATE = 10_000_000.0  # readings/s: far above what the link carries, so not the limit
BASELINE_STATION = "chuanhutun"  # a default configured station beside the bench's hexicun
BENCH_STATION = "hexicun"  # the scenario's station (tests.support.stack.Stack's)
# The rounds' agents: one configured station each, so that their readings are new to the collector.
ROUND_STATIONS = tuple(s.id for s in default_stations() if s.id not in (BENCH_STATION, BASELINE_STATION))


class BenchStack(Stack):
    backfill_rate: float = DEFAULT_BACKFILL_RATE

    def agent_config(self) -> Path:
        path = super().agent_config()
        text = path.read_text().replace("[outbox]\n", f"[outbox]\nbackfill_rate = {self.backfill_rate}\n", 1)
        path.write_text(text)
        return path


def fill_backlog(
    path: Path, station: str, days: int, end: datetime, *, fsync: bool = True
) -> tuple[int, float]:
    """Polls every minute for ``days`` days up to ``end``: one ``add_readings`` (one commit) per poll,
    stamped as acquired at its own time, and the compaction step of the agent's housekeeping every
    ``housekeeping_s`` of that time. ``fsync=False`` only skips the disk flush of each commit (the rounds'
    template: the same rows and chunks, written about 3x faster)."""
    config = OutboxConfig()
    start = end - timedelta(days=days)
    clock = [start.timestamp()]
    outbox = Outbox(path, config, station, clock=lambda: clock[0])
    if not fsync:
        outbox.store.db.execute("PRAGMA synchronous=OFF")
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
    ``first_seq`` on, readings at times no other stream uses (so the collector stores every one): the twelve
    parameters each minute from 2020 on, as ``fill_backlog`` polls them (a minute per reading reached the
    present after 3.5 million readings, and the collector rightly kept later ones apart as ahead of its clock:
    the stream then waited out its timeout). Values as ``fill_backlog``'s, by minute: each parameter stays on
    its side of its class limits, so the collector's alerts open once (values that crossed a limit inside every
    batch opened and resolved alerts all through a stream)."""
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    payloads = []
    for i in range(first_seq, first_seq + count):
        readings = []
        for g in range(i * per_batch, (i + 1) * per_batch):
            minute, k = divmod(g, len(PARAMS))
            readings.append(
                Reading(
                    param=PARAMS[k],
                    t=t0 + timedelta(minutes=minute),
                    value=1.0 + minute % 100 / 100,
                    flag=Flag.NORMAL,
                    device="probe",
                )
            )
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


@dataclass
class Baseline:
    """The plain publisher as BASELINE_STATION: its seqs go on from stream to stream, and each stream ends
    once the collector has stored it (so that the next measurement starts on an idle collector)."""

    port: int
    db: Path
    inflight: int
    per_batch: int
    timeout: float
    next_seq: int = 0
    stored: int = 0

    def stream(self, readings: int, label: str) -> rounds.Sample:
        count = -(-readings // self.per_batch)
        payloads = baseline_payloads(BASELINE_STATION, count, self.per_batch, first_seq=self.next_seq)
        self.next_seq += count
        msg_rate = paho_qos1_publish_rate(
            "127.0.0.1", self.port, topic(BASELINE_STATION, "readings"), payloads, inflight=self.inflight
        )
        size = statistics.mean(len(p) for p in payloads) / 1024
        del payloads
        self.stored += count * self.per_batch
        settle = time.monotonic()
        while (
            collector_count(self.db, BASELINE_STATION) < self.stored
            and time.monotonic() - settle < self.timeout
        ):
            time.sleep(0.2)
        held = collector_count(self.db, BASELINE_STATION)
        if held < self.stored:
            print(f"  {label}: TIMEOUT, the collector holds {held} of {self.stored}", flush=True)
        print(
            f"  {label}: {count} batches of {self.per_batch} readings ({size:.1f} KiB each), window "
            f"{self.inflight}: {msg_rate:.0f} messages/s = {msg_rate * self.per_batch:.0f} readings/s; the "
            f"collector stored them {time.monotonic() - settle:.1f} s after the last PUBACK",
            flush=True,
        )
        return rounds.Sample(msg_rate * self.per_batch, count / msg_rate)


@dataclass
class Scenario:
    """What the 30-day drain showed."""

    total: int
    baseline: float  # readings/s of the first baseline stream, as many readings as the backlog
    drain_s: float  # agent start → the collector holds every backlog reading
    stored: int  # backlog readings the collector held at the end
    agent: tuple[float, float, int] | None  # agent_side()
    began_wall: float
    latency: list[float]
    lateness: list[float]


def scenario(stack: BenchStack, db: Path, days: int, timeout: float, baseline: Baseline) -> Scenario:
    """Fill ``days`` of backlog, start the collector side, a first baseline stream, then the agent's drain."""
    (stack.root / "agent").mkdir(parents=True)
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    total, took = fill_backlog(stack.outbox_path, stack.station, days, end)
    print(
        f"backlog: {total} readings ({days} days x 1440 min x {len(PARAMS)}) written in {took:.1f} s",
        flush=True,
    )
    end_us = int(end.timestamp() * 1_000_000)
    print(f"agent outbox.backfill_rate = {stack.backfill_rate:.0f} readings/s")
    stack.start_sim()
    stack.start_collector()
    print(
        f"baseline: plain paho QoS 1 publisher as station {BASELINE_STATION}, as many readings as the backlog, "
        "collector consuming"
    )
    first = baseline.stream(total, "first stream (sizes the rounds)").value
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
        if time.monotonic() - began > timeout:
            print(f"TIMEOUT: collector holds {held} of {total}")
            break
        if time.monotonic() - last_print >= 10:
            last_print = time.monotonic()
            print(
                f"  {time.monotonic() - began:5.0f} s: collector holds {held}, "
                f"agent has {stack.agent_unsent()} unacknowledged",
                flush=True,
            )
        time.sleep(0.5)
    drain_s = time.monotonic() - began
    if agent is None:
        agent = agent_side(stack.outbox_path, fill_end_ms)
    time.sleep(3)  # a last live poll or two
    rows = live_rows(db, stack.station, int(live_since.timestamp() * 1_000_000))
    if stack.agent is not None:
        stack.agent.stop()  # the rounds run their own agents
    probe_t = [t / 1e6 for p, t, _ in rows if p == "w01010"]
    return Scenario(
        total,
        first,
        drain_s,
        held,
        agent,
        began_wall,
        latency=[(r - t) / 1e6 for _, t, r in rows],
        lateness=[b - a - stack.probe_interval_s for a, b in itertools.pairwise(probe_t)],
    )


def report_scenario(found: Scenario, probe_interval_s: float) -> bool:
    """Print the scenario's figures; whether the agent acknowledged every backlog reading."""
    rate, baseline = found.total / found.drain_s, found.baseline
    print(f"drain: {found.total} readings in {found.drain_s:.1f} s (agent start → all at the collector)")
    print(f"  target <= {DRAIN_TARGET_S:.0f} s: {'PASS' if found.drain_s <= DRAIN_TARGET_S else 'FAIL'}")
    print(
        f"readings/s end to end: {rate:.0f}; {rate / baseline:.2f} of the first baseline stream (for information)"
    )
    carried = found.stored >= found.total
    if found.agent is not None:
        first, last, n = found.agent
        drain = max(last - first, 1e-3)
        print(
            f"agent side: {n} backlog readings from the first message that carried them to the PUBACK of the "
            f"last in {drain:.2f} s = {found.total / drain:.0f} readings/s, {found.total / drain / baseline:.2f} "
            f"of the first baseline stream (for information; the ratio is the rounds'); from the agent process "
            f"start {last - found.began_wall:.2f} s"
        )
    else:
        print("agent side: the backlog was not all acknowledged")
    if found.latency:
        print(
            f"live readings during the drain: {len(found.latency)}; delivery latency p50 "
            f"{pct(found.latency, 0.5):.2f} s, p95 {pct(found.latency, 0.95):.2f} s, max {max(found.latency):.2f} s"
        )
    if found.lateness:
        print(
            f"probe polls (every {probe_interval_s:g} s): {len(found.lateness) + 1}; lateness p95 "
            f"{pct(found.lateness, 0.95):.2f} s, max {max(found.lateness):.2f} s",
            flush=True,
        )
    return carried


@dataclass
class AgentRounds:
    """Fresh agents, one per round and station, each draining a copy of one template outbox."""

    stack: BenchStack
    db: Path
    template: Path
    total: int
    end: datetime  # the template's last poll is before this
    timeout: float
    all_carried: bool = True

    def drain(self, r: int) -> rounds.Sample:
        station = ROUND_STATIONS[r - 1]
        agent_stack = dataclasses.replace(
            self.stack,
            root=self.stack.root / f"round{r}",
            station=station,
            sim=None,
            agent=None,
            collector=None,
            agent_starts=100 * r,  # its log: agent-<100 r + 1>.log
        )
        agent_stack.backfill_rate = self.stack.backfill_rate
        (agent_stack.root / "agent").mkdir(parents=True)
        fresh_copy(self.template, agent_stack.outbox_path)
        end_ms = int(self.end.timestamp() * 1000) + 60_000
        end_us = int(self.end.timestamp() * 1_000_000)
        began = time.monotonic()
        proc = agent_stack.start_agent()
        agent = None
        while agent is None and time.monotonic() - began < self.timeout:
            time.sleep(0.2)
            agent = agent_side(agent_stack.outbox_path, end_ms)
        while (
            collector_count(self.db, station, end_us) < self.total and time.monotonic() - began < self.timeout
        ):
            time.sleep(0.2)
        stored_s = time.monotonic() - began
        held = collector_count(self.db, station, end_us)
        proc.stop()
        shutil.rmtree(agent_stack.root / "agent", ignore_errors=True)  # its copy of the template
        if agent is None:
            print(f"  round {r} agent ({station}): TIMEOUT, the backlog was not all acknowledged", flush=True)
            self.all_carried = False
            return rounds.Sample(0.0, float("nan"))
        first, last, sent = agent
        seconds = max(last - first, 1e-3)
        # Every backlog reading is acknowledged once the collector holds it; the agent's own messages are not
        # the count: at start it sends the newest polls of the backlog live, in one chunk stamped then.
        self.all_carried = self.all_carried and held >= self.total
        print(
            f"  round {r} agent as {station}: {sent} backlog readings in backfill messages, acknowledged in "
            f"{seconds:.2f} s (first backfill message → last PUBACK); the collector held {held} of "
            f"{self.total} {stored_s:.1f} s after the agent started",
            flush=True,
        )
        return rounds.Sample(self.total / seconds, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30, help="the scenario's backlog")
    parser.add_argument(
        "--round-days", type=int, help="each round's backlog (default: sized from the first baseline stream)"
    )
    parser.add_argument(
        "--backfill-rate", type=float, default=DEFAULT_BACKFILL_RATE, help="agent outbox.backfill_rate"
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep", help="run in this (new) folder and keep the logs and databases")
    rounds.add_options(parser)
    args = parser.parse_args(argv)
    if args.rounds > len(ROUND_STATIONS):
        parser.error(f"--rounds: at most {len(ROUND_STATIONS)} (one configured station per round)")

    with tempfile.TemporaryDirectory(prefix="bench-drain-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        broker = Mosquitto(root / "broker").start()
        processes = ProcessGroup(root)
        stack = BenchStack(root / "stack", broker, processes, probe_interval_s=1.0, analyser_interval_s=2.0)
        stack.backfill_rate = args.backfill_rate
        stack.nutrient_cycle_min = 0.5
        db = stack.root / "collector.db"
        config = OutboxConfig()
        baseline = Baseline(broker.port, db, config.inflight, config.batch_max_readings, args.timeout)
        try:
            found = scenario(stack, db, args.days, args.timeout, baseline)
            carried = report_scenario(found, stack.probe_interval_s)

            # The rounds' backlog: what the faster side carried per second in the scenario x 1.2 windows, so
            # that both sides last a window. The baseline publishes exactly as many readings.
            per_day = 1440 * len(PARAMS)
            agent_rate = (
                found.total / max(found.agent[1] - found.agent[0], 1e-3) if found.agent else found.baseline
            )
            fastest = max(agent_rate, found.baseline)
            days = args.round_days or max(1, math.ceil(fastest * args.window * 1.2 / per_day))
            end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
            template = stack.root / "template" / "outbox.db"
            template.parent.mkdir()
            total, took = fill_backlog(template, "template", days, end, fsync=False)
            print(
                f"rounds: a template outbox of {days} days = {total} readings (written in {took:.1f} s), drained by "
                "a fresh agent each round as another station; then the plain publisher, as many readings",
                flush=True,
            )
            agents = AgentRounds(stack, db, template, total, end, args.timeout)

            def publisher(r: int) -> rounds.Sample:
                return baseline.stream(total, f"round {r} baseline")

            ratio = rounds.alternate(
                "agent side ÷ plain publisher",
                agents.drain,
                publisher,
                rounds=args.rounds,
                window=args.window,
                unit="readings/s",
                labels=("agent", "plain publisher"),
            )
        finally:
            processes.stop_all()
            broker.stop()

    if note := rounds.smoke_note(args.window, args.rounds):
        print(note)
    acknowledged = carried and agents.all_carried
    return rounds.conclude(
        [
            rounds.Check(
                f"{found.total} readings, agent start → all at the collector",
                f"{found.drain_s:.1f} s",
                f"≤ {DRAIN_TARGET_S:g} s",
                found.drain_s <= DRAIN_TARGET_S,
            ),
            ratio.check(RATIO_TARGET),
            rounds.Check(
                "every backlog reading acknowledged", "yes" if acknowledged else "no", "all", acknowledged
            ),
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
