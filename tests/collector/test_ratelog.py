"""One log line a minute for a failure that repeats, with the count of those not logged."""

from __future__ import annotations

import logging

import pytest

from collector.ratelog import RateLimitedLog


def test_one_line_a_minute_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("test.ratelog"), 60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "test.ratelog"):
        assert limited.failed("commit failed: %s", "disk full")
        for i in range(1000):
            now[0] = i * 0.05
            limited.failed("commit failed: %s", "disk full")
        now[0] = 60.0
        assert limited.failed("commit failed: %s", "disk full")
        now[0] = 61.0
        limited.failed("commit failed: %s", "disk full")
        assert limited.recovered("writable again")
        assert not limited.recovered("writable again")  # only after a failure
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "commit failed: disk full",
        "commit failed: disk full (1000 more like it in the last 60 s)",
        "writable again (1 failures not logged before)",
    ]
