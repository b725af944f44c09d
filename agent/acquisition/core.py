"""The agent's acquisition: one asyncio task per bus, each device on its own schedule.

RTU and ASCII buses talk strictly one request at a time on one serial line kept open (``SerialLine``); the
devices of a TCP bus poll concurrently, one connection per host:port (``TcpLink``). A device that fails
``failures_before_down`` times in a row is marked down (event ``device_down``; its parameters reported with
flag B, value None, once per interval) and probed with exponential back-off up to ``backoff_max_s`` until it
answers again (event ``device_up``). Every failure is counted per device and kind (``counters()``).

Readings are stamped with the injectable ``clock`` (UTC) when the answer arrives, except the results of
analysers whose profile has a ``result_time``: those are taken once per new result time and stamped with it
(the sample time). The last result time taken is kept in the ``StateStore`` across restarts. A new result
time is checked against the agent's clock and the last one taken (``analyserclock``): a clock that is off or
went back is an ``analyser_clock`` event and a note in the device's status; a result time earlier than the
last is still a new result, taken and emitted; ``clock.analyser_time`` says whose time its readings carry.

Call ``set_interval`` from the event loop's thread (the command handler runs there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent.acquisition.analyserclock import AnalyserClock, ClockFinding
from agent.acquisition.controller import ControllerWatch
from agent.acquisition.decoding import ParamValue, Sample, decode_sample, flag_value
from agent.acquisition.errors import FAILURE_KINDS, ILLEGAL_DATA_ADDRESS, ReadFailed
from agent.acquisition.lineprotocols import LineProtocol, load_line_protocol
from agent.acquisition.serialline import SerialLine
from agent.acquisition.state import MemoryStateStore, StateStore, result_time_key
from agent.acquisition.tcp import TcpLink
from agent.config import AgentConfig, DeviceConfig, SerialBus, TcpBus
from agent.flagging import LogicMonitor, StuckDetector
from agent.sink import EventRecord, Sink, StorageFailed
from protocols import catalogue
from protocols.backoff import grow
from protocols.errors import ConfigError, ProtocolError, RegisterError
from protocols.flags import VALID_FLAGS, Flag
from protocols.messages import DeviceStatus, EventKind, Reading, Severity
from protocols.planning import ReadRequest, RegisterImage, plan_profile
from protocols.profiles import Profile, load_profile

log = logging.getLogger(__name__)

# Per-device counters beside the failure kinds: polls attempted, answers, readings handed to the sink,
# results the analyser did not have, B readings while down, times marked down, unexpected internal errors,
# polls whose readings the sink could not store (counted and reported by the sink).
COUNTERS = ("polls", "ok", "readings", "missing", "b_readings", "down_events", "internal", "storage_failed")

Clock = Callable[[], datetime]
Reader = Callable[[int, str, int, int], Awaitable[list[int]]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Device:
    cfg: DeviceConfig
    bus: SerialBus | TcpBus
    interval: float
    profile: Profile | None = None
    line_protocol: LineProtocol | None = None
    requests: list[ReadRequest] = field(default_factory=list)
    bridged: bool = True
    params: list[str] = field(default_factory=list)  # reported with flag B while the device is down
    reader: Reader | None = None
    line: SerialLine | None = None
    next_due: float = 0.0
    last_tick: float | None = None
    failures: int = 0
    down: bool = False
    backoff: float = 0.0
    next_probe: float = 0.0
    last_ok: datetime | None = None
    last_error: str | None = None
    last_flag: Flag | None = None
    clock_note: str | None = None  # what is wrong with the analyser's clock, for its status
    counts: Counter[str] = field(default_factory=Counter)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def name(self) -> str:
        return self.cfg.name

    def advance(self, tick: float, now: float) -> None:
        """Next tick on the fixed grid; ticks missed by a whole interval are skipped, not burst."""
        self.last_tick = tick
        due = tick + self.interval
        self.next_due = now if due < now - self.interval else due


class Acquisition:
    def __init__(
        self, config: AgentConfig, sink: Sink, *, clock: Clock = utc_now, state: StateStore | None = None
    ) -> None:
        self.config = config
        self.sink = sink
        self.clock = clock
        self.state: StateStore = state if state is not None else MemoryStateStore()
        self.stuck = StuckDetector(config.flagging.stuck_after_s)
        self.logic = LogicMonitor()
        self.controller = ControllerWatch()
        self.analyser_clock = AnalyserClock(config.clock)
        self._buses: dict[str, SerialBus | TcpBus] = {b.name: b for b in config.bus}
        self._devices: dict[str, _Device] = {}
        self._lines: dict[str, SerialLine] = {}
        self._links: dict[tuple[str, int], TcpLink] = {}
        self._bus_wake: dict[str, asyncio.Event] = {b.name: asyncio.Event() for b in config.bus}
        for cfg in config.devices:
            if cfg.enabled:
                self._devices[cfg.name] = self._make_device(cfg, self._buses[cfg.bus])

    def _make_device(self, cfg: DeviceConfig, bus: SerialBus | TcpBus) -> _Device:
        if bus.type == "ascii":
            proto = load_line_protocol(cfg.profile)
            if not 0 <= cfg.unit <= 99:
                raise ConfigError(f"device {cfg.name!r}: ASCII address {cfg.unit} is outside 0-99")
            return _Device(cfg, bus, cfg.interval_s or 60.0, line_protocol=proto)
        profile = load_profile(cfg.profile)
        try:
            requests = plan_profile(profile)
        except ConfigError as exc:
            raise ConfigError(f"device {cfg.name!r}: {exc}") from None
        params = [f.param for f in profile.fields if f.param is not None]
        return _Device(
            cfg,
            bus,
            cfg.interval_s or profile.default_interval_s,
            profile=profile,
            requests=requests,
            params=params,
        )

    # -- public API -------------------------------------------------------------------------------------

    def set_interval(self, device: str, seconds: float) -> None:
        """Change a device's poll interval now; the next poll comes at most ``seconds`` after the last."""
        dev = self._devices.get(device)
        if dev is None:
            raise KeyError(f"unknown device {device!r}")
        if not seconds > 0:
            raise ValueError(f"interval must be positive, got {seconds!r}")
        dev.interval = float(seconds)
        if dev.last_tick is not None:
            dev.next_due = min(dev.next_due, dev.last_tick + dev.interval)
        if dev.down:
            dev.backoff = min(dev.backoff, dev.interval)
        dev.wake.set()
        self._bus_wake[dev.bus.name].set()

    def intervals(self) -> dict[str, float]:
        return {name: dev.interval for name, dev in self._devices.items()}

    def counters(self) -> dict[str, dict[str, dict[str, int]]]:
        """{"devices": {device: {kind: n}}, "buses": {bus: {"opens": n, ...}}} for status and metrics."""
        devices = {}
        for name, dev in self._devices.items():
            row: dict[str, int] = dict.fromkeys((*COUNTERS, *FAILURE_KINDS), 0)
            row.update(dev.counts)
            row["consecutive_failures"] = dev.failures
            row["down"] = int(dev.down)
            devices[name] = row
        buses: dict[str, dict[str, int]] = {}
        for name, line in self._lines.items():
            buses[name] = {"opens": line.opens, "open_failures": line.open_failures}
        for (host, port), link in self._links.items():
            buses[f"{host}:{port}"] = {"connects": link.connects}
        return {"devices": devices, "buses": buses}

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; then close every line and connection."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        by_bus: dict[str, list[_Device]] = {}
        for dev in self._devices.values():
            dev.next_due = start
            by_bus.setdefault(dev.bus.name, []).append(dev)

        async def stopper() -> None:
            await stop.wait()
            for dev in self._devices.values():
                dev.wake.set()
            for event in self._bus_wake.values():
                event.set()

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(stopper(), name="acquisition-stop")
                for bus_name, devices in by_bus.items():
                    bus = self._buses[bus_name]
                    if isinstance(bus, TcpBus):
                        tg.create_task(self._tcp_bus(bus, devices, stop), name=f"bus-{bus_name}")
                    else:
                        tg.create_task(self._serial_bus(bus, devices, stop), name=f"bus-{bus_name}")
        finally:
            for link in self._links.values():
                link.close()

    # -- bus tasks -------------------------------------------------------------------------------------

    @staticmethod
    async def _sleep(wake: asyncio.Event, seconds: float) -> None:
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)

    async def _serial_bus(self, bus: SerialBus, devices: list[_Device], stop: asyncio.Event) -> None:
        line = SerialLine(bus)
        self._lines[bus.name] = line
        for dev in devices:
            dev.line = line
            if bus.type == "rtu":
                dev.reader = line.rtu_read
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                dev = min(devices, key=lambda d: d.next_due)
                wait = dev.next_due - loop.time()
                if wait > 0:
                    await self._sleep(self._bus_wake[bus.name], wait)
                    continue
                tick = dev.next_due
                await self._poll(dev, tick)
                dev.advance(tick, loop.time())
        finally:
            await line.close()

    async def _tcp_bus(self, bus: TcpBus, devices: list[_Device], stop: asyncio.Event) -> None:
        for dev in devices:
            key = (dev.cfg.host, dev.cfg.port)
            if key not in self._links:
                self._links[key] = TcpLink(dev.cfg.host, dev.cfg.port, bus.timeout_s)
            dev.reader = self._links[key].read
        async with asyncio.TaskGroup() as tg:
            for dev in devices:
                tg.create_task(self._device_loop(dev, stop), name=f"device-{dev.name}")

    async def _device_loop(self, dev: _Device, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            wait = dev.next_due - loop.time()
            if wait > 0:
                await self._sleep(dev.wake, wait)
                continue
            tick = dev.next_due
            await self._poll(dev, tick)
            dev.advance(tick, loop.time())

    # -- one poll --------------------------------------------------------------------------------------

    async def _poll(self, dev: _Device, tick: float) -> None:
        """Never raises: whatever goes wrong with one device is counted and logged, and the bus goes on."""
        try:
            if dev.down and tick + 1e-6 < dev.next_probe:
                self._report_down(dev, self.clock())
                return
            dev.counts["polls"] += 1
            try:
                sample = await (self._read_line(dev) if dev.line_protocol else self._read_modbus(dev))
            except ReadFailed as exc:
                self._failed(dev, exc, tick)
                return
            self._answered(dev, sample, self.clock())
        except StorageFailed:
            # The disk is full: the sink counted the lost readings and logs at its own pace; no traceback
            # per poll. A result-time analyser's result is not marked taken: the next poll tries it again.
            dev.counts["storage_failed"] += 1
        except Exception:  # a bug or a failing sink must not end the bus task
            dev.counts["internal"] += 1
            log.exception("device %s: poll failed unexpectedly", dev.name)

    async def _read_modbus(self, dev: _Device) -> Sample:
        assert dev.profile is not None and dev.reader is not None
        image = RegisterImage()
        for request in dev.requests:
            try:
                words = await dev.reader(dev.cfg.unit, dev.profile.table, request.address, request.count)
            except ReadFailed as exc:
                if exc.kind == "exception" and exc.code == ILLEGAL_DATA_ADDRESS and dev.bridged:
                    contiguous = plan_profile(dev.profile, max_gap=0)
                    dev.bridged = False
                    if contiguous != dev.requests:
                        # The device refuses the registers in the holes we bridged: read around them.
                        dev.counts["exception"] += 1
                        log.info("device %s refuses bridged reads; reading contiguous spans only", dev.name)
                        dev.requests = contiguous
                        return await self._read_modbus(dev)
                raise
            try:
                image.add(request, words)
            except RegisterError as exc:
                raise ReadFailed("garbage", str(exc)) from None
        try:
            return decode_sample(dev.profile, image)
        except RegisterError as exc:
            raise ReadFailed("decode", str(exc)) from None

    async def _read_line(self, dev: _Device) -> Sample:
        proto, line = dev.line_protocol, dev.line
        assert proto is not None and line is not None
        raw = await line.line(proto.request(dev.cfg.unit), proto.terminator, proto.max_line)
        try:
            result = proto.parse(raw, dev.cfg.unit)
        except ProtocolError as exc:
            raise ReadFailed("crc" if exc.reason == "checksum" else "garbage", str(exc)) from None
        sample = Sample(device_flag=result.flag)
        for code, value in result.values.items():
            if not catalogue.is_known(code):
                sample.errors.append(f"unknown parameter code {code!r}")
                continue
            if code not in dev.params:
                dev.params.append(code)
            if value is None:
                sample.values.append(ParamValue(code, None, None, result.flag, missing=True))
                continue
            rng = catalogue.get(code)
            flag = flag_value(code, value, result.flag, (rng.range_min, rng.range_max))
            sample.values.append(ParamValue(code, value, value, flag))
        return sample

    # -- outcomes --------------------------------------------------------------------------------------

    def _failed(self, dev: _Device, exc: ReadFailed, tick: float) -> None:
        dev.counts[exc.kind] += 1
        dev.failures += 1
        dev.last_error = str(exc)
        now = self.clock()
        log.debug("device %s: %s: %s", dev.name, exc.kind, exc)
        if not dev.down and dev.failures >= dev.cfg.failures_before_down:
            dev.down = True
            dev.backoff = min(dev.interval, dev.cfg.backoff_max_s)
            dev.counts["down_events"] += 1
            self.sink.add_event(
                EventRecord(
                    EventKind.DEVICE_DOWN,
                    Severity.WARNING,
                    f"{dev.name} does not answer after {dev.failures} attempts: {exc}",
                    device=dev.name,
                    detail={"kind": exc.kind, "failures": dev.failures},
                )
            )
        elif dev.down:
            dev.backoff = grow(dev.backoff, dev.cfg.backoff_max_s)
        if dev.down:
            dev.next_probe = tick + dev.backoff
        self.sink.set_device_status(
            dev.name,
            DeviceStatus(
                up=not dev.down,
                flag=Flag.COMM_FAILED if dev.down else (dev.last_flag or Flag.NORMAL),
                failures=dev.failures,
                last_ok=dev.last_ok,
                error=str(exc)[:500],
            ),
        )
        if dev.down:
            self._report_down(dev, now)

    def _report_down(self, dev: _Device, t: datetime) -> None:
        readings = [
            Reading(param=p, t=t, value=None, flag=Flag.COMM_FAILED, device=dev.name) for p in dev.params
        ]
        if readings:
            self.sink.add_readings(readings)
            dev.counts["b_readings"] += len(readings)

    def _answered(self, dev: _Device, sample: Sample, now: datetime) -> None:
        dev.counts["ok"] += 1
        if dev.down:
            self.sink.add_event(
                EventRecord(
                    EventKind.DEVICE_UP,
                    Severity.INFO,
                    f"{dev.name} answers again after {dev.failures} failed attempts",
                    device=dev.name,
                    detail={"failures": dev.failures},
                )
            )
        dev.down, dev.failures, dev.backoff, dev.last_ok, dev.last_error = False, 0, 0.0, now, None
        for error in sample.errors:
            dev.counts["decode"] += 1
            log.warning("device %s: %s", dev.name, error)
        self._device_state(dev, sample)
        self._set_up_status(dev, sample.device_flag, now)
        if sample.signals:
            self.sink.set_controller_signals(dict(sample.signals))
            for change in self.controller.update(sample.signals):
                cond = change.condition
                self.sink.add_event(
                    EventRecord(
                        EventKind.CONTROLLER,
                        cond.severity if change.active else Severity.INFO,
                        cond.message if change.active else f"cleared: {cond.message}",
                        device=dev.name,
                        detail={
                            "condition": cond.key,
                            "active": change.active,
                            "signal": cond.signal,
                            "value": sample.signals[cond.signal],
                        },
                    )
                )
        if sample.has_result_time:
            if sample.result_time is None:
                return  # the analyser has no result yet
            key = result_time_key(dev.name)
            stamp = sample.result_time.isoformat()
            last = self.state.get(key)
            if last == stamp:
                return  # this result was taken already
            # Any other time is a new result, earlier ones too (a clock set back): judged, then taken.
            finding = self.analyser_clock.judge(dev.name, sample.result_time, now, _parse_time(last))
            self._clock_finding(dev, finding, sample.device_flag)
            self._take(dev, sample, self.analyser_clock.stamp(finding))
            self.state.set(key, stamp)  # after add_readings returned: the readings are durable
        else:
            self._take(dev, sample, now)

    def _set_up_status(self, dev: _Device, flag: Flag, now: datetime) -> None:
        self.sink.set_device_status(
            dev.name, DeviceStatus(up=True, flag=flag, failures=0, last_ok=now, error=dev.clock_note)
        )

    def _clock_finding(self, dev: _Device, finding: ClockFinding, flag: Flag) -> None:
        note = finding.note()
        if note != dev.clock_note:
            dev.clock_note = note
            self._set_up_status(dev, flag, finding.agent_time)
        policy = self.analyser_clock.config.analyser_time
        stamped = self.analyser_clock.stamp(finding)
        detail = {
            "device": dev.name,
            "skew_s": round(finding.skew_s, 3),
            "analyser_time": finding.analyser_time.isoformat(),
            "agent_time": finding.agent_time.isoformat(),
            "policy": policy,
            "stamped": stamped.isoformat(),
        }
        whose = "the agent's" if stamped != finding.analyser_time else "the analyser's"
        for kind in self.analyser_clock.due(finding):
            if kind == "ok":
                message = f"{dev.name} clock agrees with the agent's again (skew {finding.skew_s:.0f} s)"
                severity = Severity.INFO
            elif kind == "skew":
                message = (
                    f"{dev.name}: {note}; its readings carry {whose} time (clock.analyser_time = {policy})"
                )
                severity = Severity.WARNING
            else:
                assert finding.went_back_s is not None and finding.last_taken is not None
                message = (
                    f"{dev.name} result time went back {finding.went_back_s:.0f} s, before the last result "
                    f"taken ({finding.last_taken.isoformat()}): taken as a new result with {whose} time"
                )
                severity = Severity.WARNING
            extra: dict[str, object] = {"finding": kind}
            if kind == "back" and finding.last_taken is not None:
                extra |= {"went_back_s": finding.went_back_s, "last_taken": finding.last_taken.isoformat()}
            self.sink.add_event(
                EventRecord(
                    EventKind.ANALYSER_CLOCK, severity, message, device=dev.name, detail=detail | extra
                )
            )

    def _device_state(self, dev: _Device, sample: Sample) -> None:
        flag, before = sample.device_flag, dev.last_flag
        dev.last_flag = flag
        if flag == before or (before is None and flag == Flag.NORMAL):
            return
        severity = Severity.WARNING if flag in (Flag.FAULT, Flag.STOPPED) else Severity.INFO
        self.sink.add_event(
            EventRecord(
                EventKind.DEVICE_STATE,
                severity,
                f"{dev.name} state is now {flag.value}",
                device=dev.name,
                detail={
                    "flag": flag.value,
                    "previous": before and before.value,
                    "status": sample.status,
                    "alarm": sample.alarm,
                },
            )
        )

    def _take(self, dev: _Device, sample: Sample, t: datetime) -> None:
        readings: list[Reading] = []
        latest: dict[str, float] = {}
        for pv in sample.values:
            if pv.value is None:
                if pv.flag in VALID_FLAGS:
                    dev.counts["missing"] += 1  # no result and no reason: nothing to report
                    continue
                readings.append(Reading(param=pv.param, t=t, value=None, flag=pv.flag, device=dev.name))
                continue
            readings.append(Reading(param=pv.param, t=t, value=pv.value, flag=pv.flag, device=dev.name))
            latest[pv.param] = pv.value
            assert pv.raw is not None
            since = self.stuck.observe(dev.name, pv.param, pv.raw, t)
            if since is not None:
                self.sink.add_event(
                    EventRecord(
                        EventKind.STUCK_VALUE,
                        Severity.WARNING,
                        f"{pv.param} on {dev.name} has read {pv.raw:g} since {since.isoformat()}",
                        device=dev.name,
                        param=pv.param,
                        detail={"raw": pv.raw, "since": since.isoformat()},
                    )
                )
        if readings:
            self.sink.add_readings(readings)
            dev.counts["readings"] += len(readings)
        for violation in self.logic.update(latest):
            self.sink.add_event(
                EventRecord(
                    EventKind.LOGIC_VIOLATION,
                    Severity.WARNING,
                    violation.message,
                    device=dev.name,
                    param=next(iter(violation.values)),
                    detail={"rule": violation.rule, "values": violation.values},
                )
            )


def _parse_time(stamp: str | None) -> datetime | None:
    """A result time as the state store keeps it (isoformat), or None when absent or unreadable."""
    if stamp is None:
        return None
    try:
        value = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


__all__ = ["Acquisition", "Clock", "utc_now"]
