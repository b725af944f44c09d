"""collector.gaps: when re-send requests go out, and when they must not (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.gap_windows import merge, merge_closed, missing_windows, producing_windows, split_recovered
from collector.gaps import Ask, GapPlanner, GapSettings
from collector.health import Schedule
from collector.timestamps import to_us

T0 = datetime(2026, 7, 1, tzinfo=UTC)
S = "hexicun"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def planner(**kw: float) -> GapPlanner:
    return GapPlanner(GapSettings(**kw))  # type: ignore[arg-type]


def ask_and_send(p: GapPlanner, holes: list[tuple[int, int]], now: datetime, prefix: str = "c") -> list[Ask]:
    asks = p.plan(S, "seq", p.seq_holes(S, holes), now)
    for i, ask in enumerate(asks):
        p.sent(ask, f"{prefix}{i}-{now.timestamp()}", now)
    return asks


def test_a_hole_is_asked_only_after_the_grace_period() -> None:
    p = planner(grace_s=120)
    assert ask_and_send(p, [(5, 7)], at(0)) == []
    assert ask_and_send(p, [(5, 7)], at(119)) == []
    asks = ask_and_send(p, [(5, 7)], at(120))
    assert [a.args for a in asks] == [{"seq_from": 5, "seq_to": 7}]
    assert p.counters["sent_seq"] == 1


def test_a_hole_filled_during_the_grace_period_is_never_asked() -> None:
    p = planner(grace_s=120)
    assert ask_and_send(p, [(5, 7)], at(0)) == []
    assert ask_and_send(p, [], at(60)) == []  # QoS 1 redelivery filled it
    # The same bounds again later (a new loss) wait their own grace period.
    assert ask_and_send(p, [(5, 7)], at(130)) == []
    assert len(ask_and_send(p, [(5, 7)], at(250))) == 1


def test_no_second_request_before_the_reply_and_none_after_an_answer() -> None:
    p = planner(grace_s=0, reply_timeout_s=300)
    (first,) = p.plan(S, "seq", [(5, 7)], at(0))
    p.sent(first, "c1", at(0))
    assert p.plan(S, "seq", [(5, 7)], at(10)) == []
    assert p.outstanding(S) == 1
    assert p.on_reply("c1", ok=True)
    # The station re-sent under new seqs: the seq hole stays, but it was answered and is not asked again.
    for minute in range(1, 60):
        assert p.plan(S, "seq", [(5, 7)], at(60 * minute)) == []
    assert p.counters["replies_ok"] == 1
    assert p.counters["sent_seq"] == 1


def test_a_refused_request_is_closed_too() -> None:
    p = planner(grace_s=0)
    (first,) = p.plan(S, "seq", [(5, 7)], at(0))
    p.sent(first, "c1", at(0))
    assert p.on_reply("c1", ok=False)
    assert p.plan(S, "seq", [(5, 7)], at(1000)) == []
    assert p.counters["replies_refused"] == 1


def test_a_reply_to_someone_elses_command_is_not_ours() -> None:
    p = planner(grace_s=0)
    assert not p.on_reply("operator-cmd", ok=True)
    assert p.counters["replies_ok"] == 0


def test_a_reply_faster_than_the_bookkeeping_still_closes_the_request() -> None:
    p = planner(grace_s=0)
    (first,) = p.plan(S, "seq", [(5, 7)], at(0))
    assert not p.on_reply("c1", ok=True)  # the agent answered before sent() was recorded
    p.sent(first, "c1", at(0))
    assert p.outstanding(S) == 0
    assert p.counters["replies_ok"] == 1
    assert p.plan(S, "seq", [(5, 7)], at(1000)) == []


def test_timeouts_retry_up_to_max_attempts_then_give_up() -> None:
    p = planner(grace_s=0, reply_timeout_s=60, max_attempts=3)
    sent = 0
    for minute in range(0, 10):
        asks = p.plan(S, "seq", [(5, 7)], at(60 * minute + 1))
        for ask in asks:
            p.sent(ask, f"c{minute}", at(60 * minute + 1))
            sent += 1
    assert sent == 3
    assert p.counters["timeouts"] == 3
    assert p.counters["given_up"] == 1
    assert p.outstanding(S) == 0


def test_at_most_max_outstanding_requests_per_station() -> None:
    p = planner(grace_s=0, max_outstanding=2)
    holes = [(10, 10), (20, 20), (30, 30), (40, 40), (50, 50)]
    first = ask_and_send(p, holes, at(0))
    assert [a.span for a in first] == [(10, 10), (20, 20)]
    assert ask_and_send(p, holes, at(1)) == []
    # Another station has its own allowance.
    other = p.plan("other", "seq", [(1, 1)], at(1))
    assert len(other) == 1
    p.on_reply(f"c0-{at(0).timestamp()}", ok=True)
    assert [a.span for a in ask_and_send(p, holes, at(2), "d")] == [(30, 30)]


def test_a_long_hole_is_asked_in_pieces() -> None:
    p = planner(grace_s=0, max_outstanding=10, max_seq_span=100)
    asks = p.plan(S, "seq", [(1, 250)], at(0))
    assert [a.span for a in asks] == [(1, 100), (101, 200), (201, 250)]


def test_a_partly_filled_hole_is_not_asked_again_while_covered() -> None:
    p = planner(grace_s=0)
    (first,) = p.plan(S, "seq", [(5, 20)], at(0))
    p.sent(first, "c1", at(0))
    # seqs 5-9 came back; 10-20 are still missing and still covered by the request in flight.
    assert p.plan(S, "seq", [(10, 20)], at(5)) == []
    # A new hole beyond the asked range is asked on its own, only for its new part.
    (second,) = p.plan(S, "seq", [(10, 25)], at(6))
    assert second.span == (21, 25)


def test_an_implausible_jump_is_counted_once_and_never_asked() -> None:
    p = planner(grace_s=0, max_seq_jump=1_000_000)
    holes = [(101, 5_000_100)]  # the station's seq jumped by five million
    for minute in range(5):
        assert p.plan(S, "seq", p.seq_holes(S, holes), at(60 * minute)) == []
    assert p.counters["implausible"] == 1
    assert p.counters["sent_seq"] == 0
    # A plausible hole next to it is still asked.
    assert len(p.plan(S, "seq", p.seq_holes(S, [*holes, (5_000_200, 5_000_210)]), at(400))) == 1


def test_a_failed_publish_keeps_the_request_for_the_next_check() -> None:
    p = planner(grace_s=0)
    (first,) = p.plan(S, "seq", [(5, 7)], at(0))
    p.send_failed(first)
    assert p.counters["send_errors"] == 1
    (again,) = p.plan(S, "seq", [(5, 7)], at(30))
    assert again == first
    p.sent(again, "c1", at(30))
    assert p.outstanding(S) == 1


def test_time_asks_carry_iso_bounds() -> None:
    p = planner(grace_s=0)
    (ask,) = p.plan(S, "time", [(to_us(at(0)), to_us(at(600)))], at(1000))
    assert ask.args == {"from": "2026-07-01T00:00:00Z", "to": "2026-07-01T00:10:00Z"}


def test_time_windows_longer_than_the_limit_are_split() -> None:
    p = planner(grace_s=0, max_window_s=3600, max_outstanding=10)
    asks = p.plan(S, "time", [(to_us(at(0)), to_us(at(9000)))], at(10_000))
    assert [(a.args["from"], a.args["to"]) for a in asks] == [
        ("2026-07-01T00:00:00Z", "2026-07-01T01:00:00Z"),
        ("2026-07-01T01:00:00Z", "2026-07-01T02:00:00Z"),
        ("2026-07-01T02:00:00Z", "2026-07-01T02:30:00Z"),
    ]


def test_missing_windows_hand_computed() -> None:
    # Every 600 s over one hour: 6 slots at :00 :10 :20 :30 :40 :50; early = 60 s.
    schedules = {"w01010": Schedule.every(600)}
    times = {"w01010": [at(5), at(600), at(1150), at(2400), at(3000)]}  # nothing near :30
    producing = [(at(0), at(3600))]
    got = missing_windows(schedules, at(0), at(3600), times, producing)
    # :20 slot owns [:19, :29); :30 owns [:29, :39) — the reading at 1150 s (:19:10) counts for :20.
    assert got == [(to_us(at(1740)), to_us(at(2340)))]


def test_missing_windows_skip_idle_and_excluded_time_and_merge_params() -> None:
    schedules = {"w01010": Schedule.every(600), "w01001": Schedule.every(1200)}
    times: dict[str, list[datetime]] = {"w01010": [at(0), at(600)], "w01001": [at(0)]}
    producing = [(at(0), at(2400))]  # the station was not producing after 00:40
    excluded = [(at(1200), at(1800))]  # no water at 00:20-00:30
    got = missing_windows(schedules, at(0), at(3600), times, producing, excluded)
    # w01010: :20 excluded, :30 missing → [:29, :39); :40 and :50 not producing.
    # w01001: :20 excluded; :40 not producing.
    assert got == [(to_us(at(1740)), to_us(at(2340)))]
    assert missing_windows(schedules, at(0), at(3600), times, []) == []


def test_producing_windows_join_online_periods_and_readings() -> None:
    got = producing_windows([(at(0), at(100))], [at(150), at(400)], pad_s=60)
    assert got == [(at(0), at(210)), (at(340), at(460))]


def test_merge_joins_touching_windows() -> None:
    assert merge([(5, 9), (0, 5), (20, 30), (25, 26)]) == [(0, 9), (20, 30)]


def test_memory_survives_a_restart() -> None:
    p = planner(grace_s=0)
    (answered,) = p.plan(S, "seq", [(5, 7)], at(0))
    p.sent(answered, "c1", at(0))
    p.on_reply("c1", ok=True)
    (waiting,) = p.plan(S, "seq", [(20, 21)], at(1))
    p.sent(waiting, "c2", at(1))
    p.seq_holes(S, [(100, 9_000_000)])
    copy = GapPlanner.load(p.dump(), GapSettings(grace_s=0))
    assert copy.plan(S, "seq", copy.seq_holes(S, [(5, 7), (20, 21), (100, 9_000_000)]), at(2)) == []
    assert copy.counters["implausible"] == 0  # already counted before the restart
    assert copy.outstanding(S) == 1
    assert copy.on_reply("c2", ok=True)  # the reply to a request made before the restart still matches
    assert copy.snapshot(S)[1]["state"] == "closed"


def test_a_damaged_memory_is_refused() -> None:
    for text in ("{}", '{"v": 1, "stations": {"x": {"requests": [["bogus", [1, 2], 1, null, null, true]]}}}'):
        with pytest.raises(ValueError):
            GapPlanner.load(text)


def test_a_growing_hole_keeps_its_age() -> None:
    p = planner(grace_s=120)
    a = to_us(at(0))
    assert p.plan(S, "time", [(a, a + 600)], at(0)) == []
    assert p.plan(S, "time", [(a, a + 1200)], at(60)) == []  # one more slot missing
    (ask,) = p.plan(S, "time", [(a, a + 1800)], at(121))  # asked at the first hole's grace, not later
    assert ask.span == (a, a + 1800)


def test_a_hole_resent_in_full_is_recovered_and_never_asked_again() -> None:
    p = planner(grace_s=0)
    (first,) = p.plan(S, "seq", [(5, 7)], at(0))
    p.sent(first, "c1", at(0))
    assert p.recovered(S) == []  # asked, not answered yet
    assert p.on_reply("c1", ok=True, result={"queued": 9, "seq_from": 5, "seq_to": 7, "unknown_seqs": 0})
    assert p.recovered(S) == [(5, 7)]
    assert p.snapshot(S)[0]["outcome"] == "recovered"
    # The readings came back under new seqs: the old numbers stay a hole in the store, and are not asked.
    for minute in range(1, 30):
        assert p.plan(S, "seq", [(5, 7)], at(60 * minute)) == []
    assert p.counters["sent_seq"] == 1


def test_refused_partial_and_unanswered_requests_are_not_recovered() -> None:
    p = planner(grace_s=0, max_outstanding=10, reply_timeout_s=60, max_attempts=1)
    asks = p.plan(S, "seq", [(1, 1), (3, 3), (5, 5), (7, 7)], at(0))
    for i, ask in enumerate(asks):
        p.sent(ask, f"c{i}", at(0))
    p.on_reply("c0", ok=False)
    p.on_reply("c1", ok=True, result={"queued": 0, "unknown_seqs": 1})  # the station has no such message
    p.on_reply("c2", ok=True)  # an agent that does not say how many it found: ok is taken as all
    p.plan(S, "seq", [], at(61))  # c3 timed out at its last attempt
    assert [r["outcome"] for r in p.snapshot(S)] == ["refused", "partial", "recovered", "given_up"]
    assert p.recovered(S) == [(5, 5)]
    assert p.counters["replies_refused"] == 1 and p.counters["replies_ok"] == 2


def test_an_early_reply_carries_its_outcome() -> None:
    p = planner(grace_s=0)
    (first,) = p.plan(S, "seq", [(5, 7)], at(0))
    assert not p.on_reply("c1", ok=True, result={"unknown_seqs": 0})
    p.sent(first, "c1", at(0))
    assert p.recovered(S) == [(5, 7)] and p.outstanding(S) == 0


def test_recovered_ranges_survive_a_restart_and_old_memories_still_load() -> None:
    p = planner(grace_s=0, max_outstanding=10, max_seq_span=2)
    asks = p.plan(S, "seq", [(5, 8)], at(0))
    assert [a.span for a in asks] == [(5, 6), (7, 8)]
    for i, ask in enumerate(asks):
        p.sent(ask, f"c{i}", at(0))
        p.on_reply(f"c{i}", ok=True, result={"unknown_seqs": 0})
    assert p.recovered(S) == [(5, 8)]  # adjacent pieces join
    copy = GapPlanner.load(p.dump(), GapSettings(grace_s=0))
    assert copy.recovered(S) == [(5, 8)]
    assert copy.plan(S, "seq", [(5, 8)], at(10)) == []
    # A memory written before outcomes were kept: closed stays closed, nothing claims a recovery.
    old = '{"v": 1, "stations": {"hexicun": {"requests": [["seq", [5, 7], 1, "c1", null, true]], "implausible": []}}}'
    before = GapPlanner.load(old, GapSettings(grace_s=0))
    assert before.recovered(S) == [] and before.plan(S, "seq", [(5, 7)], at(10)) == []
    with pytest.raises(ValueError):
        GapPlanner.load(old.replace("true]", 'true, "bogus"]'))


def test_split_recovered_keeps_only_what_is_still_missing() -> None:
    still, back = split_recovered([(2, 3), (6, 12), (20, 20)], [(0, 3), (8, 9), (10, 10)])
    assert still == [(6, 7), (11, 12), (20, 20)]
    assert back == [(2, 3), (8, 10)]
    assert split_recovered([(1, 4)], []) == ([(1, 4)], [])
    assert merge_closed([(8, 9), (5, 7), (11, 12)]) == [(5, 9), (11, 12)]
