"""The Sections view (/sections) in real headless Chromium. The stand-in collector (fake_api.py) serves the
real static files; /api/assessment answers with JSON made by the real assessing service over the hand-computed
month (tests/collector/assessment/fixture_month.py) in a SQLite store, so the page reads the API's own shapes."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from fastapi import HTTPException

from collector import assessing_json
from collector.assessing import Assessor, controller_exclusions, current_ref
from collector.assessment import PeriodKind
from collector.store.sqlite import SqliteStore
from tests.collector.assessment import fixture_month as fx
from tests.collector.assessment_replay import fill, fixture_config, frozen_history
from tests.collector.web.fake_api import FakeCollector, build_app
from tests.collector.web.test_web_browser import DESKTOP, PHONE, Page
from tests.support.browser import chromium
from tests.support.ports import free_port, wait_for_port

pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]

WORSE_RED = "rgb(214, 39, 40)"  # colours.js / app.css --cls-worse-v
GREEN = "rgb(44, 160, 44)"  # --cls-iii
ORANGE = "rgb(255, 127, 14)"  # --cls-v


@pytest.fixture(scope="module")
def bodies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """/api/assessment for the fixture month and for this month (nothing stored yet: no data, hexicun frozen)."""
    tmp = tmp_path_factory.mktemp("sections")
    store = SqliteStore(tmp / "collector.db")
    fill(store)
    config = fixture_config(tmp)
    excluded = controller_exclusions(store, frozen_history(), config.ice.max_water_temp_c)
    now = datetime.now(UTC)
    assessor = Assessor.from_config(config, store, excluded=excluded, clock=lambda: now)
    out = {}
    for month in (fx.MONTH, current_ref(PeriodKind.MONTH, now)):
        out[month] = assessing_json.city(assessor.city(assessor.period("month", month)), assessor.registry)
    store.close()
    return out


class SectionsServer:
    """fake_api's app plus /api/assessment from ``bodies``; uvicorn in a thread on a free port."""

    def __init__(self, fake: FakeCollector, bodies: dict[str, dict[str, Any]]) -> None:
        self.fake = fake
        app = build_app(fake)

        @app.get("/api/assessment")
        async def assessment(period: str = "month", ref: str = "") -> dict[str, Any]:
            if period != "month" or ref not in bodies:
                raise HTTPException(422, f"no canned assessment for {period} {ref}")
            return bodies[ref]

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SectionsServer:
        self.thread.start()
        wait_for_port(self.port)
        deadline = time.monotonic() + 10
        while self.fake.loop is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.fake.close_streams()
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def fake() -> FakeCollector:
    return FakeCollector()


@pytest.fixture
def server(fake: FakeCollector, bodies: dict[str, dict[str, Any]]) -> Iterator[SectionsServer]:
    srv = SectionsServer(fake, bodies).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def desktop(browser: Any, server: SectionsServer) -> Iterator[Page]:
    page = Page(browser, server, DESKTOP)  # type: ignore[arg-type]
    yield page
    page.close()


@pytest.fixture
def phone(browser: Any, server: SectionsServer) -> Iterator[Page]:
    page = Page(browser, server, PHONE)  # type: ignore[arg-type]
    yield page
    page.close()


def test_sections_view_shows_each_section_its_class_colour_and_the_rivers(
    desktop: Page, fake: FakeCollector
) -> None:
    page = desktop.open("/")
    nav = page.get_by_role("navigation").get_by_role("link", name="断面")
    nav.click()  # the nav entry opens the view without a reload
    page.wait_for_url("**/sections")
    desktop.testid("sections-table").wait_for()
    this_month = current_ref(PeriodKind.MONTH, datetime.now(UTC))
    assert f"/api/assessment?period=month&ref={this_month}" in fake.requests
    assert desktop.testid("sections-month").input_value() == this_month
    assert page.locator('tbody tr[data-testid^="section-row-"]').count() == 21
    assert desktop.testid("section-class-hexicun").inner_text() == "结冰"

    # A chosen month: the URL says which, so a reload or a shared link shows the same.
    desktop.testid("sections-month").fill(fx.MONTH)
    page.wait_for_url(f"**/sections?month={fx.MONTH}")
    desktop.testid("section-class-nanzhuang").wait_for()
    page.wait_for_function(
        "document.querySelector('[data-testid=\"section-class-nanzhuang\"]').textContent === '劣V'"
    )
    assert desktop.bg("section-class-nanzhuang") == WORSE_RED
    assert desktop.bg("section-class-bifengcun") == GREEN
    assert desktop.bg("section-class-boshuicun") == ORANGE
    boshuicun = desktop.testid("section-row-boshuicun").inner_text()
    for text in (
        "泊水村",
        "滹沱河",
        "省考",
        "代县",
        "III",
        "未达标",
        "总磷（1.00）、氨氮（0.70）、高锰酸盐指数（0.42）",
        "6.48",
        "7.0 %",
    ):
        assert text in boshuicun, text
    assert "达标" in desktop.testid("section-row-xiaruyue").inner_text()
    assert "2.67" in desktop.testid("section-row-xiaruyue").inner_text()
    assert "50.0 %" in desktop.testid("share-national").inner_text()

    # The river view: the Hutuo upstream → downstream, graded.
    hutuo = desktop.testid("river-hutuo")
    nodes = hutuo.locator('[data-testid^="river-node-"]')
    assert [n.get_attribute("data-testid") for n in nodes.all()][:4] == [
        "river-node-bifengcun",
        "river-node-xiaruyue",
        "river-node-daixianqiao",
        "river-node-boshuicun",
    ]
    assert "重度污染" in hutuo.inner_text()
    desktop.shot("sections-1366")
    assert desktop.errors == []


def test_sections_view_in_english_keeps_chinese_names(desktop: Page) -> None:
    page = desktop.open(f"/sections?month={fx.MONTH}")
    desktop.testid("section-class-nanzhuang").wait_for()
    desktop.testid("lang-toggle").click()
    row = desktop.testid("section-row-boshuicun")
    row.wait_for()
    page.wait_for_function("document.documentElement.lang === 'en'")
    text = row.inner_text()
    assert "泊水村" in text and "provincial" in text and "off target" in text
    assert "total phosphorus (1.00)" in text
    assert desktop.testid("section-class-hexicun").inner_text() == "ice"
    assert desktop.bg("section-class-nanzhuang") == WORSE_RED
    assert page.get_by_role("navigation").get_by_role("link", name="Sections").is_visible()
    assert "heavily polluted" in desktop.testid("river-hutuo").inner_text()
    desktop.shot("sections-1366-en")
    assert desktop.errors == []


def test_a_month_that_has_not_started_says_so(desktop: Page) -> None:
    desktop.open("/sections?month=2999-01")
    message = desktop.page.locator(".msg.error")
    message.wait_for()
    assert "2999-01" in message.inner_text()
    assert desktop.testid("sections-month").input_value() == "2999-01"


def test_phone_layout_fits_without_sideways_scroll(phone: Page) -> None:
    page = phone.open(f"/sections?month={fx.MONTH}")
    phone.testid("river-hutuo").wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"
    phone.shot("sections-390")
    assert phone.errors == []


def test_the_river_view_places_each_outfall_between_its_sections_and_marks_one_over_its_limit(
    desktop: Page, fake: FakeCollector
) -> None:
    # /api/outfalls as collector/api/outfalls.py gives it: the demo outfall above 界河铺村 over its NH3-N limit.
    fake.outfalls = [
        {
            "id": "hutuo_demo",
            "name_zh": "滹沱河演示排口",
            "name_en": "Hutuo demo outfall",
            "enterprise_zh": "演示：城镇污水处理厂",
            "enterprise_en": "Demo: a town wastewater treatment plant",
            "river": "hutuo",
            "section": "jiehepucun",
            "order": 4.5,
            "standard": "GB 18918-2002 一级A",
            "reporting": True,
            "latest": {"w21003": {"value": 6.4, "over": True}},
            "over": ["w21003"],
        }
    ]
    page = desktop.open(f"/sections?month={fx.MONTH}")
    hutuo = desktop.testid("river-hutuo")
    hutuo.locator('[data-testid="river-outfall-hutuo_demo"]').wait_for()
    order = [n.get_attribute("data-testid") for n in hutuo.locator(".flow-node").all()]
    at = order.index("river-outfall-hutuo_demo")
    assert order[at - 1 : at + 2] == [
        "river-node-boshuicun",
        "river-outfall-hutuo_demo",
        "river-node-jiehepucun",
    ]
    node = desktop.testid("river-outfall-hutuo_demo")
    assert node.get_attribute("data-over") == "true"
    assert "滹沱河演示排口" in node.inner_text() and "超排放限值" in node.inner_text()
    assert "/api/outfalls" in fake.requests
    assert page is not None and desktop.errors == []
