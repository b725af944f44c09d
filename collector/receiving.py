"""The collector's receiving side as the main process sees it: the receiver child process that holds the MQTT
session and commits to the inbox (collector/receiver.py), or, for tests and ``start(mqtt=False)``, a receiver
thread in this process; and what /healthz, /api/stats and /metrics read of it (connection, restarts, inbox
depth and age, inbox write failures)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from collector.config import CollectorConfig
from collector.inbox import Inbox
from collector.receiver import Receiver, ReceiverProcess, ReceiverSettings
from protocols.logfiles import sibling

Mode = Literal["process", "thread"]


class ReceivingSide:
    def __init__(
        self,
        config: CollectorConfig,
        inbox: Inbox,
        known_stations: frozenset[str] | None,
        clock_us: Callable[[], int],
        mode: Mode = "process",
    ) -> None:
        self.config = config
        self.inbox = inbox
        self.known_stations = known_stations  # None: every station is accepted
        self.clock_us = clock_us
        self.mode = mode
        self.thread: Receiver | None = None  # in this process (mode "thread", or start(mqtt=False))
        self.process: ReceiverProcess | None = None  # the child process (mode "process")

    def start(self, *, mqtt: bool = True) -> None:
        """``mqtt`` False: no broker at all; the receiver runs in this process, fed through ``thread.handle``."""
        if mqtt and self.mode == "process":
            self.process = ReceiverProcess(self._settings(), self.inbox)
            self.process.start()
            return
        self.thread = Receiver(
            self.inbox,
            self.config.mqtt if mqtt else None,
            known_stations=self.known_stations,
            batch_max=self.config.inbox.batch_max,
            max_bytes=self.config.inbox.max_bytes,
            clock_us=self.clock_us,
        )
        self.thread.start()

    def _settings(self) -> ReceiverSettings:
        return ReceiverSettings(
            mqtt=self.config.mqtt,
            inbox=str(self.inbox.path.resolve()),
            known_stations=None if self.known_stations is None else sorted(self.known_stations),
            batch_max=self.config.inbox.batch_max,
            max_bytes=self.config.inbox.max_bytes,
            log_level=self.config.log_level,
            log=sibling(self.config.log, "receiver"),
        )

    def request_stop(self) -> None:
        """A signal arrived (the child may have had it too): no restart of the child now."""
        if self.process is not None:
            self.process.request_stop()

    def stop(self, drain_s: float) -> None:
        """The receiver commits and acknowledges what it took, then disconnects."""
        if self.process is not None:
            self.process.stop(timeout=drain_s + 5)
        if self.thread is not None:
            self.thread.stop(timeout=drain_s)

    def wait_idle(self, timeout: float) -> bool:
        """The in-process receiver has committed all it took (always true for the child process)."""
        return self.thread is None or self.thread.wait_idle(timeout)

    @property
    def connected(self) -> bool:
        if self.process is not None:
            return self.process.connected
        return self.thread is not None and self.thread.connected

    def wait_connected(self, timeout: float) -> bool:
        if self.process is not None:
            return self.process.wait_connected(timeout)
        return self.thread is not None and self.thread.wait_connected(timeout)

    def status(self) -> dict[str, Any]:
        """The receiving side and its inbox, for /healthz, /api/stats and /metrics."""
        proc = self.process
        return {
            "mode": "process" if proc is not None else "thread",
            "running": proc.alive if proc is not None else self.thread is not None,
            "connected": self.connected,
            "pid": proc.pid if proc is not None else None,
            "restarts": proc.restarts if proc is not None else 0,
            "inbox_depth": self.inbox.depth(),
            "inbox_oldest_age_s": round(self.inbox.oldest_age_s(), 3),
        }

    def write_status(self) -> dict[str, Any]:
        """The receiver's inbox write failures: {"errors": n, "failing": bool, "last_error": text}."""
        if self.process is not None:
            return self.process.write_status()
        if self.thread is not None:
            return self.thread.write_status()
        return {"errors": 0, "failing": False, "last_error": ""}
