"""The server's per-connection limits over real TCP: line size, idle time, connection count."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.config import Hj212Config, Hj212Limits, Hj212Logger
from collector.hj212.server import Hj212Server
from tests.collector.hj212.peer import MN, PW, Peer, realtime

T = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Hj212Server]:
    config = Hj212Config(
        enabled=True,
        port=0,
        loggers=[Hj212Logger(mn=MN, password=PW, station="hexicun", cns=["2011"], history_cn="2011")],
        limits=Hj212Limits(max_frame_bytes=1024, idle_timeout_s=1.0, max_connections=2),
    )
    s = Hj212Server(config, tmp_path / "inbox.db")
    s.start()
    yield s
    s.stop()


def test_an_over_long_line_is_dropped_and_the_next_frame_taken(server: Hj212Server) -> None:
    peer = Peer(server.port)
    try:
        peer.send(b"##" + b"9" * 5000 + b"\r\n")
        frame = realtime([("w01001", 7.5, "N")], T)
        peer.send(frame)
        answer = peer.read()
        assert (answer.cn, answer.qn) == ("9014", frame.qn)
    finally:
        peer.close()
    assert server.counts.snapshot()["(unknown)"] == {"oversized": 1}
    assert server.wait_idle(5)
    assert [row.topic for row in server.inbox.take(10)] == [
        "qingliu/v1/hexicun/status",
        "qingliu/v1/hexicun/readings",
    ]


def test_an_idle_connection_is_closed(server: Hj212Server) -> None:
    peer = Peer(server.port)
    try:
        assert peer.closed(wait_s=4.0)
    finally:
        peer.close()
    assert server.counts.snapshot()["(unknown)"] == {"idle_closed": 1}


def test_connections_beyond_the_limit_are_refused(server: Hj212Server) -> None:
    peers = [Peer(server.port), Peer(server.port)]
    for p in peers:  # both are being served (a frame each is answered)
        p.send(realtime([("w01001", 7.5, "N")], T))
        assert p.read().cn == "9014"
    third = Peer(server.port)
    try:
        assert third.closed(wait_s=2.0)
    finally:
        third.close()
        for p in peers:
            p.close()
    deadline = time.monotonic() + 2
    while "(unknown)" not in server.counts.snapshot() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.counts.snapshot()["(unknown)"] == {"too_many_connections": 1}


def test_stopping_with_loggers_connected_logs_no_error(
    server: Hj212Server, caplog: pytest.LogCaptureFixture
) -> None:
    peers = [Peer(server.port) for _ in range(2)]
    try:
        peers[0].send(realtime([("w01001", 7.5, "N")], T))
        assert peers[0].read().cn == "9014"
        assert server.connections == 2
        with caplog.at_level(logging.INFO):
            server.stop()
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], [r.getMessage() for r in errors]  # Python 3.11 logged each cancelled handler
        assert all(peer.closed(2.0) for peer in peers)
        assert sum("closed: shutting down" in r.getMessage() for r in caplog.records) == 2
    finally:
        for peer in peers:
            peer.close()
