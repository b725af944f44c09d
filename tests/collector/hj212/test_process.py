"""The HJ 212 server in a process of its own (collector/hj212/child.py, collector/hj212/process.py): frames are
stored once and answered after the commit, a kill -9 of the process (or three, under a simulated logger) loses
nothing acknowledged and the process comes back, commands reach the logger through it, and a port it cannot take
fails the start."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from collector.config import parse_config
from collector.hj212.process import Hj212Process
from collector.service import CollectorService
from protocols import hj212
from protocols.errors import CommandError
from protocols.messages import CommandKind
from simulators.clock import SimClock
from simulators.hj212_logger import HJ212Logger, LoggerConfig
from tests.collector.factories import config
from tests.collector.hj212 import test_logger_sim_e2e as sim
from tests.collector.hj212.peer import MN, Peer, realtime
from tests.collector.hj212.test_server_e2e import HJ212, S
from tests.support.ports import free_port


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CollectorService]:
    svc = CollectorService(config(tmp_path, HJ212), tick_s=3600)  # the real clock: the server's own process
    svc.start(mqtt=False)
    yield svc
    svc.stop()


def server_process(service: CollectorService) -> Hj212Process:
    assert isinstance(service.hj212, Hj212Process)
    return service.hj212


def until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def an_hour_ago(minutes: int = 0) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(hours=1) + timedelta(minutes=minutes)


def stored(service: CollectorService) -> list[tuple[str, datetime, float | None]]:
    return [(r.param, r.t, r.value) for r in service.store.readings(S, limit=100_000)]


def test_frames_are_stored_once_by_a_server_in_a_process_of_its_own(service: CollectorService) -> None:
    server = server_process(service)
    assert server.child.pid is not None and server.child.pid != os.getpid()
    peer = Peer(server.port)
    try:
        at = an_hour_ago()
        frame = realtime([("w01001", 7.52, "N"), ("w21003", 0.31, "N")], at)
        peer.send(frame)
        assert peer.read().cn == "9014"
        peer.send(frame)  # sent again (as if the 9014 had not arrived): stored once
        assert peer.read().cn == "9014"
        assert service.wait_idle(10)
        assert sorted(stored(service)) == [("w01001", at, 7.52), ("w21003", at, 0.31)]
        assert server.frames == 2 and server.connections == 1
        assert server.presence[MN].connections == 1 and server.presence[MN].last_frame_at is not None
    finally:
        peer.close()


def test_a_killed_server_process_comes_back_and_loses_nothing_acknowledged(service: CollectorService) -> None:
    server = server_process(service)
    first = server.child.pid
    assert first is not None
    peer = Peer(server.port)
    before = realtime([("w01001", 7.1, "N")], an_hour_ago(0))
    peer.send(before)
    assert peer.read().cn == "9014"
    peer.send(hj212.encode_frame(before)[:-6] + b"0000\r\n")  # a wrong CRC: counted, no answer
    until(lambda: server.counts.of(MN).get("crc") == 1, "the bad CRC counted")

    os.kill(first, signal.SIGKILL)
    assert peer.closed(5.0)  # its connections went with it
    peer.close()
    until(lambda: server.child.pid not in (None, first) and server.wait_idle(1), "the restarted process")
    assert server.child.restarts == 1

    again = Peer(server.port)  # the port it took this time (the config asks for any)
    try:
        after = realtime([("w01001", 7.2, "N")], an_hour_ago(1))
        again.send(after)
        assert again.read().cn == "9014"
        assert service.wait_idle(10)
    finally:
        again.close()
    assert sorted(stored(service)) == [("w01001", an_hour_ago(0), 7.1), ("w01001", an_hour_ago(1), 7.2)]
    assert server.counts.of(MN).get("crc") == 1  # counts are kept over the restart
    assert server.frames == 2
    _, health = service.health_report()
    assert (health["hj212"], health["hj212_restarts"]) == ("up", 1)
    metrics = generate_latest(service.metrics).decode()
    assert "qingliu_hj212_server_restarts_total 1.0" in metrics and "qingliu_hj212_server_up 1.0" in metrics


def test_commands_reach_the_logger_through_the_server_process(service: CollectorService) -> None:
    server = server_process(service)
    with pytest.raises(CommandError) as refused:  # no connection from the station's logger yet
        service.send_command(S, CommandKind.SET_INTERVAL, {"device": "rtd", "seconds": 60})
    assert refused.value.reason == "not_connected"
    peer = Peer(server.port)
    try:
        peer.send(realtime([("w01001", 7.5, "N")], an_hour_ago()))
        assert peer.read().cn == "9014"
        service.send_command(S, CommandKind.SET_INTERVAL, {"device": "rtd", "seconds": 60})
        request = peer.read()
        assert (request.cn, request.mn, request.cp.get("RtdInterval")) == ("1062", MN, "60")
    finally:
        peer.close()


def test_a_port_the_server_cannot_take_fails_its_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        hj212_config = parse_config(
            HJ212.replace("port = 0", f'port = {port}\nhost = "127.0.0.1"') + "\n"
        ).hj212
        server = Hj212Process(hj212_config, tmp_path / "inbox.db")
        with pytest.raises(RuntimeError, match="did not start"):
            server.start()
        assert not server.child.alive and server.child.restarts == 0


def test_a_clock_of_its_own_needs_the_server_in_this_process(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hj212_server='thread'"):
        CollectorService(config(tmp_path, HJ212), clock=lambda: datetime.now(UTC))


def test_a_kill_storm_of_the_server_process_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Three kill -9s of the server's process while a simulated logger sends a sample a second: every message
    answered is stored whole and once, and the logger delivers every other one after it reconnects."""
    port = free_port()
    service = CollectorService(
        config(tmp_path, sim.hj212_config("2011").replace("port = 0", f"port = {port}"))
    )
    service.start(mqtt=False)
    server = server_process(service)
    clock = SimClock(datetime.now(UTC) - timedelta(hours=1), speed=60.0)  # a sample a second, in the past
    logger_config = LoggerConfig(
        host="127.0.0.1",
        port=port,
        mn=sim.MN,
        pw=sim.PW,
        station=sim.S,
        send_hourly=False,
        ack_timeout_s=1.0,
        retries=100,  # a message is never given up while the server comes back
        reconnect_s=0.2,
    )
    logger = HJ212Logger(logger_config, clock)

    async def body() -> None:
        await logger.start()
        for kill in range(3):
            await sim.until(lambda k=kill: logger.stats.acked >= 4 * (k + 1), "messages answered", 60)
            before = server.child.pid
            assert before is not None
            os.kill(before, signal.SIGKILL)
            await sim.until(lambda b=before: server.child.pid not in (None, b), "the restarted process", 60)
        await sim.until(lambda: logger.stats.acked >= 16, "messages answered after the storm", 60)
        await logger.stop()

    try:
        sim.run(body)
        assert server.child.restarts == 3 and logger.stats.connects >= 4
        assert logger.stats.unacked == 0  # none given up: each was delivered in the end
        sent = sim.produced(logger, "2011")
        held = sim.stored(service)
        assert held <= sent  # stored as produced, value for value
        times = {t for _, t, _ in held}
        # Each answered message is stored whole; at most the one in flight at the stop is stored unanswered.
        assert logger.stats.acked <= len(times) <= logger.stats.acked + 1
        for t in times:
            assert {(p, v) for p, tt, v in held if tt == t} == {(p, v) for p, tt, v in sent if tt == t}
        assert len({(p, t) for p, t, _ in held}) == len(held)  # one value per identity
        assert service.store.counts().get("reading_revisions", 0) == 0
    finally:
        service.stop()
