"""An outbox commit against a bare SQLite commit of the same readings, with a 500,000-reading backlog (issue 17).

Acquisition commits once per device poll (``sink.add_readings`` with that poll's readings). Every commit
measured is a real ``Outbox.add_readings`` transaction into an outbox that already holds ``--backlog`` unsent
readings (WAL, synchronous=FULL: one WAL fsync per commit). Its floor is a bare SQLite commit of the same
readings, one row each (param, t, value, flag, device) into a plain table in the same directory, with the
same durability and checkpointing as the outbox (agent/outbox/schema.py: journal_mode=WAL, synchronous=FULL,
its wal_autocheckpoint and journal_size_limit); both start from the same ``Reading`` objects, built before
the clock starts (building them is acquisition's work).

Two sizes: one reading per commit (an analyser's poll) and ``--poll-size`` readings per commit (one poll of
a multi-parameter device). For each, alternating rounds (outbox, bare, outbox, bare, …) of at least
``--window`` seconds each (benchmarks/rounds.py); the figure is microseconds per commit and the ratio
outbox ÷ bare. Target: the median ratio ≤ 1.2 for both sizes.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_outbox_inserts [--backlog 500000] [--poll-size 10] \
        [--window 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import OutboxConfig
from agent.outbox import Outbox
from agent.outbox.schema import JOURNAL_SIZE_LIMIT, WAL_AUTOCHECKPOINT_PAGES
from benchmarks import rounds
from protocols.flags import Flag
from protocols.messages import Reading

TARGET = 1.2  # issue 17: an outbox commit costs at most 1.2 × a bare SQLite commit of the same readings
PARAMS = ("w01010", "w01001", "w01009", "w01014", "w01003", "w21003", "w01019", "w21011", "w21001", "w01018")
START = datetime(2026, 1, 1, tzinfo=UTC)
POOL = 20_000  # polls built ahead and cycled through (a repeated time is stored like any other)


def poll(i: int, size: int) -> list[Reading]:
    t = START + timedelta(seconds=i)
    return [
        Reading(param=PARAMS[k % len(PARAMS)], t=t, value=7.0 + k, flag=Flag.NORMAL, device="probe")
        for k in range(size)
    ]


def fill(outbox: Outbox, backlog: int) -> float:
    """The backlog, written in large commits (fast to set up; not what is measured)."""
    start = time.perf_counter()
    chunk = 5000
    for base in range(0, backlog, chunk):
        rows = [
            Reading(param=PARAMS[i % 5], t=START - timedelta(minutes=base + i), value=1.0, flag=Flag.NORMAL)
            for i in range(min(chunk, backlog - base))
        ]
        outbox.add_readings(rows)
    return time.perf_counter() - start


def bare_db(path: Path) -> sqlite3.Connection:
    """A plain table of readings with the outbox's durability and checkpointing (agent/outbox/schema.py)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    db.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    db.execute(
        "CREATE TABLE IF NOT EXISTS readings (param TEXT NOT NULL, t TEXT NOT NULL, value REAL, flag TEXT NOT NULL,"
        " device TEXT)"
    )
    return db


def bare_commit(db: sqlite3.Connection, readings: Sequence[Reading]) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO readings VALUES (?, ?, ?, ?, ?)",
        [(r.param, r.t.isoformat(), r.value, r.flag.value, r.device) for r in readings],
    )
    db.execute("COMMIT")


class Commits:
    """Commits of one kind over a window, cycling through ``polls``: microseconds per commit."""

    def __init__(self, polls: list[list[Reading]]) -> None:
        self.polls = polls
        self.done = 0

    def over(self, window: float, commit: Callable[[Sequence[Reading]], object]) -> rounds.Sample:
        def step() -> tuple[int, float]:
            readings = self.polls[self.done % len(self.polls)]
            self.done += 1
            start = time.perf_counter()
            commit(readings)
            return 1, time.perf_counter() - start

        sample = rounds.over_window(window, step)
        return rounds.Sample(1e6 / sample.value, sample.seconds)


def measure(
    outbox: Outbox, bare: sqlite3.Connection, size: int, offset: int, args: argparse.Namespace
) -> rounds.Ratio:
    polls = [poll(offset + i, size) for i in range(POOL)]
    ours, floor = Commits(polls), Commits(polls)
    label = "1 reading" if size == 1 else f"{size} readings"
    ratio = rounds.alternate(
        f"commit of {label}: outbox ÷ bare",
        lambda _r: ours.over(args.window, outbox.add_readings),
        lambda _r: floor.over(args.window, lambda readings: bare_commit(bare, readings)),
        rounds=args.rounds,
        window=args.window,
        unit="µs/commit",
        fmt=",.1f",
        labels=("outbox add_readings", "bare SQLite"),
    )
    print(
        f"  outbox: {ours.done} commits in all, median {size * 1e6 / statistics.median(s.value for s in ratio.ours):,.0f} readings/s; "
        f"bare: {floor.done} commits, median {size * 1e6 / statistics.median(s.value for s in ratio.baseline):,.0f} readings/s",
        flush=True,
    )
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backlog", type=int, default=500_000, help="unsent readings in the outbox first")
    parser.add_argument("--poll-size", type=int, default=10, help="readings in one poll's commit")
    rounds.add_options(parser)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        outbox = Outbox(Path(tmp) / "outbox.db", OutboxConfig(), "bench")
        took = fill(outbox, args.backlog)
        stats = outbox.stats()
        print(
            f"backlog: {stats.backlog} unsent readings ({stats.used_bytes / 1e6:.0f} MB) written in {took:.1f} s",
            flush=True,
        )
        bare = bare_db(Path(tmp) / "bare.db")
        try:
            checks = [
                measure(outbox, bare, size, offset, args).check(TARGET, at_most=True)
                for size, offset in ((1, 0), (args.poll_size, 10**7))
            ]
        finally:
            bare.close()
            outbox.close()
    if note := rounds.smoke_note(args.window, args.rounds):
        print(note)
    return rounds.conclude(checks)


if __name__ == "__main__":
    raise SystemExit(main())
