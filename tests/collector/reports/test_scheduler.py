"""Products on schedule (collector/reports/scheduler.py) with a fixed clock, on both engines: nothing on a first
start, the daily warning at its time, archived and pushed with its link to a real webhook receiver, once; a
restart catches up the run it missed once; and the running collector starts and stops the scheduler."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from collector.config import CollectorConfig, NotifyTarget, ReportsConfig
from collector.notify.sender import Notifier, specs_from_config
from collector.reports.document import ReportKind
from collector.reports.schedule import Run
from collector.reports.scheduler import SCHEDULE_KEY, ReportScheduler, daily_link
from collector.service import CollectorService
from collector.store.base import Store
from collector.store.sqlite import SqliteStore
from tests.collector.factories import config as service_config
from tests.collector.notify.http_sink import Sink, http_sink
from tests.collector.reports.fakes import fake_maker, fake_renderer

SH = ZoneInfo("Asia/Shanghai")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SH).astimezone(UTC)


def settings(sink: Sink, **reports: object) -> CollectorConfig:
    return CollectorConfig(
        reports=ReportsConfig(
            weekly_at="", monthly_at="", flood_at="", base_url="https://water.example.org/", **reports
        ),
        notify=[NotifyTarget(kind="webhook", name="bureau", url=f"{sink.url}/hook")],
    )


def scheduler(
    config: CollectorConfig, store: Store, clock: list[datetime], notifier: Notifier
) -> ReportScheduler:
    return ReportScheduler(
        config,
        store=store,
        clock=lambda: clock[0],
        announce=notifier.announce,
        maker=fake_maker,
        renderer=fake_renderer,
    )


def test_the_daily_warning_is_made_at_its_time_archived_and_pushed_once(store: Store) -> None:
    with http_sink() as sink:
        config = settings(sink)
        notifier = Notifier(specs_from_config(config.notify))
        notifier.start()
        try:
            clock = [sh(2026, 7, 2, 10, 0)]
            first = scheduler(config, store, clock, notifier)
            assert first.run_due() == []  # a first start: nothing until the next time
            assert json.loads(store.load_blob(SCHEDULE_KEY) or "") == {
                "done": {"daily": "2026-07-02T00:00:00+00:00"}
            }
            clock[0] = sh(2026, 7, 3, 7, 59)
            assert first.run_due() == []
            clock[0] = sh(2026, 7, 3, 8, 0, 20)
            [(run, made)] = first.run_due()
            assert run == Run(ReportKind.DAILY, sh(2026, 7, 3, 8, 0), "2026-07-02")
            assert made is not None and made.archived is not None
            held = store.report("daily", "2026-07-02")
            assert held is not None and held.made_at == clock[0] and held.partial is False
            [post] = sink.wait_for(1)
            assert post["path"] == "/hook"
            body = post["json"]
            assert body["type"] == "report" and body["report"] == {"kind": "daily", "period": "2026-07-02"}
            assert body["title_zh"] == "水质日预警 2026-07-02"
            assert body["text_zh"] == "日预警 2026-07-02：共 0 条"
            assert body["link"] == "https://water.example.org/#/reports/daily/2026-07-02"
            assert body["at"] == "2026-07-03T00:00:20Z"
            clock[0] = sh(2026, 7, 3, 12, 0)
            assert first.run_due() == []  # once

            # Stopped on the 3rd, started again on the 6th at 09:00: the latest missed run, once.
            clock[0] = sh(2026, 7, 6, 9, 0)
            again = scheduler(config, store, clock, notifier)
            assert [run.ref for run, _ in again.run_due()] == ["2026-07-05"]
            assert again.run_due() == []
            assert [r.period for r in store.reports(kind="daily")] == ["2026-07-05", "2026-07-02"]
            posts = sink.wait_for(2)
            assert [p["json"]["report"]["period"] for p in posts] == ["2026-07-02", "2026-07-05"]
        finally:
            notifier.stop()


def test_without_push_daily_nothing_is_pushed_and_a_failing_product_is_not_retried(store: Store) -> None:
    with http_sink() as sink:
        config = settings(sink, push_daily=False)
        notifier = Notifier(specs_from_config(config.notify))
        notifier.start()
        try:
            clock = [sh(2026, 7, 2, 10, 0)]
            made = scheduler(config, store, clock, notifier)
            made.run_due()
            clock[0] = sh(2026, 7, 3, 8, 1)
            [(_, result)] = made.run_due()
            assert result is not None and store.report("daily", "2026-07-02") is not None
            assert notifier.wait_idle(2) and sink.posts == []

            def broken(*args: object) -> None:
                raise RuntimeError("no data")

            failing = ReportScheduler(config, store=store, clock=lambda: clock[0], maker=broken)  # type: ignore[arg-type]
            clock[0] = sh(2026, 7, 4, 8, 1)
            [(run, nothing)] = failing.run_due()
            assert run.ref == "2026-07-03" and nothing is None
            assert failing.run_due() == []  # counted as done: not retried every look at the clock
        finally:
            notifier.stop()


def test_the_link_needs_a_base_url() -> None:
    assert daily_link("", "2026-07-02") == ""
    assert (
        daily_link("http://10.0.0.5:8000", "2026-07-02") == "http://10.0.0.5:8000/#/reports/daily/2026-07-02"
    )


def test_the_running_collector_runs_the_scheduler_on_its_own_store_connection(tmp_path: Path) -> None:
    clock = [sh(2026, 7, 2, 10, 0)]
    svc = CollectorService(service_config(tmp_path), clock=lambda: clock[0])
    assert svc.reports is not None
    svc.start(mqtt=False)
    try:
        deadline = time.monotonic() + 5
        while svc.store.load_blob(SCHEDULE_KEY) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        memory = json.loads(svc.store.load_blob(SCHEDULE_KEY) or "{}")
        assert memory["done"]["daily"] == "2026-07-02T00:00:00+00:00"  # its first pass ran at start
        assert svc.reports._store is not None and svc.reports._store is not svc.store
    finally:
        svc.stop()
    assert svc.reports._thread is None
    off = CollectorService(
        service_config(tmp_path / "off", "[reports]\nenabled = false\n"), clock=lambda: clock[0]
    )
    assert off.reports is None
    off.store.close()
    off.inbox.close()


def test_a_store_handed_in_is_shared_and_left_open(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "given.db")
    clock = [sh(2026, 7, 2, 10, 0)]
    made = ReportScheduler(CollectorConfig(), store=store, clock=lambda: clock[0], maker=fake_maker)
    made.start()
    made.stop()
    assert store.ping()  # not closed by the scheduler
    store.close()


def test_the_real_daily_warning_is_pushed_as_its_own_push_text(store: Store) -> None:
    with http_sink() as sink:
        config = settings(sink)
        notifier = Notifier(specs_from_config(config.notify))
        notifier.start()
        try:
            clock = [sh(2026, 7, 2, 10, 0)]
            real = ReportScheduler(config, store=store, clock=lambda: clock[0], announce=notifier.announce)
            real.run_due()
            clock[0] = sh(2026, 7, 3, 8, 0, 1)
            [(_, made)] = real.run_due()
            assert made is not None and made.report.push is not None
            [post] = sink.wait_for(1)
            assert post["json"]["text_zh"] == made.report.push.zh
            assert post["json"]["text_en"] == made.report.push.en
            assert post["json"]["link"] == "https://water.example.org/#/reports/daily/2026-07-02"
        finally:
            notifier.stop()
