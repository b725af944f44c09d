"""A log line per minute for a failure that repeats: the first at once, then one line with how many more.

A full disk fails every commit; a traceback for each one buries the log (and fills the disk further).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class RateLimitedLog:
    """``failed(...)`` logs at most once per ``every_s``, saying how many failures the quiet time hid;
    ``recovered(...)`` logs once when the failures stop (with the count still unlogged)."""

    def __init__(
        self,
        logger: logging.Logger,
        every_s: float = 60.0,
        *,
        level: int = logging.ERROR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every_s = every_s
        self.level = level
        self.clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None  # when the last line went out
        self._hidden = 0  # failures since then, not logged
        self._failing = False

    def failed(self, message: str, *args: object) -> bool:
        """One failure; True when it was logged."""
        now = self.clock()
        with self._lock:
            self._failing = True
            if self._last is not None and now - self._last < self.every_s:
                self._hidden += 1
                return False
            hidden, self._hidden, self._last = self._hidden, 0, now
        suffix = f" ({hidden} more like it in the last {self.every_s:.0f} s)" if hidden else ""
        self.logger.log(self.level, message + suffix, *args)
        return True

    def recovered(self, message: str, *args: object) -> bool:
        """The failures stopped; True when that was logged (only after a failure)."""
        with self._lock:
            if not self._failing:
                return False
            hidden, self._hidden, self._failing, self._last = self._hidden, 0, False, None
        suffix = f" ({hidden} failures not logged before)" if hidden else ""
        self.logger.warning(message + suffix, *args)
        return True
