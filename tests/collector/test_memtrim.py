"""collector/memtrim.py on this machine's glibc: the arena cap and the trim are taken."""

from __future__ import annotations

from collector import memtrim


def test_glibc_takes_the_arena_cap_and_the_trim() -> None:
    assert memtrim._libc() is not None  # Debian's glibc, here and in CI
    assert memtrim.limit_arenas(memtrim.ARENAS) is True
    big = [bytearray(1 << 16) for _ in range(2_000)]  # 128 MB, then freed: pages to give back
    del big
    memtrim.trim()  # True or False depending on what the heap kept; it must not fail
