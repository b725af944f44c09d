"""The demo's history wiring (simulators/demo_history.py): where the history ends, and the products archived
while it went in made again through the collector's API. The whole fill with the real commands and collector:
tests/e2e/test_demo.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from simulators.demo_history import history_end, remake_archived


def test_history_ends_before_any_result_a_live_analyser_can_show() -> None:
    started = datetime(2026, 12, 4, 2, 0, 30, 123456, tzinfo=UTC)
    # The demo's 2-minute cycle: the last completed cycle began up to 2 min (period) + 1 min (measuring) ago.
    assert history_end(started, 2.0) == datetime(2026, 12, 4, 1, 57, 30, tzinfo=UTC)
    # Real analysers every 240 min, measuring 30 min.
    assert history_end(started, 240.0) == started.replace(microsecond=0) - timedelta(minutes=270)


class _Collector(BaseHTTPRequestHandler):
    """The two report routes of the collector's API, answering from ``listed`` and recording the POSTs."""

    listed: ClassVar[list[dict[str, Any]]] = []
    posts: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        assert self.path == "/api/reports?limit=1000"
        body = json.dumps({"reports": self.listed}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.posts.append((self.path, self.headers.get("Authorization")))
        status = 401 if self.headers.get("Authorization") != "Bearer tok" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.listed = [
        {"kind": "daily", "period": "2026-12-03"},
        {"kind": "monthly", "period": "2026-11"},
    ]
    _Collector.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_products_archived_meanwhile_are_made_again_with_the_admin_token(collector: str) -> None:
    assert remake_archived(collector, "tok") == ["daily/2026-12-03", "monthly/2026-11"]
    assert _Collector.posts == [
        ("/api/reports/daily/2026-12-03", "Bearer tok"),
        ("/api/reports/monthly/2026-11", "Bearer tok"),
    ]


def test_a_refused_remake_is_an_error_not_silence(collector: str) -> None:
    with pytest.raises(OSError, match="401"):
        remake_archived(collector, "wrong")
