"""glibc's allocator in a long-running, many-threaded process: fewer arenas, and freed memory given back.

The API answers in a pool of worker threads, and glibc gives each thread that allocates its own arena (up to 8
per core): memory freed in one is not reused by another, and the process's RSS creeps up with every large
response (the fleet overview is megabytes). ``limit_arenas`` (at start, before the threads) caps them;
``trim`` (every few minutes) returns the free pages at the top and inside every arena to the system.

``fix_mmap_threshold``: glibc serves a request above the mmap threshold (128 KiB) with its own mapping, given
back whole on free; but each time such a block is freed the threshold rises to its size (up to 32 MiB), so the
next megabyte-sized answers are carved out of the heap among small long-lived blocks, and the heap's free space
grows in holes no trim can return (the soak: malloc in use flat at 19.6 MB, free in the heap 18 -> 29 MB in ten
minutes). A fixed threshold keeps large blocks in their own mappings. All of these do nothing where the C
library is not glibc.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools

M_ARENA_MAX = -8  # mallopt's parameters (malloc.h)
M_MMAP_THRESHOLD = -3
ARENAS = 2
MMAP_THRESHOLD = 256 * 1024  # bytes: a block this large or larger gets its own mapping


@functools.cache
def glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``mallopt`` and ``malloc_trim``), else None."""
    with contextlib.suppress(OSError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
            return libc
    return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """At most ``arenas`` malloc arenas from now on; True when the allocator took it."""
    libc = glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas) == 1)


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Blocks of ``threshold`` bytes or more mapped on their own from now on, whatever was freed before;
    True when the allocator took it."""
    libc = glibc()
    return bool(libc is not None and libc.mallopt(M_MMAP_THRESHOLD, threshold) == 1)


def trim() -> bool:
    """Give free heap memory back to the system; True when some was."""
    libc = glibc()
    return bool(libc is not None and libc.malloc_trim(0) == 1)
