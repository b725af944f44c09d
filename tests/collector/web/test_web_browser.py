"""The dashboard in real headless Chromium, against a stand-in collector serving API.md-shaped JSON and SSE.

Screenshots of each view (1366×768 and a 390×844 phone) go to artifacts/screenshots/ for a human to look at.
"""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.collector.web.fake_api import GOOD_TOKEN, NOW, FakeCollector, FakeServer, make_alert
from tests.support.browser import chromium

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]

SHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
FLEET_ORDER = [
    "chuanhutun",
    "hexicun",
    "huayuanzi",
    "leijiaping",
    "bifengcun",
    "boshuicun",
    "jiehepucun",
    "cigouyingqiao",
]
GREEN = "rgb(44, 160, 44)"
OFFLINE_RED = "rgb(192, 57, 43)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def fake() -> FakeCollector:
    return FakeCollector()


@pytest.fixture
def server(fake: FakeCollector) -> Iterator[FakeServer]:
    srv = FakeServer(fake).start()
    try:
        yield srv
    finally:
        srv.stop()


class Page:
    """A fresh browser context (empty localStorage) in a zone far from Shanghai, collecting every page error."""

    def __init__(self, browser: Any, server: FakeServer, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport, timezone_id="America/New_York", locale="en-US")
        self.page = self.context.new_page()
        self.page.set_default_timeout(8000)
        self.base = server.url
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            self.errors.append(msg.text)

    def open(self, path: str) -> Any:
        self.page.goto(self.base + path)
        return self.page

    def testid(self, tid: str) -> Any:
        return self.page.get_by_test_id(tid)

    def wait_live(self) -> None:
        self.page.wait_for_selector('[data-testid="live-indicator"][data-status="live"]')

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def bg(self, tid: str) -> str:
        return str(self.testid(tid).evaluate("el => getComputedStyle(el).backgroundColor"))

    def node_fill(self, station: str) -> str:
        return str(self.testid(f"node-{station}").locator("circle").get_attribute("fill"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def desktop(browser: Any, server: FakeServer) -> Iterator[Page]:
    p = Page(browser, server, DESKTOP)
    yield p
    p.close()


@pytest.fixture
def phone(browser: Any, server: FakeServer) -> Iterator[Page]:
    p = Page(browser, server, PHONE)
    yield p
    p.close()


def shanghai(dt: Any) -> str:
    return (dt + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")


# ---- fleet ------------------------------------------------------------------------------------------------------


def test_fleet_view_shows_every_station_counts_and_schematic(desktop: Page) -> None:
    page = desktop.open("/")
    desktop.wait_live()
    rows = page.locator('tbody tr[data-testid^="station-row-"]')
    rows.first.wait_for()
    assert [r.get_attribute("data-testid") for r in rows.all()] == [f"station-row-{s}" for s in FLEET_ORDER]

    # Counts at the top, default language Chinese, colour plus text on every chip.
    assert desktop.testid("count-online").locator(".num").inner_text() == "5"
    assert desktop.testid("count-degraded").locator(".num").inner_text() == "1"
    assert desktop.testid("count-offline").locator(".num").inner_text() == "1"
    assert desktop.testid("count-open_alerts").locator(".num").inner_text() == "4"
    assert desktop.testid("count-off_target").locator(".num").inner_text() == "2"
    assert desktop.testid("station-state-leijiaping").inner_text() == "离线"
    assert desktop.bg("station-state-leijiaping") == OFFLINE_RED
    assert desktop.testid("station-class-jiehepucun").inner_text() == "劣V"
    assert desktop.bg("station-class-jiehepucun") == "rgb(214, 39, 40)"
    assert desktop.bg("station-class-chuanhutun") == "rgb(30, 111, 217)"
    assert desktop.testid("station-class-cigouyingqiao").inner_text() == "—"
    assert "3 分钟前" in desktop.testid("station-row-hexicun").inner_text()
    assert "3400" in desktop.testid("station-row-leijiaping").inner_text()
    # Times are Asia/Shanghai whatever the browser's own zone (here New York).
    assert shanghai(NOW) in page.locator(".stations-card").inner_text()

    # The schematic: every station a node, rivers upstream → downstream from left to right.
    svg = desktop.testid("basin-schematic")
    assert svg.locator("a.node").count() == 8
    xs = [
        float(desktop.testid(f"node-{s}").locator("circle").get_attribute("cx") or "nan")
        for s in ("bifengcun", "boshuicun", "jiehepucun")
    ]
    assert xs == sorted(xs) and len(set(xs)) == 3
    for name in ("汾河", "朱家川河", "岚漪河", "滹沱河", "青羊河", "黄河", "海河"):
        assert name in svg.text_content()
    assert desktop.node_fill("leijiaping") == "#c0392b"
    assert desktop.node_fill("huayuanzi") == "#e6a100"
    desktop.shot("fleet-1366-state")

    desktop.testid("colour-class").click()
    assert svg.get_attribute("data-mode") == "class"
    assert desktop.node_fill("jiehepucun") == "#d62728"
    assert desktop.node_fill("chuanhutun") == "#1e6fd9"
    assert "劣V" in desktop.testid("node-jiehepucun").text_content()
    desktop.shot("fleet-1366-class")

    # Station links in the table and on the schematic open the station view without a reload.
    page.evaluate("window.__sameDocument = true")
    desktop.testid("station-row-boshuicun").get_by_role("link", name="泊水村").click()
    page.wait_for_url(re.compile(r"/station/boshuicun(\?|$)"))
    desktop.testid("trend-chart").wait_for()
    page.go_back()
    desktop.testid("node-huayuanzi").click()
    page.wait_for_url(re.compile(r"/station/huayuanzi(\?|$)"))
    desktop.testid("trend-chart").wait_for()
    assert page.locator("h1").inner_text().startswith("花园子")
    assert page.evaluate("window.__sameDocument") is True
    assert desktop.errors == []


def test_sse_station_event_changes_state_colour_without_reload(desktop: Page, fake: FakeCollector) -> None:
    page = desktop.open("/")
    desktop.wait_live()
    page.evaluate("window.__sameDocument = true")
    assert desktop.bg("station-state-leijiaping") == OFFLINE_RED

    changed = copy.deepcopy(fake.stations["leijiaping"])
    changed.update(state="online", online=True, data_age_s=4.0, backlog=0)
    fake.broadcast("station", changed)
    page.wait_for_selector('[data-testid="station-state-leijiaping"][data-state="online"]', timeout=3000)
    assert desktop.bg("station-state-leijiaping") == GREEN
    assert desktop.testid("station-state-leijiaping").inner_text() == "在线"
    assert desktop.node_fill("leijiaping") == "#2ca02c"
    assert desktop.testid("count-online").locator(".num").inner_text() == "6"
    assert desktop.testid("count-offline").locator(".num").inner_text() == "0"
    assert "4 秒前" in desktop.testid("station-row-leijiaping").inner_text()

    # A new alert arrives on the alerts view, still the same document.
    page.get_by_role("link", name=re.compile("告警")).first.click()
    desktop.testid("alert-row-101").wait_for()
    fake.broadcast("alert", make_alert(200, "bifengcun", "open", "critical", "w21003", 0))
    desktop.testid("alert-row-200").wait_for(timeout=3000)
    assert "笔峰村" in desktop.testid("alert-row-200").inner_text()
    assert page.evaluate("window.__sameDocument") is True
    assert desktop.errors == []


# ---- station ----------------------------------------------------------------------------------------------------


def test_station_view_chart_limits_flags_and_panels(desktop: Page, fake: FakeCollector) -> None:
    page = desktop.open("/station/hexicun")
    desktop.wait_live()
    chart = desktop.testid("trend-chart")
    page.wait_for_function("() => document.querySelector('[data-testid=trend-chart]')?.dataset.points > 10")
    # Ammonia nitrogen by default; its class III limit drawn strong, other class limits faint.
    target = chart.locator("line.limit.target")
    assert target.count() == 1
    assert target.get_attribute("data-class") == "III"
    assert chart.locator("line.limit:not(.target)").count() >= 1
    readings_calls = [r for r in fake.requests if "/readings?" in r]
    assert readings_calls and "param=w21003" in readings_calls[-1]
    assert re.search(r"from=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\dZ", readings_calls[-1])

    # Non-N values get their own marker, and the tooltip names the flag letter.
    flagged = chart.locator("path.flagged")
    assert flagged.count() >= 1
    letter = flagged.first.get_attribute("data-flag")
    assert letter in {"C", "D", "T"}
    box = flagged.first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = desktop.testid("chart-tooltip")
    tip.wait_for()
    assert f"标记 {letter}" in tip.inner_text()

    # Analysers, controller signals, health, agent, alert history.
    assert "nh3n" in page.locator("[data-device=nh3n]").inner_text()
    assert "运行" in page.locator('[data-signal="pump_running"]').inner_text()
    assert desktop.testid("health-uptime").inner_text().startswith("99.1 %")
    assert desktop.testid("health-capture").inner_text().startswith("97.0 %")
    assert desktop.testid("agent-backlog").inner_text() == "0"
    # HJ 212 platforms: the one that is down, with its backlog, stands out.
    province = desktop.testid("uplink-province")
    assert "未连接" in province.inner_text() and "12000" in province.inner_text()
    assert province.locator("dd.warn-text").count() == 2  # backlog past its alert, refusals
    assert "已连接" in desktop.testid("uplink-national").inner_text()
    desktop.testid("station-alert-102").wait_for()
    desktop.shot("station-1366")

    # Another range reloads the series; a live reading is appended to the chart.
    before = int(chart.get_attribute("data-points") or 0)
    desktop.testid("range-7d").click()
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=trend-chart]')?.dataset.points > {before + 100}"
    )
    points = int(desktop.testid("trend-chart").get_attribute("data-points") or 0)
    st = copy.deepcopy(fake.stations["hexicun"])
    st["latest"]["w21003"].update(value=0.61, t=NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), flag="N")
    fake.broadcast("station", st)
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=trend-chart]')?.dataset.points == {points + 1}",
        timeout=3000,
    )
    assert desktop.errors == []


def test_custom_range_is_read_as_shanghai_time_and_chart_works_by_keyboard(
    desktop: Page, fake: FakeCollector
) -> None:
    page = desktop.open("/station/bifengcun")
    desktop.testid("trend-chart").wait_for()
    desktop.testid("param-select").select_option("w01009")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=trend-chart] line.limit.target') !== null"
    )
    desktop.testid("range-custom").click()
    start = (NOW - timedelta(days=2)).replace(hour=0)
    end = start + timedelta(hours=12)
    # The inputs hold Asia/Shanghai wall time; the API gets UTC.
    desktop.testid("custom-from").fill((start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"))
    desktop.testid("custom-to").fill((end + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="确定").click()
    expected = f"from={start:%Y-%m-%dT%H}%3A00%3A00Z&to={end:%Y-%m-%dT%H}%3A00%3A00Z"
    page.wait_for_function("() => document.querySelector('[data-testid=trend-chart]')?.dataset.points == 12")
    assert any(expected in r and "param=w01009" in r for r in fake.requests), fake.requests[-5:]
    assert "range=custom" in page.url and "param=w01009" in page.url

    chart = desktop.testid("trend-chart")
    chart.focus()
    page.keyboard.press("ArrowLeft")
    tip = desktop.testid("chart-tooltip")
    tip.wait_for()
    last = end.replace(minute=0)
    assert shanghai(last) in tip.inner_text()
    assert "mg/L" in tip.inner_text()
    assert desktop.errors == []


def test_indicator_shows_reconnecting_then_live_and_catches_up(desktop: Page, fake: FakeCollector) -> None:
    page = desktop.open("/")
    desktop.wait_live()
    overviews = sum(1 for r in fake.requests if r == "/api/overview")
    fake.stations["boshuicun"] = {**fake.stations["boshuicun"], "state": "degraded"}  # missed while away
    fake.close_streams()
    page.wait_for_selector('[data-testid="live-indicator"][data-status="reconnecting"]', timeout=3000)
    assert "重连中" in desktop.testid("live-indicator").inner_text()
    desktop.wait_live()
    page.wait_for_selector('[data-testid="station-state-boshuicun"][data-state="degraded"]', timeout=3000)
    assert sum(1 for r in fake.requests if r == "/api/overview") > overviews
    assert desktop.errors == []


def test_unknown_station_says_so(desktop: Page) -> None:
    page = desktop.open("/station/nowhere")
    page.get_by_text("未知站点: nowhere").wait_for()
    # The 404 itself is the only console noise allowed (Chromium logs failed fetches).
    assert all("404" in e for e in desktop.errors), desktop.errors


# ---- alerts -----------------------------------------------------------------------------------------------------


def test_ack_logs_in_sends_bearer_and_moves_row_to_acknowledged(desktop: Page, fake: FakeCollector) -> None:
    page = desktop.open("/alerts")
    desktop.wait_live()
    desktop.testid("alert-row-101").wait_for()
    assert page.locator('tbody tr[data-testid^="alert-row-"]').count() == 4
    desktop.shot("alerts-1366")

    # Keyboard only: focus the button, press Enter; no token yet, so the login dialog opens.
    desktop.testid("ack-button-101").focus()
    page.keyboard.press("Enter")
    dialog = desktop.testid("login-dialog")
    dialog.wait_for()
    desktop.testid("login-token").fill("wrong")
    desktop.testid("login-submit").click()
    page.get_by_text("令牌无效").wait_for()
    desktop.testid("login-token").fill(GOOD_TOKEN)
    desktop.testid("login-operator").fill("李工")
    page.keyboard.press("Enter")

    desktop.testid("alert-row-101").wait_for(state="detached")
    assert fake.ack_auth[-1] == f"Bearer {GOOD_TOKEN}"
    assert fake.ack_bodies[-1]["by"] == "李工"
    assert page.evaluate("localStorage.getItem('qingliu.token')") == GOOD_TOKEN
    assert page.locator('tbody tr[data-testid^="alert-row-"]').count() == 3
    # The audit log panel below shows the ack with the operator's name (GET /api/audit, issue 16).
    desktop.testid("audit-log").get_by_text("by: 李工").wait_for()

    desktop.testid("tab-acknowledged").click()
    row = desktop.testid("alert-row-101")
    row.wait_for()
    assert row.get_attribute("data-state") == "acknowledged"
    assert "李工" in row.inner_text()
    assert desktop.testid("alert-row-90").is_visible()

    # With the token kept, the next ack needs no login.
    desktop.testid("tab-open").click()
    desktop.testid("ack-button-102").click()
    desktop.testid("alert-row-102").wait_for(state="detached")
    assert fake.ack_auth[-1] == f"Bearer {GOOD_TOKEN}"
    # The rejected login is the only failed request the console may mention.
    assert all("401" in e for e in desktop.errors), desktop.errors


def test_alert_filters_and_station_links(desktop: Page) -> None:
    page = desktop.open("/alerts")
    desktop.testid("alert-row-101").wait_for()
    desktop.testid("filter-severity").select_option("critical")
    page.wait_for_function(
        "() => document.querySelectorAll('tbody tr[data-testid^=alert-row-]').length === 2"
    )
    assert page.url.endswith("/alerts?severity=critical")
    desktop.testid("filter-severity").select_option("")
    desktop.testid("alert-row-104").wait_for()
    desktop.testid("filter-param").select_option("w21011")
    page.wait_for_function(
        "() => document.querySelectorAll('tbody tr[data-testid^=alert-row-]').length === 1"
    )
    assert desktop.testid("alert-row-102").is_visible()
    desktop.testid("alert-row-102").get_by_role("link", name="河西村").click()
    page.wait_for_url(re.compile(r"/station/hexicun(\?|$)"))
    desktop.testid("trend-chart").wait_for()
    assert desktop.errors == []


def test_rejected_messages_badge_and_panel(desktop: Page, fake: FakeCollector) -> None:
    """Quarantined messages: a badge in the header when there are some, listed on the alerts view with station,
    reason, last time (Shanghai) and count."""
    page = desktop.open("/")
    badge = desktop.testid("dead-letters-badge")
    badge.wait_for()
    assert badge.locator(".badge").inner_text() == "1" and "被拒" in badge.inner_text()
    badge.click()
    page.wait_for_function("() => location.pathname + location.hash === '/alerts#dead-letters'")
    row = desktop.testid("dead-letter-7")
    row.wait_for()
    text = row.inner_text()
    assert "河西村" in text and "malformed" in text and "3" in text
    assert shanghai(NOW - timedelta(minutes=90)) in text
    assert "malformed 3" in desktop.testid("dead-letters-totals").inner_text()
    assert "被拒消息" in desktop.testid("dead-letters").inner_text()
    desktop.testid("lang-toggle").click()
    desktop.testid("dead-letters").get_by_text("Rejected messages").wait_for()
    assert desktop.errors == []


def test_no_rejected_messages_no_badge(desktop: Page, fake: FakeCollector) -> None:
    fake.dead_letters = []
    page = desktop.open("/alerts")
    desktop.testid("dead-letters").get_by_text("没有被拒消息").wait_for()
    assert not desktop.testid("dead-letters-badge").is_visible()
    assert any(r.startswith("/api/dead-letters") for r in fake.requests)
    assert page.url.endswith("/alerts") and desktop.errors == []


# ---- language, fallback, phone ---------------------------------------------------------------------------------


def test_language_toggle_is_remembered_and_names_follow_it(desktop: Page) -> None:
    page = desktop.open("/")
    desktop.testid("station-row-hexicun").wait_for()
    desktop.testid("lang-toggle").click()
    assert desktop.testid("station-state-leijiaping").inner_text() == "offline"
    assert "3 min ago" in desktop.testid("station-row-hexicun").inner_text()
    row = desktop.testid("station-row-hexicun").inner_text()
    # Each language shows its own names (issue 18): the section's and the river's English names.
    assert "Hexicun" in row and "Fen" in row and "河西村" not in row and "汾河" not in row
    page.reload()
    desktop.testid("station-row-hexicun").wait_for()
    assert desktop.testid("station-state-leijiaping").inner_text() == "offline"
    assert page.get_by_role("navigation").get_by_role("link", name="Fleet").is_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    desktop.shot("fleet-1366-en")
    assert desktop.errors == []


def test_fleet_shows_each_stations_24_hour_uptime_and_capture(desktop: Page) -> None:
    """From /api/fleet/health: an offline station's 50 % and 40 % in warning colour, a healthy one's 100 %."""
    desktop.open("/")
    desktop.page.wait_for_selector('[data-testid="uptime-leijiaping"]:not(:text("—"))')
    bad, good = desktop.testid("uptime-leijiaping"), desktop.testid("uptime-hexicun")
    assert (bad.inner_text(), good.inner_text()) == ("50.0 %", "100.0 %")
    assert desktop.testid("capture-leijiaping").inner_text() == "40.0 %"
    assert "warn-text" in (bad.get_attribute("class") or "")
    assert "warn-text" not in (good.get_attribute("class") or "")
    assert desktop.errors == []


def test_falls_back_to_polling_when_the_stream_keeps_failing(desktop: Page, fake: FakeCollector) -> None:
    fake.stream_fails = True
    page = desktop.open("/")
    desktop.testid("station-row-huayuanzi").wait_for()
    fake.stations["huayuanzi"] = {**fake.stations["huayuanzi"], "state": "online"}
    page.wait_for_selector('[data-testid="live-indicator"][data-status="polling"]', timeout=12000)
    page.wait_for_selector('[data-testid="station-state-huayuanzi"][data-state="online"]', timeout=12000)
    assert sum(1 for r in fake.requests if r == "/api/overview") >= 2
    assert sum(1 for r in fake.requests if r == "/api/stream") >= 3


@pytest.mark.parametrize(
    ("path", "ready", "name"),
    [
        ("/", "station-row-hexicun", "fleet-390"),
        ("/station/huayuanzi", "trend-chart", "station-390"),
        ("/alerts", "alert-row-101", "alerts-390"),
    ],
)
def test_phone_layout_fits_without_sideways_scroll(phone: Page, path: str, ready: str, name: str) -> None:
    page = phone.open(path)
    phone.testid(ready).wait_for()
    page.wait_for_timeout(300)  # let the late panels (health, alerts) settle before measuring
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path}: page is {width}px wide on a {PHONE['width']}px phone"
    for tid in ("basin-schematic", "trend-chart"):
        loc = phone.testid(tid)
        if loc.count():
            assert loc.bounding_box()["width"] <= PHONE["width"]
    phone.shot(name)
    assert phone.errors == []


def test_pure_helpers_in_the_browser(desktop: Page) -> None:
    page = desktop.open("/alerts")
    desktop.testid("alert-row-101").wait_for()
    got = page.evaluate(
        """async () => {
        const i18n = await import('/static/i18n.js');
        const chart = await import('/static/chart.js');
        const out = {};
        i18n.setLang('zh');
        out.zh = [i18n.fmtAge(0), i18n.fmtAge(59.9), i18n.fmtAge(180), i18n.fmtAge(7300), i18n.fmtAge(90000),
                  i18n.fmtAge(null)];
        i18n.setLang('en');
        out.en = [i18n.fmtAge(12), i18n.fmtAge(180), i18n.fmtAge(7300), i18n.fmtAge(-5)];
        i18n.setLang('zh');
        out.time = i18n.fmtTime('2026-12-31T16:30:05Z', true);
        out.local = i18n.fromShanghaiLocal('2027-01-01T00:30').toISOString();
        out.roundTrip = i18n.toShanghaiLocal(new Date('2026-06-30T23:59:00Z'));
        out.bad = i18n.fromShanghaiLocal('yesterday');
        out.lines = chart.limitLines({I: 2, II: 4, III: 6, IV: 10, V: 15}, 'III').map(l => [l.value, l.classes, l.target]);
        out.shared = chart.limitLines({I: 15, II: 15, III: 20}, 'II').map(l => [l.value, l.classes, l.target]);
        out.range = chart.limitLines({I: [6, 9], II: [6, 9]}, 'II').map(l => [l.value, l.classes, l.target]);
        return out;
    }"""
    )
    assert got["zh"] == ["0 秒前", "59 秒前", "3 分钟前", "2 小时前", "1 天前", "无数据"]
    assert got["en"] == ["12 s ago", "3 min ago", "2 h ago", "0 s ago"]
    assert got["time"] == "2027-01-01 00:30:05"
    assert got["local"] == "2026-12-31T16:30:00.000Z"
    assert got["roundTrip"] == "2026-07-01T07:59"
    assert got["bad"] is None
    assert got["lines"][2] == [6, ["III"], True]
    assert [line[2] for line in got["lines"]].count(True) == 1
    assert got["shared"] == [[15, ["I", "II"], True], [20, ["III"], False]]
    assert got["range"] == [[6, ["I", "II"], True], [9, ["I", "II"], True]]
    assert desktop.errors == []
