"""Offline-first means every page: a bureau network has no internet, so no page or asset of the product may
ask for anything outside the collector (issue 18 item 8). The real collector, real headless Chromium, every
request each page makes recorded; and a scan of the shipped web assets for outside addresses."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from protocols.sections import SECTIONS
from tests.support.broker import Mosquitto
from tests.support.browser import chromium
from tests.support.processes import ProcessGroup
from tests.support.stack import Stack

playwright_sync = pytest.importorskip("playwright.sync_api")

STATIC = Path(__file__).resolve().parents[2] / "collector" / "web" / "static"
# Every route of the dashboard, and the API's own reference page.
PAGES = ["/", f"/station/{next(iter(SECTIONS))}", "/alerts", "/sections", "/reports", "/api/docs"]
OUTSIDE = re.compile(r"""(?:src|href|url|import|from|fetch)\s*[=(]?\s*["'`]?\s*(?:https?:)?//""", re.I)


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_the_shipped_web_assets_name_no_outside_address() -> None:
    found = [
        f"{path.name}: {match.group(0)}"
        for path in sorted(STATIC.rglob("*"))
        if path.is_file() and path.suffix in {".html", ".js", ".css"}
        for match in OUTSIDE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_scan_would_see_an_outside_address() -> None:
    assert OUTSIDE.search(
        '<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js">'
    )
    assert OUTSIDE.search("@import url('//fonts.googleapis.com/css')")


@pytest.mark.e2e
@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_no_page_requests_a_host_other_than_the_collector(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup, browser: Any
) -> None:
    stack = Stack(tmp_path / "stack", mosquitto, processes)
    stack.root.mkdir(parents=True)
    stack.start_collector()
    own = urlsplit(stack.api).netloc
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        for path in PAGES:
            page.goto(stack.api + path)
            page.wait_for_load_state("networkidle" if path == "/api/docs" else "load")
            page.wait_for_timeout(500)  # the views fetch their data after load
        docs = page.content()
    finally:
        context.close()
    outside = sorted(
        {
            u
            for u in requested
            if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).netloc != own
        }
    )
    assert outside == []
    assert len({u for u in requested if "/api/" in u}) >= 5, requested  # the pages did load their data
    assert "/api/stations" in docs and "/api/openapi.json" in docs  # the reference lists the operations
