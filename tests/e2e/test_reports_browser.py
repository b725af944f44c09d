"""The dashboard's Reports view on the demo's history, in real headless Chromium.

``qingliu demo`` runs as a user runs it (eight simulated stations, their agents, the collector, 13 months of
synthetic history written into the store); the page then reads each product (日预警, 月通报, 周研判, 汛期排名),
switches product and date, downloads every format and checks each file opens as what it says it is (xlsx with
openpyxl, docx with python-docx, JSON parsed), prints, shows the API's refusals in both languages, and switches
to English. Screenshots go to <repo>/artifacts/screenshots/reports/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import chromium
from tests.support.ports import free_port
from tests.support.stack import wait_until

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots" / "reports"
DESKTOP = {"width": 1366, "height": 900}
HISTORY_WRITTEN = re.compile(r"demo: synthetic history written to the store in ([\d.]+) s")
LOADED = '[data-testid="report-frame"][data-loaded="{period}"]'
MAKE_TIMEOUT_MS = 120_000  # a product made on demand from 13 months, on a busy machine


def shanghai_today() -> date:
    return (datetime.now(UTC) + timedelta(hours=8)).date()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    """A running demo whose history is in the store; yields its base URL."""
    port = free_port()
    log_path = tmp_path / "demo.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qingliu_cli",
            "demo",
            "--port",
            str(port),
            "--var-dir",
            str(tmp_path / "var"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        written = wait_until(
            lambda: HISTORY_WRITTEN.search(log_path.read_text(errors="replace")) or proc.poll() is not None,
            300,
            interval=1.0,
            what="the demo's history in the store",
        )
        assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
        print(f"demo history written in {written.group(1)} s")
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


class Tab:
    """A browser context far from Shanghai, recording console errors, page errors and failed requests."""

    def __init__(self, browser: Any, base: str) -> None:
        self.context = browser.new_context(
            viewport=DESKTOP, timezone_id="America/New_York", locale="en-US", accept_downloads=True
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.base = base
        self.errors: list[str] = []
        self.allowed_status: set[int] = set()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error" and not any(f"status of {c}" in message.text for c in self.allowed_status):
            self.errors.append(f"console: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.allowed_status:
            self.errors.append(f"HTTP {response.status}: {response.url}")

    def testid(self, tid: str) -> Any:
        return self.page.get_by_test_id(tid)

    def wait_product(self, kind: str, period: str) -> str:
        """Waits for the product's page in the frame; returns the frame's text."""
        assert self.page.url.endswith(f"/#/reports/{kind}/{period}"), self.page.url
        self.page.wait_for_selector(LOADED.format(period=period), timeout=MAKE_TIMEOUT_MS)
        return str(self.page.frame_locator('[data-testid="report-frame"]').locator("body").inner_text())

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def tab(demo: str) -> Iterator[Tab]:
    with chromium() as browser:
        t = Tab(browser, demo)
        try:
            yield t
        finally:
            t.context.close()


def check_download(tab: Tab, fmt: str, kind: str, period: str, folder: Path) -> Any:
    """Downloads ``fmt`` through its link and opens it as what it claims to be; returns what it read."""
    with tab.page.expect_download(timeout=MAKE_TIMEOUT_MS) as info:
        tab.testid(f"download-{fmt}").click()
    download = info.value
    name = download.suggested_filename
    assert name.startswith(f"qingliu-{kind}-{period}") and name.endswith(f".{fmt}"), name
    path = folder / name
    download.save_as(str(path))
    assert path.stat().st_size > 0
    if fmt == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    if fmt == "xlsx":
        import openpyxl

        return openpyxl.load_workbook(path, read_only=True)
    if fmt == "docx":
        import docx

        return docx.Document(str(path))
    return path.read_text(encoding="utf-8")


def test_reports_view_reads_switches_and_downloads_every_product(tab: Tab, tmp_path: Path) -> None:
    today = shanghai_today()
    yesterday = (today - timedelta(days=1)).isoformat()
    page = tab.page

    # The nav leads to the daily warning of yesterday: the drifting section off target, marked synthetic.
    page.goto(tab.base + "/")
    page.get_by_role("link", name=re.compile("报告")).click()
    page.wait_for_url(re.compile(r"/#/reports"))
    page.wait_for_selector(LOADED.format(period=yesterday), timeout=MAKE_TIMEOUT_MS)
    assert page.url.endswith(f"/#/reports/daily/{yesterday}")
    text = tab.wait_product("daily", yesterday)
    assert "水质日预警" in text and "合成演示数据" in text
    assert "界河铺村" in text and "原平" in text  # off target, and its county must act
    assert tab.testid("report-kind-daily").get_attribute("aria-pressed") == "true"
    tab.shot("reports-daily")

    # Another product: the monthly bulletin of the month just ended.
    tab.testid("report-kind-monthly").click()
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    page.wait_for_url(re.compile(f"/#/reports/monthly/{last_month}$"))
    text = tab.wait_product("monthly", last_month)
    assert "水质月通报" in text and last_month in text
    tab.shot("reports-monthly")
    # It was made on demand for a complete month, so the archive lists it now.
    tab.testid(f"archive-monthly-{last_month}").wait_for(timeout=MAKE_TIMEOUT_MS)

    # Another date: a month four months back, from the date input.
    picked = today - timedelta(days=120)
    month = picked.strftime("%Y-%m")
    tab.testid("report-date").fill(picked.isoformat())
    page.wait_for_url(re.compile(f"/#/reports/monthly/{month}$"))
    text = tab.wait_product("monthly", month)
    assert month in text
    assert tab.testid("report-period").inner_text().endswith(month)
    tab.shot("reports-monthly-picked")

    # Every format of that bulletin downloads and opens; the figures agree with the JSON.
    got = {
        fmt: check_download(tab, fmt, "monthly", month, tmp_path) for fmt in ("html", "xlsx", "docx", "json")
    }
    document = got["json"]
    assert document["kind"] == "monthly" and document["period"] == month
    assert "<html" in got["html"].lower() and "水质月通报" in got["html"]
    table_keys = {t["key"] for part in document["parts"] for t in part["tables"]}
    assert table_keys and table_keys <= set(got["xlsx"].sheetnames)  # one sheet per table
    assert any("水质月通报" in p.text for p in got["docx"].paragraphs)

    # The same date in the other products: its ISO week, and the flood season of its year.
    tab.testid("report-kind-weekly").click()
    year, week, _ = picked.isocalendar()
    iso_week = f"{year}-W{week:02d}"
    page.wait_for_url(re.compile(f"/#/reports/weekly/{iso_week}$"))
    assert "水质周研判" in tab.wait_product("weekly", iso_week)
    tab.shot("reports-weekly")
    tab.testid("report-kind-flood").click()
    page.wait_for_url(re.compile(f"/#/reports/flood/{picked.year}$"))
    assert "汛期污染强度排名" in tab.wait_product("flood", str(picked.year))
    tab.shot("reports-flood")

    # Print: the frame's own page is printed (its A4 print CSS), not the dashboard around it.
    page.evaluate(
        "() => { const w = document.querySelector('[data-testid=report-frame]').contentWindow;"
        " w.print = () => { window.__printed = true; }; }"
    )
    tab.testid("report-print").click()
    assert page.evaluate("() => window.__printed === true")

    # Refusals, in both languages: a period not begun (the page knows), one the API refuses (422).
    page.goto(tab.base + "/#/reports/daily/2199-12-31")
    status = tab.testid("report-status")
    status.get_by_text(re.compile("尚未开始.*not begun")).wait_for()
    tab.allowed_status.add(422)
    page.goto(tab.base + "/#/reports/daily/1999-12-31")
    status.get_by_text(re.compile("无法生成该产品 / the product could not be made: .*2000")).wait_for()
    assert not page.locator('[data-testid="report-frame"]').is_visible()
    tab.allowed_status.discard(422)

    # English: the product is rendered in English inside the English dashboard.
    page.goto(tab.base + f"/#/reports/daily/{yesterday}")
    tab.wait_product("daily", yesterday)
    tab.testid("lang-toggle").click()
    page.wait_for_selector("html[lang='en']")
    text = tab.wait_product("daily", yesterday)
    assert "Daily water-quality warning" in text
    assert tab.testid("report-kind-daily").inner_text().startswith("Daily warning")
    tab.shot("reports-daily-en")

    assert not tab.errors, tab.errors
