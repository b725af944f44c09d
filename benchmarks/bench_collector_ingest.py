"""Collector ingest throughput against a bare paho subscriber on the same stream (issue 4 §8c, issue 17).

Starts a real Mosquitto on a free port and a real collector process (SQLite store), publishes ReadingBatch
messages of ``--size`` readings each at QoS 1, and measures:

- committed: readings per second until the collector's receiving process has committed every message to its
  durable inbox (WAL, synchronous=FULL) — the point where it acknowledges them to the broker, which may then
  forget them. This is the figure compared with the target.
- applied: seconds (and readings/s) until the store's readings table holds every reading (validated, stored,
  queryable), printed separately: watched as the stream's last reading (the applier keeps the inbox's order),
  and the store counted after the timing.

Two ratios, each against its own baseline on the same payloads and broker:

- committed ÷ a bare paho subscriber (benchmarks/naive_pipeline.py without a table, a process of its own that
  only counts the messages: timed from the first publish to the last message), target ≥ 0.8;
- applied ÷ the naive pipeline of issue 17 (benchmarks/naive_pipeline.py, a process of its own as the collector
  is: a paho subscriber that ``json.loads`` each message and ``executemany``s its rows into a plain SQLite table,
  WAL, each message committed before its acknowledgement, no validation), target ≥ 0.5. Both sides are timed
  from the first publish until their table holds every reading.

The baselines are paho clients, as issue 17 defines them; the collector's receiving process has its own lean
subscriber (collector/mqtt_subscriber.py): on paho's loop it committed 0.50–0.58 of the bare subscriber's rate.

benchmarks/bench_collector_apply.py measures the apply path alone against a stricter baseline (the naive inserts
without MQTT, both sides committing 50 messages at a time) and says where the time goes. The machine is noisy:
alternating rounds (benchmarks/rounds.py) — the collector's stream, then the baseline on the same payloads,
``--rounds`` times (fresh batches each round, to one collector process, the next round only once the
previous one is applied and the collector idle). Each round's stream holds ``--batches`` messages; by
default as many as the baseline receives in 1.5 × ``--window`` seconds (measured on a first stream, not
counted), so that both sides of every round last at least the window. Targets (issue 17): committed ≥ 0.8 ×
the bare subscriber and applied ≥ 0.5 × the naive pipeline, each the median of its rounds (in messages, so in
readings too: every batch holds ``--size``), and every message acknowledged.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_collector_ingest [--batches N] [--size 100] [--window 3] \
        [--rounds 5]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks import rounds
from collector.timestamps import to_us
from protocols import messages, topics
from protocols.messages import Reading, ReadingBatch
from tests.support.broker import Mosquitto
from tests.support.ports import free_port, wait_for_port
from tests.support.processes import Proc, ProcessGroup, qingliu

TARGET = 0.8  # issue 17 (issue 4 §8c asked 0.7): committed ÷ the bare subscriber
APPLIED_TARGET = 0.5  # issue 17: applied ÷ the naive pipeline
CALIBRATION_BATCHES = 2000  # the first stream, which sizes the rounds
STATION = "hexicun"
NAIVE_TOPIC = "bench/naive"
BARE_TOPIC = "bench/baseline"
PARAMS = ("w01010", "w01001", "w01009", "w01014", "w01003", "w21003", "w01019", "w21011", "w21001", "w01018")


def make_batches(count: int, size: int, station: str = STATION, first_seq: int = 0) -> list[bytes]:
    """``count`` distinct batches of ``size`` readings (distinct times, so every reading is new). One second
    per reading from 2016 on: a run's tens of millions of readings stay in the past, where the collector takes
    them as ordinary readings (from 2026 on they passed the present after 29 million, and the collector rightly
    set the rest apart as ahead of its clock)."""
    start = datetime(2016, 1, 1, tzinfo=UTC)
    out = []
    for seq in range(first_seq, first_seq + count):
        base = start + timedelta(seconds=seq * size)
        readings = [
            Reading(
                param=PARAMS[i % len(PARAMS)],
                t=base + timedelta(seconds=i),
                value=7.0 + i * 0.01,
                device="probe",
            )
            for i in range(size)
        ]
        batch = ReadingBatch(station=station, seq=seq, sent_at=base, readings=readings)
        out.append(messages.encode(batch))
    return out


def stored_readings(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def inbox_counter(conn: sqlite3.Connection | None, name: str) -> int:
    """A counter of the receiving process (collector/inbox.py), committed with its rows."""
    if conn is None:
        return 0
    try:
        row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def open_read_only(path: Path) -> sqlite3.Connection | None:
    if not path.exists():
        return None
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return None


@dataclass
class Figures:
    committed_s: float  # every message committed to the inbox (then acknowledged)
    acked: int  # acknowledgements the receiver counted (persisted a moment after they went out)
    applied_s: float  # every reading in the store's readings table
    stored: int  # readings in the store at the end


def seconds_until(done: Callable[[], bool], start: float, deadline: float, every: float) -> float:
    """Seconds from ``start`` (perf_counter) until ``done()`` holds, checked every ``every`` s; NaN when it
    still does not at ``deadline``."""
    while time.perf_counter() < deadline:
        if done():
            return time.perf_counter() - start
        time.sleep(every)
    return float("nan")


def publish_all(port: int, topic: str, payloads: list[bytes], inflight: int = 100) -> None:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-ingest-pub", protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(inflight)
    acked = threading.Semaphore(0)
    pub.on_publish = lambda *_a: acked.release()
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    for payload in payloads:
        pub.publish(topic, payload, qos=1)
    for _ in payloads:
        acked.acquire(timeout=120)
    pub.loop_stop()
    pub.disconnect()


class Collector:
    """A real ``qingliu collector run`` process and read-only views of its inbox and store."""

    def __init__(self, root: Path, broker: Mosquitto) -> None:
        self.db = root / "collector.db"
        self.inbox = root / "collector.inbox.db"
        api_port = free_port()
        config = root / "collector.toml"
        config.write_text(
            f'[mqtt]\nurl = "{broker.url}"\nclient_id = "bench-collector"\n\n'
            f'[store]\nurl = "sqlite:///{self.db}"\n\n[api]\nhost = "127.0.0.1"\nport = {api_port}\nread_requires_login = false\n'
        )
        self.broker = broker
        self.group = ProcessGroup(root)
        self.proc = self.group.start("collector", qingliu("collector", "run", "--config", str(config)))
        wait_for_port(api_port, timeout=30)
        time.sleep(1.5)  # the receiving process connected and subscribed
        self.conn: sqlite3.Connection | None = None
        self.store: sqlite3.Connection | None = None

    def counter(self, name: str) -> int:
        self.conn = self.conn or open_read_only(self.inbox)
        return inbox_counter(self.conn, name)

    def holds(self, reading: tuple[str, int, str]) -> bool:
        """Whether the store holds ``reading`` (station, t µs, param): one seek in its clustered key."""
        self.store = self.store or open_read_only(self.db)
        if self.store is None:
            return False
        try:
            query = "SELECT 1 FROM readings WHERE station = ? AND t = ? AND param = ?"
            return self.store.execute(query, reading).fetchone() is not None
        except sqlite3.OperationalError:
            return False

    def stream(self, payloads: list[bytes], size: int) -> Figures:
        """Publish ``payloads``; committed and applied times, from the first publish."""
        accepted0, acked0 = self.counter("accepted"), self.counter("acks")
        want = stored_readings(self.db) + len(payloads) * size
        feeder = threading.Thread(
            target=publish_all, args=(self.broker.port, topics.topic(STATION, "readings"), payloads)
        )
        start = time.perf_counter()
        feeder.start()
        deadline = start + 300
        # Fine-grained: a smoke run's stream lasts well under a second.
        committed_s = seconds_until(
            lambda: self.counter("accepted") - accepted0 >= len(payloads), start, deadline, 0.002
        )
        # The applier stores the inbox in arrival order, so once the last message's last reading is in the store
        # every reading is (the count after the timing checks it). One seek: counting the store's readings (or
        # the inbox's rows) every 10 ms cost this process a core, taken from the collector's.
        last = messages.decode(payloads[-1])
        assert isinstance(last, ReadingBatch)
        final = last.readings[-1]
        identity = (last.station, to_us(final.t), final.param)
        applied_s = seconds_until(lambda: self.holds(identity), start, deadline, 0.01)
        feeder.join(60)
        time.sleep(0.2)  # acknowledgement counts are persisted just after they go out
        acked = self.counter("acks") - acked0
        count = stored_readings(self.db)  # checked once, after the timing
        if count < want:
            print(
                f"collector stored only {count} of {want} readings; log:\n{self.proc.log()[-2000:]}",
                file=sys.stderr,
            )
        return Figures(committed_s, acked, applied_s, count)

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until the collector process is idle (the applier's post-commit work — alerts, tracker — goes on
        after the readings are visible), so that one round does not slow the next."""
        stat = Path(f"/proc/{self.proc.pid}/stat")

        def cpu() -> float:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = cpu()
            time.sleep(0.5)
            if cpu() - before < 0.05:  # under 10 % of a core
                return

    def stop(self) -> None:
        for conn in (self.conn, self.store):
            if conn is not None:
                conn.close()
        self.group.stop_all()


_BARE_RUNS = itertools.count(1)


def bare_receive_rate(root: Path, broker: Mosquitto, payloads: list[bytes]) -> float:
    """Messages/s a bare paho subscriber (benchmarks/naive_pipeline.py without a table, a process of its own)
    receives of ``payloads``, from the first publish to the last message."""
    group = ProcessGroup(root)
    name = f"bare{next(_BARE_RUNS)}"  # a log of its own
    proc = start_pipeline(group, name, broker, BARE_TOPIC, "--expect", str(len(payloads)))
    try:
        _wait_for(proc, "ready", 30)
        start = time.time()  # wall clock: the subscriber's "done" time is another process's
        feeder = threading.Thread(target=publish_all, args=(broker.port, BARE_TOPIC, payloads))
        feeder.start()
        done = _wait_for(proc, "done ", 300)
        feeder.join(60)
        return len(payloads) / (float(done.split()[1]) - start)
    finally:
        group.stop_all()


def start_pipeline(group: ProcessGroup, name: str, broker: Mosquitto, topic: str, *args: str) -> Proc:
    """benchmarks/naive_pipeline.py subscribed to ``topic`` on ``broker``: with ``--db`` the naive pipeline,
    with ``--expect`` the bare subscriber."""
    module = [sys.executable, "-m", "benchmarks.naive_pipeline"]
    return group.start(name, [*module, "--port", str(broker.port), "--topic", topic, *args])


def _wait_for(proc: Proc, word: str, timeout: float) -> str:
    """The first line of ``proc``'s output that starts with ``word``, polled every 2 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = proc.alive()  # before the log: a process that printed the line and ended is still found
        for line in proc.log().splitlines():
            if line.startswith(word):
                return line
        if not alive:
            break
        time.sleep(0.002)
    raise RuntimeError(f"{proc.name}: no {word.strip()!r} within {timeout:.0f} s:\n{proc.log()[-2000:]}")


class NaivePipeline:
    """benchmarks/naive_pipeline.py as a process of its own, subscribed to ``NAIVE_TOPIC``, and a read-only view
    of its table."""

    def __init__(self, root: Path, broker: Mosquitto) -> None:
        self.db = root / "naive.db"
        self.broker = broker
        self.group = ProcessGroup(root)
        self.proc = start_pipeline(self.group, "naive", broker, NAIVE_TOPIC, "--db", str(self.db))
        _wait_for(self.proc, "ready", 30)
        self.conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)  # the table exists by now

    def stored(self) -> int:
        """Rows in the table: its rowids are 1, 2, … (rows are only appended), so the largest is the count, found
        without reading the table (as cheap a poll as the collector's inbox count)."""
        return int(self.conn.execute("SELECT max(rowid) FROM readings").fetchone()[0] or 0)

    def stream(self, payloads: list[bytes], size: int) -> float:
        """Publish ``payloads``; seconds from the first publish until the table holds every reading."""
        want = self.stored() + len(payloads) * size
        feeder = threading.Thread(target=publish_all, args=(self.broker.port, NAIVE_TOPIC, payloads))
        start = time.perf_counter()
        feeder.start()
        seconds = seconds_until(lambda: self.stored() >= want, start, start + 300, 0.01)
        feeder.join(60)
        if seconds != seconds:
            print(f"the naive pipeline stored only {self.stored()} of {want} readings", file=sys.stderr)
        return seconds

    def stop(self) -> None:
        self.conn.close()
        self.group.stop_all()


def _rate(readings: int, seconds: float) -> float:
    return readings / seconds if seconds == seconds and seconds > 0 else 0.0  # NaN: never reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--batches", type=int, help="messages per round (default: sized from the baseline to last the window)"
    )
    parser.add_argument("--size", type=int, default=100, help="readings per batch")
    rounds.add_options(parser)
    args = parser.parse_args(argv)
    all_acked = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = Mosquitto(root / "broker").start()
        collector: Collector | None = None
        naive: NaivePipeline | None = None
        try:
            probe = make_batches(CALIBRATION_BATCHES, args.size, first_seq=10**9)
            calibration = bare_receive_rate(root, broker, probe)
            count = args.batches or max(100, math.ceil(calibration * args.window * 1.5))
            print(
                f"stream: ReadingBatch messages × {args.size} readings, {len(probe[0])} bytes each; a first "
                f"baseline stream received {calibration:,.0f} messages/s → {count} messages per round",
                flush=True,
            )
            del probe
            collector = Collector(root, broker)
            live = collector
            streams: dict[int, list[bytes]] = {}

            def ours(r: int) -> rounds.Sample:
                nonlocal all_acked
                streams.clear()
                payloads = streams[r] = make_batches(count, args.size, first_seq=(r - 1) * count)
                live.settle()
                figures = live.stream(payloads, args.size)
                all_acked = all_acked and figures.acked >= len(payloads)
                readings = count * args.size
                print(
                    f"  round {r} collector: committed (durable in its inbox, then acknowledged) in "
                    f"{figures.committed_s:.2f} s, {figures.acked} of {count} acknowledgements counted; applied "
                    f"(validated, in the store's readings table) {_rate(readings, figures.applied_s):,.0f} "
                    f"readings/s ({figures.applied_s:.2f} s from the first publish; store holds {figures.stored})",
                    flush=True,
                )
                return rounds.Sample(_rate(readings, figures.committed_s), figures.committed_s)

            def baseline(r: int) -> rounds.Sample:
                live.settle()
                messages_s = bare_receive_rate(root, broker, streams[r])
                seconds = count / messages_s if messages_s else float("nan")
                return rounds.Sample(messages_s * args.size, seconds)

            ratio = rounds.alternate(
                "committed ÷ bare subscriber",
                ours,
                baseline,
                rounds=args.rounds,
                window=args.window,
                unit="readings/s",
                labels=("collector committed", "bare paho subscriber"),
            )

            naive = NaivePipeline(root, broker)
            # The applied rounds are sized from the naive pipeline's own rate on a first stream (not counted):
            # it stores several times slower than the bare subscriber receives.
            probe = make_batches(CALIBRATION_BATCHES, args.size, first_seq=10**8)
            naive_rate = CALIBRATION_BATCHES / naive.stream(probe, args.size)
            del probe
            applied_count = args.batches or max(100, math.ceil(naive_rate * args.window * 1.5))
            print(
                f"the naive pipeline stored a first stream at {naive_rate:,.0f} messages/s → {applied_count} "
                "messages per applied round",
                flush=True,
            )

            def applied(r: int) -> rounds.Sample:
                nonlocal all_acked
                streams.clear()
                first_seq = args.rounds * count + (r - 1) * applied_count  # after the committed rounds'
                payloads = streams[r] = make_batches(applied_count, args.size, first_seq=first_seq)
                live.settle()
                figures = live.stream(payloads, args.size)
                all_acked = all_acked and figures.acked >= len(payloads)
                return rounds.Sample(_rate(applied_count * args.size, figures.applied_s), figures.applied_s)

            def naive_applied(r: int) -> rounds.Sample:
                live.settle()
                seconds = naive.stream(streams[r], args.size)
                return rounds.Sample(_rate(applied_count * args.size, seconds), seconds)

            applied_ratio = rounds.alternate(
                "applied ÷ naive pipeline",
                applied,
                naive_applied,
                rounds=args.rounds,
                window=args.window,
                unit="readings/s",
                labels=("collector applied", "naive pipeline"),
            )
        finally:
            if collector is not None:
                collector.stop()
            if naive is not None:
                naive.stop()
            broker.stop()
    # For scale, not the target: validating the payloads alone (what any consumer of the contract must do).
    sample = make_batches(min(500, count), args.size)
    start = time.perf_counter()
    for payload in sample:
        messages.decode(payload)
    decode_rate = len(sample) * args.size / (time.perf_counter() - start)
    print(f"for scale: decoding + validating alone, one thread: {decode_rate:,.0f} readings/s")
    if note := rounds.smoke_note(args.window, args.rounds):
        print(note)
    return rounds.conclude(
        [
            ratio.check(TARGET),
            applied_ratio.check(APPLIED_TARGET),
            rounds.Check("every message acknowledged", "yes" if all_acked else "no", "all", all_acked),
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
