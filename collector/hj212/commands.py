"""The collector's commands as HJ 212 requests to a data logger, and the logger's answers as a CommandReply.
Pure: frames and the clock in, frames and replies out.

    resend {from, to}           → 2061 (or the logger's history_cn) with BeginTime / EndTime: the logger answers
                                  9011, the data frames of the range (same QN), then 9012
    sync_clock {reference_time} → 1012 SystemTime (set time)
    set_interval {device: "rtd", seconds} → 1062 RtdInterval (set the real-time interval)
    get_config {}               → 1011 (get time) and 1061 (get real-time interval): the result carries
                                  system_time, clock_offset_s and rtd_interval_s
    resend {seq_from, seq_to}   → refused: a logger has no sequence numbers

A command is done when every request it sent has its 9012 (or a 9011 refused it); ExeRtn 1 (done) and 100 (no
data) are ok. A command without an answer is forgotten after ``timeout_s``: the gap checks ask again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.config import Hj212Logger
from protocols import hj212
from protocols.commands import resend_range
from protocols.errors import CommandError
from protocols.hj212 import CP, Frame
from protocols.messages import Command, CommandKind, CommandReply

CN_GET_TIME = "1011"
CN_SET_TIME = "1012"
CN_GET_INTERVAL = "1061"
CN_SET_INTERVAL = "1062"
INTERVAL_DEVICE = "rtd"  # the one interval a logger has: its real-time data interval
QN_RTN = {
    1: "accepted",
    2: "refused",
    3: "wrong password",
    4: "wrong MN",
    5: "wrong ST",
    6: "wrong Flag",
    7: "wrong QN",
    8: "wrong CN",
    9: "CRC error",
    100: "unknown error",
}
EXE_RTN = {
    1: "done",
    2: "failed, reason unknown",
    3: "request conditions wrong",
    4: "communication timeout",
    5: "system busy",
    6: "system fault",
    100: "no data",
}
EXE_OK = frozenset({1, 100})


def next_qn(now: datetime, zone: str, last: str | None) -> str:
    """A QN for a new request: the time in ms in the logger's zone, later than ``last`` (unique per server)."""
    qn = hj212.format_qn(now, zone)
    if last is not None and int(qn) <= int(last):
        qn = f"{int(last) + 1:017d}"
    return qn


def _request(logger: Hj212Logger, qn: str, cn: str, values: dict[str, str]) -> Frame:
    return Frame(
        qn=qn,
        st=logger.st,
        cn=cn,
        pw=logger.password,
        mn=logger.mn,
        flag=hj212.flag_value(reply=True),
        cp=CP.build(values=values),
    )


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def requests(command: Command, logger: Hj212Logger, qns: list[str]) -> list[Frame]:
    """The request frames for ``command`` (one QN each from ``qns``, in order); CommandError (malformed) for
    what a logger cannot do."""
    args, zone = command.args, logger.zone
    if command.kind is CommandKind.RESEND:
        span = resend_range(args)
        if span.by_seq or span.start is None or span.end is None:
            raise CommandError(
                "a data logger has no sequence numbers: re-send by 'from'/'to'", reason="malformed"
            )
        last = max(span.start, span.end - timedelta(seconds=1))  # [from, to) as HJ 212's inclusive range
        values = {"BeginTime": hj212.format_time(span.start, zone), "EndTime": hj212.format_time(last, zone)}
        return [_request(logger, qns[0], logger.history_cn, values)]
    if command.kind is CommandKind.SYNC_CLOCK:
        reference = _utc(str(args["reference_time"]))
        return [_request(logger, qns[0], CN_SET_TIME, {"SystemTime": hj212.format_time(reference, zone)})]
    if command.kind is CommandKind.SET_INTERVAL:
        if args.get("device") != INTERVAL_DEVICE:
            raise CommandError(f"a data logger's interval is device {INTERVAL_DEVICE!r}", reason="malformed")
        seconds = round(float(args["seconds"]))
        return [_request(logger, qns[0], CN_SET_INTERVAL, {"RtdInterval": str(seconds)})]
    return [_request(logger, qns[0], CN_GET_TIME, {}), _request(logger, qns[1], CN_GET_INTERVAL, {})]


def request_count(command: Command) -> int:
    return 2 if command.kind is CommandKind.GET_CONFIG else 1


@dataclass(slots=True)
class Pending:
    command: Command
    mn: str
    qns: tuple[str, ...]
    sent_at: float  # monotonic
    exe: dict[str, int] = field(default_factory=dict)  # QN → ExeRtn
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def history(self) -> bool:
        return self.command.kind is CommandKind.RESEND


class CommandBook:
    """The commands sent to loggers and waiting for their answers, by (MN, QN). One thread (the server's)."""

    def __init__(self, timeout_s: float = 900.0) -> None:
        self.timeout_s = timeout_s
        self._by_qn: dict[tuple[str, str], Pending] = {}

    def add(self, pending: Pending) -> None:
        for qn in pending.qns:
            self._by_qn[(pending.mn, qn)] = pending

    def get(self, mn: str, qn: str | None) -> Pending | None:
        return None if qn is None else self._by_qn.get((mn, qn))

    def history(self, mn: str, qn: str | None) -> Pending | None:
        """The history pull that data frame QN ``qn`` answers, if it answers one."""
        pending = self.get(mn, qn)
        return pending if pending is not None and pending.history else None

    def expire(self, now: float) -> int:
        old = {id(p): p for p in self._by_qn.values() if now - p.sent_at > self.timeout_s}
        for pending in old.values():
            self._close(pending)
        return len(old)

    def _close(self, pending: Pending) -> None:
        for qn in pending.qns:
            self._by_qn.pop((pending.mn, qn), None)

    def on_answer(self, frame: Frame, wall: datetime, zone: str) -> CommandReply | None:
        """Take one of the logger's answers (9011, 9012, 1011, 1061); the reply once the command is done."""
        pending = self.get(frame.mn, frame.qn)
        if pending is None or frame.qn is None:
            return None
        values = frame.cp.values
        if frame.cn == hj212.CN_REQUEST_ANSWER:
            rtn = _int(values.get("QnRtn"))
            if rtn == 1:
                return None
            self._close(pending)
            meaning = QN_RTN.get(rtn, "?") if rtn is not None else "?"
            return _reply(pending, wall, False, f"refused by the logger: QnRtn {rtn} ({meaning})")
        if frame.cn == CN_GET_TIME and "SystemTime" in values:
            try:
                logger_time = hj212.parse_time(values["SystemTime"], zone)
            except ValueError:
                return None
            pending.result["system_time"] = logger_time.astimezone(UTC).isoformat().replace("+00:00", "Z")
            pending.result["clock_offset_s"] = round((logger_time - wall).total_seconds(), 3)
            return None
        if frame.cn == CN_GET_INTERVAL and "RtdInterval" in values:
            interval = _int(values.get("RtdInterval"))
            if interval is not None:
                pending.result["rtd_interval_s"] = interval
            return None
        if frame.cn != hj212.CN_EXECUTION_RESULT:
            return None
        rtn = _int(values.get("ExeRtn"))
        pending.exe[frame.qn] = rtn if rtn is not None else 2
        if len(pending.exe) < len(pending.qns):
            return None
        self._close(pending)
        ok = all(r in EXE_OK for r in pending.exe.values())
        words = ", ".join(f"ExeRtn {r} ({EXE_RTN.get(r, '?')})" for r in pending.exe.values())
        return _reply(pending, wall, ok, words)

    def count_readings(self, pending: Pending, n: int) -> None:
        pending.result["readings"] = int(pending.result.get("readings", 0)) + n

    @property
    def waiting(self) -> int:
        return len({id(p) for p in self._by_qn.values()})


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() and len(text) < 10 else None


def _reply(pending: Pending, wall: datetime, ok: bool, message: str) -> CommandReply:
    return CommandReply(
        station=pending.command.station,
        id=pending.command.id,
        ok=ok,
        at=wall,
        message=message[:1000],
        result=dict(pending.result),
    )
