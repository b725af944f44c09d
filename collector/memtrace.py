"""A debugging aid, off by default: where the collector's memory goes over time.

``QINGLIU_MEMTRACE=FILE`` (and optionally ``QINGLIU_MEMTRACE_EVERY_S``, default 60) makes ``qingliu collector
run`` append, every period, the object counts per type that grew since the end of the first period (gc) to
FILE; with ``QINGLIU_MEMTRACE_FRAMES=N`` (N > 0) tracemalloc runs too and the allocation sites that grew most
are listed with N frames each. A snapshot of a collector with a 1,000-station fleet holds the GIL for
minutes: tracemalloc is for small runs. Used to find what grows under a fleet and API
load (benchmarks/bench_fleet_1000.py, benchmarks/bench_soak.py); never on in production: tracemalloc slows
every allocation.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import threading
import time
import tracemalloc
from collections import Counter, deque
from pathlib import Path

from collector import memtrim

TOP = 25


class _MallInfo2(ctypes.Structure):
    # glibc's struct mallinfo2 (malloc.h, glibc >= 2.33): size_t fields
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in [
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        ]
    ]


def native_memory() -> str:
    """What lives outside Python's objects, to tell live allocations from held free memory: RSS, SQLite's
    own allocations (the library the sqlite3 module links), and glibc's heap (in use / free / mmapped)."""
    parts = []
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS", "RssAnon")):
                parts.append(" ".join(line.split()))
    with contextlib.suppress(OSError, AttributeError, TypeError):
        sqlite = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
        parts.append(f"sqlite {sqlite.sqlite3_memory_used() / 1e6:.1f} MB")
    libc = memtrim.glibc()
    mallinfo2 = getattr(libc, "mallinfo2", None)  # glibc 2.33 and later
    if mallinfo2 is not None:
        mallinfo2.restype = _MallInfo2
        info = mallinfo2()
        parts.append(
            f"malloc in use {info.uordblks / 1e6:.1f} MB, free {info.fordblks / 1e6:.1f} MB, "
            f"mmapped {info.hblkhd / 1e6:.1f} MB ({info.hblks} blocks), heap {info.arena / 1e6:.1f} MB"
        )
    return "; ".join(parts)


def pymalloc_stats() -> str:
    """Python's small-object allocator: its arenas (1 MiB each, returned to the system only when empty), the
    bytes in live blocks and in free ones. Many arenas with few live bytes is fragmentation, not a leak.
    ``sys._debugmallocstats`` writes to the C stderr: it is caught in a temporary file for that moment (a log
    line another thread writes then is lost; this is a debugging aid)."""
    import sys
    import tempfile

    wanted = (
        "# arenas allocated current",
        "# arenas highwater mark",
        "# bytes in allocated blocks",
        "# bytes in available blocks",
        "# unused pools",
    )
    found: dict[str, int] = {}
    with contextlib.suppress(OSError, AttributeError, ValueError), tempfile.TemporaryFile("w+b") as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        for line in tmp.read().decode("ascii", "replace").splitlines():
            name, _, value = line.partition("=")
            if name.strip() in wanted:
                found[name.strip()] = int(value.strip().replace(",", ""))
    if "# arenas allocated current" not in found:
        return "pymalloc: not available"
    return (
        f"pymalloc arenas {found['# arenas allocated current']} (high {found.get('# arenas highwater mark', 0)}), "
        f"live blocks {found.get('# bytes in allocated blocks', 0) / 1e6:.1f} MB, "
        f"free blocks {found.get('# bytes in available blocks', 0) / 1e6:.1f} MB, "
        f"unused pools {found.get('# unused pools', 0)}"
    )


def short_path(filename: str) -> str:
    """A source file as its directory and name (``collector/service.py``); ``<frozen abc>`` as it is."""
    return "/".join(filename.split("/")[-2:])


def type_counts() -> Counter[str]:
    """Live objects tracked by the garbage collector, by type name."""
    return Counter(type(o).__name__ for o in gc.get_objects())


def big_containers(min_len: int = 500) -> dict[int, tuple[str, int, str]]:
    """Containers (dict, list, set, deque) holding at least ``min_len`` items: id → (type, length, a sample
    key or item), to tell which one keeps growing when the object counts stay flat."""
    out = {}
    for o in gc.get_objects():
        if isinstance(o, dict | list | set | deque) and len(o) >= min_len:
            sample = next(iter(o), None)
            out[id(o)] = (type(o).__name__, len(o), repr(sample)[:80])
    return out


def grown_containers(
    before: dict[int, tuple[str, int, str]], after: dict[int, tuple[str, int, str]], top: int = 10
) -> list[str]:
    """The containers that grew most (new ones count from zero)."""
    grown = []
    for key, (kind, n, sample) in after.items():
        was = before.get(key)
        diff = n - (was[1] if was is not None and was[0] == kind else 0)
        if diff > 0:
            grown.append((diff, f"{kind}[{n}] {diff:+d} e.g. {sample}"))
    return [text for _, text in sorted(grown, key=lambda g: -g[0])[:top]]


def growth(before: Counter[str], after: Counter[str], top: int = TOP) -> list[tuple[str, int]]:
    """The ``top`` types whose counts grew most from ``before`` to ``after``."""
    grown = [(name, after[name] - before.get(name, 0)) for name in after]
    return sorted((g for g in grown if g[1] > 0), key=lambda g: -g[1])[:top]


class MemTrace:
    def __init__(self, path: Path, every_s: float, frames: int = 0) -> None:
        self.path = path
        self.every_s = every_s
        self.frames = frames  # 0: object counts only
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.frames:
            tracemalloc.start(self.frames)
        self._thread = threading.Thread(target=self._run, name="memtrace", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)  # a dump under way finishes first

    def _run(self) -> None:
        start = time.monotonic()
        # The first period is warm-up (the API's imports, every station's first report): the base is taken
        # after it, and each dump shows what grew since then.
        if self._stop.wait(self.every_s):
            return
        base = tracemalloc.take_snapshot() if self.frames else None
        base_types = type_counts()
        base_big = big_containers()
        while not self._stop.wait(self.every_s):
            types = type_counts()
            big = big_containers()
            lines = [f"=== {time.monotonic() - start:.0f} s: {sum(types.values())} objects tracked by gc"]
            lines.append(f"  native: {native_memory()}")
            lines.append(f"  {pymalloc_stats()}")
            snap = tracemalloc.take_snapshot() if base is not None else None
            for stat in snap.compare_to(base, "traceback")[:TOP] if snap and base else []:
                if stat.size_diff <= 0:
                    continue
                frames = " <- ".join(f"{short_path(f.filename)}:{f.lineno}" for f in stat.traceback[:6])
                lines.append(f"  {stat.size_diff / 1e3:+9.1f} kB {stat.count_diff:+7d} blocks  {frames}")
            lines.append("  types grown: " + ", ".join(f"{n} {d:+d}" for n, d in growth(base_types, types)))
            lines += [f"  container {text}" for text in grown_containers(base_big, big)]
            with self.path.open("a", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")


def from_env() -> MemTrace | None:
    """The trace the environment asks for (started), or None (the default)."""
    path = os.environ.get("QINGLIU_MEMTRACE")
    if not path:
        return None
    every_s = float(os.environ.get("QINGLIU_MEMTRACE_EVERY_S", "60"))
    trace = MemTrace(Path(path), every_s, int(os.environ.get("QINGLIU_MEMTRACE_FRAMES", "0")))
    trace.start()
    return trace
