"""The collector's apply path without MQTT, against a naive pipeline on the same messages (issue 17).

Ours, per pass over a stream of encoded messages (the JSON payloads the collector receives): each payload
validated into its message (``protocols.messages.decode``), ``--per-commit`` messages at a time stored by
``SqliteStore.apply`` (one transaction, WAL, synchronous=FULL), then the alert engine fed each batch and the
alerts it changed saved, as the collector's post-commit hook does. A fresh store and engine per pass; their
setup is not timed.

The baseline is a naive pipeline on the same payloads: ``json.loads`` each one and ``executemany`` its rows
into a plain SQLite table (station, seq, param, t, value, flag, device: the fields as they came, no
validation, no key, no other table), WAL with the store's durability (synchronous=FULL), one transaction per
``--per-commit`` messages as ours. Bound: ours ≥ 0.5 × naive, median of alternating rounds of at least
``--window`` seconds each side (benchmarks/rounds.py), on every stream.

This is stricter than issue 17's own measure, which benchmarks/bench_collector_ingest.py takes: there the naive
pipeline is a paho subscriber receiving over MQTT and committing each message before its acknowledgement, as the
same durability needs without manual acknowledgements, and the collector is timed end to end. Here neither side
pays for MQTT and the naive inserts commit 50 messages at a time like ours, so the ratio shows what validation,
the keyed store and the alert engine cost on one core (0.36–0.38 on this machine in December 2026: not met).

Two streams: ``ingest`` is benchmarks.bench_collector_ingest's (one station, ten parameters, values that keep
three parameters beyond their target class: the engine's slow path) and ``mix`` is closer to a fleet (probe
parameters every 5 min and nutrients every 4 h, mostly within target, one station in five with total
phosphorus persistently over it, a calibration check a day, a rare fault flag; live batches of one poll
cycle, and a fifth of the stations replaying a backlog in batches of 500). Alert rules are the defaults.
Before the rounds, one pass of each part alone (decoding, ``SqliteStore.apply``, the engine) is printed for
information: where ours spends its time.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_collector_apply [--batches 500] [--size 100] \
        [--per-commit 50] [--window 3] [--rounds 5] [--stream ingest|mix]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

from benchmarks import rounds
from benchmarks.bench_collector_ingest import make_batches
from benchmarks.naive_pipeline import INSERT, open_table, rows_of
from collector.alerts import AlertEngine
from collector.store.base import Received
from collector.store.sqlite import SqliteStore
from protocols import messages
from protocols.flags import Flag
from protocols.messages import Reading, ReadingBatch

TARGET = 0.5  # issue 17: applied readings/s ≥ 0.5 × the naive pipeline
PER_COMMIT = 50  # messages per transaction, ours and naive
PROBE = {"w01010": 18.0, "w01001": 7.6, "w01009": 7.0, "w01014": 450.0, "w01003": 25.0}
NUTRIENTS = {"w21003": 0.4, "w21011": 0.12, "w01019": 3.5, "w21001": 1.5, "w01018": 14.0}


def mix_batches(stations: int = 20, hours: int = 48, seed: int = 1) -> list[ReadingBatch]:
    rng = random.Random(seed)
    start = datetime(2026, 7, 1, tzinfo=UTC)
    out: list[ReadingBatch] = []
    for k in range(stations):
        station = f"station{k:02d}"
        polluted = k % 5 == 0
        cycles: list[list[Reading]] = []
        for step in range(hours * 12):
            t = start + timedelta(minutes=5 * step)
            cycle = [_reading(rng, p, t, base) for p, base in PROBE.items()]
            if step % 48 == 0:
                for p, base in NUTRIENTS.items():
                    if polluted and p == "w21011":
                        base = 0.25  # class IV in a river: over target at every result
                    calibration = step % 288 == 0
                    cycle.append(_reading(rng, p, t, base, "C" if calibration else None))
            cycles.append(cycle)
        readings = [r for cycle in cycles for r in cycle]
        # One station in five is back from an outage: its backlog arrives in batches of 500.
        backlog = [readings[i : i + 500] for i in range(0, len(readings), 500)]
        chunks = backlog if k % 5 == 1 else cycles
        for seq, chunk in enumerate(chunks):
            out.append(ReadingBatch(station=station, seq=seq, sent_at=chunk[-1].t, readings=chunk))
    # Stations interleave as they would arrive; each station's batches stay in order.
    rng.shuffle(out)
    out.sort(key=lambda b: (b.readings[-1].t, b.station))
    return out


def _reading(rng: random.Random, param: str, t: datetime, base: float, flag: str | None = None) -> Reading:
    if flag is None:
        flag = "D" if rng.random() < 0.002 else ("T" if rng.random() < 0.01 else "N")
    value = None if flag == "D" else round(base * rng.uniform(0.97, 1.03), 3)
    return Reading(param=param, t=t, value=value, flag=Flag(flag))


def _groups(payloads: Sequence[bytes], per_commit: int) -> list[Sequence[bytes]]:
    return [payloads[i : i + per_commit] for i in range(0, len(payloads), per_commit)]


def readings_in(payloads: Sequence[bytes]) -> int:
    return sum(len(json.loads(p)["readings"]) for p in payloads)


def ours_pass(payloads: Sequence[bytes], per_commit: int, path: Path) -> tuple[int, float]:
    """One pass of ours into a fresh store at ``path``: (readings, seconds), the store's setup not timed."""
    store = SqliteStore(path)
    engine = AlertEngine()
    groups = _groups(payloads, per_commit)
    n = 0
    start = time.perf_counter()
    for group in groups:
        now = datetime.now(UTC)
        items = [Received(messages.decode(p), now) for p in group]
        store.apply(items)
        changed = []
        for item in items:
            batch = item.message
            if isinstance(batch, ReadingBatch):
                n += len(batch.readings)
                changed += engine.on_readings(batch.station, batch.readings)
        if changed:
            store.save_alerts([t.alert for t in changed])
    seconds = time.perf_counter() - start
    store.close()
    return n, seconds


def naive_pass(payloads: Sequence[bytes], per_commit: int, path: Path) -> tuple[int, float]:
    """One pass of the naive pipeline into a fresh table at ``path``: (readings, seconds), setup not timed."""
    db = open_table(path)  # WAL, synchronous=FULL: the store's durability
    groups = _groups(payloads, per_commit)
    n = 0
    start = time.perf_counter()
    for group in groups:
        db.execute("BEGIN")
        for payload in group:
            rows = rows_of(payload)
            db.executemany(INSERT, rows)
            n += len(rows)
        db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.close()
    return n, seconds


def fresh(directory: Path, name: str) -> Callable[[], Path]:
    """A new database path at each call; the previous one's files are removed (the disk stays small)."""
    numbers = count()
    last: list[Path] = []

    def make() -> Path:
        for old in last:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{old}{suffix}").unlink(missing_ok=True)
        last[:] = [directory / f"{name}{next(numbers)}.db"]
        return last[0]

    return make


def parts(payloads: Sequence[bytes], directory: Path, per_commit: int) -> str:
    """One pass of each part of ours alone, readings/s (for information: where the time goes)."""
    start = time.perf_counter()
    decoded = [messages.decode(p) for p in payloads]
    decode_s = time.perf_counter() - start
    batches = [m for m in decoded if isinstance(m, ReadingBatch)]
    n = sum(len(b.readings) for b in batches)
    now = datetime.now(UTC)
    items = [Received(b, now) for b in batches]
    store = SqliteStore(directory / "parts.db")
    start = time.perf_counter()
    for i in range(0, len(items), per_commit):
        store.apply(items[i : i + per_commit])
    store_s = time.perf_counter() - start
    store.close()
    engine = AlertEngine()
    start = time.perf_counter()
    transitions = sum(len(engine.on_readings(b.station, b.readings)) for b in batches)
    engine_s = time.perf_counter() - start
    return (
        f"decode {n / decode_s:,.0f}, SqliteStore.apply {n / store_s:,.0f}, alert engine {n / engine_s:,.0f} "
        f"readings/s ({transitions} transitions)"
    )


def measure(name: str, payloads: list[bytes], root: Path, args: argparse.Namespace) -> rounds.Check:
    """The stream's parts alone, then its alternating rounds; the median ratio against the target."""
    n = readings_in(payloads)
    print(
        f"{name}: {n} readings in {len(payloads)} messages, {args.per_commit} messages per commit; "
        f"parts alone: {parts(payloads, root, args.per_commit)}",
        flush=True,
    )
    ours_db, naive_db = fresh(root, f"{name}-ours"), fresh(root, f"{name}-naive")

    def ours(_round: int) -> rounds.Sample:
        return rounds.over_window(args.window, lambda: ours_pass(payloads, args.per_commit, ours_db()))

    def naive(_round: int) -> rounds.Sample:
        return rounds.over_window(args.window, lambda: naive_pass(payloads, args.per_commit, naive_db()))

    ratio = rounds.alternate(
        f"{name}: applied ÷ naive",
        ours,
        naive,
        rounds=args.rounds,
        window=args.window,
        unit="readings/s",
        labels=("ours (validated, stored, alerts run)", "naive (json.loads + executemany)"),
    )
    return ratio.check(TARGET)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=500, help="ingest stream: messages")
    parser.add_argument("--size", type=int, default=100, help="ingest stream: readings per message")
    parser.add_argument("--per-commit", type=int, default=PER_COMMIT, help="messages per transaction")
    parser.add_argument("--stream", choices=("ingest", "mix"), action="append", help="default: both")
    rounds.add_options(parser)
    args = parser.parse_args(argv)
    streams: dict[str, Callable[[], list[bytes]]] = {
        "ingest": lambda: make_batches(args.batches, args.size),
        "mix": lambda: [messages.encode(b) for b in mix_batches()],
    }
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as tmp:
        checks = [measure(name, streams[name](), Path(tmp), args) for name in args.stream or list(streams)]
    if note := rounds.smoke_note(args.window, args.rounds):
        print(note)
    return rounds.conclude(checks)


if __name__ == "__main__":
    raise SystemExit(main())
