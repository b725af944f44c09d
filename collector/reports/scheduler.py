"""The running collector's maker of products on schedule (issue 13 item 7): a thread of its own that, at each
product's cron time (schedule.py), makes the period just ended, archives it (making.py) and pushes the daily
warning's summary with a link to the notifiers.

It never holds the ingest path: it runs beside the applier, and where the service opened its own store it
reads through a second connection (``store_url``), so that a month of aggregates does not wait on, nor hold,
the applier's connection and its lock. What it has done is kept in the store (a blob), so a restart catches
up a missed run once, and a first start makes nothing until the next scheduled time.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime

from collector.assessing import Assessor, ExcludedFn, utcnow
from collector.assessment.periods import FloodSeason
from collector.config import CollectorConfig
from collector.notify.notice import REPORT, Notice
from collector.reports.context import ReportContext
from collector.reports.document import Report, ReportKind
from collector.reports.making import Made, Maker, Renderer, make_product, real_maker, real_renderer
from collector.reports.schedule import Memory, Run, next_runs, plan
from collector.store.base import Store

log = logging.getLogger("qingliu.collector.reports")

SCHEDULE_KEY = "reports_schedule"  # the blob of what the scheduler has done (schedule.Memory)
POLL_S = 20.0  # how often the thread looks at the clock: cron has minute resolution
MAX_KEPT = 20

Announce = Callable[[Notice], object]


def daily_link(base_url: str, period: str) -> str:
    """The dashboard's page of a daily warning; "" without a configured base URL."""
    return f"{base_url.rstrip('/')}/#/reports/daily/{period}" if base_url else ""


def push_notice(report: Report, base_url: str) -> Notice | None:
    """The daily warning's one message (``Report.push``) as a notice with its link; None when it has none."""
    if report.push is None:
        return None
    return Notice(
        kind=REPORT,
        title_zh=f"{report.title_zh} {report.period}",
        title_en=f"{report.title_en} {report.period}",
        text_zh=report.push.zh,
        text_en=report.push.en,
        at=report.made_at,
        link=daily_link(base_url, report.period),
        subject={"kind": report.kind.value, "period": report.period},
    )


class ReportScheduler:
    def __init__(
        self,
        config: CollectorConfig,
        *,
        store: Store | None = None,
        store_url: str = "",
        clock: Callable[[], datetime] = utcnow,
        announce: Announce | None = None,
        excluded: ExcludedFn | None = None,
        maker: Maker = real_maker,
        renderer: Renderer = real_renderer,
        poll_s: float = POLL_S,
    ) -> None:
        """``store``: read and archive through it (the service's own, e.g. one a test handed in); else a
        store of its own opened from ``store_url`` in the thread and closed when it stops."""
        if store is None and not store_url:
            raise ValueError("a store or a store URL is needed")
        self.config = config
        self.settings = config.reports
        self.clock = clock
        self.announce = announce
        self.maker = maker
        self.renderer = renderer
        self.poll_s = poll_s
        self._excluded = excluded
        self._given = store
        self._url = store_url
        self._store: Store | None = store
        self._ctx: ReportContext | None = None
        self._memory: Memory | None = None
        self.season = FloodSeason(config.assessment.flood_first_month, config.assessment.flood_last_month)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one pass at a time (the thread, or a test calling run_due)
        # The latest runs of this process (None: the making failed), for tests and a look in a debugger.
        self.made: deque[tuple[Run, Made | None]] = deque(maxlen=MAX_KEPT)

    # -- one pass --------------------------------------------------------------------------------------------

    def _open(self) -> ReportContext:
        if self._ctx is None:
            if self._store is None:
                from collector.store import open_store

                self._store = open_store(self._url)
            self._ctx = ReportContext(
                assessor=Assessor.from_config(
                    self.config, self._store, excluded=self._excluded, clock=self.clock
                ),
                store=self._store,
                settings=self.settings,
                stations=self.config.stations,
                config=self.config,
                clock=self.clock,
            )
        return self._ctx

    def _load(self, store: Store) -> Memory:
        if self._memory is None:
            text = store.load_blob(SCHEDULE_KEY)
            try:
                self._memory = Memory.load(json.loads(text)) if text else Memory()
            except (ValueError, KeyError, TypeError, AttributeError):
                log.warning("the report schedule's memory is unreadable; starting afresh")
                self._memory = Memory()
        return self._memory

    def run_due(self) -> list[tuple[Run, Made | None]]:
        """Make every product due now, archive it, push the daily warning; what was run."""
        with self._lock:
            ctx = self._open()
            runs, memory = plan(self.settings, self.season, ctx.now(), self._load(ctx.store))
            done: list[tuple[Run, Made | None]] = []
            for run in runs:
                done.append((run, self._make(ctx, run)))
                if self._stop.is_set():
                    break
            if memory != self._memory:
                self._memory = memory
                ctx.store.save_blob(SCHEDULE_KEY, json.dumps(memory.dump()))
            self.made.extend(done)
            return done

    def _make(self, ctx: ReportContext, run: Run) -> Made | None:
        try:
            made = make_product(
                ctx, run.kind, run.ref, archive=True, maker=self.maker, renderer=self.renderer
            )
        except Exception:
            log.exception("the %s product for %s could not be made", run.kind.value, run.ref)
            return None
        log.info("made the %s product for %s", run.kind.value, run.ref)
        if run.kind is ReportKind.DAILY and self.settings.push_daily and self.announce is not None:
            notice = push_notice(made.report, self.settings.base_url)
            if notice is not None:
                self.announce(notice)
        return made

    def next_runs(self) -> dict[str, datetime | None]:
        return next_runs(self.settings, self.clock())

    # -- the thread ------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="collector-reports", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the product being made (waiting up to ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.run_due()
                except Exception:  # the store not answering: try again at the next look
                    log.exception("the report schedule could not run")
                if self._stop.wait(self.poll_s):
                    break
        finally:
            if self._given is None and self._store is not None:
                self._store.close()


__all__ = ["SCHEDULE_KEY", "ReportScheduler", "daily_link", "push_notice"]
