"""glibc's allocator in a long-running, many-threaded process: fewer arenas, and freed memory given back.

The API answers in a pool of worker threads, and glibc gives each thread that allocates its own arena (up to 8
per core): memory freed in one is not reused by another, and the process's RSS creeps up with every large
response (the fleet overview is megabytes). ``limit_arenas`` (at start, before the threads) caps them;
``trim`` (every few minutes) returns the free pages at the top and inside every arena to the system. Both do
nothing where the C library is not glibc.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util

M_ARENA_MAX = -8  # mallopt's parameter (malloc.h)
ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    with contextlib.suppress(OSError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
            return libc
    return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """At most ``arenas`` malloc arenas from now on; True when the allocator took it."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas) == 1)


def trim() -> bool:
    """Give free heap memory back to the system; True when some was."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0) == 1)
