"""The HJ 212 server in a running collector, over real TCP: frames in, readings stored once, answers out."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector import exposition
from collector.api import create_app
from collector.hj212.mapping import LOGGER_SEQ_BASE
from collector.service import CollectorService
from protocols import hj212, messages
from protocols.messages import CommandKind, Lane, Reading, ReadingBatch
from tests.collector.factories import config
from tests.collector.hj212.peer import MN, PW, Peer, hourly, realtime, split

S = "hexicun"
T = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
HJ212 = f"""
[hj212]
enabled = true
port = 0
[[hj212.loggers]]
mn = "{MN}"
password = "{PW}"
station = "{S}"
cns = ["2011", "2061"]  # the tests' frames never put both at one time
[hj212.limits]
max_frames_per_s = 1000000
garbage_close_after = 5
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeMqtt:
    connected = True

    def publish(self, topic: str, body: bytes, *, qos: int = 1, timeout: float = 5.0) -> bool:
        return True

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CollectorService]:
    svc = CollectorService(
        config(tmp_path, HJ212),
        clock=Clock(T + timedelta(hours=1)),
        hj212_server="thread",  # the server reads the test's clock (a child process keeps the real one)
        tick_s=3600,
        publisher=lambda _: FakeMqtt(),
    )
    svc.start(mqtt=False)
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture
def peer(service: CollectorService) -> Iterator[Peer]:
    assert service.hj212 is not None
    p = Peer(service.hj212.port)
    yield p
    p.close()


def settle(service: CollectorService) -> None:
    assert service.wait_idle(10)


def replied(service: CollectorService, command_id: str) -> Any:
    """The command's reply, once the server has read the logger's answers and it is stored (up to 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        settle(service)
        found = service.store.command(S, command_id)
        if found is not None and found.reply is not None:
            return found.reply
        time.sleep(0.02)
    raise AssertionError(f"no reply to {command_id}")


def stored(service: CollectorService, param: str | None = None) -> list[Any]:
    return service.store.readings(S, param=param, limit=100_000)


def test_frames_are_stored_once_and_answered_after_the_commit(service: CollectorService, peer: Peer) -> None:
    frame = realtime([("w01001", 7.52, "N"), ("w21003", 0.31, "N"), ("w01009", None, "D")], T)
    peer.send(frame)
    answer = peer.read()
    assert (answer.cn, answer.qn, answer.mn, answer.st) == ("9014", frame.qn, MN, "91")
    peer.send(frame)  # the logger sends it again (its 9014 was lost)
    assert peer.read().cn == "9014"
    settle(service)
    rows = {(r.param, r.t, r.value, r.flag, r.device) for r in stored(service)}
    assert rows == {
        ("w01001", T, 7.52, "N", f"hj212:{MN}"),
        ("w21003", T, 0.31, "N", f"hj212:{MN}"),
        ("w01009", T, None, "D", f"hj212:{MN}"),
    }
    counts = service.store.counts()
    assert counts["readings"] == 3
    # The station is in the fleet, online, with the logger as its device.
    record = service.tracker.get(S)
    assert record is not None and record.status is not None
    assert record.status.devices["logger"].up and record.status.agent_version == "hj212-2017"


def test_a_value_arriving_over_mqtt_and_hj212_is_stored_once(service: CollectorService, peer: Peer) -> None:
    batch = ReadingBatch(
        station=S, seq=7, lane=Lane.LIVE, sent_at=T, readings=[Reading(param="w21003", t=T, value=0.31)]
    )
    assert service.receiver is not None
    service.receiver.handle(f"qingliu/v1/{S}/readings", messages.encode(batch), lambda: True)
    peer.send(realtime([("w21003", 0.31, "N")], T))
    assert peer.read().cn == "9014"
    settle(service)
    assert [(r.param, r.t, r.value) for r in stored(service)] == [("w21003", T, 0.31)]
    counts = service.store.counts()
    assert counts["readings"] == 1 and counts.get("reading_revisions", 0) == 0
    # The logger's derived seq does not make the agent's seqs look holed.
    assert service.check_gaps(samples=False) == 0


def test_a_wrong_password_is_refused_and_counted(service: CollectorService, peer: Peer) -> None:
    peer.send(realtime([("w01001", 7.5, "N")], T, pw="999999"))
    answer = peer.read()
    assert (answer.cn, answer.cp.get("QnRtn")) == ("9011", "3")
    peer.send(realtime([("w01001", 7.5, "N")], T, mn="NOSUCHMN"))
    answer = peer.read()
    assert (answer.cn, answer.cp.get("QnRtn")) == ("9011", "4")
    settle(service)
    assert stored(service) == []
    assert service.hj212 is not None
    refused = service.hj212.counts.snapshot()
    assert refused[MN]["bad_password"] == 1 and refused["(unknown)"]["unknown_mn"] == 1
    text = exposition.render(service.metrics).decode()
    assert f'qingliu_hj212_refused_total{{logger="{MN}",reason="bad_password"}} 1.0' in text
    assert 'qingliu_hj212_refused_total{logger="(unknown)",reason="unknown_mn"} 1.0' in text
    assert "qingliu_hj212_connections 1.0" in text


def test_a_disconnect_mid_split_message_loses_nothing(service: CollectorService, peer: Peer) -> None:
    assert service.hj212 is not None
    values = [("w01001", 7.5, "N"), ("w01009", 8.1, "N"), ("w21003", 0.4, "N"), ("w21011", 0.05, "N")]
    packets = split(realtime(values, T), 2)
    peer.send(packets[0])
    assert not peer.closed() and peer.unread == b""  # no 9014 for half a message
    peer.close()  # the connection drops before packet 2
    settle(service)
    assert stored(service) == []
    again = Peer(service.hj212.port)
    try:
        for packet in packets:  # the logger sends the whole message again
            again.send(packet)
        answers = [again.read(), again.read()]
        assert [a.cn for a in answers] == ["9014", "9014"]
    finally:
        again.close()
    settle(service)
    assert sorted((r.param, r.value) for r in stored(service)) == sorted((c, v) for c, v, _ in values)


def test_a_history_pull_fills_a_gap(service: CollectorService, peer: Peer) -> None:
    for hour in (0, 1, 3):  # 02:00 is missing
        peer.send(hourly([("w01001", 7.0 + hour / 10, "N")], T + timedelta(hours=hour)))
        assert peer.read().cn == "9014"
    settle(service)
    start, end = T + timedelta(hours=2), T + timedelta(hours=3)
    command = service.send_command(S, CommandKind.RESEND, {"from": _iso(start), "to": _iso(end)})
    request = peer.read()
    assert (request.cn, request.cp.get("BeginTime"), request.cp.get("EndTime")) == (
        "2061",
        "20260701120000",
        "20260701125959",
    )
    peer.send(hj212.build_request_answer(request, 1))
    pulled = hourly([("w01001", 7.2, "N")], start, qn=request.qn)
    peer.send(pulled)
    peer.send(pulled)  # sent twice: stored once
    assert [peer.read().cn, peer.read().cn] == ["9014", "9014"]
    peer.send(hj212.build_execution_result(request, 1))
    reply = replied(service, command.id)
    assert [(r.t, r.value) for r in stored(service)] == [
        (T, 7.0),
        (T + timedelta(hours=1), 7.1),
        (start, 7.2),
        (T + timedelta(hours=3), 7.3),
    ]
    assert reply.ok and reply.result["readings"] == 2  # two frames of one reading each came back


def test_time_and_interval_commands(service: CollectorService, peer: Peer) -> None:
    peer.send(realtime([("w01001", 7.5, "N")], T))
    assert peer.read().cn == "9014"
    command = service.send_command(S, CommandKind.GET_CONFIG, {})
    get_time, get_interval = peer.read(), peer.read()
    assert (get_time.cn, get_interval.cn) == ("1011", "1061")
    logger_time = T + timedelta(hours=1, seconds=42)  # the logger's clock is 42 s ahead
    for request, values in (
        (get_time, {"SystemTime": hj212.format_time(logger_time)}),
        (get_interval, {"RtdInterval": "30"}),
    ):
        peer.send(hj212.build_request_answer(request, 1))
        answer = request
        peer.send(
            hj212.Frame(
                qn=answer.qn, st="21", cn=request.cn, pw=PW, mn=MN, flag=4, cp=hj212.CP.build(values=values)
            )
        )
        peer.send(hj212.build_execution_result(request, 1))
    reply = replied(service, command.id)
    assert reply.ok and reply.result == {
        "system_time": "2026-07-01T03:00:42Z",
        "clock_offset_s": 42.0,
        "rtd_interval_s": 30,
    }
    command = service.send_command(S, CommandKind.SET_INTERVAL, {"device": "rtd", "seconds": 60})
    request = peer.read()
    assert (request.cn, request.cp.get("RtdInterval")) == ("1062", "60")
    command = service.send_command(S, CommandKind.SYNC_CLOCK, {"reference_time": "2026-07-01T03:00:00Z"})
    request = peer.read()
    assert (request.cn, request.cp.get("SystemTime")) == ("1012", "20260701110000")


def test_ten_thousand_mutated_frames_leave_the_server_up(service: CollectorService, peer: Peer) -> None:
    """10,000 seeded mutations of good frames, three between every two good frames (so the connection is not
    closed for garbage): every line is accounted for, refused or taken, and every good frame is stored."""
    assert service.hj212 is not None
    rng = random.Random(212)
    good = [
        realtime([("w01001", 7.0 + i / 100, "N"), ("w21003", 0.3, "N")], T + timedelta(minutes=i))
        for i in range(50)
    ]
    mutated = 0
    while mutated < 10_000:
        for _ in range(3):
            raw = bytearray(hj212.encode_frame(rng.choice(good)))
            for _ in range(rng.randint(1, 4)):
                _mutate(rng, raw)
            peer.send(bytes(raw).replace(b"\n", b"") + b"\r\n")
            mutated += 1
        peer.send(good[mutated % len(good)])
    last = realtime([("w01001", 6.0, "N")], T - timedelta(hours=1))
    peer.send(last)
    while True:  # answers come in order: the last frame's answer means every line before it was taken
        answer = peer.read()
        if answer.cn == "9014" and answer.qn == last.qn:
            break
    settle(service)
    times = {r.t for r in stored(service, "w01001")}
    assert times == {T - timedelta(hours=1)} | {T + timedelta(minutes=i) for i in range(50)}
    refused = sum(sum(c.values()) for c in service.hj212.counts.snapshot().values())
    good_frames = mutated // 3 + 1
    assert refused + service.hj212.frames == mutated + good_frames
    assert refused > 9_000  # nearly every mutation is caught (CRC, length, syntax)


def _mutate(rng: random.Random, raw: bytearray) -> None:
    choice = rng.randrange(5)
    i = rng.randrange(len(raw))
    if choice == 0:
        raw[i] = rng.randrange(256)
    elif choice == 1:
        del raw[i : i + rng.randint(1, 8)]
    elif choice == 2:
        raw[i:i] = rng.choice([b";", b",", b"=", b"&&", b"\x00", "水".encode(), b"-Flag=X"])
    elif choice == 3:
        raw[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 30)))
    else:
        raw[2:6] = f"{rng.randrange(10000):04d}".encode()


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def test_logger_seqs_stay_clear_of_agent_seqs(service: CollectorService, peer: Peer) -> None:
    peer.send(realtime([("w01001", 7.5, "N")], T))
    assert peer.read().cn == "9014"
    settle(service)
    summary = service.store.seq_summary(S)
    assert summary.ranges and all(lo >= LOGGER_SEQ_BASE for lo, _ in summary.ranges)


GAPS = (
    HJ212
    + """
[gaps]
grace_s = 60
lookback_s = 14400  # the slots from 04:00 to 07:00 UTC: none before the logger's first hour
[[stations]]
id = "hexicun"
expected_params = ["w01001"]
"""
)


def test_gap_detection_pulls_the_missing_hour_from_the_logger(tmp_path: Path) -> None:
    clock = Clock(T + timedelta(hours=5))
    svc = CollectorService(
        config(tmp_path, GAPS),
        clock=clock,
        hj212_server="thread",
        tick_s=3600,
        publisher=lambda _: FakeMqtt(),
    )
    svc.start(mqtt=False)
    assert svc.hj212 is not None
    peer = Peer(svc.hj212.port)
    try:
        for hour in (0, 1, 3, 4, 5):  # 04:00 UTC (12:00 local) never arrived
            peer.send(hourly([("w01001", 7.0 + hour / 10, "N")], T + timedelta(hours=hour)))
            assert peer.read().cn == "9014"
        settle(svc)
        assert svc.check_gaps(samples=True) == 0  # the hole is new: it waits its grace period
        clock.now += timedelta(minutes=2)
        assert svc.check_gaps(samples=True) == 1
        request = peer.read()
        # The hour's slot as capture counts it (from 5 min before it), local time, EndTime inclusive.
        assert (request.cn, request.cp.get("BeginTime"), request.cp.get("EndTime")) == (
            "2061",
            "20260701115500",
            "20260701125459",
        )
        peer.send(hj212.build_request_answer(request, 1))
        peer.send(hourly([("w01001", 7.2, "N")], T + timedelta(hours=2), qn=request.qn))
        assert peer.read().cn == "9014"
        peer.send(hj212.build_execution_result(request, 1))
        (asked,) = svc.gap_requests(S)
        deadline = time.monotonic() + 10
        while svc.gap_requests(S)[0]["state"] != "closed" and time.monotonic() < deadline:
            time.sleep(0.02)
        settle(svc)
        assert [r.value for r in svc.store.readings(S, param="w01001")] == [7.0, 7.1, 7.2, 7.3, 7.4, 7.5]
        assert svc.gap_requests(S)[0]["state"] == "closed" and asked["kind"] == "time"
        clock.now += timedelta(minutes=5)
        assert svc.check_gaps(samples=True) == 0  # filled: nothing more to ask
    finally:
        peer.close()
        svc.stop()


def test_the_api_sends_a_logger_station_its_commands(service: CollectorService, peer: Peer) -> None:
    client = TestClient(create_app(service))
    auth = {"Authorization": "Bearer s3cret"}
    url = f"/api/stations/{S}/commands"
    by_seq = client.post(url, json={"kind": "resend", "args": {"seq_from": 1, "seq_to": 2}}, headers=auth)
    assert by_seq.status_code == 422 and "no sequence numbers" in by_seq.json()["detail"]
    probe = client.post(
        url, json={"kind": "set_interval", "args": {"device": "probe", "seconds": 60}}, headers=auth
    )
    assert probe.status_code == 422
    offline = client.post(url, json={"kind": "get_config", "args": {}}, headers=auth)
    assert offline.status_code == 503  # the logger has not connected yet: nothing to send it on
    peer.send(realtime([("w01001", 7.5, "N")], T))
    assert peer.read().cn == "9014"
    sent = client.post(url, json={"kind": "sync_clock", "args": {}}, headers=auth)
    assert sent.status_code == 202
    request = peer.read()
    assert request.cn == "1012" and request.cp.get("SystemTime") == "20260701110000"  # the collector's clock
    peer.send(hj212.build_request_answer(request, 1))
    peer.send(hj212.build_execution_result(request, 1))
    reply = replied(service, sent.json()["id"])
    assert reply.ok
    shown = client.get(f"{url}/{sent.json()['id']}").json()
    assert shown["reply"]["ok"] is True
