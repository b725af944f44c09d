"""The small pure parts: the logger registry, the token bucket, split reassembly and the commands' frames."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collector.config import Hj212Logger
from collector.hj212.commands import CommandBook, Pending, next_qn, requests
from collector.hj212.ratelimit import TokenBucket
from collector.hj212.reassembly import Reassembler, SplitError
from collector.hj212.registry import Loggers
from protocols import hj212
from protocols.errors import CommandError
from protocols.messages import Command, CommandKind
from tests.collector.hj212.peer import MN, PW, realtime, split

T = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
LOGGER = Hj212Logger(mn=MN, password=PW, station="hexicun", cns=["2051"], history_cn="2051")


def test_registry_checks_mn_and_password() -> None:
    loggers = Loggers([LOGGER, Hj212Logger(mn="MN2", password="x", station="boshuicun", primary=False)])
    assert [loggers.check(MN, PW), loggers.check(MN, "12345"), loggers.check("MN9", PW)] == [
        "ok",
        "bad_password",
        "unknown_mn",
    ]
    assert loggers.primary_for("hexicun") is LOGGER and loggers.primary_for("boshuicun") is None


def test_2005_codes_by_the_standard_table_with_overrides() -> None:
    legacy = Hj212Logger(
        mn="MN3", password="x", station="hexicun", legacy_codes=True, codes_2005={"011": "w01019"}
    )
    loggers = Loggers([LOGGER, legacy])
    assert loggers.codes(MN) == {}
    table = loggers.codes("MN3")
    assert (table["060"], table["101"], table["B01"], table["011"]) == (
        "w21003",
        "w21011",
        "w00000",
        "w01019",
    )


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=2.0, burst=2.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(0.5) and not bucket.take(0.5)


def test_reassembly_in_any_order_and_a_packet_sent_twice() -> None:
    parts = split(realtime([("w01001", 1.0, "N"), ("w01009", 2.0, "N"), ("w21003", 3.0, "N")], T), 3)
    joiner = Reassembler(timeout_s=60, max_messages=4)
    assert joiner.add(parts[2], 0.0) is None
    assert joiner.add(parts[0], 1.0) is None
    assert joiner.add(parts[0], 2.0) is None
    assert joiner.add(parts[1], 3.0) == parts
    assert joiner.open_count == 0


def test_reassembly_limits() -> None:
    joiner = Reassembler(timeout_s=10, max_messages=1)
    first = split(realtime([("w01001", 1.0, "N"), ("w01009", 2.0, "N")], T), 2)
    other = split(realtime([("w01001", 1.0, "N"), ("w01009", 2.0, "N")], T.replace(minute=5)), 2)
    joiner.add(first[0], 0.0)
    joiner.add(other[0], 1.0)  # a second open message crowds out the first
    assert joiner.dropped == 1
    assert joiner.add(first[1], 2.0) is None  # its first packet is gone: it waits, and crowds out the other
    assert joiner.dropped == 2
    assert joiner.expire(12.0) == 0 and joiner.expire(12.5) == 1 and joiner.dropped == 3
    bad = hj212.Frame(st="21", cn="2011", pw=PW, mn=MN, flag=7, pnum=2, pno=3)
    with pytest.raises(SplitError):
        joiner.add(bad, 0.0)


def command(kind: CommandKind, **args: object) -> Command:
    return Command(station="hexicun", id="c1", kind=kind, issued_at=T, args=args)


def test_request_frames() -> None:
    (pull,) = requests(
        command(CommandKind.RESEND, **{"from": "2026-07-01T02:00:00Z", "to": "2026-07-01T04:00:00Z"}),
        LOGGER,
        ["q1"],
    )
    assert (pull.cn, pull.qn, pull.cp.values, pull.reply_wanted) == (
        "2051",
        "q1",
        {"BeginTime": "20260701100000", "EndTime": "20260701115959"},
        True,
    )
    (set_time,) = requests(
        command(CommandKind.SYNC_CLOCK, reference_time="2026-07-01T02:00:00Z"), LOGGER, ["q2"]
    )
    assert (set_time.cn, set_time.cp.values) == ("1012", {"SystemTime": "20260701100000"})
    (interval,) = requests(command(CommandKind.SET_INTERVAL, device="rtd", seconds=59.6), LOGGER, ["q3"])
    assert (interval.cn, interval.cp.values) == ("1062", {"RtdInterval": "60"})
    both = requests(command(CommandKind.GET_CONFIG), LOGGER, ["q4", "q5"])
    assert [(f.cn, f.qn) for f in both] == [("1011", "q4"), ("1061", "q5")]
    with pytest.raises(CommandError):
        requests(command(CommandKind.RESEND, seq_from=1, seq_to=2), LOGGER, ["q6"])
    with pytest.raises(CommandError):
        requests(command(CommandKind.SET_INTERVAL, device="probe", seconds=60), LOGGER, ["q7"])


def test_qns_are_unique_and_increasing() -> None:
    first = next_qn(T, "Asia/Shanghai", None)
    assert first == "20260701100000000"
    assert next_qn(T, "Asia/Shanghai", first) == "20260701100000001"


def test_a_refused_request_is_a_failed_reply_and_a_silent_one_is_forgotten() -> None:
    book = CommandBook(timeout_s=60)
    book.add(Pending(command(CommandKind.SYNC_CLOCK), MN, ("q1",), 0.0))
    request = hj212.Frame(qn="q1", st="21", cn="1012", pw=PW, mn=MN, flag=5)
    reply = book.on_answer(hj212.build_request_answer(request, 3), T, "Asia/Shanghai")
    assert reply is not None and not reply.ok and "QnRtn 3 (wrong password)" in reply.message
    book.add(Pending(command(CommandKind.SYNC_CLOCK), MN, ("q2",), 0.0))
    assert book.expire(30.0) == 0 and book.expire(61.0) == 1 and book.waiting == 0


def test_no_data_is_an_answer() -> None:
    book = CommandBook()
    book.add(Pending(command(CommandKind.RESEND, **{"from": "a", "to": "b"}), MN, ("q1",), 0.0))
    request = hj212.Frame(qn="q1", st="21", cn="2061", pw=PW, mn=MN, flag=5)
    reply = book.on_answer(hj212.build_execution_result(request, 100), T, "Asia/Shanghai")
    assert reply is not None and reply.ok and reply.message == "ExeRtn 100 (no data)"
