"""The HJ 212-2017 TCP server: asyncio on a thread of its own, one Session per connection. In production it runs
in a child process (collector/hj212/child.py says why; collector/hj212/process.py is the collector's handle on
it); tests whose service has a clock of its own run it in the collector's process.

Frames become the same wire messages an agent publishes (ReadingBatch, Status, CommandReply) and go through the
same durable inbox: a ``Receiver`` without MQTT (collector/receiver.py) commits them in batches on its writer
thread, and the 9014 answers go out only after that commit — as an agent's PUBACK only follows the broker's
acknowledgement. The applier then validates, stores, judges and alerts them exactly like the agents' messages.
The server also carries commands to the loggers (history pulls from the gap checks, time and interval from the
API) and makes the loggers' statuses; the inbox takes its appends from a connection of its own, as it does the
receiving child's.

Per connection: lines up to ``max_frame_bytes`` (a longer one is dropped), ``max_frames_per_s``, closed after
``idle_timeout_s`` of silence or ``garbage_close_after`` bad frames in a row; at most ``max_connections``, and a
connection whose commits wait stops being read until they are done (the inbox sets the pace).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.config import Hj212Config, Hj212Logger
from collector.hj212.commands import CommandBook, Pending, next_qn, request_count, requests
from collector.hj212.counters import Counts
from collector.hj212.presence import Presence, status
from collector.hj212.registry import Loggers
from collector.hj212.session import Actions, Session
from collector.inbox import Inbox
from collector.ratelog import RateLimitedLog
from collector.receiver import Receiver
from protocols import hj212, messages, topics
from protocols.errors import CommandError
from protocols.messages import Command

log = logging.getLogger("qingliu.collector.hj212")

MAX_WAITING_COMMITS = 64  # per connection: beyond this, reading pauses until the inbox has caught up
LOG_RAW_BYTES = 200
TICK_S = 1.0


@dataclass(eq=False)
class _Conn:
    writer: asyncio.StreamWriter
    session: Session
    peer: str
    last_rx: float
    loggers: set[str] = field(default_factory=set)  # MNs that spoke on it
    waiting: int = 0  # commits handed to the writer and not yet done
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    closing: str | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Hj212Server:
    def __init__(
        self,
        config: Hj212Config,
        inbox_path: str | Path,
        *,
        batch_max: int = 2000,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.loggers = Loggers(config.loggers)
        self.counts = Counts()
        self.book = CommandBook()
        self.clock = clock
        self.inbox = Inbox(inbox_path)  # a second connection, as the receiving child has
        self.writer = Receiver(self.inbox, None, known_stations=None, batch_max=batch_max)
        self.presence: dict[str, Presence] = {logger.mn: Presence() for logger in self.loggers.all()}
        self.port = config.port
        self.frames = 0  # good frames so far
        self._conns: set[_Conn] = set()
        self._tasks: set[asyncio.Task[Any]] = set()  # the connections' handlers
        self._links: dict[str, _Conn] = {}  # MN → the connection it last spoke on
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._last_qn: str | None = None
        self._done: list[Callable[[], None]] = []  # committed, not yet answered (see _after_commit)
        self._done_lock = threading.Lock()
        self._problems = RateLimitedLog(log, 10.0, level=logging.WARNING)
        self.start_error: BaseException | None = None

    # -- lifecycle (any thread) ------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        self.writer.start()
        self._thread = threading.Thread(target=self._run, name="collector-hj212", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self.start_error is not None:
            raise RuntimeError(f"HJ 212 server did not start: {self.start_error}")
        log.info(
            "HJ 212 server listening on %s:%d (%d loggers)", self.config.host, self.port, len(self.presence)
        )

    def stop(self, drain_s: float = 5.0) -> None:
        loop = self._loop
        if loop is not None and self._stopped is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(drain_s + 5)
            self._thread = None
        self.writer.stop(timeout=drain_s)
        self.inbox.close()

    def request_stop(self) -> None:
        """Nothing to hold back: in the collector's process it is never restarted; stop() follows."""

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Everything handed to the inbox writer is committed (tests)."""
        return self.writer.wait_idle(timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:
            self.start_error = exc
            self._ready.set()
            log.exception("HJ 212 server stopped on an error")
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        limit = self.config.limits.max_frame_bytes
        self._server = await asyncio.start_server(
            self._serve, self.config.host, self.config.port, limit=limit, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        ticker = asyncio.create_task(self._tick_loop())
        await self._stopped.wait()
        ticker.cancel()
        self._server.close()
        for conn in list(self._conns):
            conn.closing = conn.closing or "shutting down"
            conn.writer.close()
        for task in list(self._tasks):  # a connection waiting for its turn to read is woken to end
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    # -- connections -----------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        if len(self._conns) >= self.config.limits.max_connections:
            self.counts.add(None, "too_many_connections")
            writer.close()
            return
        now = time.monotonic()
        conn = _Conn(writer, Session(self.config, self.loggers, self.book, self.counts, now), peer, now)
        conn.resume.set()
        self._conns.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._read(reader, conn)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # The server is stopping. The handler ends normally rather than cancelled: Python 3.11's stream
            # callback logs a cancelled handler as an error with a traceback, one per connected logger.
            conn.closing = conn.closing or "shutting down"
        except Exception:  # a bug must cost this connection only, never the server
            log.exception("HJ 212 connection from %s failed", peer)
        finally:
            if task is not None:
                self._tasks.discard(task)
            self._conns.discard(conn)
            for mn in conn.loggers:
                self.presence[mn].disconnected()
                if self._links.get(mn) is conn:
                    del self._links[mn]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if conn.closing:
                log.info("HJ 212 connection from %s closed: %s", peer, conn.closing)

    async def _read(self, reader: asyncio.StreamReader, conn: _Conn) -> None:
        skipping = False  # inside a line longer than the limit
        while conn.closing is None:
            if not conn.resume.is_set():
                await conn.resume.wait()
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                return  # closed by the peer (a partial line is not a frame)
            except asyncio.LimitOverrunError as exc:
                await reader.readexactly(exc.consumed)
                if not skipping:
                    self._handle(conn, conn.session.bad("oversized", b""))
                skipping = True
                continue
            conn.last_rx = time.monotonic()
            if skipping:  # the end of an over-long line
                skipping = False
                continue
            self._handle(conn, conn.session.on_line(raw, conn.last_rx, self.clock()))

    def _handle(self, conn: _Conn, actions: Actions) -> None:
        writer = conn.writer
        for frame in actions.send:
            if frame:
                writer.write(frame)
        if actions.problem is not None:
            self._log_problem(conn, *actions.problem)
        logger = actions.logger
        if logger is not None:
            self._seen(conn, logger, actions)
        if actions.commit:
            self._commit(conn, actions.commit, [f for f in actions.after if f])
        elif actions.after:
            for frame in actions.after:
                writer.write(frame)
        if actions.close is not None:
            conn.closing = actions.close
            writer.close()

    def _seen(self, conn: _Conn, logger: Hj212Logger, actions: Actions) -> None:
        self.frames += 1
        presence = self.presence[logger.mn]
        now = self.clock()
        presence.last_frame_at = now
        if logger.mn not in conn.loggers:
            conn.loggers.add(logger.mn)
            presence.connected(now)
            if logger.primary:  # in the fleet at once, not a heartbeat later
                self._status(logger, presence, time.monotonic())
        self._links[logger.mn] = conn
        if actions.problem is not None:
            presence.last_error = actions.problem[0]
        reply = actions.reply
        if reply is not None and reply.ok:
            if "clock_offset_s" in reply.result:
                presence.clock_offset_s = float(reply.result["clock_offset_s"])
            if "rtd_interval_s" in reply.result:
                presence.rtd_interval_s = float(reply.result["rtd_interval_s"]) or None

    def _commit(self, conn: _Conn, items: list[tuple[str, bytes]], after: list[bytes]) -> None:
        """Hand ``items`` to the inbox writer; ``after`` goes out once the last of them is committed."""
        loop = self._loop
        assert loop is not None
        conn.waiting += 1
        if conn.waiting >= MAX_WAITING_COMMITS:
            conn.resume.clear()

        def done() -> None:
            conn.waiting -= 1
            if not conn.writer.is_closing():
                for frame in after:
                    conn.writer.write(frame)
            if conn.waiting < MAX_WAITING_COMMITS:
                conn.resume.set()

        def committed() -> bool:  # the writer thread, after the commit
            self._after_commit(loop, done)
            return True

        for topic, payload in items[:-1]:
            self.writer.handle(topic, payload, _no_ack)
        topic, payload = items[-1]
        self.writer.handle(topic, payload, committed)

    def _after_commit(self, loop: asyncio.AbstractEventLoop, done: Callable[[], None]) -> None:
        """From the writer thread: run ``done`` on the loop. One wake-up of the loop carries every ``done`` of
        a commit (a wake-up is a write to the loop's socket pair, and with a frame per item it cost more than
        the frame's commit)."""
        with self._done_lock:
            self._done.append(done)
            if len(self._done) > 1:
                return  # a wake-up is already on its way and will take this one too
        with contextlib.suppress(RuntimeError):  # the loop is closed (shutting down): nobody to answer
            loop.call_soon_threadsafe(self._run_done)

    def _run_done(self) -> None:
        with self._done_lock:
            ready, self._done = self._done, []
        for done in ready:
            done()

    def _log_problem(self, conn: _Conn, reason: str, raw: bytes) -> None:
        shown = raw[:LOG_RAW_BYTES]
        more = f" (+{len(raw) - LOG_RAW_BYTES} bytes)" if len(raw) > LOG_RAW_BYTES else ""
        who = conn.session.mn or "?"
        # repr of the bytes: control characters and non-ASCII come out escaped, one line, bounded
        self._problems.failed("HJ 212 from %s (MN %s): %s: %r%s", conn.peer, who, reason, shown, more)

    # -- the ticker: idle connections, split and command time limits, statuses -------------------------------

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self._tick(time.monotonic())
            except Exception:
                log.exception("HJ 212 tick failed")

    def _tick(self, now: float) -> None:
        idle = self.config.limits.idle_timeout_s
        for conn in list(self._conns):
            conn.session.tick(now)
            if now - conn.last_rx > idle and conn.closing is None:
                conn.closing = f"idle for {now - conn.last_rx:.0f} s"
                self.counts.add(conn.session.mn, "idle_closed")
                conn.writer.close()
        self.book.expire(now)
        for logger in self.loggers.all():
            presence = self.presence[logger.mn]
            if (
                logger.primary
                and presence.connections
                and now - presence.last_status_at >= logger.heartbeat_s
            ):
                self._status(logger, presence, now)

    def _status(self, logger: Hj212Logger, presence: Presence, now: float) -> None:
        presence.last_status_at = now
        failures = sum(self.counts.of(logger.mn).values())
        message = status(logger, presence, self.clock(), failures)
        self.writer.handle(topics.topic(logger.site, "status"), messages.encode(message), _no_ack)

    # -- commands (called from other threads) ----------------------------------------------------------------

    def serves(self, station: str) -> bool:
        """Commands for ``station`` go to its primary logger."""
        return self.loggers.primary_for(station) is not None

    def send_command(self, command: Command, timeout: float = 5.0) -> None:
        """Send ``command`` to the station's logger over its live connection; CommandError when there is none
        (the logger connects to us: a command waits for no one) or when a logger cannot do it."""
        loop = self._loop
        if loop is None:
            raise CommandError("the HJ 212 server is not running", reason="not_connected")
        future = asyncio.run_coroutine_threadsafe(self._send(command), loop)
        try:
            future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise CommandError(
                "the logger's connection did not take the command", reason="not_acknowledged"
            ) from None

    async def _send(self, command: Command) -> None:
        logger = self.loggers.primary_for(command.station)
        if logger is None:
            raise CommandError(f"no HJ 212 logger reports for {command.station}", reason="not_connected")
        conn = self._links.get(logger.mn)
        if conn is None or conn.writer.is_closing():
            raise CommandError(f"logger {logger.mn} is not connected", reason="not_connected")
        qns = []
        for _ in range(request_count(command)):
            self._last_qn = next_qn(self.clock(), logger.zone, self._last_qn)
            qns.append(self._last_qn)
        frames = requests(command, logger, qns)
        self.book.add(Pending(command, logger.mn, tuple(qns), time.monotonic()))
        for frame in frames:
            conn.writer.write(
                hj212.encode_frame(
                    frame, crc_variant=self.config.crc_variant, length_unit=self.config.length_unit
                )
            )
        await conn.writer.drain()

    # -- what the collector shows ----------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        return len(self._conns)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    restarts = 0  # in the collector's process: it is never restarted on its own

    def status(self) -> dict[str, Any]:
        """Where it runs and how it is, for /api/stats."""
        return {
            "mode": "thread",
            "running": self.running,
            "pid": None,
            "restarts": self.restarts,
            "port": self.port,
            "connections": self.connections,
            "frames": self.frames,
        }


def _no_ack() -> bool:
    return True


def _peer(writer: asyncio.StreamWriter) -> str:
    info = writer.get_extra_info("peername")
    if isinstance(info, tuple) and len(info) >= 2:
        return f"{info[0]}:{info[1]}"
    return str(info)
