"""The collector's apply path without MQTT: readings/s of ``SqliteStore.apply`` and of the alert engine.

Two streams: ``ingest`` is benchmarks.bench_collector_ingest's (one station, ten parameters, values that keep
three parameters beyond their target class: the engine's slow path) and ``mix`` is closer to a fleet (probe
parameters every 5 min and nutrients every 4 h, mostly within target, one station in five with total
phosphorus persistently over it, a calibration check a day, a rare fault flag; live batches of one poll
cycle, and a fifth of the stations replaying a backlog in batches of 500). Alert rules are the defaults.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_collector_apply [--batches 500] [--size 100]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.bench_collector_ingest import make_batches
from collector.alerts import AlertEngine
from collector.store.base import Received
from collector.store.sqlite import SqliteStore
from protocols import messages
from protocols.messages import Reading, ReadingBatch

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
    return Reading(param=param, t=t, value=value, flag=flag)


def rate(n: int, run: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return n / best


def engine_rate(batches: list[ReadingBatch]) -> tuple[float, int]:
    n = sum(len(b.readings) for b in batches)
    opened = 0

    def run() -> None:
        nonlocal opened
        engine = AlertEngine()
        opened = sum(len(engine.on_readings(b.station, b.readings)) for b in batches)

    return rate(n, run), opened


def store_rate(batches: list[ReadingBatch], per_apply: int = 50) -> float:
    n = sum(len(b.readings) for b in batches)
    now = datetime.now(UTC)
    items = [Received(b, now) for b in batches]
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1000))

        def run() -> None:
            store = SqliteStore(Path(tmp) / f"c{next(counter)}.db")
            for i in range(0, len(items), per_apply):
                store.apply(items[i : i + per_apply])
            store.close()

        return rate(n, run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args()
    ingest = [messages.decode(p) for p in make_batches(args.batches, args.size)]
    streams = {
        "ingest": [m for m in ingest if isinstance(m, ReadingBatch)],
        "mix": mix_batches(),
    }
    for name, batches in streams.items():
        n = sum(len(b.readings) for b in batches)
        engine, transitions = engine_rate(batches)
        store = store_rate(batches)
        print(
            f"{name:6s} {n:7d} readings in {len(batches):5d} batches: alert engine {engine:10,.0f} readings/s"
            f" ({transitions} transitions), SqliteStore.apply {store:9,.0f} readings/s"
        )


if __name__ == "__main__":
    main()
