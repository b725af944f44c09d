"""A debugging aid, off by default: where the collector's memory goes over time.

``QINGLIU_MEMTRACE=FILE`` (and optionally ``QINGLIU_MEMTRACE_EVERY_S``, default 60) makes ``qingliu collector
run`` start tracemalloc and append, every period, the top allocation sites that grew since the first
snapshot and the object counts per type that grew (gc) to FILE. Used to find what grows under a fleet and API
load (benchmarks/bench_fleet_1000.py, benchmarks/bench_soak.py); never on in production: tracemalloc slows
every allocation.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

TOP = 25
FRAMES = 5  # deeper tracebacks make every snapshot slow enough to stall the API


def type_counts() -> Counter[str]:
    """Live objects tracked by the garbage collector, by type name."""
    return Counter(type(o).__name__ for o in gc.get_objects())


def growth(before: Counter[str], after: Counter[str], top: int = TOP) -> list[tuple[str, int]]:
    """The ``top`` types whose counts grew most from ``before`` to ``after``."""
    grown = [(name, after[name] - before.get(name, 0)) for name in after]
    return sorted((g for g in grown if g[1] > 0), key=lambda g: -g[1])[:top]


class MemTrace:
    def __init__(self, path: Path, every_s: float) -> None:
        self.path = path
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        tracemalloc.start(FRAMES)
        self._thread = threading.Thread(target=self._run, name="memtrace", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        start = time.monotonic()
        # The first period is warm-up (the API's imports, every station's first report): the base is taken
        # after it, and each dump shows what grew since then.
        if self._stop.wait(self.every_s):
            return
        base = tracemalloc.take_snapshot()
        base_types = type_counts()
        while not self._stop.wait(self.every_s):
            snap = tracemalloc.take_snapshot()
            types = type_counts()
            current, peak = tracemalloc.get_traced_memory()
            lines = [
                f"=== {time.monotonic() - start:.0f} s: traced {current / 1e6:.1f} MB (peak {peak / 1e6:.1f})"
            ]
            for stat in snap.compare_to(base, "traceback")[:TOP]:
                if stat.size_diff <= 0:
                    continue
                frames = " <- ".join(
                    f"{f.filename.rsplit('/', 2)[-2] + '/' + f.filename.rsplit('/', 1)[-1]}:{f.lineno}"
                    for f in stat.traceback[:6]
                )
                lines.append(f"  {stat.size_diff / 1e3:+9.1f} kB {stat.count_diff:+7d} blocks  {frames}")
            lines.append("  types grown: " + ", ".join(f"{n} {d:+d}" for n, d in growth(base_types, types)))
            with self.path.open("a", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")


def from_env() -> MemTrace | None:
    """The trace the environment asks for (started), or None (the default)."""
    path = os.environ.get("QINGLIU_MEMTRACE")
    if not path:
        return None
    trace = MemTrace(Path(path), float(os.environ.get("QINGLIU_MEMTRACE_EVERY_S", "60")))
    trace.start()
    return trace
