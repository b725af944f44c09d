"""Message bodies in and out of the store: proven to read back before they are written, and a stored row that
no longer validates (a model changed, a hand edit) skipped and counted on the way out, never raised.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from collector.store.base import Storable
from protocols.messages import decode_as, encode

log = logging.getLogger("qingliu.collector.store")

M = TypeVar("M", bound=Storable)
SEEN_MAX = 10_000  # rows remembered as already logged (a bound on memory; the counts are what matter)


def checked_body(message: M) -> str:
    """The JSON to store for ``message``, serialised as on the wire and proven to read back by the same
    struct: a value JSON cannot carry (Infinity becomes null, a lone surrogate) raises ValueError here, never
    at a later read."""
    try:
        body = encode(message).decode()
        decode_as(type(message), body)
    except ValueError as exc:
        raise ValueError(f"{type(message).__name__} does not read back after storing: {exc}") from None
    return body


T = TypeVar("T")


class ReadBack:
    """Stored rows that no longer validate: skipped (None), logged once per row and counted per table,
    never raised (a bad row must not fail a start or a page)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str]] = set()
        self.counts: Counter[str] = Counter()

    def parse(self, table: str, key: object, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except (ValueError, TypeError, KeyError, RecursionError) as exc:  # ValidationError is a ValueError
            with self._lock:
                first = (table, str(key)) not in self._seen
                if first:
                    if len(self._seen) >= SEEN_MAX:  # a bound: a row seen again after this is counted again
                        self._seen.clear()
                    self._seen.add((table, str(key)))
                    self.counts[table] += 1
            if first:
                log.warning("skipped a stored %s row that no longer reads back (%s): %s", table, key, exc)
            return None

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)
