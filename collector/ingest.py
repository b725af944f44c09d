"""From an MQTT message to a committed row, and only then an acknowledgement.

``classify`` is pure: topic + payload → a validated message, or PayloadError with a countable reason.
``Ingestor.handle`` runs on the paho thread: it classifies, counts and hands the work to the single
``IngestWriter`` thread, which commits many messages per transaction and acknowledges each message only after
its transaction committed (a crash before the commit leaves the message unacknowledged, so the broker
redelivers it; the store's identities make the redelivery harmless). Rejected payloads are acknowledged too
(in order, through the same queue) so that they do not loop, and nothing of them is stored.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from collector.metrics import IngestCounters
from collector.store.base import ApplyResult, Received, Storable, Store
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


def classify(topic: str, payload: bytes, *, known_stations: frozenset[str] | None) -> Storable:
    """The validated message carried by ``payload`` on ``topic``, or PayloadError saying why not.

    ``known_stations`` None accepts any station; otherwise a station not in it is refused (reason
    ``unknown_station``).
    """
    parsed = topics.parse(topic)
    if parsed is None or parsed.kind not in EXPECTED_TYPE:
        raise PayloadError(f"topic {topic!r} is not an agent uplink topic", reason="bad_topic")
    if known_stations is not None and parsed.station not in known_stations:
        raise PayloadError(f"station {parsed.station!r} is not configured", reason="unknown_station")
    message = messages.decode(payload, expected_station=parsed.station)
    expected = EXPECTED_TYPE[parsed.kind]
    if not isinstance(message, expected):
        raise PayloadError(
            f"a {message.type!r} message arrived on a {parsed.kind} topic", reason="wrong_type"
        )
    return message


AckFn = Callable[[], bool]  # sends the PUBACK; False when the connection it came on is gone


@dataclass(frozen=True, slots=True)
class Work:
    message: Storable | None  # None: rejected, only to be acknowledged
    received_at: datetime
    ack: AckFn


class Ingestor:
    """The paho-thread side: classify, count, queue. Never touches the store."""

    def __init__(
        self,
        writer: IngestWriter,
        counters: IngestCounters,
        *,
        known_stations: frozenset[str] | None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.writer = writer
        self.counters = counters
        self.known_stations = known_stations
        self.clock = clock

    def handle(self, topic: str, payload: bytes, ack: AckFn) -> Storable | None:
        received_at = self.clock()
        try:
            message = classify(topic, payload, known_stations=self.known_stations)
        except PayloadError as exc:
            self.counters.count_error(exc.reason)
            log.warning("rejected payload on %s (%d bytes): %s: %s", topic, len(payload), exc.reason, exc)
            self.writer.submit(Work(None, received_at, ack))
            return None
        self.counters.count_received(TYPE_NAME[type(message)])
        self.writer.submit(Work(message, received_at, ack))
        return message


class IngestWriter:
    """The single writer thread: batch → one transaction → acknowledge each message of the batch."""

    def __init__(
        self,
        store: Store,
        counters: IngestCounters,
        *,
        batch_max: int = 500,
        batch_wait_s: float = 0.02,
        retry_s: float = 1.0,
        on_committed: Callable[[Sequence[Received], ApplyResult], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.counters = counters
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.retry_s = retry_s
        self.on_committed = on_committed
        self.clock = clock
        self._queue: queue.Queue[Work] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._busy = False

    def submit(self, work: Work) -> None:
        self._queue.put(work)

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="collector-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what is queued (acknowledging it where the connection survives), then end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once the queue is empty and no batch is being written (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy or not self._queue.empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

    def _take_batch(self) -> list[Work]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        with self._idle:
            self._busy = True
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                if self._stop.is_set():
                    return
                continue
            self._commit(batch)
            with self._idle:
                self._busy = False
                self._idle.notify_all()

    def _commit(self, batch: list[Work]) -> None:
        items = [Received(w.message, w.received_at) for w in batch if w.message is not None]
        while items:
            try:
                result = self.store.apply(items)
            except Exception as exc:  # the store is down or full: keep the batch, do not acknowledge
                self.counters.count_commit_error()
                log.error(
                    "store commit of %d messages failed, retrying in %.1f s: %s",
                    len(items),
                    self.retry_s,
                    exc,
                )
                if self._stop.wait(self.retry_s):
                    # Shutting down: leave the batch unacknowledged; the broker redelivers it to our session.
                    return
                continue
            now = self.clock()
            self.counters.count_commit(result, now, self._lag(items, now))
            if self.on_committed is not None:
                try:
                    self.on_committed(items, result)
                except Exception:  # state tracking must never stop the writer
                    log.exception("post-commit hook failed")
            break
        sent = skipped = 0
        for work in batch:
            if work.ack():
                sent += 1
            else:
                skipped += 1
        self.counters.count_acks(sent, skipped)

    @staticmethod
    def _lag(items: Sequence[Received], now: datetime) -> float | None:
        live = [
            i.message.sent_at
            for i in items
            if isinstance(i.message, ReadingBatch) and i.message.lane is Lane.LIVE
        ]
        return (now - max(live)).total_seconds() if live else None
