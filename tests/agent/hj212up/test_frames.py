"""Readings to upload frames for one target, by hand: one 2011 per reading time, codes renamed or made
HJ/T 212-2005, a value-less reading as its flag alone, QNs a millisecond apart; long frames split."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.config import Hj212Target
from agent.hj212up.frames import CodeMap, packets, period_frame, qn_at, realtime_frames
from protocols import hj212
from protocols.flags import Flag
from protocols.hj212_periods import PeriodRow
from protocols.messages import Reading
from protocols.tomldoc import convert

T = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
QN = datetime(2026, 7, 1, 2, 0, 5, tzinfo=UTC)


def target(**extra: object) -> Hj212Target:
    values: dict[str, object] = {"name": "n", "host": "h", "port": 1, "mn": "MN01", "password": "pw1"}
    values.update(extra)
    return convert(values, Hj212Target)


def test_one_frame_per_reading_time_with_mapped_codes() -> None:
    tgt = target(codes={"w01019": "w01019x"}, legacy_codes=True)
    readings = [
        Reading(param="w21003", t=T, value=0.42),
        Reading(param="w01019", t=T, value=3.1),
        Reading(param="w01001", t=T + timedelta(seconds=30), value=None, flag=Flag.FAULT),
        Reading(param="w21003", t=T, value=0.43),  # the same code at the same time: a frame of its own
    ]
    frames = realtime_frames(readings, tgt, CodeMap.of(tgt), QN, reply=True)
    assert [(f.cn, f.qn, f.cp.data_time) for f in frames] == [
        ("2011", "20260701100005000", T),
        ("2011", "20260701100005001", T + timedelta(seconds=30)),
        ("2011", "20260701100005002", T),
    ]
    # 060 is NH3-N's 2005 code; the explicit map wins over the table; pH (001) carries only its flag.
    assert frames[0].cp.params == {
        "060": {"Rtd": "0.42", "Flag": "N"},
        "w01019x": {"Rtd": "3.1", "Flag": "N"},
    }
    assert frames[1].cp.params == {"001": {"Flag": "D"}}
    assert frames[2].cp.params == {"060": {"Rtd": "0.43", "Flag": "N"}}
    assert all(f.reply_wanted and f.st == "21" and f.mn == "MN01" and f.pw == "pw1" for f in frames)
    assert qn_at(QN, 2) == "20260701100005002"


def test_period_frame_and_split_packets() -> None:
    tgt = target()
    rows = [
        PeriodRow("w21003", 0.505, 0.5, 0.51, Flag.NORMAL, 2),
        PeriodRow("w21011", None, None, None, Flag.FAULT, 0),
    ]
    frame = period_frame("2061", T, rows, tgt, CodeMap.of(tgt), "20260701110000000", reply=False)
    assert frame.cp.params == {
        "w21003": {"Avg": "0.505", "Min": "0.5", "Max": "0.51", "Flag": "N"},
        "w21011": {"Flag": "D"},
    }
    (only,) = packets(frame)
    assert only[0] == frame and hj212.decode_frame(only[1]) == frame
    many = [PeriodRow(f"w{n:05d}", 1.0 + n, 1.0, 2.0, Flag.NORMAL, 3) for n in range(40)]
    big = period_frame("2061", T, many, tgt, CodeMap.of(tgt), "20260701110000000", reply=True)
    split = packets(big)
    assert len(split) > 1 and [p.pno for p, _ in split] == list(range(1, len(split) + 1))
    assert all(len(data) <= 1024 + 12 and hj212.decode_frame(data) == p for p, data in split)
    assert hj212.join_packets(p for p, _ in split) == big
