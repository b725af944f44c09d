"""A child process of the collector: started as ``python -m <module>`` with its settings as one JSON line on
stdin (a password never shows on argv), watched and restarted when it dies, stopped with SIGTERM; and, on the
child's side, the steps that make it die with the collector.

Two children use it: the receiving child (collector/receiver.py), which holds the MQTT session, and the HJ 212
server's child (collector/hj212/child.py). Each reports to its parent as JSON lines on a pipe of its own
(``status_fd``); the HJ 212 child also reads requests on stdin after its settings (``keep_stdin``).

Restarts: a child that keeps dying at once is restarted less and less often (1 s up to 30 s apart). The child
is in the collector's session but a process group of its own: the collector stops it in order, and a
terminal's group signal must not race that; not a session of its own, because Linux's autogroup scheduling
shares the CPU between sessions first, and the applier's lower priority (collector/ingest.py) must count
against the child too.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field

from protocols.backoff import grow
from protocols.logfiles import LogConfig
from protocols.logfiles import setup as setup_logging
from protocols.tomldoc import StructField

log = logging.getLogger("qingliu.collector.children")

RESTART_MAX_S = 30.0
EXIT_ORPHANED = 70  # the collector was gone before the child could tie itself to it
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"

Report = dict[str, Any]
S = TypeVar("S", bound="ChildSettings")


class ChildSettings(BaseModel):
    """What every child gets besides its own settings."""

    log_level: str = "INFO"
    # the child's own rotating file (two processes never rotate one file)
    log: Annotated[LogConfig, StructField()] = Field(default_factory=LogConfig)
    parent_pid: int = 0
    status_fd: int = -1  # write end of the pipe for the child's reports (JSON lines); -1: none


# -- the parent's side -------------------------------------------------------------------------------------------


class ChildProcess:
    """Starts the child, restarts it when it dies (logged and counted), stops it cleanly.

    ``on_report(pipe, report)`` gets each JSON object the child writes, on a reader thread per child (``pipe``
    tells the children apart across restarts); ``on_exit(pipe)`` follows the child's last report."""

    def __init__(
        self,
        name: str,
        module: str,
        settings: ChildSettings,
        *,
        on_report: Callable[[int, Report], None] | None = None,
        on_exit: Callable[[int], None] | None = None,
        keep_stdin: bool = False,
        restart_s: float = 1.0,
    ) -> None:
        self.name = name
        self.module = module
        self.settings = settings.model_copy(update={"parent_pid": os.getpid()})
        self.on_report = on_report
        self.on_exit = on_exit
        self.keep_stdin = keep_stdin
        self.restart_s = restart_s
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._stdin_lock = threading.Lock()

    def start(self, timeout: float = 30.0) -> None:
        self._stopping.clear()
        # The supervisor thread starts every child: PR_SET_PDEATHSIG is tied to the thread that forked.
        self._thread = threading.Thread(
            target=self._supervise, name=f"collector-{self.module}-watch", daemon=True
        )
        self._thread.start()
        self._started.wait(timeout)

    def request_stop(self) -> None:
        """No more restarts (the collector is shutting down; the child may already have been signalled)."""
        self._stopping.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()  # the child finishes what it holds, then exits
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("%s did not stop within %.0f s: killed", self.name, timeout)
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

    def send(self, request: Report) -> bool:
        """One JSON line to the running child's stdin (``keep_stdin``); False when no child takes it."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.poll() is not None:
            return False
        line = (json.dumps(request) + "\n").encode()
        with self._stdin_lock:
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except (OSError, ValueError):  # the child died (broken pipe) or its stdin was closed
                return False
        return True

    def read_reports(self, fd: int) -> None:
        """One child's reports, until it exits (the pipe closes)."""
        with os.fdopen(fd, "rb") as pipe:
            for line in pipe:
                try:
                    report = json.loads(line)
                except ValueError:
                    continue
                if isinstance(report, dict) and self.on_report is not None:
                    self.on_report(fd, report)
        if self.on_exit is not None:
            self.on_exit(fd)

    def _spawn(self) -> subprocess.Popen[bytes]:
        read_fd, write_fd = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", self.module],
                stdin=subprocess.PIPE,
                process_group=0,  # see the module doc
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
            target=self.read_reports, args=(read_fd,), name=f"{self.module}-reports", daemon=True
        ).start()
        assert proc.stdin is not None
        settings = self.settings.model_copy(update={"status_fd": write_fd})
        with self._stdin_lock:
            proc.stdin.write(settings.model_dump_json().encode() + b"\n")
            proc.stdin.flush()
            if not self.keep_stdin:
                proc.stdin.close()
        log.info("%s started (pid %d)", self.name, proc.pid)
        return proc

    def _supervise(self) -> None:
        delay = self.restart_s
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._proc = self._spawn()
            except OSError as exc:
                log.error("cannot start the %s: %s", self.name, exc)
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
            delay = (
                self.restart_s if time.monotonic() - started > RESTART_MAX_S else grow(delay, RESTART_MAX_S)
            )
            log.error(
                "%s exited with code %s; restart #%d in %.0f s",
                self.name,
                proc.returncode,
                self.restarts,
                delay,
            )
            if self._stopping.wait(delay):
                return


def _pythonpath() -> str:
    """The child imports ``collector`` like we did, even when we run from a source tree."""
    root = str(Path(__file__).resolve().parent.parent)
    current = os.environ.get("PYTHONPATH", "")
    return root if not current else f"{root}{os.pathsep}{current}"


# -- the child's side --------------------------------------------------------------------------------------------


def read_settings(model: type[S]) -> S:
    """The settings line the parent wrote first on stdin."""
    return model.model_validate_json(sys.stdin.buffer.readline())


def enter(settings: ChildSettings) -> threading.Event:
    """Logging to the child's own file, tied to the parent's life, and an event set by SIGTERM or SIGINT.
    Exits at once when the parent is already gone."""
    setup_logging(settings.log_level, LOG_FORMAT, settings.log)
    if settings.parent_pid:
        _die_with_parent()
        if os.getppid() != settings.parent_pid:  # the collector died before prctl took effect
            raise SystemExit(EXIT_ORPHANED)
        threading.Thread(target=_watch_parent, args=(settings.parent_pid,), daemon=True).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    return done


def pipe_writer(fd: int, *, blocking: bool = False) -> Callable[[Report], None]:
    """Write each report as one JSON line to ``fd``. Not ``blocking``: a full pipe drops the line, for small
    reports whose next one carries the totals again (up to PIPE_BUF, 4 KiB, a write goes whole or not at all).
    ``blocking``: every line goes whole, from any thread (for answers the parent waits for)."""
    os.set_blocking(fd, blocking)
    lock = threading.Lock()

    def write(report: Report) -> None:
        line = (json.dumps(report) + "\n").encode()
        with lock, contextlib.suppress(BlockingIOError, BrokenPipeError):
            if not blocking:
                os.write(fd, line)
                return
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]

    return write


def _watch_parent(parent_pid: int) -> None:
    """Second line behind PR_SET_PDEATHSIG: when the parent is gone, end at once, like a kill -9 would."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(EXIT_ORPHANED)
        time.sleep(0.5)


def _die_with_parent() -> None:
    """Ask Linux to kill us when the thread that started us ends (the collector's supervisor thread, which
    lives as long as the collector), also on kill -9 of the collector: as if the whole collector had been
    killed. Set in the child itself, not in a preexec_fn (unsafe in a process with threads)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
