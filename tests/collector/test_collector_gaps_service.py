"""The collector service: re-send requests for gaps, the [alerts] rules, notifications and their metrics."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.api import create_app
from collector.service import CollectorService
from protocols import messages
from protocols.errors import ConfigError
from protocols.messages import Command, CommandReply, StationState, Status
from tests.collector.factories import T0, batch, config

S = "hexicun"
AUTH = {"Authorization": "Bearer s3cret"}


class FakeMqtt:
    connected = True

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, int]] = []

    def publish(self, topic: str, body: bytes, *, qos: int = 1, timeout: float = 5.0) -> bool:
        self.published.append((topic, body, qos))
        return True

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def commands(self) -> list[Command]:
        return [messages.decode(b) for t, b, _ in self.published if t.endswith("/cmd")]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    made: list[CollectorService] = []

    def build(extra: str = "", now: datetime = T0) -> tuple[CollectorService, Clock, FakeMqtt]:
        clock = Clock(now)
        fake = FakeMqtt()
        svc = CollectorService(config(tmp_path, extra), clock=clock, tick_s=3600, publisher=lambda _: fake)
        svc.start(mqtt=False)
        made.append(svc)
        return svc, clock, fake

    yield build
    for svc in made:
        svc.stop()


def feed(service: CollectorService, kind: str, message: messages.Message, station: str = S) -> None:
    service.receiver.handle(f"qingliu/v1/{station}/{kind}", messages.encode(message), lambda: True)
    assert service.wait_idle(5)


NO_SAMPLES = "[gaps]\ngrace_s = 60\nsamples = false\n"


def test_a_lost_message_is_asked_for_after_the_grace_period(make: Any) -> None:
    svc, clock, fake = make(NO_SAMPLES)
    for seq in (1, 2, 5, 6):
        feed(svc, "readings", batch(S, seq, start=T0 + timedelta(minutes=seq), n=1))
    assert svc.check_gaps() == 0  # first seen now: within the grace period
    clock.now += timedelta(seconds=61)
    assert svc.check_gaps() == 1
    (command,) = fake.commands()
    assert (command.kind, command.args, command.station) == ("resend", {"seq_from": 3, "seq_to": 4}, S)
    assert svc.store.command(S, command.id) is not None  # recorded with the other commands
    clock.now += timedelta(seconds=30)
    assert svc.check_gaps() == 0  # waiting for the reply: not asked twice
    reply = CommandReply(station=S, id=command.id, ok=True, at=clock.now, result={"queued": 2})
    feed(svc, "reply", reply)
    stored = svc.store.command(S, command.id)
    assert stored is not None and stored.reply is not None and stored.reply.ok
    clock.now += timedelta(hours=1)
    assert svc.check_gaps() == 0  # answered: the hole stays (re-sent under new seqs) and is not re-asked
    text = TestClient(create_app(svc)).get("/metrics").text
    assert 'qingliu_collector_resend_requests_total{kind="seq"} 1' in text
    assert 'qingliu_collector_resend_events_total{event="replies_ok"} 1' in text
    assert "qingliu_collector_resend_outstanding 0" in text


def test_a_seq_jump_does_not_start_a_resend_storm(make: Any) -> None:
    svc, clock, fake = make(NO_SAMPLES)
    feed(svc, "readings", batch(S, 1, n=1))
    feed(svc, "readings", batch(S, 5_000_000, n=1, start=T0 + timedelta(minutes=1)))  # counter jumped
    feed(svc, "readings", batch(S, 2, n=1, start=T0 + timedelta(minutes=2)))  # replay of an old batch
    for _ in range(5):
        clock.now += timedelta(minutes=5)
        svc.check_gaps()
    assert fake.commands() == []
    text = TestClient(create_app(svc)).get("/metrics").text
    assert 'qingliu_collector_resend_events_total{event="implausible"} 1' in text
    assert 'qingliu_collector_resend_requests_total{kind="seq"} 0' in text


def test_unanswered_requests_are_bounded(make: Any) -> None:
    svc, clock, fake = make(
        "[gaps]\ngrace_s = 0\nsamples = false\nmax_outstanding = 2\nreply_timeout_s = 60\n"
    )
    for seq in range(1, 40, 3):  # holes every other seq: 12 holes
        feed(svc, "readings", batch(S, seq, start=T0 + timedelta(minutes=seq), n=1))
    svc.check_gaps()
    assert len(fake.commands()) == 2
    for _ in range(3):
        clock.now += timedelta(seconds=10)
        svc.check_gaps()
    assert len(fake.commands()) == 2  # no reply yet, no timeout yet: nothing more
    clock.now += timedelta(seconds=60)  # both time out: re-asked, still at most two in flight
    svc.check_gaps()
    commands = fake.commands()
    assert len(commands) == 4
    assert [c.args for c in commands[2:]] == [c.args for c in commands[:2]]


def test_missing_expected_samples_are_asked_by_time(make: Any) -> None:
    extra = (
        "[schedule]\nevery_s = {w01010 = 600.0}\nslot_params = []\n[gaps]\ngrace_s = 0\nlookback_s = 7200\n"
    )
    svc, clock, fake = make(extra, now=T0 + timedelta(hours=2))
    # A value every 10 min for two hours, except 00:30 and 00:40 (lost on the way).
    for i in range(12):
        if i in (3, 4):
            continue
        feed(svc, "readings", batch(S, i + 1, start=T0 + timedelta(minutes=10 * i), n=1))
    # Without a status the collector cannot tell what the station has delivered: nothing is asked.
    svc.check_gaps()
    assert [c.args for c in fake.commands()] == [{"seq_from": 4, "seq_to": 5}]
    feed(svc, "status", Status(station=S, state=StationState.ONLINE, at=clock.now, backlog=0))
    svc.check_gaps()
    time_asks = [c.args for c in fake.commands() if "from" in c.args]
    # Slots 00:30 and 00:40 own [00:29, 00:49) (a reading up to 1 min early counts for its slot).
    assert time_asks == [{"from": "2026-07-01T00:29:00Z", "to": "2026-07-01T00:49:00Z"}]


def test_samples_the_station_still_holds_are_not_asked(make: Any) -> None:
    extra = (
        "[schedule]\nevery_s = {w01010 = 600.0}\nslot_params = []\n"
        "[gaps]\ngrace_s = 0\nlookback_s = 7200\nsamples = true\n"
    )
    svc, clock, fake = make(extra, now=T0 + timedelta(hours=2))
    for i in range(3):
        feed(svc, "readings", batch(S, i + 1, start=T0 + timedelta(minutes=10 * i), n=1))
    # The station was offline since 00:25 and still holds a backlog from 00:30 on: the lane will bring it.
    feed(
        svc,
        "status",
        Status(
            station=S,
            state=StationState.ONLINE,
            at=clock.now,
            backlog=500,
            oldest_unsent=T0 + timedelta(minutes=30),
        ),
    )
    svc.check_gaps()
    assert fake.commands() == []


# -- [alerts] rules, ack of an unknown alert ------------------------------------------------------------------


def test_alert_rules_from_the_config_reach_the_engine(make: Any) -> None:
    svc, _, _ = make('[alerts]\nrules = [{id = "exc", type = "exceedance", open_after = 1}]\n')
    assert [r.id for r in svc.alert_engine.config.rules] == ["exc"]
    feed(svc, "readings", batch(S, 1, n=1, param="w21003", value=5.0))  # ammonia far beyond class III
    assert [a.rule for a in svc.alert_engine.active()] == ["exc"]
    text = TestClient(create_app(svc)).get("/metrics").text
    assert 'qingliu_collector_alerts_open{severity="critical"} 1' in text


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ('[{id = "s", type = "stale", open_after_s = -5}]', r"alerts\.rules\[s\]\.open_after_s"),
        ('[{id = "f", type = "fault_flag", params = ["w99999"]}]', r"alerts\.rules\[f\]\.params\[0\]"),
        ('[{id = "x", type = "nonsense"}]', r"alerts\.rules\[x\]"),
        ('[{id = "o", type = "offline"}, {id = "o", type = "stale"}]', "repeated: o"),
        ('[{id = "o", type = "offline", stations = ["nowhere"]}]', "unknown stations nowhere"),
    ],
)
def test_bad_rule_config_names_the_field(tmp_path: Path, rules: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        config(tmp_path, f"[alerts]\nrules = {rules}\n")


def test_ack_of_an_unknown_alert_is_404_and_counted(make: Any) -> None:
    svc, _, _ = make()
    client = TestClient(create_app(svc))
    for _ in range(2):
        r = client.post("/api/alerts/no-such-alert/ack", json={"by": "ops"}, headers=AUTH)
        assert r.status_code == 404
    assert 'qingliu_collector_api_rejected_total{reason="ack_unknown_alert"} 2' in client.get("/metrics").text


# -- notifications from the service ---------------------------------------------------------------------------


@pytest.fixture
def hook() -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path.startswith("/hang"):
                release.wait(10)
                return
            received.append(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base + "/ok", base + "/hang", received
    release.set()
    server.shutdown()
    server.server_close()


def test_alert_transitions_are_notified_while_a_hanging_target_does_not_slow_ingest(
    make: Any, hook: tuple[str, str, list[dict[str, Any]]]
) -> None:
    ok_url, hang_url, received = hook
    svc, _, fake = make(
        '[alerts]\nrules = [{id = "exc", type = "exceedance", open_after = 1}]\n'
        f'[[notify]]\nkind = "webhook"\nname = "slow"\nurl = "{hang_url}"\ntimeout_s = 5\n'
        f'[[notify]]\nkind = "webhook"\nname = "ops"\nurl = "{ok_url}"\n'
        '[[notify]]\nkind = "mqtt"\nname = "bus"\n'
    )
    began = time.monotonic()
    for seq in range(1, 21):
        feed(
            svc, "readings", batch(S, seq, n=1, param="w21003", value=5.0, start=T0 + timedelta(minutes=seq))
        )
    assert time.monotonic() - began < 4  # twenty commits did not wait for the 5 s hang
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(r["event"], r["alert"]["rule"]) for r in received] == [("opened", "exc")]
    alert_topics = [t for t, _, _ in fake.published if t.startswith("qingliu/v1/alerts/")]
    assert alert_topics == [f"qingliu/v1/alerts/{S}"]
    text = TestClient(create_app(svc)).get("/metrics").text
    assert 'qingliu_collector_notifications_total{outcome="ok",target="ops"} 1' in text
    assert 'qingliu_collector_notifications_total{outcome="ok",target="bus"} 1' in text
    assert 'qingliu_collector_notification_failures_total{target="ops"} 0' in text
    assert 'qingliu_collector_notification_queue_depth{target="slow"} 1' in text


def test_an_answered_hole_is_not_asked_again_after_a_restart(tmp_path: Path) -> None:
    cfg = config(tmp_path, "[gaps]\ngrace_s = 0\nsamples = false\n")
    first = CollectorService(cfg, clock=lambda: T0, tick_s=3600)
    first.start(mqtt=False)
    fake = FakeMqtt()
    first.mqtt = fake
    for seq in (1, 4):
        feed(first, "readings", batch(S, seq, start=T0 + timedelta(minutes=seq), n=1))
    assert first.check_gaps() == 1
    (command,) = fake.commands()
    feed(first, "reply", CommandReply(station=S, id=command.id, ok=True, at=T0))
    first.stop()
    second = CollectorService(cfg, clock=lambda: T0 + timedelta(hours=1), tick_s=3600)
    second.start(mqtt=False)
    again = FakeMqtt()
    second.mqtt = again
    try:
        assert second.check_gaps() == 0
        assert again.commands() == []
    finally:
        second.stop()
