"""The receiver's time window: before EARLIEST or beyond now + MAX_AHEAD is a violation, with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from protocols.timewindow import EARLIEST, MAX_AHEAD, time_window_violation

NOW = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)


def test_inside_the_window() -> None:
    for t in (EARLIEST, NOW, NOW + MAX_AHEAD, NOW - timedelta(days=3650)):
        assert time_window_violation(t, NOW) is None


def test_too_early_and_too_far_ahead() -> None:
    early = time_window_violation(EARLIEST - timedelta(microseconds=1), NOW)
    assert early is not None and "before 2000-01-01" in early
    ahead = time_window_violation(NOW + MAX_AHEAD + timedelta(seconds=1), NOW)
    assert ahead is not None and "601 s ahead" in ahead


def test_extreme_times_give_a_reason_not_an_overflow() -> None:
    assert time_window_violation(datetime(9999, 12, 31, 23, 59, tzinfo=UTC), NOW) is not None
    assert time_window_violation(datetime(1, 1, 1, tzinfo=UTC), NOW) is not None
    late_now = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    assert time_window_violation(late_now, late_now) is None


def test_custom_window() -> None:
    assert time_window_violation(NOW, NOW, max_ahead=timedelta(0)) is None
    assert time_window_violation(NOW, NOW, earliest=NOW + timedelta(seconds=1)) is not None
