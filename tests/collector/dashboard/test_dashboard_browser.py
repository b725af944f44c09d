"""The dashboard in a real headless Chromium: it lists the stations and shows times in Asia/Shanghai."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn

from collector.api import create_app
from collector.service import CollectorService
from tests.collector.factories import T0, batch, config, payload
from tests.support.ports import free_port, wait_for_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]
CHROMIUM = shutil.which("chromium")


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
        thread.join(10)
        service.stop()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_dashboard_lists_stations_in_shanghai_time(served: tuple[str, CollectorService]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    url, service = served
    # A reading at 00:07 UTC must be shown as 08:07 Beijing time.
    body = payload(batch(n=1, param="w21003", value=0.42, start=T0 + timedelta(minutes=7)))
    service.ingestor.handle("qingliu/v1/hexicun/readings", body, lambda: True)
    assert service.writer.wait_idle(5)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            outside: list[str] = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(url) else None)
            page.goto(url + "/basic/")
            page.wait_for_selector("tr[data-station='hexicun']", timeout=10_000)
            assert page.locator("#stations tbody tr").count() == 8
            row = page.locator("tr[data-station='hexicun']").inner_text()
            assert "河西村" in row and "汾河" in row and "Fen" in row
            assert "在线 online" in row and "2026/07/01 08:07:00" in row
            assert "氨氮" in row and "0.42" in row and "mg/L" in row
            other = page.locator("tr[data-station='chuanhutun']").inner_text()
            assert "未知 unknown" in other  # never heard
            # It refreshes by itself: a new value appears without reloading.
            body = payload(batch(seq=2, n=1, param="w21003", value=0.77, start=T0 + timedelta(minutes=8)))
            service.ingestor.handle("qingliu/v1/hexicun/readings", body, lambda: True)
            deadline = time.monotonic() + 10
            while "0.77" not in page.locator("tr[data-station='hexicun']").inner_text():
                assert time.monotonic() < deadline, "the page did not refresh"
                time.sleep(0.2)
            assert outside == []  # nothing fetched from anywhere but this server
        finally:
            browser.close()
