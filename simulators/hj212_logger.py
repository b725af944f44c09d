"""``qingliu sim hj212-logger``: a data logger (数采仪) that speaks HJ 212-2017 to a platform over TCP.

It samples its source (a surface-water station, ST 21, or an outfall, ST 32: see ``hj212_data``) every real-time
interval whether or not it is connected, keeps everything in its own store and journal, and while connected:

* sends each sample as a 2011 real-time upload, and each closed hour as a 2061 upload (2051 minute and 2031 daily
  rows too if asked); with the Flag A bit (``reply``) it waits for the platform's 9014 — one per packet, matched by
  QN — and sends the whole message again (up to ``retries`` times) when none comes or the connection drops first;
* answers the platform's requests: 1011/1012 get/set time, 1061/1062 get/set the real-time interval, and
  2051/2061/2031 (and 2011) history for BeginTime..EndTime from its store, each with 9011 (QnRtn) first and
  9012 (ExeRtn) last; a wrong PW or MN gets 9011 QnRtn 3 or 4, an unknown command QnRtn 2.

Faults on request (``Faults``; from options, or a JSON control file re-read when it changes): a wrong CRC on every
Nth message, every upload split into N packets (PNUM/PNO), the connection dropped after the first packet of a
split message, a reconnect after every N messages, a line of garbage bytes before every Nth message, and the
logger's clock skewed by S seconds (DataTime and QN). Each fault is counted in ``LoggerStats``.

The journal (JSON lines, ``simulators.journal`` records: ``station`` = MN, ``device`` = the CN the value went
out in, ``result_time`` = its DataTime in UTC) has every value the logger produced: each real-time sample and
each closed period's Avg, whether or not it was ever sent.

In-process (tests)::

    logger = HJ212Logger(LoggerConfig(host="127.0.0.1", port=port, mn="MN1", station="jiehepucun"), clock)
    await logger.start()
    ...
    await logger.stop()
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import random
import signal
import sys
from collections import deque
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from protocols import hj212
from protocols.backoff import exponential
from protocols.errors import ConfigError, FrameError
from protocols.hj212 import CP, Frame
from protocols.hj212_codes import LEGACY_WATER_CODES
from protocols.sections import SECTIONS
from simulators.analysers.base import Result
from simulators.analysers.nutrient import Schedule
from simulators.clock import Clock, SimClock
from simulators.hj212_data import (
    LoggerStore,
    OutfallSource,
    PeriodKind,
    PeriodRow,
    Row,
    Source,
    StationSource,
    period_kinds,
    period_params,
)
from simulators.journal import Journal
from simulators.scenarios import ScenarioRunner, load_scenario

log = logging.getLogger("qingliu.sim.hj212")

MIN_INTERVAL_S, MAX_INTERVAL_S = 30, 3600  # RtdInterval range of HJ 212-2017 (1062)
QN_ACCEPTED, QN_REJECTED, QN_BAD_PW, QN_BAD_MN = 1, 2, 3, 4
EXE_OK, EXE_BAD_CONDITION, EXE_NO_DATA = 1, 3, 100
HISTORY_CNS = (hj212.CN_REALTIME, hj212.CN_MINUTE, hj212.CN_HOURLY, hj212.CN_DAILY)
_TO_2005 = {new: old for old, new in LEGACY_WATER_CODES.items()}
_MAX_LINE = 64 * 1024


@dataclass
class Faults:
    """Faults the logger commits on purpose; 0 / False = never. Counters run over data messages sent."""

    bad_crc_every: int = 0  # every Nth message's first transmission goes with a wrong CRC
    split: int = 0  # send every data upload as this many packets (at most one per item)
    drop_mid_split: int = 0  # this many times, close the connection after the first packet of a split message
    reconnect_every: int = 0  # close and reconnect after every N messages
    garbage_every: int = 0  # a line of garbage bytes before every Nth message
    clock_skew_s: float = 0.0  # the logger's clock runs this far from true time

    @classmethod
    def parse(cls, items: list[str]) -> Faults:
        """From ``name=value`` strings (the CLI's ``--fault``)."""
        faults = cls()
        for item in items:
            name, eq, text = item.partition("=")
            faults = faults.updated({name.strip().replace("-", "_"): text.strip() if eq else "1"})
        return faults

    def updated(self, changes: dict[str, Any]) -> Faults:
        known = {f.name: f.type for f in fields(self)}
        values: dict[str, Any] = {}
        for name, raw in changes.items():
            if name not in known:
                raise ConfigError(f"unknown fault {name!r}; known: {', '.join(known)}")
            try:
                values[name] = float(raw) if name == "clock_skew_s" else int(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"fault {name}={raw!r} is not a number") from None
            if name != "clock_skew_s" and values[name] < 0:
                raise ConfigError(f"fault {name} must be >= 0")
        return replace(self, **values)


@dataclass
class LoggerConfig:
    host: str
    port: int
    mn: str
    pw: str = "123456"
    station: str | None = None  # a city-plan station id (ST 21); None: an outfall (ST 32)
    outfall: str = "outfall"  # the outfall's name (seeds its noise)
    seed: int = 0
    interval_s: float = 60.0  # real-time interval, sim seconds (RtdInterval)
    minute_interval_min: int = 10
    send_minute: bool = False  # 2051 rows as they close
    send_hourly: bool = True  # 2061 rows as they close
    send_daily: bool = False  # 2031 rows as they close
    reply: bool = True  # Flag A bit on uploads: ask for 9014
    ack_timeout_s: float = 5.0  # real seconds to wait for 9014
    retries: int = 3  # sends of one message after the first
    reconnect_s: float = 1.0  # first wait before reconnecting (real seconds), doubling to 30 s
    version: int = hj212.VERSION_2017
    legacy_codes: bool = False  # send HJ/T 212-2005 three-digit codes where there is one
    nutrient_cycle_min: float | None = None  # analysers' cycle (station default: 4-hourly slots; outfall 60)
    faults: Faults = field(default_factory=Faults)
    control_file: str | None = None  # JSON of Faults fields, re-read when it changes
    journal: str | None = None  # JSON-lines file of every value produced
    scenario: str | None = None  # a built-in scenario name or .toml file, begun when the logger is made
    follow: str | None = None  # whose scenario steps apply (default: ``station``; an outfall needs one)

    def check(self) -> None:
        hj212.check_frame(Frame(st="21", cn="2011", pw=self.pw, mn=self.mn))  # FrameError: a bad MN or PW
        if self.station is not None and self.station not in SECTIONS:
            raise ConfigError(f"unknown station {self.station!r}; known: {', '.join(SECTIONS)}")
        if not MIN_INTERVAL_S <= self.interval_s <= MAX_INTERVAL_S:
            raise ConfigError(f"interval {self.interval_s} s is outside {MIN_INTERVAL_S}-{MAX_INTERVAL_S} s")
        if not (1 <= self.minute_interval_min <= 60 and 60 % self.minute_interval_min == 0):
            raise ConfigError("minute interval must divide 60")
        if self.scenario is not None and (self.follow or self.station) not in SECTIONS:
            raise ConfigError(
                "a scenario needs the station it follows: --follow STATION (an outfall) or --station"
            )


@dataclass
class LoggerStats:
    connects: int = 0
    disconnects: int = 0
    messages_sent: int = 0  # data messages (2011/2051/2061/2031 uploads and history answers), first sends
    packets_sent: int = 0  # frames of those messages, every transmission
    resends: int = 0  # whole-message transmissions after the first
    acked: int = 0  # messages whose every packet got its 9014
    unacked: int = 0  # messages given up on after the retries
    acks_received: int = 0
    bad_crc_sent: int = 0
    garbage_sent: int = 0
    split_messages: int = 0
    dropped_mid_split: int = 0
    forced_reconnects: int = 0
    frames_received: int = 0
    bad_frames_received: int = 0
    requests: dict[str, int] = field(default_factory=dict)  # by CN
    history_rows_sent: int = 0


@dataclass
class _AckWait:
    """The 9014s a message still waits for (one per packet that asked), and the event set when none is left."""

    remaining: int
    event: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Message:
    """One data message: its frame, and how many of its transmissions are left."""

    frame: Frame
    attempts_left: int
    sent_once: bool = False
    number: int = 0  # 1, 2, … in the order first sent: what the every-Nth faults count


class HJ212Logger:
    """The data logger, in-process: ``await start()``, ``await stop()``. Everything it produced is in ``store``
    and ``journal.records``; what it did is counted in ``stats``."""

    def __init__(
        self, config: LoggerConfig, clock: Clock | None = None, source: Source | None = None
    ) -> None:
        config.check()
        self.config = config
        self.clock: Clock = clock or SimClock()
        self.faults = config.faults
        self.interval_s = config.interval_s
        self.skew = timedelta(seconds=self.faults.clock_skew_s)
        schedule = Schedule.every(config.nutrient_cycle_min) if config.nutrient_cycle_min else None
        if source is not None:
            self.source = source
        elif config.station is not None:
            self.source = StationSource(config.station, self.clock, seed=config.seed, schedule=schedule)
        else:
            self.source = OutfallSource(
                config.outfall, seed=config.seed, schedule=schedule or Schedule.every(60.0)
            )
        self.runner: ScenarioRunner | None = None
        if config.scenario is not None:
            scenario = load_scenario(config.scenario)
            target = config.follow or config.station or ""
            self.runner = ScenarioRunner(scenario, {target: self.source.station}, self.clock.now())
        self.store = LoggerStore()
        # In memory only without a file (tests read ``journal.records``); with one, the file is the record.
        self.journal = Journal(config.journal, keep=config.journal is None)
        self.stats = LoggerStats()
        self.kinds: tuple[PeriodKind, ...] = period_kinds(config.minute_interval_min)
        self.connected = asyncio.Event()
        self._outbox: deque[_Message] = deque()
        self._wake = asyncio.Event()
        self._acks: dict[str, _AckWait] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._write_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._answers: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._last_sample: datetime | None = None
        self._open_periods: dict[str, datetime] = {}
        self._last_qn: datetime | None = None
        self._message_count = 0
        self._control_mtime: float | None = None
        self._rng = random.Random(config.seed)

    # --- time ---------------------------------------------------------------------------------------------

    def logger_now(self) -> datetime:
        """The logger's own clock: true time plus its skew."""
        return self.clock.now() + self.skew

    def _qn_time(self) -> datetime:
        # QN identifies a message: strictly increasing, one millisecond apart at least.
        now = self.logger_now()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if self._last_qn is not None and now <= self._last_qn:
            now = self._last_qn + timedelta(milliseconds=1)
        self._last_qn = now
        return now

    def _sleep_real(self, sim_seconds: float) -> float:
        speed = getattr(self.clock, "speed", 1.0)
        return max(0.005, min(0.2, sim_seconds / speed))

    # --- life -----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._sampler(), name="hj212-sampler"),
            asyncio.create_task(self._connection(), name="hj212-connection"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        tasks = [*self._tasks, *self._answers]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self._close()
        self.journal.close()

    async def __aenter__(self) -> HJ212Logger:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- sampling (always, connected or not) -----------------------------------------------------------------

    def step(self, now: datetime | None = None) -> list[_Message]:
        """Produce every sample and period row due by ``now`` (true time); the messages to send. Pure of I/O."""
        now = self.clock.now() if now is None else now
        interval = timedelta(seconds=self.interval_s)
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        due = epoch + interval * ((now - epoch) // interval)
        last = self._last_sample if self._last_sample is not None else due - interval
        messages: list[_Message] = []
        at = last + interval
        while at <= now:
            messages.extend(self._take_sample(at))
            self._last_sample = at
            at += interval
        return messages

    def _take_sample(self, at: datetime) -> list[_Message]:
        if self.runner is not None:
            self.runner.tick(at)
        rows = self.source.sample(at)
        stamped = at + self.skew
        messages = self._close_periods(stamped)
        self.store.add_sample(stamped, rows)
        for code, value, flag in rows:
            if value is not None:
                self.journal.write(
                    self.config.mn, hj212.CN_REALTIME, Result(code, stamped.astimezone(UTC), value, flag)
                )
        messages.insert(0, self._message(self._realtime_frame(stamped, rows)))
        return messages

    def _close_periods(self, stamped: datetime) -> list[_Message]:
        """Close each period that ``stamped`` lies beyond; their rows are stored and journalled."""
        messages: list[_Message] = []
        send = {hj212.CN_MINUTE: self.config.send_minute, hj212.CN_HOURLY: self.config.send_hourly}
        send[hj212.CN_DAILY] = self.config.send_daily
        for kind in self.kinds:
            current = kind.start(stamped)
            open_start = self._open_periods.get(kind.cn)
            self._open_periods[kind.cn] = current
            if open_start is None or open_start == current:
                continue
            rows = self.store.close_period(kind, open_start)
            for row in rows:
                if row.avg is not None:
                    result = Result(row.code, open_start.astimezone(UTC), row.avg, row.flag)
                    self.journal.write(self.config.mn, kind.cn, result)
            if rows and send[kind.cn]:
                messages.append(self._message(self._period_frame(kind.cn, open_start, rows)))
        return messages

    async def _sampler(self) -> None:
        while not self._stopping:
            self._reload_control()
            messages = self.step()
            if self.connected.is_set():
                self._outbox.extend(messages)
                if messages:
                    self._wake.set()
            assert self._last_sample is not None
            next_due = self._last_sample + timedelta(seconds=self.interval_s) - self.clock.now()
            await asyncio.sleep(self._sleep_real(next_due.total_seconds()))

    def _reload_control(self) -> None:
        path = self.config.control_file
        if path is None:
            return
        try:
            mtime = Path(path).stat().st_mtime
            if mtime == self._control_mtime:
                return
            changes = json.loads(Path(path).read_text(encoding="utf-8"))
            self._control_mtime = mtime
            self.set_faults(Faults().updated(changes))
        except FileNotFoundError:
            return
        except (OSError, ValueError, ConfigError) as exc:
            log.warning("control file %s: %s", path, exc)

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self.skew = timedelta(seconds=faults.clock_skew_s)
        log.info("faults now %s", asdict(faults))

    # --- frames ---------------------------------------------------------------------------------------------

    def _code(self, code: str) -> str:
        return _TO_2005.get(code, code) if self.config.legacy_codes else code

    def _frame(self, cn: str, cp: CP, *, qn: str | None = None, reply: bool | None = None) -> Frame:
        wants = self.config.reply if reply is None else reply
        return Frame(
            qn=qn or hj212.format_qn(self._qn_time()),
            st=self.source.st,
            cn=cn,
            pw=self.config.pw,
            mn=self.config.mn,
            flag=hj212.flag_value(version=self.config.version, reply=wants),
            cp=cp,
        )

    def _realtime_frame(self, stamped: datetime, rows: list[Row], qn: str | None = None) -> Frame:
        params: dict[str, dict[str, str]] = {}
        for code, value, flag in rows:
            fields_ = {"Rtd": hj212.format_value(value)} if value is not None else {}
            fields_["Flag"] = flag.value
            params[self._code(code)] = fields_
        return self._frame(hj212.CN_REALTIME, CP.build(data_time=stamped, params=params), qn=qn)

    def _period_frame(self, cn: str, start: datetime, rows: list[PeriodRow], qn: str | None = None) -> Frame:
        params = {self._code(code): values for code, values in period_params(rows).items()}
        return self._frame(cn, CP.build(data_time=start, params=params), qn=qn)

    def _message(self, frame: Frame) -> _Message:
        return _Message(frame, attempts_left=1 + self.config.retries)

    def _encode(self, frame: Frame) -> bytes:
        return hj212.encode_frame(frame)

    # --- the connection -------------------------------------------------------------------------------------

    async def _connection(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                reader, writer = await asyncio.open_connection(
                    self.config.host, self.config.port, limit=_MAX_LINE
                )
            except OSError as exc:
                delay = exponential(attempt, self.config.reconnect_s, 30.0)
                log.info(
                    "connect to %s:%s failed (%s); again in %.1f s",
                    self.config.host,
                    self.config.port,
                    exc,
                    delay,
                )
                attempt += 1
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self.stats.connects += 1
            self._writer = writer
            self.connected.set()
            receiver = asyncio.create_task(self._receive(reader), name="hj212-receive")
            sender = asyncio.create_task(self._send_loop(), name="hj212-send")
            try:
                await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.connected.clear()
                for task in (receiver, sender):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                await self._close()
                self.stats.disconnects += 1
            if not self._stopping:
                await asyncio.sleep(self.config.reconnect_s)

    async def _close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        for wait in self._acks.values():
            wait.event.set()  # wake whoever waits: the connection is gone

    async def _write(self, data: bytes) -> None:
        writer = self._writer
        if writer is None:
            raise ConnectionError("not connected")
        async with self._write_lock:
            writer.write(data)
            await writer.drain()

    async def _send_loop(self) -> None:
        while not self._stopping:
            while self._outbox:
                message = self._outbox[0]
                done = await self._deliver(message)
                if done:
                    self._outbox.popleft()
                if self._writer is None:
                    return  # dropped on purpose or lost: the connection task reconnects
            self._wake.clear()
            await self._wake.wait()

    async def _deliver(self, message: _Message) -> bool:
        """Send ``message`` once (all its packets), and wait for its 9014s if it asks. True when done with it
        (acknowledged, not asking, or out of attempts); False to keep it for the next connection."""
        if self._writer is None:
            return False
        faults = self.faults
        packets = self._packets(message.frame, faults)
        wire = [self._encode(p) for p in packets]
        garbage = b""
        if not message.sent_once:
            self._message_count += 1
            message.number = self._message_count
            self.stats.messages_sent += 1
            self.stats.split_messages += len(packets) > 1
            if faults.bad_crc_every and message.number % faults.bad_crc_every == 0:
                wire[0] = _corrupt_crc(wire[0])
                self.stats.bad_crc_sent += 1
            if faults.garbage_every and message.number % faults.garbage_every == 0:
                garbage = self._garbage()
                self.stats.garbage_sent += 1
        else:
            self.stats.resends += 1
        message.sent_once = True
        message.attempts_left -= 1
        qn = message.frame.qn or ""
        wait = _AckWait(sum(p.reply_wanted for p in packets))
        if message.frame.reply_wanted:
            self._acks[qn] = wait
        try:
            if garbage:
                await self._write(garbage)
            for data in wire:
                await self._write(data)
                self.stats.packets_sent += 1
                if len(packets) > 1 and self.faults.drop_mid_split > 0:
                    self.faults = replace(self.faults, drop_mid_split=self.faults.drop_mid_split - 1)
                    self.stats.dropped_mid_split += 1
                    await self._close()
                    return False
            if message.frame.reply_wanted:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wait.event.wait(), self.config.ack_timeout_s)
                if wait.remaining > 0:
                    # No 9014 (or the connection went): again, unless this was the last attempt.
                    return message.attempts_left <= 0 and self._give_up(message)
                self.stats.acked += 1
        except (ConnectionError, OSError):
            await self._close()
            return False
        finally:
            self._acks.pop(qn, None)
        if faults.reconnect_every and message.number % faults.reconnect_every == 0:
            self.stats.forced_reconnects += 1
            await self._close()
        return True

    def _give_up(self, message: _Message) -> bool:
        self.stats.unacked += 1
        log.warning(
            "no 9014 for %s QN=%s after %d sends", message.frame.cn, message.frame.qn, 1 + self.config.retries
        )
        return True

    def _packets(self, frame: Frame, faults: Faults) -> list[Frame]:
        groups = len(frame.cp.groups) - 1  # DataTime goes in every packet
        if faults.split > 1 and groups >= 2:
            return hj212.split_frame(frame, parts=min(faults.split, groups))
        return hj212.split_frame(frame)

    def _garbage(self) -> bytes:
        noise = bytes(self._rng.randrange(256) for _ in range(self._rng.randint(8, 40)))
        return b"##9x" + noise.replace(b"\r\n", b"") + b"\r\n"

    # --- receiving ------------------------------------------------------------------------------------------

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await reader.readuntil(b"\r\n")
            except asyncio.IncompleteReadError:
                return  # the platform closed the connection
            except asyncio.LimitOverrunError:
                return
            start = line.find(b"##")
            if start < 0:
                self.stats.bad_frames_received += 1
                continue
            try:
                frame = hj212.decode_frame(line[start:])
            except FrameError as exc:
                self.stats.bad_frames_received += 1
                log.info("bad frame from the platform (%s): %r", exc.reason, line[:80])
                continue
            self.stats.frames_received += 1
            if frame.cn == hj212.CN_DATA_ANSWER:
                self._acknowledge(frame)
            elif frame.cn in (hj212.CN_REQUEST_ANSWER, hj212.CN_EXECUTION_RESULT, hj212.CN_NOTIFY_ANSWER):
                continue
            else:
                task = asyncio.create_task(self._answer(frame))
                self._answers.add(task)
                task.add_done_callback(self._answers.discard)

    def _acknowledge(self, frame: Frame) -> None:
        self.stats.acks_received += 1
        wait = self._acks.get(frame.qn or "")
        if wait is not None:
            wait.remaining = max(0, wait.remaining - 1)
            if wait.remaining == 0:
                wait.event.set()

    # --- answering the platform -----------------------------------------------------------------------------

    async def _reply(self, frame: Frame) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self._write(self._encode(frame))

    async def _answer(self, request: Frame) -> None:
        cn = request.cn
        self.stats.requests[cn] = self.stats.requests.get(cn, 0) + 1
        if not _same(request.pw, self.config.pw):
            await self._reply(hj212.build_request_answer(request, QN_BAD_PW))
            return
        if request.mn != self.config.mn:
            await self._reply(hj212.build_request_answer(request, QN_BAD_MN))
            return
        handlers = {
            "1011": self._get_time,
            "1012": self._set_time,
            "1061": self._get_interval,
            "1062": self._set_interval,
        }
        handler = handlers.get(cn)
        if handler is None and cn not in HISTORY_CNS:
            await self._reply(hj212.build_request_answer(request, QN_REJECTED))
            return
        await self._reply(hj212.build_request_answer(request, QN_ACCEPTED))
        exe = await (handler(request) if handler is not None else self._history(request))
        await self._reply(hj212.build_execution_result(request, exe))

    async def _get_time(self, request: Frame) -> int:
        values = {"PolId": pol} if (pol := request.cp.get("PolId")) else {}
        values["SystemTime"] = hj212.format_time(self.logger_now())
        await self._reply(self._frame("1011", CP.build(values=values), qn=request.qn, reply=False))
        return EXE_OK

    async def _set_time(self, request: Frame) -> int:
        text = request.cp.get("SystemTime")
        if text is None:
            return EXE_BAD_CONDITION
        target = hj212.parse_time(text)
        self.set_faults(replace(self.faults, clock_skew_s=(target - self.clock.now()).total_seconds()))
        return EXE_OK

    async def _get_interval(self, request: Frame) -> int:
        cp = CP.build(values={"RtdInterval": str(int(self.interval_s))})
        await self._reply(self._frame("1061", cp, qn=request.qn, reply=False))
        return EXE_OK

    async def _set_interval(self, request: Frame) -> int:
        text = request.cp.get("RtdInterval") or ""
        if not (text.isdigit() and MIN_INTERVAL_S <= int(text) <= MAX_INTERVAL_S):
            return EXE_BAD_CONDITION
        self.interval_s = float(text)
        return EXE_OK

    async def _history(self, request: Frame) -> int:
        begin_text, end_text = request.cp.get("BeginTime"), request.cp.get("EndTime")
        if begin_text is None or end_text is None:
            return EXE_BAD_CONDITION
        begin, end = hj212.parse_time(begin_text), hj212.parse_time(end_text)
        if end < begin:
            return EXE_BAD_CONDITION
        frames: list[Frame]
        if request.cn == hj212.CN_REALTIME:
            frames = [
                self._realtime_frame(at, rows, qn=request.qn) for at, rows in self.store.samples(begin, end)
            ]
        else:
            stored = self.store.period_rows(request.cn, begin, end)
            frames = [self._period_frame(request.cn, at, rows, qn=request.qn) for at, rows in stored]
        if not frames:
            return EXE_NO_DATA
        for frame in frames:
            message = self._message(frame)
            while not await self._deliver(message):
                if self._writer is None:
                    return EXE_BAD_CONDITION  # the connection went: the platform asks again
            self.stats.history_rows_sent += 1
        return EXE_OK


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _corrupt_crc(wire: bytes) -> bytes:
    """The same frame with its CRC off by one in the last hex digit (still 4 hex digits, one case)."""
    crc = int(wire[-6:-2], 16)
    return wire[:-6] + f"{crc ^ 0x0001:04X}".encode() + b"\r\n"


# --- CLI -------------------------------------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "hj212-logger",
        help="a data logger (数采仪) reporting HJ 212-2017 over TCP: a station (ST 21) or an outfall (ST 32)",
        description="A data logger (数采仪) reporting HJ 212-2017 over TCP to a platform: a station (ST 21) or "
        "an outfall (ST 32), real-time and hourly uploads, history requests answered, faults on request.",
    )
    p.add_argument("--host", default="127.0.0.1", help="platform (collector) address")
    p.add_argument("--port", type=int, required=True, help="platform's HJ 212 port")
    p.add_argument("--mn", required=True, help="the logger's MN (1-24 letters/digits)")
    p.add_argument("--pw", default="123456", help="access password (default 123456)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--station", help=f"a surface-water station (ST 21): {', '.join(SECTIONS)}")
    kind.add_argument("--outfall", help="an outfall monitor (ST 32) of this name (the default, 'outfall')")
    p.add_argument("--interval", type=float, default=60.0, help="real-time interval, sim seconds (30-3600)")
    p.add_argument("--minute-interval", type=int, default=10, help="minute-data period, minutes (default 10)")
    p.add_argument("--send-minute", action="store_true", help="send 2051 minute rows as they close")
    p.add_argument("--no-hourly", action="store_true", help="do not send 2061 hourly rows as they close")
    p.add_argument("--send-daily", action="store_true", help="send 2031 daily rows as they close")
    p.add_argument("--no-reply", action="store_true", help="Flag without the A bit: ask for no 9014")
    p.add_argument("--ack-timeout", type=float, default=5.0, help="seconds to wait for 9014 (default 5)")
    p.add_argument("--retries", type=int, default=3, help="re-sends of a message without 9014 (default 3)")
    p.add_argument("--legacy-codes", action="store_true", help="send HJ/T 212-2005 three-digit item codes")
    p.add_argument("--nutrient-cycle-min", type=float, help="analysers' cycle in sim minutes")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"{', '.join(f.name for f in fields(Faults))}",
    )
    p.add_argument("--control-file", help="JSON of faults, re-read when it changes")
    p.add_argument("--scenario", help="built-in scenario name or a scenario .toml file")
    p.add_argument("--follow", help="the station whose scenario steps this logger's water follows")
    p.add_argument("--journal", help="append every value produced to this JSON-lines file")
    p.add_argument("--speed", type=float, default=1.0, help="sim seconds per real second")
    p.add_argument("--start", help="sim clock start, ISO 8601 (default: now)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, help="stop after S real seconds")


def config_from_args(args: argparse.Namespace) -> LoggerConfig:
    config = LoggerConfig(
        host=args.host,
        port=args.port,
        mn=args.mn,
        pw=args.pw,
        station=args.station,
        outfall=args.outfall or "outfall",
        seed=args.seed,
        interval_s=args.interval,
        minute_interval_min=args.minute_interval,
        send_minute=args.send_minute,
        send_hourly=not args.no_hourly,
        send_daily=args.send_daily,
        reply=not args.no_reply,
        ack_timeout_s=args.ack_timeout,
        retries=args.retries,
        legacy_codes=args.legacy_codes,
        nutrient_cycle_min=args.nutrient_cycle_min,
        faults=Faults.parse(args.fault),
        control_file=args.control_file,
        journal=args.journal,
        scenario=args.scenario,
        follow=args.follow,
    )
    try:
        config.check()
    except FrameError as exc:
        raise ConfigError(str(exc)) from None
    if args.retries < 0 or not args.ack_timeout > 0:
        raise ConfigError("--retries must be >= 0 and --ack-timeout > 0")
    return config


def _clock(args: argparse.Namespace) -> SimClock:
    if not args.speed > 0:
        raise ConfigError("--speed must be > 0")
    start = None
    if args.start:
        try:
            start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"--start {args.start!r} is not an ISO 8601 time") from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    return SimClock(start, speed=args.speed)


async def _run(config: LoggerConfig, clock: SimClock, duration: float | None) -> int:
    logger = HJ212Logger(config, clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    kind = f"station {config.station} (ST 21)" if config.station else f"outfall {config.outfall} (ST 32)"
    print(f"sim: HJ 212 logger MN={config.mn}, {kind}, to {config.host}:{config.port}", flush=True)
    await logger.start()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=duration)
    finally:
        await logger.stop()
    s = logger.stats
    print(
        f"sim: stopping; {s.messages_sent} messages, {s.acked} acknowledged, {s.unacked} unacknowledged, "
        f"{s.connects} connections",
        flush=True,
    )
    return 0


def run_cli(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
        clock = _clock(args)
        if args.duration is not None and not args.duration > 0:
            raise ConfigError("--duration must be > 0")
        return asyncio.run(_run(config, clock, args.duration))
    except ConfigError as exc:
        print(f"qingliu sim hj212-logger: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
