"""Login rate limiting: after ``max_failures`` failed logins in a row for a key (a user name, an address),
that key is locked out for ``lockout_s`` seconds, whatever is tried meanwhile. Pure: the caller gives the time.

Keys are in memory (a restart forgets them, which costs a guesser a restart per lock-out at most) and bounded
in number, so that a flood of made-up user names cannot grow the table without end.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

MAX_KEYS = 10_000


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0


class LoginLimiter:
    def __init__(self, max_failures: int, lockout_s: float) -> None:
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def locked_for(self, key: str, now: float) -> float:
        """Seconds the key stays locked (0: it may try)."""
        record = self._records.get(key)
        return max(0.0, record.locked_until - now) if record is not None else 0.0

    def failed(self, key: str, now: float) -> bool:
        """Count a failure; True when it locks the key out now."""
        record = self._records.pop(key, None) or _Record()
        self._records[key] = record  # most recent last
        while len(self._records) > MAX_KEYS:
            self._records.popitem(last=False)
        if record.locked_until and record.locked_until <= now:
            record.failures = 0  # a past lock-out has run out: count afresh
            record.locked_until = 0.0
        record.failures += 1
        if record.failures >= self.max_failures:
            record.locked_until = now + self.lockout_s
            return True
        return False

    def succeeded(self, key: str) -> None:
        self._records.pop(key, None)
