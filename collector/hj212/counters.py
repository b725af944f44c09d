"""What the HJ 212 server refused, dropped or skipped, counted per logger (MN) and by reason.

Frames that name no configured logger are counted under ``UNKNOWN`` (their MN is logged, bounded, never a key:
anyone can send any MN). Read by /metrics and the loggers' synthesized status (``failures``).
"""

from __future__ import annotations

import threading
from collections import Counter

UNKNOWN = "(unknown)"


class Counts:
    """Thread-safe: the server's loop writes, the API and the metrics read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_logger: dict[str, Counter[str]] = {}

    def add(self, mn: str | None, reason: str, n: int = 1) -> None:
        if n <= 0:
            return
        with self._lock:
            self._by_logger.setdefault(mn or UNKNOWN, Counter())[reason] += n

    def of(self, mn: str) -> Counter[str]:
        with self._lock:
            return Counter(self._by_logger.get(mn, Counter()))

    def merge(self, snapshot: dict[str, dict[str, int]]) -> None:
        """Add a snapshot's counts (another process's, or an earlier one's)."""
        for mn, counts in snapshot.items():
            for reason, n in counts.items():
                self.add(mn, reason, int(n))

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {mn: dict(counts) for mn, counts in self._by_logger.items()}
