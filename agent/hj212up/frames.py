"""Readings to HJ 212-2017 upload frames for one target. Pure: QN times are given, nothing is read or sent.

A feed row (one poll) becomes one 2011 frame per distinct reading time (DataTime), its items in the order
read; a period's rows (``protocols.hj212_periods``) become one 2061/2031/2051 frame. Item codes are qingliu's
(HJ 212-2017 codes), renamed by the target's ``codes`` map, or to HJ/T 212-2005 codes with ``legacy_codes``.
Frames too long for one packet are split (PNUM/PNO) by the caller with ``hj212.split_frame``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.config import Hj212Target
from protocols import hj212
from protocols.errors import FrameError
from protocols.hj212 import CP, Frame
from protocols.hj212_codes import LEGACY_WATER_CODES
from protocols.hj212_periods import PeriodRow
from protocols.messages import Reading

_TO_2005 = {new: old for old, new in LEGACY_WATER_CODES.items()}


@dataclass(frozen=True, slots=True)
class CodeMap:
    codes: dict[str, str]
    legacy: bool = False

    @classmethod
    def of(cls, target: Hj212Target) -> CodeMap:
        return cls(dict(target.codes), target.legacy_codes)

    def code(self, param: str) -> str:
        if param in self.codes:
            return self.codes[param]
        return _TO_2005.get(param, param) if self.legacy else param


def qn_at(base: datetime, index: int) -> str:
    """The QN of the ``index``-th frame of a unit whose first QN time is ``base``: a millisecond apart."""
    return hj212.format_qn(base + timedelta(milliseconds=index))


def realtime_frames(
    readings: Sequence[Reading], target: Hj212Target, codes: CodeMap, qn_base: datetime, *, reply: bool
) -> list[Frame]:
    """One 2011 frame per reading time, in the order the times first appear; a code twice at one time
    (never from one poll) starts another frame, so that no value is dropped."""
    groups: list[tuple[datetime, dict[str, dict[str, str]]]] = []
    for reading in readings:
        code = codes.code(reading.param)
        group = next((g for g in groups if g[0] == reading.t and code not in g[1]), None)
        if group is None:
            group = (reading.t, {})
            groups.append(group)
        fields = {"Rtd": hj212.format_value(reading.value)} if reading.value is not None else {}
        fields["Flag"] = reading.flag.value
        group[1][code] = fields
    return [
        _frame(target, hj212.CN_REALTIME, CP.build(data_time=t, params=params), qn_at(qn_base, i), reply)
        for i, (t, params) in enumerate(groups)
    ]


def period_frame(
    cn: str,
    start: datetime,
    rows: Sequence[PeriodRow],
    target: Hj212Target,
    codes: CodeMap,
    qn: str,
    *,
    reply: bool,
) -> Frame:
    params: dict[str, dict[str, str]] = {}
    for row in rows:
        fields: dict[str, str] = {}
        for name, value in (("Avg", row.avg), ("Min", row.min), ("Max", row.max)):
            if value is not None:
                fields[name] = hj212.format_value(value)
        fields["Flag"] = row.flag.value
        params[codes.code(row.code)] = fields
    return _frame(target, cn, CP.build(data_time=start, params=params), qn, reply)


def _frame(target: Hj212Target, cn: str, cp: CP, qn: str, reply: bool) -> Frame:
    return Frame(
        qn=qn,
        st=target.st,
        cn=cn,
        pw=target.password,
        mn=target.mn,
        flag=hj212.flag_value(reply=reply),
        cp=cp,
    )


def packets(frame: Frame) -> list[tuple[Frame, bytes]]:
    """The frame as sent, each packet with its bytes: whole, or split (PNUM/PNO) where one packet would
    exceed the standard's 1024. Encoded once: the common frame fits, and is checked and encoded just once."""
    try:
        return [(frame, hj212.encode_frame(frame))]
    except FrameError as exc:
        if exc.reason != "too_long":
            raise
    return [(p, hj212.encode_frame(p)) for p in hj212.split_frame(frame)]
