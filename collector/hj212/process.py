"""The HJ 212 server as the collector's main process sees it when the server runs in a child process
(collector/hj212/child.py says why): the same face as ``Hj212Server`` to the service, the API, the command
sender and /metrics — port, counts, presence, frames, connections, ``serves``, ``send_command`` and
``wait_idle`` — kept from the child's reports and carried out by requests to it.

Counts and good frames are summed over the child's restarts, as the in-process server sums them over its own
life; presence and connections are the running child's (a restarted child has lost its connections, and the
loggers connect again).
"""

from __future__ import annotations

import itertools
import logging
import threading
from pathlib import Path
from typing import Any

from collector.childproc import ChildProcess, Report
from collector.config import Hj212Config
from collector.hj212.child import Hj212ChildSettings
from collector.hj212.counters import Counts
from collector.hj212.presence import Presence
from collector.hj212.registry import Loggers
from protocols import messages
from protocols.errors import CommandError
from protocols.logfiles import LogConfig
from protocols.messages import Command

log = logging.getLogger("qingliu.collector.hj212")

ANSWER_GRACE_S = 5.0  # beyond a request's own timeout: the child's answer is on its way through a pipe


class _Request:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: Report = {}


class Hj212Process:
    def __init__(
        self,
        config: Hj212Config,
        inbox_path: str | Path,
        *,
        log_level: str = "INFO",
        log_file: LogConfig | None = None,
        drain_s: float = 5.0,
        restart_s: float = 1.0,
    ) -> None:
        self.config = config
        self.loggers = Loggers(config.loggers)
        self.port = config.port
        self.presence: dict[str, Presence] = {logger.mn: Presence() for logger in self.loggers.all()}
        settings = Hj212ChildSettings(
            hj212=config,
            inbox=str(Path(inbox_path).resolve()),
            drain_s=drain_s,
            log_level=log_level,
            log=log_file or LogConfig(),
        )
        self.child = ChildProcess(
            "HJ 212 server",
            "collector.hj212.child",
            settings,
            on_report=self._on_report,
            on_exit=self._on_exit,
            keep_stdin=True,
            restart_s=restart_s,
        )
        self._lock = threading.Lock()
        self._counts_before = Counts()  # of children that have exited
        self._frames_before = 0
        self._states: dict[int, Report] = {}  # per running child (by its pipe): its last state
        self._requests: dict[int, _Request] = {}
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self._failed: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        self.child.start()
        if not self._ready.wait(timeout) or self._failed is not None:
            self.child.stop()
            raise RuntimeError(f"HJ 212 server did not start: {self._failed or 'no answer from its process'}")
        log.info(
            "HJ 212 server listening on %s:%d (%d loggers; process %s)",
            self.config.host,
            self.port,
            len(self.presence),
            self.child.pid,
        )

    def request_stop(self) -> None:
        self.child.request_stop()

    def stop(self, drain_s: float = 5.0) -> None:
        self.child.stop(drain_s + 10)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Everything the child handed to its inbox writer is committed (tests)."""
        answer = self._ask({"op": "idle", "timeout": timeout}, timeout)
        return answer is not None and bool(answer.get("ok"))

    # -- commands --------------------------------------------------------------------------------------------

    def serves(self, station: str) -> bool:
        """Commands for ``station`` go to its primary logger."""
        return self.loggers.primary_for(station) is not None

    def send_command(self, command: Command, timeout: float = 5.0) -> None:
        """As ``Hj212Server.send_command``, carried out by the child."""
        answer = self._ask(
            {"op": "command", "command": messages.to_builtins(command), "timeout": timeout}, timeout
        )
        if answer is None:
            raise CommandError("the HJ 212 server's process did not answer", reason="not_connected")
        error = answer.get("error")
        if isinstance(error, dict):
            raise CommandError(str(error.get("message")), reason=str(error.get("reason") or "command"))

    def _ask(self, request: Report, timeout: float) -> Report | None:
        """Send ``request`` to the child and wait for its answer; None when no child took it or answered."""
        ident = next(self._ids)
        pending = _Request()
        with self._lock:
            self._requests[ident] = pending
        try:
            if not self.child.send({**request, "id": ident}):
                return None
            if not pending.done.wait(timeout + ANSWER_GRACE_S):
                return None
            return pending.answer or None  # empty: the child exited before it answered
        finally:
            with self._lock:
                self._requests.pop(ident, None)

    # -- the child's reports ---------------------------------------------------------------------------------

    def _on_report(self, pipe: int, report: Report) -> None:
        op = report.get("op")
        if op == "state":
            presence = report.get("presence")
            with self._lock:
                self._states[pipe] = report
                if isinstance(presence, dict):
                    for mn, fields in presence.items():
                        if mn in self.presence and isinstance(fields, dict):
                            self.presence[mn] = Presence.from_report(fields)
        elif op == "ready":
            self.port = int(report.get("port") or self.port)
            self._ready.set()
        elif op == "failed":
            self._failed = str(report.get("error"))
            self._ready.set()
        elif op in ("command", "idle"):
            with self._lock:
                pending = self._requests.get(int(report.get("id") or 0))
            if pending is not None:
                pending.answer = report
                pending.done.set()

    def _on_exit(self, pipe: int) -> None:
        with self._lock:
            last = self._states.pop(pipe, {})
            self._frames_before += int(last.get("frames") or 0)
            refused = last.get("refused")
            if isinstance(refused, dict):
                self._counts_before.merge(refused)
            for mn in self.presence:  # its connections went with it
                self.presence[mn].connections = 0
            waiting = list(self._requests.values())
        for pending in waiting:  # the answers will not come: the callers learn now, not at their timeout
            pending.done.set()

    # -- what the collector shows ----------------------------------------------------------------------------

    @property
    def counts(self) -> Counts:
        """Refused lines by logger and reason, over every child so far."""
        with self._lock:
            total = Counts()
            total.merge(self._counts_before.snapshot())
            for state in self._states.values():
                refused = state.get("refused")
                if isinstance(refused, dict):
                    total.merge(refused)
        return total

    @property
    def frames(self) -> int:
        with self._lock:
            return self._frames_before + sum(int(s.get("frames") or 0) for s in self._states.values())

    @property
    def running(self) -> bool:
        return self.child.alive

    @property
    def restarts(self) -> int:
        return self.child.restarts

    @property
    def connections(self) -> int:
        with self._lock:
            return sum(int(s.get("connections") or 0) for s in self._states.values())

    def status(self) -> dict[str, Any]:
        """Where it runs and how it is, for /api/stats."""
        return {
            "mode": "process",
            "running": self.running,
            "pid": self.child.pid,
            "restarts": self.restarts,
            "port": self.port,
            "connections": self.connections,
            "frames": self.frames,
        }
