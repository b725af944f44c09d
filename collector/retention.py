"""Retention: raw readings older than ``[retention] raw_days`` move into hourly aggregates, in the background.

A pass walks every station with readings, oldest first, and moves its raw readings older than the cutoff into
``readings_hourly`` (collector/store/retention_rows.py) in batches of ``batch_hours``, each batch one short
transaction, with ``pause_s`` between them: the applier's commits go on in between, so ingest is never held for
more than one batch. The period queries answer from raw rows and aggregates together, so an assessment of an
old period gives the same figures after retention as before. The aggregates are kept for as long as the
store lives. The cutoff is a local midnight (``tz``): a local day is either all raw or all aggregated.

``raw_days = 0`` (the default) keeps every raw reading. On PostgreSQL ``readings`` is partitioned by UTC month
(collector/store/postgres_partitions.py): a pass first makes the coming months' partitions, then retires each
month wholly older than the cutoff at once (aggregated, then detached and dropped, one partition per transaction)
instead of deleting its rows; the rest (the cutoff's own month, the DEFAULT partition) goes in batches as above.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from collector.store.base import Store

log = logging.getLogger("qingliu.collector.retention")

HOUR = timedelta(hours=1)


def cutoff(now: datetime, raw_days: int, tz: str = "Asia/Shanghai") -> datetime:
    """The local midnight ``raw_days`` days before ``now``'s local day, in UTC: older raw readings go."""
    local = now.astimezone(ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=raw_days)
    return midnight.astimezone(UTC)


def batches(oldest: datetime, until: datetime, batch_hours: int) -> list[tuple[datetime, datetime]]:
    """[start, end) spans of whole hours from the hour of ``oldest`` up to ``until``, ``batch_hours`` each. Pure."""
    start = oldest.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    spans = []
    while start < until:
        end = min(start + batch_hours * HOUR, until)
        spans.append((start, end))
        start = end
    return spans


class RetentionJob:
    def __init__(
        self,
        store: Store,
        raw_days: int,
        *,
        batch_hours: int = 24,
        pause_s: float = 0.2,
        every_s: float = 3600.0,
        tz: str = "Asia/Shanghai",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.raw_days = raw_days
        self.batch_hours = batch_hours
        self.pause_s = pause_s
        self.every_s = every_s
        self.tz = tz
        self.clock = clock
        self.moved = 0  # raw readings moved into aggregates since the start (a counter for /metrics)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One pass over every station; how many raw readings moved. Stops between batches when asked."""
        now = self.clock()
        until = cutoff(now, self.raw_days, self.tz)
        moved = 0
        # PostgreSQL: the coming months' partitions made, then each month wholly older than the cut retired at
        # once (one partition, one transaction). What is left (the cut's own month, DEFAULT) goes in batches.
        try:
            self.store.prepare_partitions(now)
        except Exception:  # a lock not had in time: meanwhile DEFAULT takes the new month's readings
            log.warning("retention: the coming months' partitions not made in this pass", exc_info=True)
        for name in self.store.retirable_partitions(until):
            if self._stop.is_set():
                return moved
            try:
                moved += self.store.retire_partition(name)
            except Exception:  # a lock not had in time: its rows go in batches below, the partition next pass
                log.warning("retention: partition %s not retired in this pass", name, exc_info=True)
            self._stop.wait(self.pause_s)
        for station in self.store.retention_stations():
            oldest = self.store.oldest_raw(station)
            if oldest is None or oldest >= until:
                continue
            for start, end in batches(oldest, until, self.batch_hours):
                if self._stop.is_set():
                    return moved
                moved += self.store.retire_raw(station, start, end)
                self._stop.wait(self.pause_s)  # the applier's commits go in between
        self.moved += moved
        if moved:
            log.info("retention: %d raw readings older than %s moved into hourly aggregates", moved, until)
        return moved

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="collector-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.run_once()
            except Exception:
                log.exception("retention pass failed (tried again at the next one)")
            self._stop.wait(max(0.0, self.every_s - (time.monotonic() - started)))
