"""The agent's runtime: outbox, uplink, acquisition, publisher, heartbeat, housekeeping, commands.

    acquisition ──Sink──▶ OutboxSink ──▶ Outbox (SQLite) ◀── Publisher ──▶ MqttUplink ──▶ broker
                                                   ▲ mark_acked on PUBACK ◀────────┘
    broker ──cmd──▶ CommandHandler ──reply──▶ broker

Everything runs on one asyncio loop; paho's network thread only hands results over. Readings are committed
before the publisher can see them and are marked sent only when the PUBACK of their message arrives
(``agent.publisher``). This module wires the parts together in ``run_agent`` and holds the runtime's Sink.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agent.clockwatch import ClockJump, ClockWatch, watch_clock
from agent.config import AgentConfig
from agent.outbox import Outbox
from agent.publisher import Publisher
from agent.sink import EventRecord, Sink, StorageFailed
from agent.status import StatusBoard, will_status
from agent.uplink import MqttUplink
from protocols.messages import DeviceStatus, EventKind, Reading, Severity, encode
from protocols.paths import resolve
from protocols.topics import topic

if TYPE_CHECKING:  # imported when first needed in run_agent (memory on small station PCs, issue 17)
    from agent.commands import CommandHandler
    from agent.hj212up.service import UplinkService

log = logging.getLogger(__name__)


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

    def add_event(self, event: EventRecord) -> None:
        self.outbox.add_event(event)
        self.wake()

    def set_device_status(self, device: str, status: DeviceStatus) -> None:
        self.board.devices[device] = status

    def set_controller_signals(self, signals: dict[str, float | bool | str]) -> None:
        self.board.controller.update(signals)


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

    path = resolve(config.outbox.path, base_dir)
    outbox = Outbox(path, config.outbox, station)
    board = StatusBoard(station, config.mqtt.heartbeat_s)
    board.intervals = {d.name: d.interval_s for d in config.devices if d.interval_s is not None}
    board.intervals.update(outbox.intervals())
    waker = Waker()
    sink = OutboxSink(outbox, board, waker)
    outbox.add_event(
        EventRecord(
            EventKind.AGENT_STARTED,
            Severity.INFO,
            f"agent {station} started",
            detail={"next_seq": outbox.next_seq},
        )
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

    handler: CommandHandler | None = None

    def command_handler() -> CommandHandler:
        # Commands are rare (an operator's resend, interval or clock request): agent.commands and the command
        # rules are imported with the first one, not at start (memory on small station PCs, issue 17).
        nonlocal handler
        if handler is None:
            from agent.commands import CommandHandler

            handler = CommandHandler(config, outbox, apply_interval=apply_interval, on_clock_offset=on_offset)
        return handler

    # HJ 212 platforms above the station: each its own task and cursor over the outbox's feed. The HJ 212
    # codec, frames and answers are imported only where [[uplink.hj212]] names a target (memory on small
    # station PCs, issue 17).
    uplinks: UplinkService | None = None
    if config.uplink.hj212:
        from agent.hj212up.service import UplinkService

        uplinks = UplinkService(config, outbox, on_clock_offset=on_offset)
        board.uplinks = uplinks.status_field
    reply_topic = topic(station, "reply")

    def publish_status() -> None:
        payload = encode(board.status(outbox.stats()))
        future = uplink.publish(status_topic, payload, retain=True)
        future.add_done_callback(_ignore_result)

    def on_message(_topic: str, payload: bytes) -> None:
        reply = command_handler().handle(payload)
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
            EventRecord(
                EventKind.CLOCK_JUMP,
                Severity.WARNING,
                f"station clock jumped {direction} by {abs(jump.jump_s):.1f} s",
                detail={
                    "jump_s": jump.jump_s,
                    "before": datetime.fromtimestamp(jump.wall_before, UTC).isoformat(),
                    "after": datetime.fromtimestamp(jump.wall_after, UTC).isoformat(),
                },
            )
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
        if uplinks is not None:
            uplinks.housekeeping()
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
            *(uplinks.tasks() if uplinks is not None else []),
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
