"""The dashboard against the real stack, in real headless Chromium: Mosquitto, a simulated station, its agent and
the collector as separate processes, nothing faked.

The pages are opened before the station exists, so everything after that arrives live (server-sent events): the
station comes online, its probe stops answering (a scenario step at speed 1), the station turns degraded and
fault alerts appear, an operator acknowledges one with the admin token, and a kill -9 of the agent takes the
station offline. Screenshots of each view at 1366×768 and 390×844 go to <repo>/artifacts/screenshots/live/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from protocols.sections import SECTIONS
from tests.support.broker import Mosquitto
from tests.support.browser import chromium
from tests.support.processes import ProcessGroup
from tests.support.stack import ADMIN_TOKEN, Stack, http_json, wait_until

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots" / "live"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
STATE_COLOURS = {  # colours.js STATE_COLOURS, as the schematic's fill attribute carries them
    "online": "#2ca02c",
    "degraded": "#e6a100",
    "offline": "#c0392b",
    "unknown": "#8a8f98",
}
FAULT_AFTER_S = 12  # sim seconds (speed 1) until the probe stops answering
# The probe stops answering: the agent marks it down, sends B-flagged readings, reports it in its status.
SCENARIO = f"""
name = "probe_silent"
description = "探头停止应答 / the probe stops answering"
stations = ["hexicun"]
speed = 1.0

[[steps]]
at_min = {FAULT_AFTER_S / 60:.4f}
action = "fault"
device = "probe"
plan = "no_answer"
"""

# The eight sections of the plan, plus a monitoring point with a long name, another target class and no data:
# the layouts must hold with it (river order, schematic labels, table columns).
LONG_NAME = "汾河静乐县城污水处理厂排污口下游五百米"
STATIONS = "".join(f'[[stations]]\nid = "{s}"\n\n' for s in SECTIONS) + "\n".join(
    [
        "[[stations]]",
        'id = "jingle-outfall"',
        f'name_zh = "{LONG_NAME}"',
        'river = "fen"',
        'basin = "yellow"',
        'level = "provincial"',
        'county = "静乐"',
        "target_class = 2",
        "",
    ]
)


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


class Tab:
    """One browser context, in a zone far from Shanghai, recording console errors and failed requests."""

    def __init__(self, browser: Any, base: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport, timezone_id="America/New_York", locale="en-US")
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.base = base
        self.errors: list[str] = []
        self.allowed_status: set[int] = set()
        self.closing = False
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        # The browser itself logs every 4xx; one that the test provoked on purpose is not an error.
        if any(f"status of {code}" in message.text for code in self.allowed_status):
            return
        self.errors.append(f"console: {message.text}")

    def _failed(self, request: Any) -> None:
        # A navigation cancels the open event stream; that is the browser closing it, not a failure.
        if request.url.endswith("/api/stream") and "ERR_ABORTED" in (request.failure or ""):
            return
        self.errors.append(f"request failed: {request.method} {request.url} {request.failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.allowed_status:
            self.errors.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def open(self, path: str) -> Any:
        self.page.goto(self.base + path)
        self.page.wait_for_selector('[data-testid="live-indicator"][data-status="live"]')
        return self.page

    def testid(self, tid: str) -> Any:
        return self.page.get_by_test_id(tid)

    def wait_fill(self, station: str, state: str, timeout: float = 20000) -> None:
        self.page.wait_for_function(
            "([id, fill]) => { const c = document.querySelector(`[data-testid='node-${id}'] circle`);"
            " return c && c.getAttribute('fill') === fill; }",
            arg=[station, STATE_COLOURS[state]],
            timeout=timeout,
        )

    def state_of(self, station: str) -> str:
        return str(self.testid(f"station-state-{station}").get_attribute("data-state"))

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean_text(self) -> None:
        """What real data must never turn into on screen: JS leftovers and raw float noise."""
        text = self.page.locator("main").inner_text()
        for junk in ("undefined", "null", "NaN", "[object"):
            assert junk not in text, f"{junk!r} on {self.page.url}"
        noise = re.findall(r"\d\.\d{7,}", text)
        assert not noise, f"unrounded numbers on {self.page.url}: {noise[:3]}"

    def no_sideways_scroll(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.page.viewport_size["width"], f"page is {width} px wide"

    def close(self) -> None:
        self.context.close()


def shanghai(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(hours=8)
    return moment.strftime("%Y-%m-%d %H:%M")


def api(stack: Stack, path: str) -> Any:
    status, body = http_json(stack.api + path)
    assert status == 200, (path, body)
    return body


def test_dashboard_follows_the_real_stack_live(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup, browser: Any
) -> None:
    stack = Stack(tmp_path / "stack", mosquitto, processes, collector_extra=STATIONS)
    stack.root.mkdir(parents=True)
    scenario = stack.root / "probe_silent.toml"
    scenario.write_text(SCENARIO)
    stack.start_collector()

    fleet = Tab(browser, stack.api, DESKTOP)
    alerts = Tab(browser, stack.api, DESKTOP)
    tabs = [fleet, alerts]
    try:
        # Before any station has spoken: every node grey, no alerts, no errors.
        fleet.open("/")
        fleet.testid("station-row-hexicun").wait_for()
        assert fleet.state_of("hexicun") == "unknown"
        assert fleet.page.locator('tbody tr[data-testid^="station-row-"]').count() == 9
        assert fleet.testid("node-jingle-outfall").get_attribute("data-state") == "unknown"
        alerts.open("/alerts")
        alerts.page.get_by_text(re.compile("没有告警|No alerts")).wait_for()

        # The station appears and comes online without a reload.
        stack.start_sim("--scenario", str(scenario), "--speed", "1")
        agent = stack.start_agent()
        fleet.wait_fill("hexicun", "online")
        assert fleet.state_of("hexicun") == "online"
        fleet.page.wait_for_function(
            "() => document.querySelector(\"[data-testid='count-online'] .num\").textContent === '1'"
        )

        # The probe stops answering: degraded (amber) on the fleet view, fault alerts in the alerts view.
        fleet.wait_fill("hexicun", "degraded", timeout=40000)
        assert fleet.state_of("hexicun") == "degraded"
        alerts.page.locator('tbody tr[data-testid^="alert-row-"]').first.wait_for(timeout=30000)
        opened = api(stack, "/api/alerts?state=open&station=hexicun")["alerts"]
        assert opened, "the collector has no open alert"
        first = opened[-1]  # the oldest: its row is there by now
        assert isinstance(first["id"], str)
        row = alerts.testid(f"alert-row-{first['id']}")
        row.wait_for()
        assert row.get_attribute("data-state") == "open"
        assert shanghai(first["opened_at"]) in row.inner_text()  # Shanghai time in a New York browser
        fleet.page.wait_for_function(
            "() => Number(document.querySelector(\"[data-testid='count-open_alerts'] .num\").textContent) >= 1"
        )
        fleet.shot("fleet-1366-fault")
        alerts.shot("alerts-1366")

        # Acknowledge through the UI: no token yet, so the login dialog asks for one (a wrong one first).
        alerts.allowed_status.add(401)
        alerts.testid(f"ack-note-{first['id']}").fill("已通知运维 / maintenance called")
        alerts.testid(f"ack-button-{first['id']}").click()
        alerts.testid("login-dialog").wait_for()
        alerts.testid("login-token").fill("not-the-token")
        alerts.testid("login-submit").click()
        alerts.page.get_by_text("令牌无效").wait_for()
        alerts.testid("login-token").fill(ADMIN_TOKEN)
        alerts.testid("login-operator").fill("值班员 李工")
        alerts.testid("login-submit").click()
        row.wait_for(state="detached")
        alerts.allowed_status.discard(401)

        acked = http_json(f"{stack.api}/api/alerts?station=hexicun&limit=50")[1]["alerts"]
        mine = next(a for a in acked if a["id"] == first["id"])
        assert mine["state"] == "acknowledged"
        assert mine["acked_by"] == "值班员 李工"
        assert mine["ack_note"] == "已通知运维 / maintenance called"

        # open_alerts counts what nobody acknowledged yet: the acknowledged one has left the count.
        def counted_right() -> bool:
            unseen = api(stack, "/api/alerts?state=open&station=hexicun")["alerts"]
            summary = api(stack, "/api/stations/hexicun")
            return summary["open_alerts"] == len(unseen) and summary["active_alerts"] == len(unseen) + 1

        wait_until(counted_right, 10, what="open_alerts without the acknowledged alert")
        alerts.testid("tab-acknowledged").click()
        moved = alerts.testid(f"alert-row-{first['id']}")
        moved.wait_for()
        assert moved.get_attribute("data-state") == "acknowledged"
        text = moved.inner_text()
        assert "值班员 李工" in text and "maintenance called" in text
        assert shanghai(mine["acked_at"]) in text
        alerts.shot("alerts-1366-acknowledged")

        # The fleet view's count follows the ack live (a station event after the ack).
        def fleet_count_right() -> bool:
            shown = fleet.page.locator("[data-testid='count-open_alerts'] .num").inner_text()
            return shown == str(api(stack, "/api/overview")["counts"]["open_alerts"])

        wait_until(fleet_count_right, 10, what="the fleet view's open-alert count following the ack")

        # The station view with real data: chart, latest values, alert history with who acknowledged.
        station = fleet
        station.testid("node-hexicun").click()
        station.testid("trend-chart").wait_for()
        station.testid(f"station-alert-{first['id']}").wait_for()
        history = station.testid(f"station-alert-{first['id']}").inner_text()
        assert "值班员 李工" in history and "maintenance called" in history
        station.page.wait_for_function(
            "() => Number(document.querySelector(\"[data-testid='trend-chart']\").dataset.points) > 0"
        )
        station.page.wait_for_selector('[data-testid="health-uptime"]')
        station.page.wait_for_selector('[data-signal="enclosure_temp"]')
        station.assert_clean_text()
        station.shot("station-1366")
        # pH: a range limit ("6–9"), and the chart draws both lines.
        station.testid("param-select").select_option("w01001")
        station.page.wait_for_selector(
            '[data-testid="trend-chart"] line.limit.target >> nth=1', state="attached"
        )
        assert "6–9" in station.page.locator(".legend").inner_text()
        labels = station.page.locator('[data-testid="trend-chart"] .limit-label').all_text_contents()
        assert labels == ["I–V", "I–V"], labels
        station.shot("station-1366-ph")

        # kill -9 of the agent, with the fleet view open: the station goes offline on the page, live (the
        # broker sends the agent's will at once; failing that, 3 missed heartbeats of 2 s would).
        station.open("/")
        station.wait_fill("hexicun", "degraded")
        agent.kill9()
        station.wait_fill("hexicun", "offline", timeout=30000)
        assert station.state_of("hexicun") == "offline"
        station.shot("fleet-1366-offline")

        # A station that never reported: its page loads and says so, without errors.
        station.open("/station/jiehepucun")
        station.page.locator(".station-head h1").wait_for()
        station.page.wait_for_selector('[data-testid="trend-chart"][data-points="0"]')
        station.page.wait_for_selector('[data-testid="health-uptime"]')
        station.assert_clean_text()
        station.shot("station-1366-no-data")

        # The phone layout with the same real data, including the English labels.
        phone = Tab(browser, stack.api, PHONE)
        tabs.append(phone)
        for path, name in (("/", "fleet"), ("/station/hexicun", "station"), ("/alerts", "alerts")):
            phone.open(path)
            phone.page.wait_for_selector(
                {
                    "fleet": '[data-testid="station-row-hexicun"]',
                    "station": '[data-testid="trend-chart"]',
                    "alerts": 'tbody tr[data-testid^="alert-row-"]',
                }[name]
            )
            phone.no_sideways_scroll()
            phone.assert_clean_text()
            phone.shot(f"{name}-390")
        phone.testid("lang-toggle").click()
        phone.page.wait_for_selector("html[lang='en']")
        phone.open("/")
        phone.shot("fleet-390-en")

        for tab in tabs:
            assert not tab.errors, tab.errors
    finally:
        for tab in tabs:
            tab.close()
