"""One connection's logic without sockets: answers, commits, counts and closing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collector.config import Hj212Config, Hj212Limits, Hj212Logger
from collector.hj212.commands import CommandBook, Pending
from collector.hj212.counters import Counts
from collector.hj212.registry import Loggers
from collector.hj212.session import Session
from protocols import hj212, messages
from protocols.messages import Command, CommandKind, Lane, ReadingBatch
from tests.collector.hj212.peer import MN, PW, hourly, realtime, split

T = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def make(**limits: float) -> tuple[Session, Counts, CommandBook]:
    config = Hj212Config(
        loggers=[Hj212Logger(mn=MN, password=PW, station="hexicun", cns=["2011", "2061"])],
        limits=Hj212Limits(**limits),
    )
    counts, book = Counts(), CommandBook()
    return Session(config, Loggers(config.loggers), book, counts, 0.0), counts, book


def line(frame: hj212.Frame) -> bytes:
    return hj212.encode_frame(frame)


def test_data_is_committed_and_answered_only_after_the_commit() -> None:
    session, counts, _ = make()
    frame = realtime([("w01001", 7.5, "N")], T)
    actions = session.on_line(line(frame), 0.0, T)
    assert actions.send == [] and [hj212.decode_frame(f).cn for f in actions.after] == ["9014"]
    ((topic, payload),) = actions.commit
    batch = messages.decode(payload, expected_station="hexicun")
    assert topic == "qingliu/v1/hexicun/readings" and isinstance(batch, ReadingBatch)
    assert [(r.param, r.value) for r in batch.readings] == [("w01001", 7.5)] and batch.lane is Lane.LIVE
    no_reply = session.on_line(line(realtime([("w01001", 7.6, "N")], T, reply=False)), 0.0, T)
    assert no_reply.after == [] and len(no_reply.commit) == 1
    assert counts.snapshot() == {}


def test_refusals_are_answered_counted_and_close_the_connection_after_n() -> None:
    session, counts, _ = make(garbage_close_after=3)
    wrong = session.on_line(line(realtime([("w01001", 7.5, "N")], T, pw="000000")), 0.0, T)
    assert hj212.decode_frame(wrong.send[0]).cp.get("QnRtn") == "3" and not wrong.commit
    garbage = session.on_line(b"##0010hello\r\n", 0.0, T)
    assert garbage.send == [] and garbage.close is None and garbage.problem is not None
    third = session.on_line(b"\x00\xff\r\n", 0.0, T)
    assert third.close == "3 bad frames in a row"
    # A wrong password does not make the connection the logger's: what follows is nobody's.
    assert counts.snapshot() == {MN: {"bad_password": 1}, "(unknown)": {"length": 1, "header": 1}}


def test_a_good_frame_resets_the_garbage_count() -> None:
    session, _, _ = make(garbage_close_after=2)
    assert session.on_line(b"junk\r\n", 0.0, T).close is None
    session.on_line(line(realtime([("w01001", 7.5, "N")], T)), 0.0, T)
    assert session.on_line(b"junk\r\n", 0.0, T).close is None


def test_rate_limit_drops_without_answer() -> None:
    session, counts, _ = make(max_frames_per_s=2)
    raw = line(realtime([("w01001", 7.5, "N")], T))
    taken = [bool(session.on_line(raw, 0.0, T).commit) for _ in range(3)]
    assert taken == [True, True, False]
    assert bool(session.on_line(raw, 0.5, T).commit)  # one more token after half a second
    assert counts.of(MN)["rate_limited"] == 1


def test_split_message_is_committed_whole_with_every_answer_after() -> None:
    session, _, _ = make()
    values = [("w01001", 7.5, "N"), ("w01009", 8.1, "N"), ("w21003", 0.4, "N")]
    first, second, third = split(realtime(values, T), 3)
    assert session.on_line(line(first), 0.0, T).after == []
    assert session.on_line(line(second), 0.0, T).commit == []
    done = session.on_line(line(third), 0.0, T)
    assert len(done.after) == 3 and len(done.commit) == 1
    batch = messages.decode(done.commit[0][1])
    assert sorted(r.param for r in batch.readings) == ["w01001", "w01009", "w21003"]


def test_an_incomplete_split_message_expires() -> None:
    session, counts, _ = make(split_reassembly_timeout_s=10)
    first, _second = split(realtime([("w01001", 7.5, "N"), ("w01009", 8.1, "N")], T), 2)
    session.on_line(line(first), 0.0, T)
    assert session.tick(5.0) == 0
    assert session.tick(11.0) == 1
    assert counts.of(MN)["split_dropped"] == 1


def test_history_answers_go_in_the_resend_lane_and_finish_the_command() -> None:
    session, _, book = make()
    command = Command(
        station="hexicun",
        id="c1",
        kind=CommandKind.RESEND,
        issued_at=T,
        args={"from": "2026-07-01T02:00:00Z", "to": "2026-07-01T03:00:00Z"},
    )
    qn = "20260701110000000"
    book.add(Pending(command, MN, (qn,), 0.0))
    data = session.on_line(line(hourly([("w01001", 7.2, "N")], T, qn=qn)), 0.0, T)
    assert messages.decode(data.commit[0][1]).lane is Lane.RESEND
    request = hj212.Frame(qn=qn, st="21", cn="2061", pw=PW, mn=MN, flag=5)
    assert session.on_line(line(hj212.build_request_answer(request, 1)), 0.0, T).commit == []
    done = session.on_line(line(hj212.build_execution_result(request, 1)), 0.0, T + timedelta(seconds=1))
    assert done.reply is not None and done.reply.ok and done.reply.result == {"readings": 1}
    assert done.commit[0][0] == "qingliu/v1/hexicun/reply"
    assert book.waiting == 0


def test_frames_of_no_interest_are_answered_and_not_stored() -> None:
    session, counts, _ = make()
    restart = hj212.Frame(qn="20260701100000000", st="21", cn="2081", pw=PW, mn=MN, flag=5)
    actions = session.on_line(line(restart), 0.0, T)
    assert [hj212.decode_frame(f).cn for f in actions.send] == ["9014"] and not actions.commit
    daily = session.on_line(
        line(
            hj212.build_upload(
                "2031", [("w01001", 7.5, "N")], mn=MN, pw=PW, data_time=T, qn_time=T, field_name="Avg"
            )
        ),
        0.0,
        T,
    )
    assert [hj212.decode_frame(f).cn for f in daily.send] == ["9014"] and not daily.commit  # not in ``cns``
    assert counts.snapshot() == {}
