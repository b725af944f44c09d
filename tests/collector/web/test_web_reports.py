"""The Reports view's logic in real headless Chromium, against the stand-in collector (fake_api.py) with a small
/api/reports of its own: how a date maps to each product's period (ISO weeks across new year, the flood season's
year), the address it keeps, the archive with labelled figures, the links it builds, and an API refusal shown in
both languages. The view on the real stack and the demo's history: tests/e2e/test_reports_browser.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from tests.collector.web.fake_api import FakeCollector, FakeServer
from tests.collector.web.test_web_browser import DESKTOP, Page
from tests.support.browser import chromium

pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]

ARCHIVE = [
    {
        "kind": "daily",
        "period": "2026-07-02",
        "title_zh": "水质日预警",
        "title_en": "Daily water-quality warning",
        "made_at": "2026-07-03T00:00:05Z",
        "cutoff": "2026-07-03T00:00:00Z",
        "completeness": 0.968,
        "partial": False,
        "figures": {"sections": 21, "off_target": 2, "at_warning": 0, "counties_to_act": ["原平", "代县"]},
        "links": {},
    }
]
PAGE = "<!doctype html><html><head><meta charset='utf-8'><title>日预警</title></head><body><h1>水质日预警 {p} {lang}</h1></body></html>"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    srv = FakeServer(FakeCollector())
    app = srv.server.config.app
    assert isinstance(app, FastAPI)

    @app.get("/api/reports")
    def archive(kind: str | None = None) -> dict[str, Any]:
        return {"reports": [r for r in ARCHIVE if kind in (None, r["kind"])]}

    @app.get("/api/reports/{kind}/{period}")
    def product(kind: str, period: str, format: str = "html", lang: str = "zh") -> HTMLResponse:
        if period == "2026-07-02":
            return HTMLResponse(PAGE.format(p=period, lang=lang))
        raise HTTPException(404, f"no {kind} product for {period}: nothing stored")

    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def desktop(browser: Any, server: FakeServer) -> Iterator[Page]:
    p = Page(browser, server, DESKTOP)
    yield p
    p.close()


PERIODS_JS = """async () => {
  const m = await import('/static/view-reports.js');
  const kinds = ['daily', 'weekly', 'monthly', 'flood'];
  return {
    weeks: ['2026-01-01', '2027-01-01', '2024-12-30', '2026-12-03', '2026-06-29', '2026-07-05'].map(m.isoWeek),
    of: kinds.map((k) => m.periodOf(k, '2026-03-15')),
    starts: [['weekly', '2026-W01'], ['weekly', '2026-W53'], ['weekly', '2020-W53'], ['monthly', '2026-13'],
      ['daily', '2026-02-30'], ['flood', '2026'], ['monthly', '2026-07']].map(([k, p]) => m.periodStart(k, p)),
    defaults: [['2026-12-04', kinds], ['2027-03-01', kinds], ['2026-01-05', ['weekly', 'monthly']]]
      .map(([day, ks]) => ks.map((k) => m.defaultPeriod(k, day))),
  };
}"""


def test_dates_map_to_each_products_period(desktop: Page) -> None:
    desktop.open("/")
    got = desktop.page.evaluate(PERIODS_JS)
    # 1 Jan 2026 is a Thursday (week 1 of 2026); 1 Jan 2027 a Friday (still 2026's week 53);
    # Monday 30 Dec 2024 opens 2025's week 1.
    assert got["weeks"] == ["2026-W01", "2026-W53", "2025-W01", "2026-W49", "2026-W27", "2026-W27"]
    assert got["of"] == ["2026-03-15", "2026-W11", "2026-03", "2026"]
    # Week 1 of 2026 starts on Monday 29 Dec 2025; 2026 has 53 weeks, 2020 too; month 13 and 30 Feb are none.
    assert got["starts"] == ["2025-12-29", "2026-12-28", "2020-12-28", None, None, "2026-07-01", "2026-07-01"]
    # Yesterday, last week, last month; the flood season of this year from July on, else last year's.
    assert got["defaults"] == [
        ["2026-12-03", "2026-W48", "2026-11", "2026"],
        ["2027-02-28", "2027-W08", "2027-02", "2026"],
        ["2026-W01", "2025-12"],  # Monday 5 Jan 2026: last week began on 29 Dec 2025
    ]


def test_product_archive_links_and_refusal(desktop: Page) -> None:
    page = desktop.open("/#/reports/daily/2026-07-02")
    page.wait_for_selector('[data-testid="report-frame"][data-loaded="2026-07-02"]')
    frame = page.frame_locator('[data-testid="report-frame"]')
    assert frame.locator("h1").inner_text() == "水质日预警 2026-07-02 zh"
    assert desktop.testid("report-frame").get_attribute("sandbox") == "allow-same-origin allow-modals"
    assert desktop.testid("report-kind-daily").get_attribute("aria-pressed") == "true"
    assert desktop.testid("report-date").input_value() == "2026-07-02"
    hrefs = {
        f: desktop.testid(f"download-{f}").get_attribute("href") for f in ("html", "xlsx", "docx", "json")
    }
    assert hrefs == {
        "html": "/api/reports/daily/2026-07-02?format=html&lang=zh",
        "xlsx": "/api/reports/daily/2026-07-02?format=xlsx&lang=zh",
        "docx": "/api/reports/daily/2026-07-02?format=docx&lang=zh",
        "json": "/api/reports/daily/2026-07-02?format=json",
    }
    row = desktop.testid("archive-daily-2026-07-02")
    assert "未达标 2" in row.inner_text() and "需采取措施区县 原平、代县" in row.inner_text()
    assert "96.8 %" in row.inner_text()
    assert row.get_attribute("class") == "selected"

    # Another date: the API's 404 in both languages with its reason; nothing to print.
    desktop.testid("report-date").fill("2026-07-10")
    page.wait_for_url("**/#/reports/daily/2026-07-10")
    status = desktop.testid("report-status")
    status.get_by_text(
        "无法生成该产品 / the product could not be made: no daily product for 2026-07-10"
    ).wait_for()
    assert not desktop.testid("report-frame").is_visible()
    assert desktop.testid("report-print").is_disabled()
    assert all("404" in e for e in desktop.errors), desktop.errors  # only the refusal the test asked for
    # The typed date carries over to another product: its month; that product's archive is empty.
    desktop.testid("report-kind-monthly").click()
    page.wait_for_url("**/#/reports/monthly/2026-07")
    assert desktop.testid("report-date").input_value() == "2026-07-10"
    desktop.page.get_by_text("尚无已生成的产品").wait_for()

    # English: the frame asks for the English rendering.
    desktop.errors.clear()
    page.goto(desktop.base + "/#/reports/daily/2026-07-02")
    desktop.testid("lang-toggle").click()
    page.wait_for_selector("html[lang='en']")
    page.wait_for_selector('[data-testid="report-frame"][data-loaded="2026-07-02"]')
    assert frame.locator("h1").inner_text() == "水质日预警 2026-07-02 en"
    assert desktop.testid("download-docx").get_attribute("href").endswith("lang=en")
    assert not desktop.errors, desktop.errors
