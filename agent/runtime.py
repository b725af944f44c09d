"""The agent's runtime: outbox, uplink, acquisition, publisher, heartbeat, housekeeping, commands.

    acquisition ──Sink──▶ OutboxSink ──▶ Outbox (SQLite) ◀── Publisher ──▶ MqttUplink ──▶ broker
                                                   ▲ mark_acked on PUBACK ◀────────┘
    broker ──cmd──▶ CommandHandler ──reply──▶ broker

Everything runs on one asyncio loop; paho's network thread only hands results over. Readings are committed
before the publisher can see them and are marked sent only when the PUBACK of their message arrives.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from agent.clockwatch import ClockJump, ClockWatch, watch_clock
from agent.commands import CommandHandler
from agent.config import AgentConfig, OutboxConfig
from agent.outbox import Batch, Outbox
from agent.sink import Sink, StorageFailed
from agent.status import StatusBoard, will_status
from agent.uplink import MqttUplink, PublishError, backoff_delay
from protocols.messages import DeviceStatus, EventKind, Lane, Reading, Severity, batch_payload, encode
from protocols.topics import topic

log = logging.getLogger(__name__)


class PublishPort(Protocol):
    """What the publisher needs from an uplink (MqttUplink, or a fake in tests)."""

    @property
    def connected(self) -> bool: ...

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[None]: ...


class Acquisition(Protocol):
    """What the runtime needs from acquisition (agent.acquisition.Acquisition, or a fake in tests)."""

    async def run(self, stop: asyncio.Event) -> None: ...

    def set_interval(self, device: str, seconds: float) -> None: ...


AcquisitionFactory = Callable[[AgentConfig, Sink], Acquisition]


class Waker:
    """An asyncio.Event that may be set from any thread (acquisition may call the sink from workers)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def __call__(self) -> None:
        if threading.get_ident() == self._thread:
            self.event.set()
        else:
            self._loop.call_soon_threadsafe(self.event.set)


class OutboxSink:
    """The runtime's Sink: readings and events to the outbox, device state to the status board."""

    def __init__(self, outbox: Outbox, board: StatusBoard, wake: Callable[[], None] = lambda: None) -> None:
        self.outbox = outbox
        self.board = board
        self.wake = wake

    def add_readings(self, readings: Sequence[Reading]) -> None:
        self.outbox.add_readings(readings)
        self.wake()

    def add_event(
        self,
        kind: EventKind,
        severity: Severity,
        message: str,
        *,
        device: str | None = None,
        param: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.outbox.add_event(kind, severity, message, device=device, param=param, detail=detail)
        self.wake()

    def set_device_status(self, device: str, status: DeviceStatus) -> None:
        self.board.devices[device] = status

    def set_controller_signals(self, signals: dict[str, float | bool | str]) -> None:
        self.board.controller.update(signals)


class TokenBucket:
    """Readings per second for the backfill and resend lanes; at most one second of burst.

    The outbox hands out whole chunks, which may hold more readings than there are tokens: ``take`` then
    leaves the bucket in debt, and nothing more goes until it is paid back, so the average rate holds.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self._clock = clock
        self._at = clock()

    def available(self) -> int:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now
        return int(self.tokens)

    def take(self, n: int) -> None:
        self.tokens -= n


class Publisher:
    """Moves outbox messages to the uplink, a window of ``outbox.inflight`` at a time.

    Order of service: events, then messages assembled earlier but never acknowledged (same seq, same
    readings), then new live batches, then the resend lane and the backfill lane under the rate limit.
    A message the broker refuses (PUBACK >= 0x80) stays in the window and is retried after a back-off.

    Fsyncs are shared: the new messages of one ``pump`` are bound in one outbox transaction, and the
    PUBACKs that arrive in one turn of the loop are marked in one transaction (``flush_acks``); a message
    is marked sent only after its own PUBACK. The fsyncs overlap the network: a PUBACK frees its slot in
    the window at once, ``pump`` sends into it first and marks the PUBACKs after, and while the window is
    full the next window of backfill is bound ahead.
    """

    def __init__(
        self,
        outbox: Outbox,
        uplink: PublishPort,
        station: str,
        config: OutboxConfig,
        *,
        retry_min_s: float = 0.5,
        retry_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outbox = outbox
        self.uplink = uplink
        self.station = station
        self.config = config
        self.readings_topic = topic(station, "readings")
        self.events_topic = topic(station, "events")
        self.inflight: dict[int, asyncio.Future[None]] = {}
        self.retry_at: dict[int, float] = {}  # refused messages: seq → when to try again
        self.refusals: dict[int, int] = {}
        self.events_inflight: set[int] = set()
        self.events_retry_at: float = 0.0
        self.bucket = TokenBucket(config.backfill_rate, clock)
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self._clock = clock
        self.wake = asyncio.Event()
        self.counters = {"published": 0, "acked": 0, "refused": 0, "lost": 0}
        self.acked: list[int] = []  # PUBACKed this turn, not yet marked in the outbox
        # Backfill/resend messages bound ahead (a window's worth in one transaction), not yet published.
        self.ready: collections.deque[Batch] = collections.deque()
        self._flush_scheduled = False

    def occupied(self) -> int:
        # Messages acknowledged but not yet marked (self.acked) hold no slot: the broker has them.
        return len(self.inflight) + len(self.retry_at)

    async def run(self, tick_s: float = 0.25, step: int = 8) -> None:
        # At most ``step`` new messages per turn of the loop: acquisition shares this loop, and polls must
        # stay on time while a backlog drains. A message of pre-encoded chunks costs tens of microseconds.
        while True:
            try:
                more = self.pump(max_new=step) if self.uplink.connected else False
            except StorageFailed:
                more = False  # the disk refuses the bindings: counted and logged by the outbox; try later
            if more:
                await asyncio.sleep(0)
                continue
            # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancel that arrives as the event
            # is set, and then shutdown waits for this task forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tick_s):
                    await self.wake.wait()
            self.wake.clear()

    def pump(self, max_new: int | None = None) -> bool:
        """Fill the window from the outbox, then mark the PUBACKs that arrived. Synchronous: the outbox calls
        are short transactions.

        Returns True when it stopped after ``max_new`` new batches with room left in the window (call again).
        """
        more = self._fill(max_new)
        self.flush_acks()  # after sending: this fsync overlaps the new messages' trip to the broker
        if not self.ready and self.occupied() >= self.config.inflight:
            self._bind_ahead()  # the window is full: bind its successors while waiting for PUBACKs
        return more

    def _fill(self, max_new: int | None) -> bool:
        self._pump_events()
        now = self._clock()
        busy = set(self.inflight) | set(self.acked) | {b.seq for b in self.ready}
        for seq in self.outbox.unacked(exclude=busy):
            if self.occupied() >= self.config.inflight and seq not in self.retry_at:
                return False
            if seq in self.retry_at:
                if self.retry_at[seq] > now:
                    continue
                del self.retry_at[seq]
            batch = self.outbox.load_batch(seq)
            if batch is not None:
                self._send(batch)
        sent = 0
        while (room := self.config.inflight - self.occupied()) > 0:
            if max_new is not None:
                if sent >= max_new:
                    return True
                room = min(room, max_new - sent)
            batches = self.outbox.next_batches(Lane.LIVE, max_messages=room)
            if not batches:
                if not self.ready:
                    self._bind_ahead()
                batches = [self.ready.popleft() for _ in range(min(room, len(self.ready)))]
            if not batches:
                return False
            for batch in batches:
                self._send(batch)
            sent += len(batches)
        return False

    def _bind_ahead(self) -> None:
        """Bind up to a window of resend or backfill messages in one transaction (one fsync), under the
        rate limit. They stay unacknowledged messages like any in flight: after a crash they go again,
        same seq."""
        for lane in (Lane.RESEND, Lane.BACKFILL):
            tokens = self.bucket.available()
            if tokens < 1:
                return
            batches = self.outbox.next_batches(lane, max_messages=self.config.inflight, max_readings=tokens)
            self.bucket.take(sum(b.count for b in batches))
            if batches:
                self.ready.extend(batches)
                return

    def _send(self, batch: Batch) -> None:
        payload = batch_payload(self.station, batch.seq, batch.lane, datetime.now(UTC), batch.body)
        future = self.uplink.publish(self.readings_topic, payload)
        self.inflight[batch.seq] = future
        self.counters["published"] += 1
        future.add_done_callback(partial(self._done, batch.seq))

    def _done(self, seq: int, future: asyncio.Future[None]) -> None:
        self.inflight.pop(seq, None)
        error = (
            future.exception() if not future.cancelled() else PublishError("cancelled", reason="cancelled")
        )
        if error is None:
            self.refusals.pop(seq, None)
            # Its slot is free now: the run loop (woken first) refills the window, then this PUBACK is
            # marked with the others that arrived in this turn of the loop.
            self.acked.append(seq)
            self.wake.set()
            if not self._flush_scheduled:
                self._flush_scheduled = True
                asyncio.get_running_loop().call_soon(self.flush_acks)
        elif isinstance(error, PublishError) and error.reason == "refused":
            n = self.refusals.get(seq, 0)
            self.refusals[seq] = n + 1
            self.counters["refused"] += 1
            self.outbox.count("publish_refused")
            self.retry_at[seq] = self._clock() + backoff_delay(n, self.retry_min_s, self.retry_max_s)
            log.warning(
                "station %s: message %d refused by the broker (%s); retry later, readings kept",
                self.station,
                seq,
                error,
            )
        else:
            # Disconnected: the message stays unacknowledged and goes again, same seq, on reconnect.
            self.counters["lost"] += 1
            self.wake.set()

    def flush_acks(self) -> None:
        """Mark the PUBACKed messages sent, in one outbox transaction."""
        self._flush_scheduled = False
        if not self.acked:
            return
        seqs, self.acked = self.acked, []
        try:
            self.outbox.mark_acked_many(seqs)
        except StorageFailed:
            # The disk refuses the marks (logged by the outbox): kept, tried again at the next flush. Not
            # raised: this runs as a loop callback, where it would only print a traceback per PUBACK.
            self.acked = seqs + self.acked
            return
        except BaseException:
            self.acked = seqs + self.acked  # not marked: kept out of the window's re-sends, tried again
            raise
        self.counters["acked"] += len(seqs)

    def _pump_events(self) -> None:
        if self._clock() < self.events_retry_at:
            return
        room = max(0, 8 - len(self.events_inflight))
        for stored in self.outbox.unsent_events(limit=room, exclude=self.events_inflight):
            future = self.uplink.publish(self.events_topic, encode(stored.event))
            self.events_inflight.add(stored.row_id)
            future.add_done_callback(partial(self._event_done, stored.row_id))

    def _event_done(self, row_id: int, future: asyncio.Future[None]) -> None:
        self.events_inflight.discard(row_id)
        error = (
            future.exception() if not future.cancelled() else PublishError("cancelled", reason="cancelled")
        )
        if error is None:
            with contextlib.suppress(StorageFailed):  # not marked: sent again later, the collector dedups
                self.outbox.mark_event_sent(row_id)
        elif isinstance(error, PublishError) and error.reason == "refused":
            self.outbox.count("publish_refused")
            self.events_retry_at = self._clock() + self.retry_max_s

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) for the messages in flight to be acknowledged, and mark them."""
        pending = [f for f in self.inflight.values() if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        await asyncio.sleep(0)  # the done callbacks of the last PUBACKs
        self.flush_acks()


def default_acquisition(state_path: Path) -> AcquisitionFactory:
    """The real acquisition, remembering analyser result times in ``state_path``."""

    def factory(config: AgentConfig, sink: Sink) -> Acquisition:
        from agent.acquisition import Acquisition as Real
        from agent.acquisition import JsonFileStateStore

        return Real(config, sink, state=JsonFileStateStore(state_path))

    return factory


async def _every(seconds: float, fn: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await fn()
        except Exception:  # one failed round must not end the loop
            log.exception("periodic task %s failed", getattr(fn, "__name__", fn))


async def run_agent(
    config: AgentConfig,
    *,
    stop: asyncio.Event | None = None,
    acquisition: AcquisitionFactory | None = None,
    base_dir: str | Path | None = None,
) -> None:
    """Run the station agent until ``stop`` is set or SIGINT/SIGTERM arrives, then shut down cleanly."""
    station = config.station.id
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests): the caller sets ``stop``

    path = Path(config.outbox.path)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    outbox = Outbox(path, config.outbox, station)
    board = StatusBoard(station, config.mqtt.heartbeat_s)
    board.intervals = {d.name: d.interval_s for d in config.devices if d.interval_s is not None}
    board.intervals.update(outbox.intervals())
    waker = Waker()
    sink = OutboxSink(outbox, board, waker)
    outbox.add_event(
        EventKind.AGENT_STARTED,
        Severity.INFO,
        f"agent {station} started",
        detail={"next_seq": outbox.next_seq},
    )

    status_topic = topic(station, "status")
    uplink = MqttUplink(
        config.mqtt,
        client_id=f"qingliu-agent-{station}",
        station=station,
        will=(status_topic, encode(will_status(station, config.mqtt.heartbeat_s))),
        subscriptions=[topic(station, "cmd")],
    )
    publisher = Publisher(
        outbox,
        uplink,
        station,
        config.outbox,
        retry_min_s=config.mqtt.reconnect_min_s,
        retry_max_s=config.mqtt.reconnect_max_s,
    )
    publisher.wake = waker.event

    # Named after the outbox file: several agents may keep their outboxes in one folder (the demo does).
    factory = acquisition or default_acquisition(path.with_name(path.name + ".acquisition-state.json"))
    try:
        acq = factory(config, sink)  # a bad profile raises ConfigError here, before anything starts
    except BaseException:
        outbox.close()
        raise

    def apply_interval(device: str, seconds: float) -> None:
        acq.set_interval(device, seconds)
        board.intervals[device] = seconds

    def on_offset(offset: float) -> None:
        board.clock_offset_s = offset

    handler = CommandHandler(config, outbox, apply_interval=apply_interval, on_clock_offset=on_offset)
    reply_topic = topic(station, "reply")

    def publish_status() -> None:
        payload = encode(board.status(outbox.stats()))
        future = uplink.publish(status_topic, payload, retain=True)
        future.add_done_callback(_ignore_result)

    def on_message(_topic: str, payload: bytes) -> None:
        reply = handler.handle(payload)
        if reply is not None and uplink.connected:
            uplink.publish(reply_topic, reply).add_done_callback(_ignore_result)
        waker()

    def on_connected() -> None:
        publish_status()
        waker()

    def on_jump(jump: ClockJump) -> None:
        direction = "backwards" if jump.backwards else "forwards"
        log.warning("station %s: wall clock jumped %s by %.1f s", station, direction, abs(jump.jump_s))
        sink.add_event(
            EventKind.CLOCK_JUMP,
            Severity.WARNING,
            f"station clock jumped {direction} by {abs(jump.jump_s):.1f} s",
            detail={
                "jump_s": jump.jump_s,
                "before": datetime.fromtimestamp(jump.wall_before, UTC).isoformat(),
                "after": datetime.fromtimestamp(jump.wall_after, UTC).isoformat(),
            },
        )

    uplink.on_message = on_message
    uplink.on_connected = on_connected

    async def heartbeat() -> None:
        if uplink.connected:
            publish_status()

    async def housekeeping() -> None:
        try:
            done = await asyncio.to_thread(outbox.housekeeping)
        except StorageFailed:
            return  # the disk refuses writes: the outbox counts and logs that, once a minute
        if any(done.values()):
            log.info("station %s: housekeeping %s", station, done)
        waker()

    tasks: list[asyncio.Task[Any]] = []
    acq_stop = asyncio.Event()
    acq_task: asyncio.Task[None] | None = None
    log.info(
        "station %s: agent starting; outbox %s, next seq %d, broker %s",
        station,
        path,
        outbox.next_seq,
        config.mqtt.url,
    )
    await uplink.start()
    try:
        for device, seconds in outbox.intervals().items():
            try:
                acq.set_interval(device, seconds)  # command overrides survive restarts
            except (KeyError, ValueError) as exc:
                log.warning("station %s: stored interval for %s not applied: %s", station, device, exc)
        acq_task = asyncio.create_task(acq.run(acq_stop), name="acquisition")
        acq_task.add_done_callback(partial(_acquisition_ended, station, stop))
        tasks = [
            asyncio.create_task(publisher.run(), name="publisher"),
            asyncio.create_task(_every(config.mqtt.heartbeat_s, heartbeat), name="heartbeat"),
            asyncio.create_task(_every(config.outbox.housekeeping_s, housekeeping), name="housekeeping"),
            asyncio.create_task(
                watch_clock(
                    ClockWatch(config.flagging.clock_jump_s, config.flagging.clock_back_tolerance_s), on_jump
                ),
                name="clockwatch",
            ),
        ]
        await stop.wait()
        log.info("station %s: stopping", station)
    finally:
        acq_stop.set()
        if acq_task is not None:
            done, _ = await asyncio.wait([acq_task], timeout=10.0)
            if not done:
                log.error("station %s: acquisition did not stop within 10 s; cancelling it", station)
                acq_task.cancel()
                await asyncio.gather(acq_task, return_exceptions=True)
        if uplink.connected:
            publisher.pump()  # flush what is stored, then wait briefly for PUBACKs
            await publisher.drain(timeout=3.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        offline = encode(board.status(outbox.stats(), offline=True))
        await uplink.stop(last=(status_topic, offline))
        outbox.close()
        for sig in installed:
            loop.remove_signal_handler(sig)
        log.info("station %s: stopped", station)


def _ignore_result(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: a lost status or reply is sent again next time


def _acquisition_ended(station: str, stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    if task.cancelled() or stop.is_set():
        return
    # Acquisition ending on its own is a fault: stop the agent so that systemd restarts it.
    log.error(
        "station %s: acquisition ended unexpectedly (%r); stopping the agent", station, task.exception()
    )
    stop.set()
