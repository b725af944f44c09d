"""The alerts view names the outfalls upstream of a section's exceedance ("possible sources") under its message,
in the page's language (real headless Chromium against the stand-in collector)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.collector.web.fake_api import FakeCollector, FakeServer
from tests.support.browser import chromium

pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]

# detail["sources"] as collector/alerts/sources.py makes it (the API passes it on as the alert's "sources").
SOURCES = {
    "heading_zh": "可能来源（上游排口）",
    "heading_en": "Possible sources (outfalls upstream)",
    "over": ["hutuo_demo"],
    "outfalls": [{"id": "hutuo_demo", "over": True}],
    "text_zh": "滹沱河演示排口：氨氮 6.400 mg/L（限值 5 mg/L，超标）",
    "text_en": "Hutuo demo outfall: ammonia nitrogen 6.400 mg/L (limit 5 mg/L, over the limit)",
}


@pytest.fixture
def server() -> Iterator[tuple[FakeCollector, FakeServer]]:
    fake = FakeCollector()
    fake.alerts[102]["sources"] = SOURCES
    srv = FakeServer(fake).start()
    try:
        yield fake, srv
    finally:
        srv.stop()


def test_the_outfalls_upstream_read_under_the_alert(server: tuple[FakeCollector, FakeServer]) -> None:
    _, srv = server
    with chromium() as browser:
        context: Any = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.set_default_timeout(8000)
        page.goto(srv.url + "/alerts")
        said = page.get_by_test_id("sources-102")
        said.wait_for()
        assert said.inner_text() == f"{SOURCES['heading_zh']}: {SOURCES['text_zh']}"
        page.evaluate("localStorage.setItem('qingliu.lang', 'en')")
        page.reload()
        page.get_by_test_id("sources-102").wait_for()
        assert (
            page.get_by_test_id("sources-102").inner_text()
            == f"{SOURCES['heading_en']}: {SOURCES['text_en']}"
        )
        assert page.locator('[data-testid^="sources-"]').count() == 1  # only the alert that has them
        context.close()
