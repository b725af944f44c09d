"""collector/retention.py: the cutoff, the batches, and a pass that moves only what is old enough."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.config import parse_config
from collector.retention import RetentionJob, batches, cutoff
from collector.service import CollectorService
from collector.store.sqlite import SqliteStore
from tests.collector.factories import T0, batch, config, received


def test_the_cutoff_is_a_local_midnight_raw_days_back() -> None:
    # 2026-07-10 03:00 UTC is 11:00 on the 10th in Shanghai: 400 days back from that local midnight.
    now = datetime(2026, 7, 10, 3, 0, tzinfo=UTC)
    assert cutoff(now, 400) == datetime(2025, 6, 4, 16, 0, tzinfo=UTC)
    # 20:00 UTC on the 9th is already the 10th in Shanghai.
    assert cutoff(datetime(2026, 7, 9, 20, 0, tzinfo=UTC), 1) == datetime(2026, 7, 8, 16, 0, tzinfo=UTC)


def test_batches_are_whole_hours_from_the_oldest_reading_s_hour_to_the_cutoff() -> None:
    oldest = datetime(2026, 7, 1, 5, 42, tzinfo=UTC)
    until = datetime(2026, 7, 2, 16, 0, tzinfo=UTC)
    spans = batches(oldest, until, 24)
    assert spans == [
        (datetime(2026, 7, 1, 5, tzinfo=UTC), datetime(2026, 7, 2, 5, tzinfo=UTC)),
        (datetime(2026, 7, 2, 5, tzinfo=UTC), until),
    ]
    assert batches(until, until, 24) == []


def test_a_pass_moves_the_readings_older_than_the_cutoff_and_no_others(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    try:
        # One reading an hour for four days from T0 (2026-07-01 00:00 UTC).
        store.apply([received(batch(n=96, step_s=3600.0))])
        store.apply([received(batch("huayuanzi", n=10, step_s=3600.0))])
        now = T0 + timedelta(days=4)  # 08:00 on 5 July in Shanghai: the cutoff is 2 July 16:00 UTC (2 days)
        job = RetentionJob(store, 2, batch_hours=6, pause_s=0.0, clock=lambda: now)
        assert job.run_once() == 40 + 10  # hexicun's hours 0..39, all ten of huayuanzi's
        assert store.oldest_raw("hexicun") == T0 + timedelta(hours=40)
        assert store.oldest_raw("huayuanzi") is None
        assert job.run_once() == 0
        stats = store.period_stats(["hexicun"], T0, T0 + timedelta(days=4))[("hexicun", "w01010")]
        assert (stats.n_all, stats.sum_valid) == (96, sum(10.0 + i for i in range(96)))
    finally:
        store.close()


def test_retention_is_off_unless_configured() -> None:
    assert parse_config("").retention.raw_days == 0
    config = parse_config("[retention]\nraw_days = 400\nbatch_hours = 12\n")
    assert (config.retention.raw_days, config.retention.batch_hours) == (400, 12)


def test_the_service_runs_retention_in_the_background_when_configured(tmp_path: Path) -> None:
    (tmp_path / "on").mkdir()
    now = T0 + timedelta(days=4)
    on = CollectorService(
        config(tmp_path / "on", "[retention]\nraw_days = 2\npause_s = 0\n"), clock=lambda: now, tick_s=3600
    )
    off = CollectorService(config(tmp_path), clock=lambda: now, tick_s=3600)
    try:
        assert off.retention is None
        assert on.retention is not None
        on.store.apply([received(batch(n=96, step_s=3600.0))])
        on.start(mqtt=False)
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while on.store.oldest_raw("hexicun") != T0 + timedelta(hours=40) and datetime.now(UTC) < deadline:
            time.sleep(0.05)
        assert on.store.oldest_raw("hexicun") == T0 + timedelta(hours=40)
    finally:
        on.stop()
        off.store.close()
        off.inbox.close()
