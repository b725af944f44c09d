"""collector/memtrace.py: off by default; the object counts that grew, per type."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from collector.memtrace import MemTrace, from_env, grown_containers, growth


def test_growth_lists_the_types_that_grew_most_first() -> None:
    before = Counter({"dict": 10, "list": 5, "tuple": 7})
    after = Counter({"dict": 15, "list": 5, "tuple": 6, "Reading": 40})
    assert growth(before, after) == [("Reading", 40), ("dict", 5)]


def test_off_unless_the_environment_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QINGLIU_MEMTRACE", raising=False)
    assert from_env() is None


def written(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_a_trace_writes_what_grew_after_its_warm_up(tmp_path: Path) -> None:
    out = tmp_path / "trace.txt"
    kept: list[list[int]] = []
    trace = MemTrace(out, every_s=0.2)
    trace.start()
    try:
        time.sleep(0.5)  # past the warm-up: the base is taken
        kept.extend([i] for i in range(20_000))
        deadline = time.monotonic() + 20
        # A dump begun before the lists were made shows less: wait for one taken after.
        while max(lists_grown(written(out)), default=0) < 19_000 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        trace.stop()
    text = written(out)
    assert text.startswith("=== ")
    assert "  native: VmRSS:" in text and "  pymalloc arenas " in text
    assert max(lists_grown(text)) >= 19_000


def lists_grown(text: str) -> list[int]:
    """The growth of the ``list`` count in each dump of ``text``."""
    found = []
    for line in text.splitlines():
        if line.startswith("  types grown: "):
            grown = dict(item.rsplit(" ", 1) for item in line.split(": ", 1)[1].split(", ") if " " in item)
            found.append(int(grown.get("list", "0")))
    return found


def test_grown_containers_names_the_one_that_grew_with_a_sample() -> None:
    before = {1: ("dict", 600, "'a'"), 2: ("list", 900, "1")}
    after = {1: ("dict", 5_600, "'a'"), 2: ("list", 800, "1"), 3: ("set", 700, "'x'")}
    assert grown_containers(before, after) == ["dict[5600] +5000 e.g. 'a'", "set[700] +700 e.g. 'x'"]


def test_native_memory_counts_sqlite_and_the_allocator() -> None:
    import sqlite3

    from collector.memtrace import native_memory

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (x)")
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(50_000)])
    text = native_memory()
    assert "VmRSS:" in text
    sqlite_mb = float(text.split("sqlite ")[1].split(" MB")[0])
    assert sqlite_mb > 0.1  # the table's pages are SQLite's own allocations
    assert "malloc in use" in text
    db.close()


def test_pymalloc_stats_see_python_objects_come_and_go() -> None:
    from collector.memtrace import pymalloc_stats

    def live_mb() -> float:
        text = pymalloc_stats()
        assert text.startswith("pymalloc arenas "), text
        return float(text.split("live blocks ")[1].split(" MB")[0])

    before = live_mb()
    held = [(i, str(i)) for i in range(200_000)]  # small objects: pymalloc's
    during = live_mb()
    assert during > before + 5
    del held
    assert live_mb() < during - 5


def test_allocation_sites_name_file_and_directory_and_keep_frozen_modules() -> None:
    from collector.memtrace import short_path

    assert short_path("/srv/qingliu/collector/service.py") == "collector/service.py"
    assert short_path("<frozen importlib._bootstrap>") == "<frozen importlib._bootstrap>"
    assert short_path("<unknown>") == "<unknown>"


def test_a_trace_with_allocation_sites_writes_them(tmp_path: Path) -> None:
    out = tmp_path / "trace.txt"
    kept: list[bytes] = []
    trace = MemTrace(out, every_s=0.2, frames=3)
    trace.start()
    try:
        time.sleep(0.5)
        kept.extend(bytes(2000) for _ in range(2000))  # 4 MB from this file
        deadline = time.monotonic() + 20
        while "test_memtrace.py:" not in written(out) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        trace.stop()
        import tracemalloc

        tracemalloc.stop()
    assert "collector/test_memtrace.py:" in written(out)
