"""``qingliu sim hj212-platform``: a national/provincial platform (监控平台) receiving HJ 212-2017 over TCP.

The counterpart of ``hj212_logger``: it accepts connections from stations (data loggers or a qingliu agent's
upward link), checks every frame with the strict codec (CRC, length, fields) and the access password, and
answers each upload that asks (Flag A bit) with a 9014, after a configurable delay, or not at all (``loss``:
the reply is lost), or with a refusal (``refuse``: 9011 QnRtn 3, as for a wrong password). On a schedule it
asks each connected station for history (``--pull-every``: 2061 for the last hours) and for its time (1011).

The journal (JSON lines) has one record per item value received:

    {"kind": "data"|"history", "mn", "cn", "qn", "data_time" (UTC ISO), "code", "fields": {Rtd|Avg|…},
     "received_at", "answered": true|false|"refused"}

plus one record per request answer received ({"kind": "answer", "cn", "qn", "values"}). Frames that fail the
codec are counted, not journalled. A frame arriving again (a resend) is journalled again: comparisons count
values by (mn, cn, code, data_time) and the QNs they came under.

In-process (tests)::

    platform = HJ212Platform(PlatformConfig(port=0, pw="123456"))
    await platform.start(); platform.port; ...; await platform.stop()
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from protocols import hj212
from protocols.errors import ConfigError, FrameError
from protocols.hj212 import CP, Frame

log = logging.getLogger("qingliu.sim.hj212_platform")

DATA_CNS = (hj212.CN_REALTIME, hj212.CN_MINUTE, hj212.CN_HOURLY, hj212.CN_DAILY)
_MAX_LINE = 64 * 1024


@dataclass
class PlatformConfig:
    port: int = 0
    host: str = "127.0.0.1"
    pw: str = "123456"
    mns: tuple[str, ...] = ()  # stations allowed (empty: any)
    reply_delay_s: float = 0.0
    loss: float = 0.0  # probability that a 9014 is not sent
    refuse: float = 0.0  # probability that an upload is refused (9011 QnRtn 3)
    pull_every_s: float = 0.0  # 0: never; else a 2061 history pull for the last ``pull_hours`` hours
    pull_hours: int = 3
    time_every_s: float = 0.0  # 0: never; else a 1011 time request
    journal: str | None = None
    seed: int = 0

    def check(self) -> None:
        for name in ("loss", "refuse"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be within 0..1")
        if self.reply_delay_s < 0 or self.pull_every_s < 0 or self.time_every_s < 0:
            raise ConfigError("delays and periods must be >= 0")


@dataclass
class PlatformStats:
    connections: int = 0
    frames: int = 0
    bad_frames: int = 0  # failed the codec (CRC, length, syntax…)
    bad_password: int = 0
    uploads: int = 0
    replies: int = 0
    replies_lost: int = 0
    refused: int = 0
    requests_sent: dict[str, int] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)  # 9011/9012/1011… received, by CN


@dataclass
class _Station:
    mn: str
    writer: asyncio.StreamWriter
    st: str = "21"
    pending: dict[str, str] = field(default_factory=dict)  # QN of our request → CN


class HJ212Platform:
    def __init__(self, config: PlatformConfig) -> None:
        config.check()
        self.config = config
        self.stats = PlatformStats()
        self.records: list[dict[str, Any]] = []
        self.port = config.port
        self._rng = random.Random(config.seed)
        self._server: asyncio.base_events.Server | None = None
        self._stations: dict[str, _Station] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._file: IO[str] | None = None
        self._last_qn: datetime | None = None
        if config.journal:
            path = Path(config.journal)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")  # kept open: one line per value, flushed

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.config.host, self.config.port, limit=_MAX_LINE
        )
        self.port = self._server.sockets[0].getsockname()[1]
        for every, fn in ((self.config.pull_every_s, self._pull), (self.config.time_every_s, self._ask_time)):
            if every > 0:
                self._spawn(self._every(every, fn))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for station in list(self._stations.values()):
            station.writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        if self._file is not None:
            self._file.close()
            self._file = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the journal ---------------------------------------------------------------------------------------

    def _journal(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if self._file is not None:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()

    # --- receiving -----------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        self.stats.connections += 1
        station: _Station | None = None
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                start = line.find(b"##")
                try:
                    if start < 0:
                        raise FrameError("no '##'", reason="header")
                    frame = hj212.decode_frame(line[start:])
                except FrameError as exc:
                    self.stats.bad_frames += 1
                    log.info("bad frame (%s): %r", exc.reason, line[:80])
                    continue
                self.stats.frames += 1
                if self.config.mns and frame.mn not in self.config.mns:
                    continue
                if station is None or station.mn != frame.mn:
                    station = self._stations.get(frame.mn) or _Station(frame.mn, writer, frame.st)
                    station.writer = writer
                    self._stations[frame.mn] = station
                await self._handle(station, frame)
        finally:
            if station is not None and self._stations.get(station.mn) is station:
                del self._stations[station.mn]
            writer.close()
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)

    async def _handle(self, station: _Station, frame: Frame) -> None:
        if frame.cn in (hj212.CN_REQUEST_ANSWER, hj212.CN_EXECUTION_RESULT) or frame.qn in station.pending:
            self.stats.answers[frame.cn] = self.stats.answers.get(frame.cn, 0) + 1
            self._journal(
                {"kind": "answer", "mn": frame.mn, "cn": frame.cn, "qn": frame.qn, "values": frame.cp.values}
            )
            if frame.cn in DATA_CNS:
                self._journal_values(frame, "history", answered=False)
            return
        if frame.cn not in DATA_CNS:
            return
        if not hmac.compare_digest(frame.pw.encode(), self.config.pw.encode()):
            self.stats.bad_password += 1
            if frame.reply_wanted:
                await self._send(station, hj212.build_request_answer(frame, 3))
            return
        self.stats.uploads += 1
        answered: bool | str = False
        if frame.reply_wanted:
            draw = self._rng.random()
            if draw < self.config.refuse:
                answered = "refused"
            elif draw < self.config.refuse + self.config.loss:
                answered = False
            else:
                answered = True
        if answered != "refused":
            self._journal_values(frame, "data", answered=answered)
        if answered is True:
            self._spawn(self._reply_later(station, hj212.build_data_answer(frame)))
            self.stats.replies += 1
        elif answered == "refused":
            self.stats.refused += 1
            await self._send(station, hj212.build_request_answer(frame, 3))
        elif frame.reply_wanted:
            self.stats.replies_lost += 1

    def _journal_values(self, frame: Frame, kind: str, *, answered: bool | str) -> None:
        data_time = frame.cp.data_time
        when = None if data_time is None else data_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        now = datetime.now(UTC).isoformat()
        for code, fields_ in frame.cp.params.items():
            self._journal(
                {
                    "kind": kind,
                    "mn": frame.mn,
                    "cn": frame.cn,
                    "qn": frame.qn,
                    "pno": frame.pno,
                    "data_time": when,
                    "code": code,
                    "fields": fields_,
                    "received_at": now,
                    "answered": answered,
                }
            )

    async def _reply_later(self, station: _Station, frame: Frame) -> None:
        if self.config.reply_delay_s > 0:
            await asyncio.sleep(self.config.reply_delay_s)
        await self._send(station, frame)

    async def _send(self, station: _Station, frame: Frame) -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            station.writer.write(hj212.encode_frame(frame))
            await station.writer.drain()

    # --- requests on a schedule ----------------------------------------------------------------------------

    async def _every(self, seconds: float, fn: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            for station in list(self._stations.values()):
                await fn(station)

    def _qn(self) -> str:
        now = datetime.now(UTC).replace(microsecond=datetime.now(UTC).microsecond // 1000 * 1000)
        if self._last_qn is not None and now <= self._last_qn:
            now = self._last_qn + timedelta(milliseconds=1)
        self._last_qn = now
        return hj212.format_qn(now)

    def request(self, station_mn: str, cn: str, values: dict[str, str]) -> Frame:
        """A request frame to ``station_mn`` (``CN`` with CP ``values``); flag asks for answers (A bit)."""
        station = self._stations.get(station_mn)
        return Frame(
            qn=self._qn(),
            st=station.st if station else "21",
            cn=cn,
            pw=self.config.pw,
            mn=station_mn,
            flag=hj212.flag_value(reply=True),
            cp=CP.build(values=values),
        )

    async def ask(self, station_mn: str, cn: str, values: dict[str, str]) -> str | None:
        """Send a request now; returns its QN (None when the station is not connected)."""
        station = self._stations.get(station_mn)
        if station is None:
            return None
        frame = self.request(station_mn, cn, values)
        station.pending[frame.qn or ""] = cn
        self.stats.requests_sent[cn] = self.stats.requests_sent.get(cn, 0) + 1
        await self._send(station, frame)
        return frame.qn

    async def pull(self, station_mn: str, cn: str, begin: datetime, end: datetime) -> str | None:
        values = {"BeginTime": hj212.format_time(begin), "EndTime": hj212.format_time(end)}
        return await self.ask(station_mn, cn, values)

    async def _pull(self, station: _Station) -> None:
        end = datetime.now(UTC)
        await self.pull(station.mn, hj212.CN_HOURLY, end - timedelta(hours=self.config.pull_hours), end)

    async def _ask_time(self, station: _Station) -> None:
        await self.ask(station.mn, "1011", {})

    def connected(self) -> list[str]:
        return list(self._stations)


def values_of(records: Iterable[dict[str, Any]], kind: str = "data") -> list[dict[str, Any]]:
    return [r for r in records if r.get("kind") == kind]


def read_platform_journal(path: str | Path) -> list[dict[str, Any]]:
    """Every record; a torn last line (killed mid-write) is skipped."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            if line.strip():
                out.append(json.loads(line))
    return out


# --- CLI ----------------------------------------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "hj212-platform",
        help="a monitoring platform receiving HJ 212-2017 over TCP: 9014 replies, pulls, a journal",
        description="A monitoring platform receiving HJ 212-2017 over TCP: it answers 9014, pulls history "
        "and keeps a journal of what arrived.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="port to listen on")
    p.add_argument("--pw", default="123456", help="access password expected (default 123456)")
    p.add_argument("--mn", action="append", default=[], help="accept only this MN (repeatable)")
    p.add_argument("--reply-delay", type=float, default=0.0, help="seconds before each 9014")
    p.add_argument("--loss", type=float, default=0.0, help="probability a 9014 is not sent (0-1)")
    p.add_argument("--refuse", type=float, default=0.0, help="probability an upload is refused (0-1)")
    p.add_argument("--pull-every", type=float, default=0.0, help="seconds between 2061 history pulls")
    p.add_argument("--pull-hours", type=int, default=3, help="hours each pull covers")
    p.add_argument("--time-every", type=float, default=0.0, help="seconds between 1011 time requests")
    p.add_argument("--journal", help="append every value received to this JSON-lines file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, help="stop after S seconds")


def config_from_args(args: argparse.Namespace) -> PlatformConfig:
    config = PlatformConfig(
        port=args.port,
        host=args.host,
        pw=args.pw,
        mns=tuple(args.mn),
        reply_delay_s=args.reply_delay,
        loss=args.loss,
        refuse=args.refuse,
        pull_every_s=args.pull_every,
        pull_hours=args.pull_hours,
        time_every_s=args.time_every,
        journal=args.journal,
        seed=args.seed,
    )
    config.check()
    return config


async def _run(config: PlatformConfig, duration: float | None) -> int:
    platform = HJ212Platform(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await platform.start()
    print(f"sim: HJ 212 platform on {config.host}:{platform.port}", flush=True)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=duration)
    finally:
        await platform.stop()
    s = platform.stats
    print(
        f"sim: stopping; {s.uploads} uploads, {s.replies} replies, {s.replies_lost} lost, {s.refused} refused, "
        f"{s.bad_frames} bad frames",
        flush=True,
    )
    return 0


def run_cli(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
        return asyncio.run(_run(config, args.duration))
    except ConfigError as exc:
        print(f"qingliu sim hj212-platform: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
