"""The notification sender against real local HTTP servers: retries, timeouts, isolation between targets."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from collector.alerts import Alert, Transition, TransitionKind
from collector.config import parse_config
from collector.exposition import NotificationsCollector
from collector.notify import Backoff
from collector.notify.sender import Notifier, TargetSpec, specs_from_config
from protocols.errors import ConfigError
from protocols.messages import Severity

T = datetime(2026, 7, 15, 0, 30, tzinfo=UTC)
FAST = Backoff(base_s=0.05, factor=2.0, cap_s=0.2, max_attempts=3, jitter=0.0)


@dataclass
class Script:
    """What a local server answers, one entry per request (the last one repeats): a status code with a JSON
    body, or "hang" (accept and never answer until the test ends)."""

    answers: list[tuple[int, Any] | str]
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[tuple[ThreadingHTTPServer, Script]] = []

    def start(*answers: tuple[int, Any] | str) -> tuple[str, Script]:
        script = Script(list(answers))

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                parts = urlsplit(self.path)
                script.requests.append({"path": parts.path, "query": parse_qs(parts.query), "json": body})
                index = min(len(script.requests), len(script.answers)) - 1
                answer = script.answers[index]
                if answer == "hang":
                    script.release.wait(10)
                    return
                assert isinstance(answer, tuple)
                data = json.dumps(answer[1]).encode()
                self.send_response(answer[0])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, script))
        return f"http://127.0.0.1:{server.server_address[1]}", script

    yield start
    for server, script in servers:
        script.release.set()
        server.shutdown()
        server.server_close()


def transition(
    station: str = "hexicun", severity: Severity = Severity.WARNING, alert_id: str = "a1"
) -> Transition:
    alert = Alert(
        id=alert_id,
        station=station,
        rule="exc",
        rule_type="exceedance",
        subject="w21003",
        param="w21003",
        severity=severity,
        opened_at=T,
        last_bad_at=T,
        title_zh="氨氮超标",
        title_en="ammonia nitrogen exceeds target",
        message_zh="氨氮 1.6 mg/L",
        message_en="ammonia nitrogen 1.6 mg/L",
    )
    return Transition(kind=TransitionKind.OPENED, at=T, alert=alert)


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


@pytest.fixture
def notifiers() -> Iterator[list[Notifier]]:
    made: list[Notifier] = []
    yield made
    for n in made:
        n.stop(0.5)


def start(notifiers: list[Notifier], *specs: TargetSpec, **kw: Any) -> Notifier:
    n = Notifier(list(specs), backoff=kw.pop("backoff", FAST), **kw)
    n.start()
    notifiers.append(n)
    return n


def test_webhook_200_is_delivered_once(serve: Any, notifiers: list[Notifier]) -> None:
    url, script = serve((200, {"ok": True}))
    n = start(notifiers, TargetSpec("hook", "webhook", url + "/hook"))
    n.submit([transition()])
    assert n.wait_idle(5)
    (request,) = script.requests
    assert request["path"] == "/hook"
    assert request["json"]["type"] == "alert_transition"
    assert request["json"]["alert"]["id"] == "a1"
    assert n.snapshot()[("hook", "ok")] == 1
    assert n.failures() == {"hook": 0}


def test_500_then_200_is_retried_until_delivered(serve: Any, notifiers: list[Notifier]) -> None:
    url, script = serve((500, {}), (500, {}), (200, {}))
    n = start(notifiers, TargetSpec("hook", "webhook", url))
    n.submit([transition()])
    assert n.wait_idle(5)
    assert len(script.requests) == 3
    counts = n.snapshot()
    assert (counts[("hook", "retry")], counts[("hook", "ok")], counts[("hook", "failed")]) == (2, 1, 0)
    assert n.failures() == {"hook": 2}


def test_always_500_gives_up_after_max_attempts(serve: Any, notifiers: list[Notifier]) -> None:
    url, script = serve((503, {}))
    n = start(notifiers, TargetSpec("hook", "webhook", url))
    n.submit([transition()])
    assert n.wait_idle(5)
    assert len(script.requests) == FAST.max_attempts
    assert n.snapshot()[("hook", "failed")] == 1


def test_a_4xx_is_not_retried(serve: Any, notifiers: list[Notifier]) -> None:
    url, script = serve((404, {}))
    n = start(notifiers, TargetSpec("hook", "webhook", url))
    n.submit([transition()])
    assert n.wait_idle(5)
    assert len(script.requests) == 1
    assert n.snapshot()[("hook", "failed")] == 1


def test_a_hanging_target_times_out_and_does_not_hold_up_another(
    serve: Any, notifiers: list[Notifier]
) -> None:
    hang_url, hanging = serve("hang")
    ok_url, healthy = serve((200, {}))
    n = start(
        notifiers,
        TargetSpec("slow", "webhook", hang_url, timeout_s=0.3),
        TargetSpec("fast", "webhook", ok_url),
    )
    began = time.monotonic()
    n.submit([transition(alert_id=f"a{i}") for i in range(3)])
    assert time.monotonic() - began < 0.1  # submit never waits for a target
    wait_for(lambda: n.snapshot()[("fast", "ok")] == 3, timeout=2)
    assert time.monotonic() - began < 0.3 + 0.2  # not behind the first timeout of the hanging target
    wait_for(lambda: n.snapshot()[("slow", "retry")] >= 1, timeout=3)
    assert len(healthy.requests) == 3
    assert len(hanging.requests) >= 1


def test_a_refused_connection_is_retried(notifiers: list[Notifier]) -> None:
    from tests.support.ports import free_port

    n = start(notifiers, TargetSpec("gone", "webhook", f"http://127.0.0.1:{free_port()}/"))
    n.submit([transition()])
    assert n.wait_idle(5)
    counts = n.snapshot()
    assert (counts[("gone", "retry")], counts[("gone", "failed")]) == (2, 1)


def test_wecom_errcode_decides_and_the_body_is_markdown(serve: Any, notifiers: list[Notifier]) -> None:
    url, script = serve((200, {"errcode": 45009, "errmsg": "freq"}), (200, {"errcode": 0, "errmsg": "ok"}))
    n = start(notifiers, TargetSpec("wecom", "wecom", url + "/cgi-bin/webhook/send?key=K"))
    n.submit([transition()])
    assert n.wait_idle(5)
    assert len(script.requests) == 2  # rate limited once, then accepted
    assert script.requests[0]["json"]["msgtype"] == "markdown"
    assert script.requests[0]["query"] == {"key": ["K"]}
    assert n.snapshot()[("wecom", "ok")] == 1


def test_dingtalk_url_is_signed_when_a_secret_is_set(serve: Any, notifiers: list[Notifier]) -> None:
    url, script = serve((200, {"errcode": 0}))
    n = start(
        notifiers,
        TargetSpec("ding", "dingtalk", url + "/robot/send?access_token=T", secret="SEC1"),
        TargetSpec("ding-plain", "dingtalk", url + "/robot/send?access_token=U"),
    )
    n.submit([transition()])
    assert n.wait_idle(5)
    by_token = {r["query"]["access_token"][0]: r for r in script.requests}
    signed = by_token["T"]["query"]
    assert set(signed) == {"access_token", "timestamp", "sign"}
    assert abs(int(signed["timestamp"][0]) - time.time() * 1000) < 60_000
    assert set(by_token["U"]["query"]) == {"access_token"}
    assert by_token["T"]["json"]["msgtype"] == "markdown"


def test_severity_and_station_filters(serve: Any, notifiers: list[Notifier]) -> None:
    url, script = serve((200, {}))
    n = start(
        notifiers,
        TargetSpec("crit", "webhook", url + "/crit", min_severity=Severity.CRITICAL),
        TargetSpec("one", "webhook", url + "/one", stations=frozenset({"dongguan"})),
    )
    n.submit(
        [
            transition("hexicun", Severity.WARNING, "w"),
            transition("hexicun", Severity.CRITICAL, "c"),
            transition("dongguan", Severity.INFO, "d"),
        ]
    )
    assert n.wait_idle(5)
    got = sorted((r["path"], r["json"]["alert"]["id"]) for r in script.requests)
    assert got == [("/crit", "c"), ("/one", "d")]


def test_a_full_queue_drops_and_counts(serve: Any, notifiers: list[Notifier]) -> None:
    url, script = serve("hang")
    n = start(notifiers, TargetSpec("slow", "webhook", url, timeout_s=2), queue_max=2)
    n.submit([transition(alert_id="a0")])
    wait_for(lambda: len(script.requests) == 1)
    n.submit([transition(alert_id=f"a{i}") for i in range(1, 6)])
    # One in delivery (hanging), two queued, the rest dropped.
    wait_for(lambda: n.snapshot()[("slow", "dropped")] >= 3)
    assert n.snapshot()[("slow", "dropped")] == 3


def test_mqtt_target_publishes_on_the_alert_topic(notifiers: list[Notifier]) -> None:
    published: list[tuple[str, bytes, int]] = []
    answers = iter([False, True])

    def publish(topic: str, payload: bytes, qos: int, timeout: float) -> bool:
        published.append((topic, payload, qos))
        return next(answers)

    n = start(notifiers, TargetSpec("mq", "mqtt"), publish=publish)
    n.submit([transition()])
    assert n.wait_idle(5)
    assert [(t, q) for t, _, q in published] == [("qingliu/v1/alerts/hexicun", 1)] * 2
    assert json.loads(published[-1][1])["alert"]["id"] == "a1"
    counts = n.snapshot()
    assert (counts[("mq", "retry")], counts[("mq", "ok")]) == (1, 1)


def test_metric_families_name_every_target() -> None:
    n = Notifier([TargetSpec("a", "webhook", "http://x/"), TargetSpec("b", "mqtt")])
    families = {f.name: f for f in NotificationsCollector(n).collect()}
    totals = [(s.labels, s.value) for s in families["qingliu_collector_notifications"].samples]
    assert ({"target": "b", "outcome": "ok"}, 0) in totals
    assert [(s.labels, s.value) for s in families["qingliu_collector_notification_failures"].samples] == [
        ({"target": "a"}, 0),
        ({"target": "b"}, 0),
    ]


def test_notify_config_is_validated_and_named() -> None:
    cfg = parse_config(
        '[[notify]]\nkind = "dingtalk"\nurl = "https://oapi.dingtalk.com/robot/send?access_token=x"\n'
        'secret = "SEC"\nmin_severity = "critical"\n'
        '[[notify]]\nkind = "mqtt"\nname = "bus"\nstations = ["hexicun"]\n'
    )
    specs = specs_from_config(cfg.notify)
    assert [(s.name, s.kind, s.min_severity) for s in specs] == [
        ("dingtalk-1", "dingtalk", Severity.CRITICAL),
        ("bus", "mqtt", Severity.INFO),
    ]
    assert specs[1].stations == frozenset({"hexicun"})
    for bad, field_name in [
        ('[[notify]]\nkind = "webhook"\nurl = "ftp://x"\n', "notify[0]"),
        ('[[notify]]\nkind = "sms"\nurl = "http://x/"\n', "notify[0].kind"),
        ('[[notify]]\nkind = "webhook"\nurl = "http://x/"\ntimeout_s = -1\n', "notify[0].timeout_s"),
        ('[[notify]]\nkind = "webhook"\nurl = "http://x/"\nsecret = "s"\n', "notify[0]"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(field_name)):
            parse_config(bad)
