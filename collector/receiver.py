"""The receiving side of the collector: MQTT in, raw payloads committed to the inbox, then acknowledged.

``Receiver`` holds the persistent MQTT v5 session (collector/mqtt_subscriber.py) and does only cheap checks on the
subscriber's thread (an uplink topic of a known station, size): a refused payload is counted by reason, logged and
acknowledged, and nothing of it is stored. Accepted payloads go to one writer thread that commits them in
batches to the inbox (one transaction per batch, counters in the same transaction) and acknowledges each
message of the batch only after the commit. Validation, the store, alerts and the dashboard happen later in
the main process (collector/ingest.py Applier), so a slow store never holds up the broker's session queue.

In production the receiver runs in a child process (``python -m collector.receiver``, settings as JSON on
stdin) that ``ReceiverProcess`` starts, watches and restarts; it dies with its parent (PR_SET_PDEATHSIG, and
a parent watch as a second line). Tests may run ``Receiver`` in-process instead.

An inbox commit that fails (disk full, I/O error) is retried and nothing is acknowledged meanwhile. The
failures are counted (``write_status``), logged at most once a minute with a count, and — since the inbox
itself cannot carry the news when its disk is full — reported to the parent as JSON lines on a pipe
(``status_fd``), for /healthz, /metrics and the inbox_write alert.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field

from collector.config import MqttConfig
from collector.inbox import Inbox, now_us
from collector.ingest import route
from collector.mqtt_subscriber import Subscriber
from collector.ratelog import RateLimitedLog
from protocols.backoff import grow
from protocols.errors import PayloadError
from protocols.logfiles import LogConfig
from protocols.logfiles import setup as setup_logging
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


class ReceiverSettings(BaseModel):
    """What the child process needs, passed as JSON on its stdin (keeps the broker password off argv)."""

    mqtt: Annotated[MqttConfig, StructField()]
    inbox: str
    known_stations: list[str] | None
    batch_max: int = 2000
    max_bytes: int = 0
    log_level: str = "INFO"
    # the receiver's own rotating file (two processes never rotate one file)
    log: Annotated[LogConfig, StructField()] = Field(default_factory=LogConfig)
    parent_pid: int = 0
    status_fd: int = -1  # write end of the pipe for inbox write failures (JSON lines); -1: none


def _watch_parent(parent_pid: int) -> None:
    """Second line behind PR_SET_PDEATHSIG: when the parent is gone, end at once, like a kill -9 would."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(70)
        time.sleep(0.5)


def main() -> int:
    settings = ReceiverSettings.model_validate_json(sys.stdin.buffer.read())
    setup_logging(
        settings.log_level, "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s", settings.log
    )
    if settings.parent_pid:
        _die_with_parent()
        if os.getppid() != settings.parent_pid:  # the collector died before prctl took effect
            return 70
        threading.Thread(target=_watch_parent, args=(settings.parent_pid,), daemon=True).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    inbox = Inbox(settings.inbox, autocheckpoint_pages=RECEIVER_AUTOCHECKPOINT)
    receiver = Receiver(
        inbox,
        settings.mqtt,
        known_stations=None if settings.known_stations is None else frozenset(settings.known_stations),
        batch_max=settings.batch_max,
        max_bytes=settings.max_bytes,
    )
    if settings.status_fd >= 0:
        receiver.on_write_state = _pipe_writer(settings.status_fd)
    receiver.start()
    log.info("receiving into %s", settings.inbox)
    while not done.wait(1.0):
        pass
    receiver.stop()
    inbox.close()
    log.info("stopped")
    return 0


def _pipe_writer(fd: int) -> Callable[[dict[str, Any]], None]:
    """Write each state as one JSON line to ``fd``, never blocking (a full pipe drops the line: the next
    state carries the totals again)."""
    os.set_blocking(fd, False)

    def write(state: dict[str, Any]) -> None:
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(fd, (json.dumps(state) + "\n").encode())

    return write


def _die_with_parent() -> None:
    """Ask Linux to kill us when the thread that started us ends (the collector's supervisor thread, which
    lives as long as the collector), also on kill -9 of the collector: as if the whole collector had been
    killed. Set in the child itself, not in a preexec_fn (unsafe in a process with threads)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ReceiverProcess:
    """Starts the receiving child, restarts it when it dies (logged and counted), stops it cleanly."""

    def __init__(self, settings: ReceiverSettings, inbox: Inbox, *, restart_s: float = 1.0) -> None:
        self.settings = settings.model_copy(update={"parent_pid": os.getpid()})
        self.inbox = inbox  # the main process's connection: reads the child's state
        self.restart_s = restart_s
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
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

    def _read_status(self, fd: int) -> None:
        """One child's inbox write reports, until it exits (the pipe closes)."""
        with os.fdopen(fd, "rb") as pipe:
            for line in pipe:
                try:
                    state = json.loads(line)
                except ValueError:
                    continue
                if isinstance(state, dict):
                    with self._write_lock:
                        self._write_states[fd] = state
                        self._last_write_error = str(state.get("last_error") or self._last_write_error)
        with self._write_lock:
            done = self._write_states.pop(fd, {})
            self._write_errors_before += int(done.get("errors", 0))

    def start(self) -> None:
        self._stopping.clear()
        # The supervisor thread starts every child: PR_SET_PDEATHSIG is tied to the thread that forked.
        self._thread = threading.Thread(target=self._supervise, name="collector-receiver-watch", daemon=True)
        self._thread.start()
        self._started.wait(30)

    def request_stop(self) -> None:
        """No more restarts (the collector is shutting down; the child may already have been signalled)."""
        self._stopping.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()  # the child commits and acknowledges what it holds, then disconnects
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("receiver did not stop within %.0f s: killed", timeout)
                proc.kill()
                proc.wait(10)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def connected(self) -> bool:
        """The child is running and says (in the inbox) that it is connected."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return False
        state = self.inbox.state()
        return state.get("connected") == "1" and state.get("pid") == str(proc.pid)

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected:
                return True
            time.sleep(0.05)
        return False

    def _spawn(self) -> subprocess.Popen[bytes]:
        read_fd, write_fd = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "collector.receiver"],
                stdin=subprocess.PIPE,
                # A process group of its own: the collector stops it in order, and a terminal's group signal
                # must not race that. Not a session of its own: Linux's autogroup scheduling shares the CPU
                # between sessions first, and the applier's lower priority (collector/ingest.py) must count
                # against this process, not only within the main one.
                process_group=0,
                cwd=os.getcwd(),
                env={**os.environ, "PYTHONPATH": _pythonpath()},
                pass_fds=(write_fd,),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)  # the child holds its copy: the pipe closes when the child exits
        threading.Thread(
            target=self._read_status, args=(read_fd,), name="receiver-status", daemon=True
        ).start()
        assert proc.stdin is not None
        settings = self.settings.model_copy(update={"status_fd": write_fd})
        proc.stdin.write(settings.model_dump_json().encode())
        proc.stdin.close()
        log.info("receiver started (pid %d)", proc.pid)
        return proc

    def _supervise(self) -> None:
        delay = self.restart_s
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._proc = self._spawn()
            except OSError as exc:
                log.error("cannot start the receiver: %s", exc)
                self._started.set()
                if self._stopping.wait(delay):
                    return
                continue
            self._started.set()
            proc = self._proc
            while proc.poll() is None:
                if self._stopping.wait(0.2):
                    # stop() terminates the child; stay alive until it has exited (PDEATHSIG follows us).
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(30)
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait(10)
                    return
            if self._stopping.is_set():
                return
            self.restarts += 1
            # A child that keeps dying at once is restarted less and less often (up to 30 s apart).
            delay = self.restart_s if time.monotonic() - started > 30 else grow(delay, 30.0)
            log.error(
                "receiver exited with code %s; restart #%d in %.0f s", proc.returncode, self.restarts, delay
            )
            if self._stopping.wait(delay):
                return


def _pythonpath() -> str:
    """The child imports ``collector`` like we did, even when we run from a source tree."""
    root = str(Path(__file__).resolve().parent.parent)
    current = os.environ.get("PYTHONPATH", "")
    return root if not current else f"{root}{os.pathsep}{current}"


if __name__ == "__main__":
    raise SystemExit(main())
