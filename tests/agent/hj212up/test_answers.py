"""What the agent answers a platform: history pulls from the stored readings (exactly those in the range), time
and interval get/set, refusals; the answers pass the strict codec. One pull goes over real TCP."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent.hj212up.answers import Answerer
from agent.hj212up.target import Hj212Uplink
from agent.outbox import Outbox
from protocols import hj212
from protocols.hj212 import CP, Frame
from simulators.hj212_platform import HJ212Platform, PlatformConfig
from tests.agent.hj212up.test_target import MN, START, make_outbox, polls, run, target, wait_for

NOW = START + timedelta(hours=3)


def clock() -> float:
    return NOW.timestamp()


def stored(tmp_path: Path) -> Outbox:
    outbox = make_outbox(tmp_path / "outbox.db", clock)
    for poll in polls():
        outbox.add_readings(poll)
    return outbox


def answerer(outbox: Outbox, offsets: list[float] | None = None) -> Answerer:
    interval = [60.0]
    return Answerer(
        target(1),
        outbox.store,
        clock,
        clock_jump_s=120.0,
        get_interval=lambda: interval[0],
        set_interval=lambda s: interval.__setitem__(0, s),
        on_clock_offset=(offsets.append if offsets is not None else lambda _o: None),
    )


def request(cn: str, values: dict[str, str] | None = None, *, pw: str = "123456", mn: str = MN) -> Frame:
    return Frame(
        qn="20260701120000123",
        st="21",
        cn=cn,
        pw=pw,
        mn=mn,
        flag=hj212.flag_value(reply=True),
        cp=CP.build(values=values or {}),
    )


def answers(a: Answerer, frame: Frame) -> list[Frame]:
    return list(a.answer(frame))


def codec(frames: list[Frame]) -> list[Frame]:
    """Each frame through the strict codec and back, as the platform reads it."""
    return [hj212.decode_frame(hj212.encode_frame(f)) for f in frames]


def local(t: datetime) -> str:
    return hj212.format_time(t)


def test_realtime_pull_returns_exactly_the_readings_in_the_range(tmp_path: Path) -> None:
    outbox = stored(tmp_path)
    # 02:20..03:00 UTC inclusive: polls at 02:20, 02:40, 03:00 (pH and NH3-N each).
    begin, end = START + timedelta(minutes=20), START + timedelta(hours=1)
    frames = codec(
        answers(answerer(outbox), request("2011", {"BeginTime": local(begin), "EndTime": local(end)}))
    )
    assert [f.cn for f in frames] == ["9011", "2011", "2011", "2011", "9012"]
    assert frames[0].cp.get("QnRtn") == "1" and frames[-1].cp.get("ExeRtn") == "1"
    got = {
        (f.cp.data_time, code, p.get("Rtd"), p["Flag"])
        for f in frames[1:-1]
        for code, p in f.cp.params.items()
    }
    want = {
        (r.t, r.param, hj212.format_value(r.value) if r.value is not None else None, r.flag.value)
        for poll in polls()
        for r in poll
        if begin <= r.t <= end
    }
    assert len(want) == 6 and got == want
    assert all(f.qn == "20260701120000123" and not f.reply_wanted for f in frames)
    outbox.close()


def test_hourly_pull_gives_each_hour_from_its_readings(tmp_path: Path) -> None:
    outbox = stored(tmp_path)
    begin, end = START, START + timedelta(hours=1)  # two hours start in the range: 02:00 and 03:00 UTC
    frames = codec(
        answers(answerer(outbox), request("2061", {"BeginTime": local(begin), "EndTime": local(end)}))
    )
    assert [f.cn for f in frames] == ["9011", "2061", "2061", "9012"]
    first = frames[1].cp.params
    assert frames[1].cp.data_time == START
    assert first["w01001"] == {"Avg": "7.1", "Min": "7.0", "Max": "7.2", "Flag": "N"}
    assert first["w21003"] == {"Avg": "0.505", "Min": "0.5", "Max": "0.51", "Flag": "N"}  # 0.52 was D
    assert frames[2].cp.params["w01001"]["Avg"] == "7.4"
    outbox.close()


def test_pull_of_an_empty_range_and_bad_conditions(tmp_path: Path) -> None:
    outbox = stored(tmp_path)
    a = answerer(outbox)
    empty = {"BeginTime": local(START - timedelta(days=2)), "EndTime": local(START - timedelta(days=1))}
    assert [(f.cn, f.cp.values) for f in answers(a, request("2061", empty))] == [
        ("9011", {"QnRtn": "1"}),
        ("9012", {"ExeRtn": "100"}),
    ]
    backwards = {"BeginTime": local(START), "EndTime": local(START - timedelta(hours=1))}
    assert answers(a, request("2011", backwards))[-1].cp.values == {"ExeRtn": "3"}
    assert answers(a, request("2011", {"BeginTime": "2026"}))[-1].cp.values == {"ExeRtn": "3"}
    outbox.close()


def test_time_interval_and_refusals(tmp_path: Path) -> None:
    outbox = stored(tmp_path)
    offsets: list[float] = []
    a = answerer(outbox, offsets)
    frames = codec(answers(a, request("1011")))
    assert [f.cn for f in frames] == ["9011", "1011", "9012"]
    assert frames[1].cp.get("SystemTime") == local(NOW)
    # Set 30 s ahead: within the clock-jump rule (120 s), recorded as an offset, never stepped.
    ok = answers(a, request("1012", {"SystemTime": local(NOW + timedelta(seconds=30))}))
    assert ok[-1].cp.values == {"ExeRtn": "1"} and offsets == [-30.0]
    far = answers(a, request("1012", {"SystemTime": local(NOW + timedelta(hours=1))}))
    assert far[-1].cp.values == {"ExeRtn": "2"} and offsets[-1] == -3600.0
    assert codec(answers(a, request("1061")))[1].cp.values == {"RtdInterval": "60"}
    assert answers(a, request("1062", {"RtdInterval": "300"}))[-1].cp.values == {"ExeRtn": "1"}
    assert answers(a, request("1061"))[1].cp.values == {"RtdInterval": "300"}
    assert answers(a, request("1062", {"RtdInterval": "5"}))[-1].cp.values == {"ExeRtn": "3"}
    # Unknown command, wrong password, another station: the standard's refusals, nothing else.
    assert [(f.cn, f.cp.values) for f in answers(a, request("3020"))] == [("9011", {"QnRtn": "2"})]
    assert [f.cp.values for f in answers(a, request("1011", pw="wrong"))] == [{"QnRtn": "3"}]
    assert [f.cp.values for f in answers(a, request("1011", mn="OTHER"))] == [{"QnRtn": "4"}]
    outbox.close()


def test_a_pull_over_tcp_reaches_the_platform_journal(tmp_path: Path) -> None:
    async def scenario() -> list[dict[str, Any]]:
        platform = HJ212Platform(PlatformConfig(port=0))
        await platform.start()
        outbox = stored(tmp_path)
        uplink = Hj212Uplink(
            target(platform.port),
            outbox,
            live_window_s=600,
            history_days=90,
            clock=clock,
        )
        task = asyncio.create_task(uplink.run())
        try:
            await wait_for(lambda: MN in platform.connected())  # known by its first upload
            qn = await platform.pull(MN, "2011", START, START + timedelta(hours=3))
            await wait_for(lambda: any(r.get("qn") == qn and r.get("cn") == "9012" for r in platform.records))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await platform.stop()
            outbox.close()
        return [r for r in platform.records if r["kind"] == "history" and r["qn"] == qn]

    history = run(scenario())
    got = sorted((r["code"], r["data_time"]) for r in history)
    want = sorted((r.param, r.t.strftime("%Y-%m-%dT%H:%M:%SZ")) for poll in polls() for r in poll)
    assert got == want  # every stored reading, once
