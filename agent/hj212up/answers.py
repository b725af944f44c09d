"""Answers to what a platform asks (HJ 212-2017 §6.6 request-answer): 9011 first, the data, 9012 last.

    1011 / 1012   get / set the station time. The agent never steps the OS clock (agent.commands): a set is
                  recorded as the clock's offset and succeeds when that is within the clock-jump rule
                  (``flagging.clock_jump_s``), else ExeRtn 2 (not done).
    1061 / 1062   get / set the real-time interval (RtdInterval, 30-3600 s; kept in the target's cursor)
    2011 / 2051 / 2061 / 2031   history for BeginTime..EndTime from the uplink feed, split where needed
    other CN      9011 QnRtn 2 (refused); a wrong PW QnRtn 3, a wrong MN QnRtn 4. Never an exception.

History answers carry the request's QN and ask for no 9014.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from agent.config import Hj212Target
from agent.hj212up.frames import CodeMap, period_frame, realtime_frames
from agent.outbox.chunks import iso_utc
from agent.outbox.feed import readings_between
from agent.outbox.store import OutboxStore
from protocols import hj212
from protocols.hj212 import CP, Frame
from protocols.hj212_periods import aggregate, period_end, period_start
from protocols.messages import Reading

log = logging.getLogger(__name__)

QN_ACCEPTED, QN_REFUSED, QN_BAD_PW, QN_BAD_MN = 1, 2, 3, 4
EXE_OK, EXE_NOT_DONE, EXE_BAD_CONDITION, EXE_NO_DATA = 1, 2, 3, 100
MIN_INTERVAL_S, MAX_INTERVAL_S = 30, 3600
HISTORY_CNS = (hj212.CN_REALTIME, hj212.CN_MINUTE, hj212.CN_HOURLY, hj212.CN_DAILY)
MAX_HISTORY_DAYS = 31  # a wider range is refused as a bad condition (a pull must not hold the station)


@dataclass
class Answerer:
    target: Hj212Target
    store: OutboxStore
    clock: Callable[[], float]
    clock_jump_s: float
    get_interval: Callable[[], float]
    set_interval: Callable[[float], None]
    on_clock_offset: Callable[[float], None] = lambda _offset: None
    minute_period_min: int = 10
    counts: dict[str, int] = field(default_factory=dict)

    def answer(self, request: Frame) -> Iterator[Frame]:
        """The frames to send back, in order: made as they are sent (a history pull of weeks of real-time
        data is read a day at a time, never held whole)."""
        self.counts[request.cn] = self.counts.get(request.cn, 0) + 1
        accepted = False
        try:
            for frame in self._answer(request):
                accepted = accepted or frame.cn == hj212.CN_REQUEST_ANSWER
                yield frame
        except Exception:  # a request must never take the link down
            log.exception("target %s: answering CN %s failed", self.target.name, request.cn)
            if not accepted:
                yield hj212.build_request_answer(request, QN_ACCEPTED)
            yield self._done(request, EXE_NOT_DONE)

    def _answer(self, request: Frame) -> Iterator[Frame]:
        if not hmac.compare_digest(request.pw.encode(), self.target.password.encode()):
            yield hj212.build_request_answer(request, QN_BAD_PW)
            return
        if request.mn != self.target.mn:
            yield hj212.build_request_answer(request, QN_BAD_MN)
            return
        handlers = {
            "1011": self._get_time,
            "1012": self._set_time,
            "1061": self._get_interval,
            "1062": self._set_interval,
        }
        handler = handlers.get(request.cn)
        if handler is None and request.cn not in HISTORY_CNS:
            self.counts["refused"] = self.counts.get("refused", 0) + 1
            yield hj212.build_request_answer(request, QN_REFUSED)
            return
        yield hj212.build_request_answer(request, QN_ACCEPTED)
        if handler is not None:
            exe, data = handler(request)
            yield from data
            yield self._done(request, exe)
            return
        yield from self._history(request)

    def _done(self, request: Frame, exe: int) -> Frame:
        return hj212.build_execution_result(request, exe)

    def _reply(self, request: Frame, cn: str, values: dict[str, str]) -> Frame:
        return Frame(
            qn=request.qn,
            st=self.target.st,
            cn=cn,
            pw=self.target.password,
            mn=self.target.mn,
            flag=hj212.flag_value(),
            cp=CP.build(values=values),
        )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _get_time(self, request: Frame) -> tuple[int, list[Frame]]:
        values = {"PolId": pol} if (pol := request.cp.get("PolId")) else {}
        values["SystemTime"] = hj212.format_time(self._now())
        return EXE_OK, [self._reply(request, "1011", values)]

    def _set_time(self, request: Frame) -> tuple[int, list[Frame]]:
        text = request.cp.get("SystemTime")
        if text is None:
            return EXE_BAD_CONDITION, []
        try:
            wanted = hj212.parse_time(text)
        except ValueError:
            return EXE_BAD_CONDITION, []
        offset = (self._now() - wanted).total_seconds()  # station minus the platform's reference
        self.on_clock_offset(offset)
        if abs(offset) > self.clock_jump_s:
            log.warning(
                "target %s asks to set the clock %.1f s away: beyond the clock-jump rule (%.0f s); not done",
                self.target.name,
                -offset,
                self.clock_jump_s,
            )
            return EXE_NOT_DONE, []
        return EXE_OK, []

    def _get_interval(self, request: Frame) -> tuple[int, list[Frame]]:
        return EXE_OK, [self._reply(request, "1061", {"RtdInterval": str(int(self.get_interval()))})]

    def _set_interval(self, request: Frame) -> tuple[int, list[Frame]]:
        text = request.cp.get("RtdInterval") or ""
        if not (text.isascii() and text.isdigit() and MIN_INTERVAL_S <= int(text) <= MAX_INTERVAL_S):
            return EXE_BAD_CONDITION, []
        self.set_interval(float(text))
        return EXE_OK, []

    def _history(self, request: Frame) -> Iterator[Frame]:
        try:
            begin = hj212.parse_time(request.cp.get("BeginTime") or "")
            end = hj212.parse_time(request.cp.get("EndTime") or "")
        except ValueError:
            yield self._done(request, EXE_BAD_CONDITION)
            return
        if end < begin or end - begin > timedelta(days=MAX_HISTORY_DAYS):
            yield self._done(request, EXE_BAD_CONDITION)
            return
        sent = 0
        for frame in history_frames(
            request, self.target, self.store, begin, end, minute_period_min=self.minute_period_min
        ):
            sent += 1
            yield from hj212.split_frame(frame)
        yield self._done(request, EXE_OK if sent else EXE_NO_DATA)


def history_frames(
    request: Frame,
    target: Hj212Target,
    store: OutboxStore,
    begin: datetime,
    end: datetime,
    *,
    minute_period_min: int = 10,
) -> Iterator[Frame]:
    """The stored data for BeginTime..EndTime (both inclusive, as the standard's examples read), a local day
    at a time: 2011 every reading in the range, by time; a period CN every period that starts in the range,
    from its readings. Every frame carries the request's QN."""
    codes = CodeMap.of(target)
    qn_time = hj212.parse_time(request.qn) if request.qn else begin
    cn = request.cn
    day = period_start(hj212.CN_DAILY, begin)
    while day <= end:
        next_day = period_end(hj212.CN_DAILY, day)
        readings = _readings(store, day, next_day)
        if cn == hj212.CN_REALTIME:
            inside = sorted((r for r in readings if begin <= r.t <= end), key=lambda r: r.t)
            for frame in realtime_frames(inside, target, codes, qn_time, reply=False):
                yield replace(frame, qn=request.qn)
        else:
            start = day
            while start < next_day and start <= end:
                stop = period_end(cn, start, minutes=minute_period_min)
                if start >= begin:
                    items = [(r.param, r.value, r.flag) for r in readings if start <= r.t < stop]
                    if items:
                        frame = period_frame(cn, start, aggregate(items), target, codes, "", reply=False)
                        yield replace(frame, qn=request.qn)
                start = stop
        day = next_day


def _readings(store: OutboxStore, begin: datetime, end: datetime) -> list[Reading]:
    with store.lock:
        return readings_between(store.db, iso_utc(begin), iso_utc(end))
