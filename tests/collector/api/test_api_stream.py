"""The server-sent event stream over a real HTTP connection (uvicorn in a thread)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from collector.api import create_app
from collector.service import CollectorService
from tests.collector.factories import batch, config, payload
from tests.support.ports import free_port, wait_for_port

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, CollectorService]]:
    service = CollectorService(config(tmp_path))
    service.start(mqtt=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port, timeout=10)
    try:
        yield f"http://127.0.0.1:{port}", service
    finally:
        server.should_exit = True
        server.force_exit = True  # the open event stream would otherwise hold the graceful shutdown
        thread.join(10)
        service.stop()


def test_stream_sends_station_summary_after_commit(served: tuple[str, CollectorService]) -> None:
    url, service = served
    with urllib.request.urlopen(url + "/api/stream", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        deadline = time.monotonic() + 5
        while service.live.subscriber_count == 0:
            assert time.monotonic() < deadline, "the stream never subscribed"
            time.sleep(0.05)
        service.receiver.handle("qingliu/v1/hexicun/readings", payload(batch(n=2, value=3.5)), lambda: True)
        event = data = None
        while data is None:
            line = response.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event == "station":
                data = json.loads(line[len("data: ") :])
    assert data["id"] == "hexicun" and data["latest"]["w01010"]["value"] == 4.5 and data["state"] == "online"
