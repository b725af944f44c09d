"""From the inbox to the store: full validation, one transaction per batch, then the inbox rows go.

``route`` (cheap: topic, station, size; the receiving process) and ``classify`` (full validation) are pure:
topic + payload → a validated message, or PayloadError with a countable reason.

The receiving process (collector/receiver.py) has already committed the raw payloads to the inbox and
acknowledged them. ``Applier`` is one thread of the main process: it reads the inbox in id order, classifies
each payload (a rejected one is counted and dropped), applies the batch to the store in one transaction,
deletes those inbox rows, and then runs the post-commit hook (tracker, alerts, live). A crash between the store
commit and the delete applies the rows again at the next start: harmless, by the store's identities (message
and reading keys; ``new_batches`` lists only first-seen batches, so alerts are not fed twice).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from collector.inbox import Inbox, Row
from collector.metrics import IngestCounters
from collector.store.base import ApplyResult, Received, Storable, Store, from_us
from protocols import messages, topics
from protocols.errors import PayloadError
from protocols.messages import CommandReply, Event, Lane, ReadingBatch, Status

log = logging.getLogger("qingliu.collector.ingest")

EXPECTED_TYPE: dict[str, type[Storable]] = {
    "readings": ReadingBatch,
    "status": Status,
    "events": Event,
    "reply": CommandReply,
}
TYPE_NAME: dict[type[Storable], str] = {
    ReadingBatch: "readings",
    Status: "status",
    Event: "event",
    CommandReply: "reply",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def route(topic: str, size: int, *, known_stations: frozenset[str] | None) -> topics.ParsedTopic:
    """The cheap checks the receiving process makes before it commits a payload: an uplink topic of a known
    station, not oversized. PayloadError with the reason otherwise."""
    parsed = topics.parse(topic)
    if parsed is None or parsed.kind not in EXPECTED_TYPE:
        raise PayloadError(f"topic {topic!r} is not an agent uplink topic", reason="bad_topic")
    if known_stations is not None and parsed.station not in known_stations:
        raise PayloadError(f"station {parsed.station!r} is not configured", reason="unknown_station")
    if size > messages.MAX_PAYLOAD_BYTES:
        raise PayloadError(
            f"payload of {size} bytes exceeds the limit of {messages.MAX_PAYLOAD_BYTES}", reason="oversized"
        )
    return parsed


def classify(topic: str, payload: bytes, *, known_stations: frozenset[str] | None) -> Storable:
    """The validated message carried by ``payload`` on ``topic``, or PayloadError saying why not.

    ``known_stations`` None accepts any station; otherwise a station not in it is refused (reason
    ``unknown_station``).
    """
    parsed = route(topic, len(payload), known_stations=known_stations)
    message = messages.decode(payload, expected_station=parsed.station)
    expected = EXPECTED_TYPE[parsed.kind]
    if not isinstance(message, expected):
        raise PayloadError(
            f"a {message.type!r} message arrived on a {parsed.kind} topic", reason="wrong_type"
        )
    return message


APPLIER_NICE = 10


def _lower_priority() -> None:
    """Receiving and acknowledging come first: when the CPU is short, the receiving process (and the broker)
    get it before this thread, which only catches up with the inbox (Linux: a thread has its own nice value)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), APPLIER_NICE)


class Applier:
    """The single applier thread: inbox batch → validate → one store transaction → delete → hook."""

    def __init__(
        self,
        store: Store,
        inbox: Inbox,
        counters: IngestCounters,
        *,
        known_stations: frozenset[str] | None,
        batch_max: int = 500,
        poll_s: float = 0.015,
        retry_s: float = 1.0,
        on_committed: Callable[[Sequence[Received], ApplyResult], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.inbox = inbox
        self.counters = counters
        self.known_stations = known_stations
        self.batch_max = batch_max
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.on_committed = on_committed
        self.clock = clock
        self._lock = threading.Lock()  # _busy and the inbox's emptiness are judged together
        self._busy = False
        self._draining = threading.Event()  # stop once the inbox is empty
        self._abort = threading.Event()  # stop now (a failing store is not retried any more)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._draining.clear()
        self._abort.clear()
        self._thread = threading.Thread(target=self._run, name="collector-applier", daemon=True)
        self._thread.start()

    def stop(self, drain_s: float = 5.0) -> None:
        """Apply what the inbox holds (for up to ``drain_s``), then end the thread; the rest waits in the
        inbox for the next start."""
        self._draining.set()
        if self._thread is not None:
            self._thread.join(drain_s)
            self._abort.set()
            self._thread.join(30)
            self._thread = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once the inbox is empty and no batch is being applied (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if not self._busy and self.inbox.depth() == 0:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def _run(self) -> None:
        _lower_priority()
        while not self._abort.is_set():
            try:
                applied = self.apply_once()
            except Exception:  # never let the applier die: the rows stay in the inbox
                log.exception("applying the inbox failed")
                with self._lock:
                    self._busy = False
                self._abort.wait(self.retry_s)
                continue
            if applied == 0:
                if self._draining.is_set():
                    return
                self._abort.wait(self.poll_s)

    def apply_once(self) -> int:
        """Apply the next inbox batch; how many inbox rows it held (0: the inbox was empty; -1: the store
        failed until shutdown, the rows stay)."""
        with self._lock:
            rows = self.inbox.take(self.batch_max)
            self._busy = bool(rows)
        if not rows:
            return 0
        try:
            items = self._classify(rows)
            result = self._apply(items)
            if result is None:
                return -1
            self.inbox.delete_through(rows[-1].id)
            self._checkpoint()
            if items:
                now = self.clock()
                self.counters.count_commit(result, now, self._lag(items, now))
                if self.on_committed is not None:
                    try:
                        self.on_committed(items, result)
                    except Exception:  # state tracking must never stop the applier
                        log.exception("post-commit hook failed")
            return len(rows)
        finally:
            with self._lock:
                self._busy = False

    def _checkpoint(self) -> None:
        """The WAL checkpoint is done here, off the receiver's acknowledgement path (collector/inbox.py)."""
        try:
            self.inbox.checkpoint()
        except Exception as exc:  # busy or failing: the receiver's own auto-checkpoint is the fallback
            log.debug("inbox checkpoint skipped: %s", exc)

    def _classify(self, rows: Sequence[Row]) -> list[Received]:
        items = []
        for row in rows:
            try:
                message = classify(row.topic, row.payload, known_stations=self.known_stations)
            except PayloadError as exc:  # counted, and dropped with the batch's inbox rows
                self.counters.count_error(exc.reason)
                log.warning(
                    "rejected payload on %s (%d bytes): %s: %s", row.topic, len(row.payload), exc.reason, exc
                )
                continue
            self.counters.count_received(TYPE_NAME[type(message)])
            items.append(Received(message, from_us(row.received_at)))
        return items

    def _apply(self, items: Sequence[Received]) -> ApplyResult | None:
        """The store's result, retrying while it fails; None when shutting down first."""
        if not items:
            return ApplyResult()
        while True:
            try:
                return self.store.apply(items)
            except Exception as exc:  # the store is down or full: the rows stay in the inbox
                self.counters.count_commit_error()
                log.error(
                    "store commit of %d messages failed, retrying in %.1f s: %s",
                    len(items),
                    self.retry_s,
                    exc,
                )
                if self._abort.wait(self.retry_s):
                    return None

    @staticmethod
    def _lag(items: Sequence[Received], now: datetime) -> float | None:
        live = [
            i.message.sent_at
            for i in items
            if isinstance(i.message, ReadingBatch) and i.message.lane is Lane.LIVE
        ]
        return (now - max(live)).total_seconds() if live else None
