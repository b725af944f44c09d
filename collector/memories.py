"""What the collector remembers across restarts besides the data: the alert engine's state, the controller
history and the re-send requests, each kept as a text blob in the store under its own key.

A memory that no longer reads back (an older format, a damaged row) is logged and started afresh: it never
fails the start, and what the tables hold (alerts, readings) is untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from collector.store.base import Store

log = logging.getLogger("qingliu.collector")

ALERT_STATE_KEY = "alert_engine"
CONTROLLER_STATE_KEY = "controller_history"
GAPS_STATE_KEY = "gap_requests"
SAVE_EVERY_S = 10.0  # how often the ticker saves them; stop() saves them once more
# What parsing a stored memory (blob) may raise when it no longer reads back (ValidationError is a ValueError).
UNREADABLE = (ValueError, TypeError, KeyError, RecursionError)

T = TypeVar("T")


def restore(store: Store, key: str, parse: Callable[[str], T], fresh: Callable[[], T], what: str) -> T:
    """The memory saved under ``key`` parsed, or ``fresh()`` when there is none or it does not read back."""
    saved = store.load_blob(key)
    if saved:
        try:
            return parse(saved)
        except UNREADABLE as exc:  # an older or damaged memory: start afresh
            log.warning("%s not restored: %s", what, exc)
    return fresh()
