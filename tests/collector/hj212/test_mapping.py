"""Data frames → readings: codes, flags, values, times, and the derived seq."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collector.gaps import agent_seqs
from collector.hj212.mapping import (
    LOGGER_SEQ_BASE,
    batches,
    derive_seq,
    frame_readings,
    map_flag,
    parse_value,
)
from collector.store.base import SeqSummary
from protocols import hj212
from protocols.flags import Flag
from protocols.hj212 import CP, Frame
from protocols.messages import MAX_READINGS_PER_BATCH, Lane, Reading
from protocols.seqspace import HISTORY_SEQ_BASE

ZONE = "Asia/Shanghai"


def frame(cn: str, cp: str) -> Frame:
    return hj212.parse_data_segment(f"QN=20260701100000000;ST=21;CN={cn};PW=123456;MN=MN1;Flag=5;CP=&&{cp}&&")


def test_realtime_values_flags_and_times() -> None:
    mapped = frame_readings(
        frame(
            "2011",
            "DataTime=20260701100000;w01001-Rtd=7.52,w01001-Flag=N;w21003-Rtd=0.31,w21003-Flag=T;"
            "w01009-Rtd=,w01009-Flag=D;w01010-Rtd=12.5",
        ),
        mn="MN1",
        zone=ZONE,
    )
    t = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 10:00 Beijing time
    assert [(r.param, r.t, r.value, r.flag, r.device) for r in mapped.readings] == [
        ("w01001", t, 7.52, Flag.NORMAL, "hj212:MN1"),
        ("w21003", t, 0.31, Flag.OVER_RANGE, "hj212:MN1"),
        ("w01009", t, None, Flag.FAULT, "hj212:MN1"),
        ("w01010", t, 12.5, Flag.NORMAL, "hj212:MN1"),  # no Flag field: N
    ]
    assert not mapped.problems


def test_aggregates_take_avg_and_sample_time() -> None:
    mapped = frame_readings(
        frame(
            "2061",
            "DataTime=20260701100000;w21003-Min=0.2,w21003-Avg=0.3,w21003-Max=0.4,w21003-Flag=N,"
            "w21003-SampleTime=20260701100712",
        ),
        mn="MN1",
        zone=ZONE,
    )
    (reading,) = mapped.readings
    assert (reading.value, reading.t) == (0.3, datetime(2026, 7, 1, 2, 7, 12, tzinfo=UTC))


def test_2005_codes_unknown_codes_flags_and_bad_values_are_counted() -> None:
    mapped = frame_readings(
        frame(
            "2011",
            "DataTime=20260701100000;060-Rtd=0.5,060-Flag=N;w21003-Rtd=0.6;w99999-Rtd=1;"
            "w01001-Rtd=7,w01001-Flag=Z;w01009-Rtd=1_0;w01010-Rtd=nan;w01014-Rtd=,w01014-Flag=N;"
            "w01003-Rtd=3,w01003-Flag=p",
        ),
        mn="MN1",
        zone=ZONE,
        codes_2005={"060": "w21003"},
    )
    assert [(r.param, r.value, r.flag) for r in mapped.readings] == [
        ("w21003", 0.5, Flag.NORMAL),  # 060 mapped; the 2017 code after it is the same identity: skipped
        ("w01001", 7.0, Flag.FAULT),  # an unknown letter: doubt goes into the flag
        ("w01014", None, Flag.COMM_FAILED),  # no value with N: B, an interval without a valid value
        ("w01003", 3.0, Flag.FAULT),  # 2005's P (power failure), in lower case
    ]
    assert mapped.problems == {"duplicate_param": 1, "unknown_param": 1, "unknown_flag": 1, "bad_value": 2}


@pytest.mark.parametrize("text", ["1_0", "0x10", "nan", "inf", "-Infinity", "1e999", "7,5", " "])
def test_parse_value_refuses_what_is_not_a_finite_decimal(text: str) -> None:
    if text.strip():
        with pytest.raises(ValueError):
            parse_value(text)
    else:
        assert parse_value(text) is None


def test_parse_value_keeps_the_number() -> None:
    assert [parse_value(t) for t in ("7.52", "-0.5", ".5", "1e-3", "+3")] == [7.52, -0.5, 0.5, 0.001, 3.0]


def test_flags_map_one_to_one() -> None:
    assert [map_flag(f.value) for f in Flag] == [(f, True) for f in Flag]
    assert map_flag(None) == (Flag.NORMAL, True)


def test_a_frame_without_datatime_is_refused() -> None:
    with pytest.raises(ValueError):
        frame_readings(frame("2011", "w01001-Rtd=7"), mn="MN1", zone=ZONE)


def test_seq_is_deterministic_and_above_every_agent_seq() -> None:
    t = datetime(2026, 7, 1, 2, tzinfo=UTC)
    seq = derive_seq("MN1", "2011", t, ["w01001", "w21003"])
    assert seq == derive_seq("MN1", "2011", t, ["w21003", "w01001"])  # order does not matter
    assert LOGGER_SEQ_BASE <= seq < 2**63
    others = {
        derive_seq("MN2", "2011", t, ["w01001", "w21003"]),
        derive_seq("MN1", "2061", t, ["w01001", "w21003"]),
        derive_seq("MN1", "2011", t.replace(second=1), ["w01001", "w21003"]),
        derive_seq("MN1", "2011", t, ["w01001"]),
        derive_seq("MN1", "2011", t, ["w01001", "w21003"], chunk=1),
    }
    assert seq not in others and len(others) == 5
    assert LOGGER_SEQ_BASE <= derive_seq("MN1", "2011", datetime(1, 1, 1, tzinfo=UTC), []) < 2**63
    assert derive_seq("MN1", "2011", datetime(9999, 12, 31, tzinfo=UTC), ["w01001"]) < 2**63


def test_batches_split_at_the_message_limit() -> None:
    t = datetime(2026, 7, 1, 2, tzinfo=UTC)
    source = Frame(st="21", cn="2011", pw="x", mn="MN1", cp=CP.build(data_time=t))
    readings = [
        Reading(param="w01001", t=t.replace(microsecond=i), value=7.0)
        for i in range(MAX_READINGS_PER_BATCH + 1)
    ]
    out = batches("hexicun", source, readings, mn="MN1", zone=ZONE, lane=Lane.RESEND, sent_at=t)
    assert [len(b.readings) for b in out] == [MAX_READINGS_PER_BATCH, 1]
    assert len({b.seq for b in out}) == 2 and all(b.lane is Lane.RESEND for b in out)


def test_agent_seqs_leave_out_the_loggers_range() -> None:
    base = LOGGER_SEQ_BASE
    summary = SeqSummary(
        ranges=[(0, 4), (7, 9), (base + 10, base + 10), (base + 99, base + 99)],
        missing=[(5, 6), (10, base + 9), (base + 11, base + 98)],
    )
    assert agent_seqs(summary) == SeqSummary(ranges=[(0, 4), (7, 9)], missing=[(5, 6)])


def test_agent_seqs_leave_out_imported_history() -> None:
    # The demo's backfilled month sits in its own block: the hole up to it is no loss (it read as ~10**12
    # missing messages on /api/stations/{id}/gaps), a hole inside the agent's own range still is.
    h = HISTORY_SEQ_BASE
    summary = SeqSummary(
        ranges=[(0, 99), (120, 500), (h, h + 7000)],
        missing=[(100, 119), (501, h - 1)],
    )
    assert agent_seqs(summary) == SeqSummary(ranges=[(0, 99), (120, 500)], missing=[(100, 119)])
