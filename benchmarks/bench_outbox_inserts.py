"""Outbox inserts/s with a 500,000-reading backlog against TinyDB inserts/s at 50,000 documents (issue 4 §8).

Target: outbox inserts/s >= 1000 x TinyDB inserts/s (baselines.tinydb_insert_rate, same run).

How inserts are batched: acquisition commits once per device poll (``sink.add_readings`` with that poll's
readings: 1 for a nutrient/COD analyser, 5 for the five-parameter probe). Every commit is a real
``Outbox.add_readings`` transaction with ``synchronous=FULL`` (one WAL fsync per commit). Measured:
  - single-reading commits (one reading per transaction: the worst case, an analyser poll);
  - per-poll batches of 5 (a probe poll: the common case at a station).
The readings are built before the clock starts (as the TinyDB baseline's document is): building them is
acquisition's work, not the outbox's. For scale, a bare SQLite one-row commit loop (WAL, synchronous=FULL,
same directory) is measured too: an outbox commit cannot be cheaper than that.

    .venv/bin/python -m benchmarks.bench_outbox_inserts [--backlog 500000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import OutboxConfig
from agent.outbox import Outbox
from benchmarks.baselines import tinydb_insert_rate
from protocols.flags import Flag
from protocols.messages import Reading

TARGET_RATIO = 1000.0
PROBE = ("w01010", "w01001", "w01009", "w01014", "w01003")
START = datetime(2026, 1, 1, tzinfo=UTC)


def poll(i: int, size: int) -> list[Reading]:
    t = START + timedelta(seconds=i)
    return [
        Reading(param=PROBE[k % len(PROBE)], t=t, value=7.0 + k, flag=Flag.NORMAL, device="probe")
        for k in range(size)
    ]


def fill(outbox: Outbox, backlog: int) -> float:
    """The backlog, written in large commits (fast to set up; not what is measured)."""
    start = time.perf_counter()
    chunk = 5000
    for base in range(0, backlog, chunk):
        rows = [
            Reading(param=PROBE[i % 5], t=START - timedelta(minutes=base + i), value=1.0, flag=Flag.NORMAL)
            for i in range(min(chunk, backlog - base))
        ]
        outbox.add_readings(rows)
    return time.perf_counter() - start


POOL = 20_000  # polls built ahead and cycled through (a repeated time is stored like any other)


def measure(outbox: Outbox, size: int, seconds: float, offset: int) -> tuple[float, float, int]:
    """(readings/s, commits/s, commits) for ``add_readings`` calls of ``size`` readings each."""
    polls = [poll(offset + i, size) for i in range(POOL)]
    commits = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        outbox.add_readings(polls[commits % POOL])
        commits += 1
    elapsed = time.perf_counter() - start
    return commits * size / elapsed, commits / elapsed, commits


def bare_commit_rate(directory: Path, seconds: float) -> float:
    """One-row commits/s of a bare SQLite table (WAL, synchronous=FULL): the floor under any outbox commit."""
    db = sqlite3.connect(directory / "bare.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    text = '{"param":"w01010","t":"2026-01-01T00:00:00Z","value":12.3,"flag":"N","device":"probe"}'
    commits = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t(body) VALUES (?)", (text,))
        db.execute("COMMIT")
        commits += 1
    rate = commits / (time.perf_counter() - start)
    db.close()
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backlog", type=int, default=500_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per mode")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox(Path(tmp) / "outbox.db", OutboxConfig(), "bench")
        took = fill(outbox, args.backlog)
        stats = outbox.stats()
        print(
            f"backlog: {stats.backlog} unsent readings ({stats.used_bytes / 1e6:.0f} MB) written in {took:.1f} s"
        )
        bare = bare_commit_rate(Path(tmp), args.seconds / 2)
        single, single_commits, n1 = measure(outbox, 1, args.seconds, 0)
        bare = (bare + bare_commit_rate(Path(tmp), args.seconds / 2)) / 2  # either side: the disk is noisy
        batched, batch_commits, n5 = measure(outbox, 5, args.seconds, 10**7)
        outbox.close()
    print(
        f"bare SQLite one-row commits (WAL, FULL): {bare:.0f}/s; a single-reading add_readings costs "
        f"{bare / single_commits:.2f}x a bare commit"
    )
    print("measuring TinyDB baseline (50,000 documents) ...")
    tiny = tinydb_insert_rate(50_000)
    target = TARGET_RATIO * tiny
    print(f"TinyDB inserts/s at 50,000 documents: {tiny:.1f}  → target {target:.0f} readings/s")
    ok = True
    for label, rate, commits_s, n in (
        ("single-reading commits", single, single_commits, n1),
        ("per-poll batches of 5 (probe poll)", batched, batch_commits, n5),
    ):
        ratio = rate / tiny
        passed = ratio >= TARGET_RATIO
        ok = ok and passed
        print(
            f"outbox {label}: {rate:.0f} readings/s ({commits_s:.0f} commits/s, {n} commits), "
            f"ratio {ratio:.0f}x TinyDB: {'PASS' if passed else 'FAIL'}"
        )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
