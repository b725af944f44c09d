"""From the inbox to the store: full validation, one transaction per batch, then the inbox rows go.

``route`` (cheap: topic, station, size; the receiving process), ``classify`` (full validation) and
``time_suspects`` (the receiver-relative time window) are pure.

The receiving process (collector/receiver.py) has already committed the raw payloads to the inbox and
acknowledged them. ``Applier`` is one thread of the main process: it reads the inbox in id order, classifies
each payload, applies the batch to the store in one transaction, deletes those inbox rows, and then runs the
post-commit hook (tracker, alerts, live). A crash between the store commit and the delete applies the rows
again at the next start: harmless, by the store's identities (message and reading keys; ``new_batches`` lists
only first-seen batches, so alerts are not fed twice).

Quarantine, never block: every message is applied in isolation from the others. One that fails
classification (PayloadError or any other exception) or that the store refuses with a data error goes to the
store's dead letters (raw bytes, topic, station, reason, error; a redelivered copy bumps its count) and ingest
moves on; a batch the store refuses is split in halves until the culprits are alone, so the good messages are
stored once. Only a store that is down (collector/store/failures.py) holds the applier, which retries with
back-off (``state`` "retrying") and keeps the rows in the inbox.

Readings whose sample time is before ``earliest`` or more than ``max_ahead`` past the receiver's clock are
kept apart (the store's ``suspect_readings``), never become "latest" nor feed alerts, and cause one
``analyser_clock`` event per station, parameter and hour.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from collector.inbox import Inbox, Row, now_us
from collector.metrics import IngestCounters
from collector.store.base import NO_SUSPECTS, ApplyResult, DeadLetter, Received, Storable, Store, clean_text
from collector.store.failures import store_failure
from collector.timestamps import from_us
from protocols import messages, topics
from protocols.backoff import grow
from protocols.errors import PayloadError
from protocols.messages import CommandReply, Event, EventKind, Lane, ReadingBatch, Severity, Status

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


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Sample times a reading may carry and still be an ordinary reading (config ``[ingest]``)."""

    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    max_ahead: timedelta = timedelta(minutes=10)


BEFORE_EARLIEST = "before_earliest"
AHEAD_OF_CLOCK = "ahead_of_clock"


def time_suspects(batch: ReadingBatch, received_at: datetime, window: TimeWindow) -> Mapping[int, str]:
    """Positions of ``batch``'s readings outside ``window`` (relative to the receiver's clock at
    ``received_at``), with the reason. Pure."""
    low, high = window.earliest, received_at + window.max_ahead
    found: dict[int, str] | None = None
    for i, r in enumerate(batch.readings):
        t = r.t
        if t < low:
            reason = BEFORE_EARLIEST
        elif t > high:
            reason = AHEAD_OF_CLOCK
        else:
            continue
        if found is None:
            found = {}
        found[i] = reason
    return found if found is not None else NO_SUSPECTS


def clock_event(station: str, param: str, t: datetime, received_at: datetime, reason: str) -> Event:
    """The collector's own event for a reading outside the time window; its id names the station's hour, so
    the store keeps at most one per station, parameter and hour (also across restarts)."""
    hour = received_at.astimezone(UTC).strftime("%Y%m%d%H")
    text_t = t.isoformat()
    return Event(
        station=station,
        id=f"collector-clock-{param}-{hour}",
        at=received_at,
        kind=EventKind.ANALYSER_CLOCK,
        severity=Severity.WARNING,
        param=param,
        message=f"{param} sample time {text_t} is outside the collector's window ({reason}); kept apart",
        detail={"t": text_t, "reason": reason, "source": "collector"},
    )


def topic_station(topic: str) -> str | None:
    parsed = topics.parse(topic)
    return parsed.station if parsed is not None else None


def describe(exc: BaseException) -> str:
    """An exception as a dead letter's error text (bounded, storable)."""
    try:
        text = str(exc)
    except Exception:  # a message that cannot even be printed
        text = ""
    return clean_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


APPLIER_NICE = 10
FORGET_EVERY_S = 1.0  # applied rows are deleted from the inbox this often (collector/inbox.py says why)
# While the receiver is still adding to the inbox, the applier waits this long for each second it spent applying
# a batch: half a CPU at most goes to catching up, the rest to receiving and acknowledging (see _run).
# Measured (bench_collector_ingest, medians of 5 rounds, committed ÷ the bare subscriber and applied ÷ the naive
# pipeline): 1.0 → 0.88 (spread 0.66–0.98) and 0.73 (0.58–0.88); 2.0 → 1.11 (0.62–1.40) and 0.55 (0.49–0.61);
# 3.0 → 0.90 (0.88–1.14) and 0.63 (0.45–0.70). More waiting buys little on this noisy machine and costs applying.
GIVE_WAY = 1.0
# ... but only while what it applies is younger than this: a backlog older than that goes at full speed, so that
# giving way never holds a reading back from the store by more than a few seconds (issue 14's lag < 5 s).
GIVE_WAY_WITHIN_S = 3.0
INVALID = "invalid"  # classification failed with something other than a PayloadError
STORE_REJECTED = "store_rejected"  # the store refused the message with a data error
ApplierState = Literal["running", "retrying", "stopped"]


def _lower_priority() -> None:
    """Receiving and acknowledging come first: when the CPU is short, the receiving process gets it before this
    thread, which only catches up with the inbox (Linux: a thread has its own nice value). The receiving process
    shares this process's session for that (collector/receiver.py): with autogroup scheduling, nice only
    orders threads within one session, and sessions share the CPU evenly."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), APPLIER_NICE)


@dataclass(frozen=True, slots=True)
class _Item:
    row: Row | None  # None: made by the collector itself (a clock event)
    received: Received


class _Aborted(Exception):
    """Shutting down while the store is down: the rows stay in the inbox."""


class Applier:
    """The single applier thread: inbox batch → validate → store (isolating poison) → delete → hook."""

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
        retry_max_s: float = 30.0,
        window: TimeWindow | None = None,
        on_committed: Callable[[Sequence[Received], ApplyResult], None] | None = None,
        on_quarantined: Callable[[Sequence[DeadLetter]], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        classifier: Callable[..., Storable] = classify,
    ) -> None:
        """``classifier``: ``classify`` (tests give one that lets poison through, to prove the isolation does
        not depend on validation catching it)."""
        self.store = store
        self.inbox = inbox
        self.counters = counters
        self.known_stations = known_stations
        self.batch_max = batch_max
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.retry_max_s = retry_max_s
        self.window = window or TimeWindow()
        self.on_committed = on_committed
        self.on_quarantined = on_quarantined
        self.clock = clock
        self.classifier = classifier
        self._lock = threading.Lock()  # _busy and the inbox's emptiness are judged together
        self._apply_lock = threading.RLock()  # one writer: the thread or a re-apply, never both at once
        self._busy = False
        self._draining = threading.Event()  # stop once the inbox is empty
        self._abort = threading.Event()  # stop now (a failing store is not retried any more)
        self._thread: threading.Thread | None = None
        self.state: ApplierState = "stopped"
        self.last_progress = time.monotonic()  # a batch applied or the inbox found empty
        self.last_error = ""  # the store's last "down" error while retrying
        self._clock_events: set[tuple[str, str, str]] = set()  # (station, param, hour) already recorded
        self._delay = retry_s  # the next wait while the store is down
        self._forgotten_at = time.monotonic()  # the last delete of applied rows from the inbox
        self.gave_way_s = 0.0  # seconds waited for the receiver (GIVE_WAY)
        self._applied_received_at = 0  # µs: when the last applied row was received

    def start(self) -> None:
        self._draining.clear()
        self._abort.clear()
        self.state = "running"
        self.last_progress = time.monotonic()
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
        self.state = "stopped"

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

    def status(self) -> dict[str, Any]:
        """For /healthz and /metrics: state, seconds since the last progress, the last store error while
        retrying, the seconds waited for the receiver so far."""
        return {
            "state": self.state,
            "since_progress_s": round(time.monotonic() - self.last_progress, 3),
            "last_error": self.last_error,
            "gave_way_s": round(self.gave_way_s, 3),
        }

    def _run(self) -> None:
        """Apply batches until stopped. Acknowledging comes first: while the inbox keeps growing (the receiver is
        taking a burst) and the applier is less than ``GIVE_WAY_WITHIN_S`` behind it, each batch is followed by a
        wait as long as it took times ``GIVE_WAY``. A lower nice value alone did not do it: the scheduler shares
        CPUs between sessions first, and on two CPUs the applier took 0.4–0.6 of one from the receiver during a
        burst (docs/ARCHITECTURE.md)."""
        _lower_priority()
        newest = self.inbox.newest_id()
        while not self._abort.is_set():
            started = time.monotonic()
            try:
                applied = self.apply_once()
            except Exception:  # never let the applier die: the rows stay in the inbox
                log.exception("applying the inbox failed")
                with self._lock:
                    self._busy = False
                self._abort.wait(self.retry_s)
                continue
            if applied > 0:
                latest = self.inbox.newest_id()
                grew, newest = latest > newest, latest
                behind_s = (now_us() - self._applied_received_at) / 1e6
                if grew and behind_s < GIVE_WAY_WITHIN_S and not self._draining.is_set():
                    wait = (time.monotonic() - started) * GIVE_WAY
                    self.gave_way_s += wait
                    self._abort.wait(wait)
            if applied == 0:
                draining = self._draining.is_set()
                self._forget_applied(due_only=not draining)  # all of it before the thread ends
                if draining:
                    return
                self._abort.wait(self.poll_s)

    def apply_once(self) -> int:
        """Apply the next inbox batch; how many inbox rows it held (0: the inbox was empty; -1: the store
        was down until shutdown, the rows stay)."""
        with self._lock:
            rows = self.inbox.take(self.batch_max)
            self._busy = bool(rows)
        if not rows:
            self.last_progress = time.monotonic()
            return 0
        try:
            with self._apply_lock:
                items, dead = self._classify(rows)
                try:
                    result, stored, refused = self._store(items)
                    self._quarantine(dead + refused)
                except _Aborted:
                    return -1
                self.inbox.mark_applied(rows[-1].id)
                self._applied_received_at = rows[-1].received_at
                # Dead letters are not idempotent (a crash would quarantine them twice): forget those now.
                self._forget_applied(due_only=not (dead or refused))
            self.last_progress = time.monotonic()
            self._after(stored, result, dead + refused)
            return len(rows)
        finally:
            with self._lock:
                self._busy = False

    def _after(self, stored: Sequence[Received], result: ApplyResult, dead: Sequence[DeadLetter]) -> None:
        if stored:
            now = self.clock()
            self.counters.count_commit(result, now, self._lag(stored, now))
            if self.on_committed is not None:
                try:
                    self.on_committed(stored, result)
                except Exception:  # state tracking must never stop the applier
                    log.exception("post-commit hook failed")
        if dead and self.on_quarantined is not None:
            try:
                self.on_quarantined(dead)
            except Exception:
                log.exception("quarantine hook failed")

    def _forget_applied(self, *, due_only: bool) -> None:
        """Delete the applied rows from the inbox, then checkpoint its WAL: at most every ``FORGET_EVERY_S``
        when ``due_only``."""
        if due_only and time.monotonic() - self._forgotten_at < FORGET_EVERY_S:
            return
        self._forgotten_at = time.monotonic()
        if self.inbox.forget_applied():
            self._checkpoint()

    def _checkpoint(self) -> None:
        """The WAL checkpoint is done here, off the receiver's acknowledgement path (collector/inbox.py)."""
        try:
            self.inbox.checkpoint()
        except Exception as exc:  # busy or failing: the receiver's own auto-checkpoint is the fallback
            log.debug("inbox checkpoint skipped: %s", exc)

    # -- classification --------------------------------------------------------------------------------------

    def _classify(self, rows: Sequence[Row]) -> tuple[list[_Item], list[DeadLetter]]:
        items: list[_Item] = []
        dead: list[DeadLetter] = []
        for row in rows:
            try:
                received = self._received(row.topic, row.payload, from_us(row.received_at))
            except PayloadError as exc:
                dead.append(self._dead(row.topic, row.payload, row.received_at, exc.reason, describe(exc)))
                continue
            except Exception as exc:  # a crash of validation itself (RecursionError, OverflowError, ...)
                dead.append(self._dead(row.topic, row.payload, row.received_at, INVALID, describe(exc)))
                continue
            message = received.message
            self.counters.count_received(TYPE_NAME[type(message)])
            items.append(_Item(row, received))
            if received.suspect:
                items += self._clock_events_for(received)
        return items, dead

    def _received(self, topic: str, payload: bytes, received_at: datetime) -> Received:
        message = self.classifier(topic, payload, known_stations=self.known_stations)
        if isinstance(message, ReadingBatch):
            suspect = time_suspects(message, received_at, self.window)
            if suspect:
                for reason in suspect.values():
                    self.counters.count_suspect(reason)
                return Received(message, received_at, suspect)
        return Received(message, received_at)

    def _clock_events_for(self, received: Received) -> list[_Item]:
        """One ``analyser_clock`` event per station, parameter and hour (this process remembers the hour;
        the event's id makes the store keep one across restarts)."""
        batch = received.message
        assert isinstance(batch, ReadingBatch)
        hour = received.received_at.strftime("%Y%m%d%H")
        if any(key[2] != hour for key in self._clock_events):
            self._clock_events = {key for key in self._clock_events if key[2] == hour}
        out = []
        for i, reason in received.suspect.items():
            r = batch.readings[i]
            key = (batch.station, r.param, hour)
            if key in self._clock_events:
                continue
            self._clock_events.add(key)
            event = clock_event(batch.station, r.param, r.t, received.received_at, reason)
            log.warning("station %s: %s", batch.station, event.message)
            out.append(_Item(None, Received(event, received.received_at)))
        return out

    @staticmethod
    def _dead(topic: str, payload: bytes, received_at_us: int, reason: str, error: str) -> DeadLetter:
        return DeadLetter(
            topic=clean_text(topic, 1000),
            payload=payload,
            station=topic_station(topic),
            reason=reason,
            error=error,
            seen_at=from_us(received_at_us),
        )

    # -- the store -------------------------------------------------------------------------------------------

    def _store(self, items: Sequence[_Item]) -> tuple[ApplyResult, list[Received], list[DeadLetter]]:
        """Apply ``items`` in one transaction; a data error splits them in halves until each culprit is alone
        (it is refused, the rest stored once). A store that is down is retried with back-off (_Aborted at
        shutdown). The combined result, what was stored (in order), what was refused."""
        total = ApplyResult()
        stored: list[Received] = []
        refused: list[DeadLetter] = []
        pending = [list(items)] if items else []  # a stack: the first half is applied first, order holds
        while pending:
            chunk = pending.pop()
            try:
                result = self.store.apply([i.received for i in chunk])
            except Exception as exc:
                self.counters.count_commit_error()
                if store_failure(exc) == "down":
                    pending.append(chunk)
                    self._wait_for_store(exc, len(chunk))
                    continue
                if len(chunk) > 1:
                    middle = len(chunk) // 2
                    pending += [chunk[middle:], chunk[:middle]]
                    continue
                row = chunk[0].row
                if row is None:  # our own clock event: nothing to quarantine
                    log.error("the store refused a collector event: %s", describe(exc))
                    continue
                refused.append(
                    self._dead(row.topic, row.payload, row.received_at, STORE_REJECTED, describe(exc))
                )
                continue
            self._store_up()
            total.merge(result)
            stored += [i.received for i in chunk]
        return total, stored, refused

    def _quarantine(self, dead: Sequence[DeadLetter]) -> None:
        """Keep ``dead`` in the store's dead letters (retried while the store is down) and count them."""
        if not dead:
            return
        while True:
            try:
                self.store.add_dead_letters(dead)
            except Exception as exc:
                if store_failure(exc) == "down":
                    self._wait_for_store(exc, len(dead))
                    continue
                # Cleaned text and bytes should always store: if not, count and log, never block.
                log.exception("%d dead letters could not be stored", len(dead))
                self.counters.count_error("dead_letter_unstored", len(dead))
            break
        self._store_up()
        by_reason = Counter(d.reason for d in dead)
        for reason, n in by_reason.items():
            self.counters.count_error(reason, n)
        first = dead[0]
        log.warning(
            "quarantined %d message(s) (%s); first on %s: %s",
            len(dead),
            ", ".join(f"{r} {n}" for r, n in sorted(by_reason.items())),
            first.topic,
            first.error[:300],
        )

    def _wait_for_store(self, exc: BaseException, n: int) -> None:
        """The store is down: say so, wait (doubling up to ``retry_max_s``), or raise _Aborted at shutdown."""
        delay = self._delay if self.state == "retrying" else self.retry_s
        self.state = "retrying"
        self.last_error = describe(exc)
        log.error("store is down (%d messages wait in the inbox), retrying in %.1f s: %s", n, delay, exc)
        self._delay = grow(delay, self.retry_max_s)
        if self._abort.wait(delay):
            raise _Aborted

    def _store_up(self) -> None:
        if self.state == "retrying":
            log.warning("store is back: applying again")
            self.state = "running"
            self.last_error = ""

    # -- re-applying dead letters ----------------------------------------------------------------------------

    def reapply(self, ids: Sequence[int] | None = None, *, limit: int = 10_000) -> dict[str, int]:
        """Run dead letters (``ids``, or all) through the normal path again, e.g. after an upgrade; those that
        now store leave the quarantine. A store that is down raises (nothing is waited for here)."""
        letters = self.store.dead_letters(ids=ids, limit=limit)
        reapplied = still = 0
        with self._apply_lock:
            for letter in letters:
                try:
                    received = self._received(letter.topic, letter.payload, letter.first_seen)
                    items = [_Item(None, received)]
                    if received.suspect:
                        items += self._clock_events_for(received)
                    result = self.store.apply([i.received for i in items])
                except Exception as exc:
                    if store_failure(exc) == "down":
                        raise
                    still += 1
                    continue
                self.store.remove_dead_letters([letter.id])
                reapplied += 1
                self.counters.count_received(TYPE_NAME[type(received.message)])
                self._after([i.received for i in items], result, ())
        if reapplied:
            log.warning("re-applied %d dead letter(s); %d still failing", reapplied, still)
        return {"reapplied": reapplied, "still_failing": still}

    @staticmethod
    def _lag(items: Sequence[Received], now: datetime) -> float | None:
        live = [
            i.message.sent_at
            for i in items
            if isinstance(i.message, ReadingBatch) and i.message.lane is Lane.LIVE
        ]
        return (now - max(live)).total_seconds() if live else None
