"""collector/memtrim.py on this machine's glibc: the arena cap and the trim are taken."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from collector import memtrim

ROOT = Path(__file__).resolve().parents[2]


def test_glibc_takes_the_arena_cap_and_the_trim() -> None:
    assert memtrim.glibc() is not None  # Debian's glibc, here and in CI
    assert memtrim.limit_arenas(memtrim.ARENAS) is True
    big = [bytearray(1 << 16) for _ in range(2_000)]  # 128 MB, then freed: pages to give back
    del big
    memtrim.trim()  # True or False depending on what the heap kept; it must not fail


def mapped_after_a_large_free(fix: bool) -> int:
    """Bytes glibc holds in own mappings while three 1 MiB blocks are alive, after an 8 MiB block was freed
    (which, left to glibc, raises the threshold to 8 MiB). In a fresh interpreter: the setting is per process."""
    code = f"""
import ctypes
from collector import memtrim
from collector.memtrace import _MallInfo2
if {fix!r}:
    assert memtrim.fix_mmap_threshold()
libc = memtrim.glibc()
libc.mallinfo2.restype = _MallInfo2
big = ctypes.create_string_buffer(8 << 20)
del big
before = libc.mallinfo2().hblkhd
blocks = [ctypes.create_string_buffer(1 << 20) for _ in range(3)]
print(libc.mallinfo2().hblkhd - before)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return int(done.stdout)


def test_a_fixed_mmap_threshold_keeps_large_blocks_in_their_own_mappings() -> None:
    assert mapped_after_a_large_free(fix=True) >= 3 << 20
    assert mapped_after_a_large_free(fix=False) == 0  # what the fix is for: glibc's dynamic threshold
