"""The alerts view shows an exceedance's flood-season judgement under its message, in the page's language
(real headless Chromium against the stand-in collector)."""

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

JUDGED = {
    "class": "V",
    "multiple": 0.55,
    "text_zh": "类别：总磷 0.310 mg/L，Ⅴ类（目标Ⅲ类）；超标倍数：超目标类别限值 0.55 倍",
    "text_en": "Class: total phosphorus 0.310 mg/L: Class V (target Class III); Multiple: 0.55 times over",
}


@pytest.fixture
def server() -> Iterator[tuple[FakeCollector, FakeServer]]:
    fake = FakeCollector()
    fake.alerts[102]["supervision"] = JUDGED  # 河西村's TP exceedance
    srv = FakeServer(fake).start()
    try:
        yield fake, srv
    finally:
        srv.stop()


def test_the_judgement_reads_under_the_alert(server: tuple[FakeCollector, FakeServer]) -> None:
    _, srv = server
    with chromium() as browser:
        context: Any = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.set_default_timeout(8000)
        page.goto(srv.url + "/alerts")
        judged = page.get_by_test_id("supervision-102")
        judged.wait_for()
        assert judged.inner_text() == JUDGED["text_zh"]  # Chinese unless the reader chose English
        page.evaluate("localStorage.setItem('qingliu.lang', 'en')")
        page.reload()
        page.get_by_test_id("supervision-102").wait_for()
        assert page.get_by_test_id("supervision-102").inner_text() == JUDGED["text_en"]
        assert page.get_by_test_id("alert-row-102").inner_text().count("0.55") == 1
        # Only the alert that carries one shows it.
        assert page.locator('[data-testid^="supervision-"]').count() == 1
        context.close()
