"""The receiving side of the collector: MQTT in, raw payloads committed to the inbox, then acknowledged.

``Receiver`` holds the persistent MQTT v5 session (collector/mqtt_subscriber.py) and does only cheap checks on the
subscriber's thread (an uplink topic of a known station, size): a refused payload is counted by reason, logged and
acknowledged, and nothing of it is stored. Accepted payloads go to one writer thread that commits them in
batches to the inbox (one transaction per batch, counters in the same transaction) and acknowledges each
message of the batch only after the commit. Validation, the store, alerts and the dashboard happen later in
the main process (collector/ingest.py Applier), so a slow store never holds up the broker's session queue.

In production the receiver runs in a child process (``python -m collector.receiver``) that ``ReceiverProcess``
starts, watches and restarts, and that dies with its parent (collector/childproc.py). Tests may run
``Receiver`` in-process instead.

An inbox commit that fails (disk full, I/O error) is retried and nothing is acknowledged meanwhile. The
failures are counted (``write_status``), logged at most once a minute with a count, and — since the inbox
itself cannot carry the news when its disk is full — reported to the parent as JSON lines on a pipe
(``status_fd``), for /healthz, /metrics and the inbox_write alert.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from collector.childproc import ChildProcess, ChildSettings, enter, pipe_writer, read_settings
from collector.config import MqttConfig
from collector.inbox import Inbox, now_us
from collector.ingest import route
from collector.mqtt_subscriber import Subscriber
from collector.ratelog import RateLimitedLog
from protocols.errors import PayloadError
from protocols.tomldoc import StructField

log = logging.getLogger("qingliu.collector.receiver")

AckFn = Callable[[], bool]
# The receiver's commits hold up acknowledgements: it checkpoints the WAL only when the applier (which does
# it after each delete) has fallen far behind (pages of 4 KiB: 64 MiB).
RECEIVER_AUTOCHECKPOINT = 16384


@dataclass(frozen=True, slots=True)
class _Item:
    topic: str
    payload: bytes
    received_at: int  # µs
    reason: str | None  # None: accepted, to be committed; else refused, only counted and acknowledged
    ack: AckFn


class Receiver:
    """Cheap checks on the subscriber's thread, then the writer thread: commit a batch, acknowledge it.

    ``mqtt`` None: no connection (tests feed ``handle`` directly)."""

    def __init__(
        self,
        inbox: Inbox,
        mqtt: MqttConfig | None,
        *,
        known_stations: frozenset[str] | None,
        batch_max: int = 2000,
        max_bytes: int = 0,
        retry_s: float = 1.0,
        clock_us: Callable[[], int] = now_us,
    ) -> None:
        self.inbox = inbox
        self.clock_us = clock_us  # received_at of each message
        self.known_stations = known_stations
        self.batch_max = batch_max
        self.max_bytes = max_bytes
        self.retry_s = retry_s
        self.mqtt = Subscriber(mqtt, self.handle, on_state=self._on_state) if mqtt is not None else None
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._unsaved: Counter[str] = Counter()  # counts to add with the next commit (writer thread only)
        self._pending = 0  # handed over and not yet committed + acknowledged
        self._idle = threading.Condition()
        self._closing = threading.Event()  # no more messages taken (they stay in the broker's session)
        self._abort = threading.Event()  # give up a commit that keeps failing: leave it unacknowledged
        self._thread: threading.Thread | None = None
        self._paused = False
        self.write_errors = 0  # failed inbox commits since this receiver started
        self.write_failing = False  # the last inbox commit failed
        self.last_write_error = ""
        self.on_write_state: Callable[[dict[str, Any]], None] | None = None  # the child's pipe to its parent
        self._write_log = RateLimitedLog(log, 60.0)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._closing.clear()
        self._abort.clear()
        self._thread = threading.Thread(target=self._run, name="collector-receiver", daemon=True)
        self._thread.start()
        if self.mqtt is not None:
            self.mqtt.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Commit and acknowledge what was taken while the connection is still up, then disconnect."""
        self._closing.set()
        self.wait_idle(timeout)
        self._abort.set()
        if self._thread is not None:
            self._thread.join(timeout + 5)
            self._thread = None
        if self.mqtt is not None:
            self.mqtt.stop()
            self._on_state(False)

    @property
    def connected(self) -> bool:
        return self.mqtt is not None and self.mqtt.connected

    def wait_connected(self, timeout: float) -> bool:
        return self.mqtt is not None and self.mqtt.wait_connected(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once everything handed over is committed and acknowledged (or refused and acknowledged)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

    # -- the subscriber's thread -----------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, ack: AckFn) -> str | None:
        """Queue a message for the writer; the refusal reason, or None when accepted."""
        if self._closing.is_set():
            return "closing"  # not acknowledged: the broker redelivers it to our session
        reason = None
        try:
            route(topic, len(payload), known_stations=self.known_stations)
        except PayloadError as exc:
            reason = exc.reason
            log.warning("refused payload on %s (%d bytes): %s: %s", topic, len(payload), reason, exc)
        with self._idle:
            self._pending += 1
        self._queue.put(_Item(topic, payload, self.clock_us(), reason, ack))
        return reason

    def write_status(self) -> dict[str, Any]:
        """Inbox write failures: {"errors": n, "failing": bool, "last_error": text}."""
        return {
            "errors": self.write_errors,
            "failing": self.write_failing,
            "last_error": self.last_write_error,
        }

    def _write_failed(self, exc: Exception, n: int) -> None:
        self.write_errors += 1
        self.write_failing = True
        self.last_write_error = str(exc)[:500]
        self._report()
        self._write_log.failed(
            "inbox commit of %d messages failed, retrying every %.1f s (nothing acknowledged): %s",
            n,
            self.retry_s,
            exc,
        )

    def _write_ok(self) -> None:
        if self.write_failing:
            self.write_failing = False
            self._report()
            self._write_log.recovered("inbox writable again after %d failed commits", self.write_errors)

    def _report(self) -> None:
        if self.on_write_state is not None:
            with contextlib.suppress(Exception):  # the parent's reader is gone or slow: it must not stop us
                self.on_write_state(self.write_status())

    def _on_state(self, connected: bool) -> None:
        self.inbox.set_state(
            {"connected": "1" if connected else "0", "pid": str(os.getpid()), "changed_at": str(now_us())}
        )

    # -- the writer thread -----------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.02)
            except queue.Empty:
                if self._unsaved:  # acknowledgements of the last batch: keep the counters current
                    with contextlib.suppress(Exception):
                        self.inbox.add_counts(self._unsaved)
                        self._unsaved.clear()
                if self._abort.is_set():
                    return
                continue
            batch = [first]
            while len(batch) < self.batch_max:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._commit(batch)
            finally:
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()

    def _room(self) -> bool:
        if not self.max_bytes or self.inbox.size_bytes() <= self.max_bytes:
            if self._paused:
                log.warning("inbox below its quota again: receiving")
                self._paused = False
            return True
        if not self._paused:
            log.error(
                "inbox over its quota of %d bytes (the store is not keeping up): messages stay "
                "unacknowledged in the broker's session",
                self.max_bytes,
            )
            self._paused = True
            self._unsaved["quota_pauses"] += 1
        return False

    def _commit(self, batch: list[_Item]) -> None:
        rows = [(i.topic, i.payload, i.received_at) for i in batch if i.reason is None]
        counts = Counter({"accepted": len(rows), "commits": 1})
        counts.update(f"rejected:{i.reason}" for i in batch if i.reason is not None)
        while True:
            try:
                if rows and not self._room():
                    raise _Full
                self.inbox.append(rows, counts + self._unsaved)
                self._unsaved.clear()
                self._write_ok()
                break
            except _Full:
                pass
            except Exception as exc:  # disk full, file locked too long: keep the batch, do not acknowledge
                self._unsaved["commit_errors"] += 1
                self._write_failed(exc, len(batch))
            if self._abort.wait(self.retry_s):
                return  # shutting down: unacknowledged, the broker redelivers them to our session
        sent = skipped = 0
        for item in batch:
            if item.ack():
                sent += 1
            else:
                skipped += 1
        if self.mqtt is not None:
            self.mqtt.flush()  # the batch's PUBACKs in one write
        self._unsaved["acks"] += sent
        self._unsaved["acks_skipped"] += skipped  # from a lost connection: the broker redelivers them


class _Full(Exception):
    pass


# -- the child process -----------------------------------------------------------------------------------------


class ReceiverSettings(ChildSettings):
    """What the child process needs (collector/childproc.py passes it as JSON on stdin)."""

    mqtt: Annotated[MqttConfig, StructField()]
    inbox: str
    known_stations: list[str] | None
    batch_max: int = 2000
    max_bytes: int = 0


def main() -> int:
    settings = read_settings(ReceiverSettings)
    done = enter(settings)
    inbox = Inbox(settings.inbox, autocheckpoint_pages=RECEIVER_AUTOCHECKPOINT)
    receiver = Receiver(
        inbox,
        settings.mqtt,
        known_stations=None if settings.known_stations is None else frozenset(settings.known_stations),
        batch_max=settings.batch_max,
        max_bytes=settings.max_bytes,
    )
    if settings.status_fd >= 0:
        receiver.on_write_state = pipe_writer(settings.status_fd)
    receiver.start()
    log.info("receiving into %s", settings.inbox)
    while not done.wait(1.0):
        pass
    receiver.stop()
    inbox.close()
    log.info("stopped")
    return 0


class ReceiverProcess:
    """The receiving child (collector/childproc.py: started, watched, restarted, stopped) and the inbox write
    failures it reports, summed over restarts."""

    def __init__(self, settings: ReceiverSettings, inbox: Inbox, *, restart_s: float = 1.0) -> None:
        self.inbox = inbox  # the main process's connection: reads the child's state
        self.child = ChildProcess(
            "receiver",
            "collector.receiver",
            settings,
            on_report=self._on_report,
            on_exit=self._on_exit,
            restart_s=restart_s,
        )
        self._write_lock = threading.Lock()
        self._write_states: dict[int, dict[str, Any]] = {}  # per running child (by its pipe): last report
        self._write_errors_before = 0  # inbox write failures of children that have exited
        self._last_write_error = ""

    def write_status(self) -> dict[str, Any]:
        """Inbox write failures reported by the children (errors summed over restarts)."""
        with self._write_lock:
            states = list(self._write_states.values())
            errors = self._write_errors_before + sum(int(st.get("errors", 0)) for st in states)
            failing = any(bool(st.get("failing")) for st in states)
            last_error = self._last_write_error
        return {"errors": errors, "failing": failing and self.alive, "last_error": last_error}

    def _on_report(self, pipe: int, state: dict[str, Any]) -> None:
        with self._write_lock:
            self._write_states[pipe] = state
            self._last_write_error = str(state.get("last_error") or self._last_write_error)

    def _on_exit(self, pipe: int) -> None:
        with self._write_lock:
            done = self._write_states.pop(pipe, {})
            self._write_errors_before += int(done.get("errors", 0))

    def start(self) -> None:
        self.child.start()

    def request_stop(self) -> None:
        self.child.request_stop()

    def stop(self, timeout: float = 10.0) -> None:
        self.child.stop(timeout)

    @property
    def restarts(self) -> int:
        return self.child.restarts

    @property
    def pid(self) -> int | None:
        return self.child.pid

    @property
    def alive(self) -> bool:
        return self.child.alive

    @property
    def connected(self) -> bool:
        """The child is running and says (in the inbox) that it is connected."""
        pid = self.child.pid
        if pid is None or not self.child.alive:
            return False
        state = self.inbox.state()
        return state.get("connected") == "1" and state.get("pid") == str(pid)

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected:
                return True
            time.sleep(0.05)
        return False


if __name__ == "__main__":
    raise SystemExit(main())
