"""The outbox's disk: recognising a storage fault, keeping a free-space floor, counting what faults cost.

A full disk must cost readings in a counted, reported way, never silently and never by a traceback per
poll. Three small pieces, pure but for one ``statvfs``:

* ``is_storage_error``: whether an exception means the disk refused a write (SQLITE_FULL / SQLITE_IOERR,
  ENOSPC / EIO / EDQUOT) rather than a bug;
* ``FreeSpace``: whether a write of ``need`` bytes keeps the filesystem above ``min_free_bytes``; statvfs is
  read at most every ``every_s`` while far from the floor (an estimate of what was written since counts in
  between) and at each check once near it, so a poll's commit does not pay a syscall;
* ``StorageLoss``: readings, events and counters that could not be written, held in memory until they can
  be (the outbox then persists them and records one ``storage_failed`` event), and the pace of the log: one
  line when the first write fails, then at most one a minute, with a count.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EDQUOT})
SQLITE_STORAGE_CODES = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR})
LOG_INTERVAL_S = 60.0  # one log line a minute while writes keep failing
FREE_CHECK_S = 5.0  # statvfs at most this often while far from the floor


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk refused a write (full, quota, I/O error) — not a bug, not corruption."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in SQLITE_STORAGE_CODES  # extended I/O codes keep the primary in the low byte
        text = str(exc).lower()
        return "disk is full" in text or "disk i/o error" in text
    if isinstance(exc, OSError):
        return exc.errno in STORAGE_ERRNOS
    return False


def describe(exc: BaseException) -> str:
    """A one-line description of a storage error, for the log and the event."""
    return f"{type(exc).__name__}: {exc}"[:300]


class FreeSpace:
    """Free bytes on a directory's filesystem, compared with a floor."""

    def __init__(
        self,
        directory: Path,
        floor: int,
        *,
        every_s: float = FREE_CHECK_S,
        statvfs: Callable[[Path], os.statvfs_result] = os.statvfs,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.floor = floor
        self.every_s = every_s
        self._statvfs = statvfs
        self._clock = clock
        self._free: int | None = None  # at the last read
        self._read_at = -float("inf")
        self._spent = 0  # bytes estimated written since that read

    def free(self) -> int | None:
        """Bytes available to this process now (statvfs), or None when the filesystem cannot say."""
        try:
            st = self._statvfs(self.directory)
        except OSError:
            self._free = None
            return None
        self._free, self._read_at, self._spent = st.f_bavail * st.f_frsize, self._clock(), 0
        return self._free

    def above_floor(self, need: int) -> bool:
        """Whether writing ``need`` more bytes leaves at least ``floor`` free. Unknown counts as yes."""
        if self.floor <= 0:
            return True
        estimate = None if self._free is None else self._free - self._spent
        stale = self._clock() - self._read_at >= self.every_s
        if estimate is None or stale or estimate - need < 2 * self.floor:
            estimate = self.free()
            if estimate is None:
                return True
        return estimate - need >= self.floor

    def spend(self, nbytes: int) -> None:
        """``nbytes`` were written (an estimate: it errs towards full)."""
        self._spent += nbytes

    def forget(self) -> None:
        """Read statvfs again at the next check (after a failure, or after space was freed)."""
        self._read_at = -float("inf")


@dataclass
class StorageLoss:
    """What could not be written, until it can be; and when the log may speak."""

    clock: Callable[[], float] = time.time
    log_interval_s: float = LOG_INTERVAL_S
    readings: int = 0  # readings not stored, not yet persisted in the count
    events: int = 0  # events not stored
    counters: dict[str, int] = field(default_factory=dict)  # counter increments not written
    first_at: float | None = None  # wall clock of the first failure of this episode
    last_error: str = ""
    failures: int = 0  # failed writes in this episode
    _logged_at: float = -float("inf")
    _readings_logged: int = 0  # readings already in a log line

    @property
    def pending(self) -> bool:
        return bool(self.readings or self.events or self.counters or self.failures)

    def failed(self, exc: BaseException, *, readings: int = 0, events: int = 0) -> str | None:
        """A write failed, costing ``readings`` and ``events``. Returns a log line when one is due."""
        now = self.clock()
        self.readings += readings
        self.events += events
        self.failures += 1
        self.last_error = describe(exc)
        if self.first_at is None:
            self.first_at = now
        if now - self._logged_at < self.log_interval_s:
            return None
        since_line = self.readings - self._readings_logged
        self._logged_at, self._readings_logged = now, self.readings
        return (
            f"outbox cannot write ({self.last_error}): {since_line} readings lost since the last line, "
            f"{self.readings} since {time.strftime('%H:%M:%S', time.gmtime(self.first_at))} UTC, "
            f"{self.failures} failed writes; next line in {self.log_interval_s:g} s at most"
        )

    def add_counter(self, key: str, amount: int) -> None:
        self.counters[key] = self.counters.get(key, 0) + amount

    def settle(self) -> None:
        """What was pending is now written: start a new episode."""
        self.readings = self.events = self.failures = self._readings_logged = 0
        self.counters = {}
        self.first_at = None
        self.last_error = ""
        self._logged_at = -float("inf")
