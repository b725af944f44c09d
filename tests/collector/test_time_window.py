"""The receiver's window of plausible sample times (collector.ingest.time_suspects): its edges, and extreme
but representable times give a reason, never an overflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collector.ingest import AHEAD_OF_CLOCK, BEFORE_EARLIEST, TimeWindow, time_suspects
from protocols.messages import Reading, ReadingBatch

NOW = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
WINDOW = TimeWindow()


def suspects(*times: datetime, window: TimeWindow = WINDOW) -> dict[int, str]:
    readings = [Reading(param="w01010", t=t, value=10.0) for t in times]
    return dict(
        time_suspects(ReadingBatch(station="hexicun", seq=1, sent_at=NOW, readings=readings), NOW, window)
    )


def test_the_edges_are_inside() -> None:
    assert suspects(WINDOW.earliest, NOW, NOW + WINDOW.max_ahead, NOW - timedelta(days=3650)) == {}


def test_just_outside_either_edge() -> None:
    early, late = WINDOW.earliest - timedelta(microseconds=1), NOW + WINDOW.max_ahead + timedelta(seconds=1)
    assert suspects(NOW, early, late) == {1: BEFORE_EARLIEST, 2: AHEAD_OF_CLOCK}


def test_extreme_times_give_a_reason_not_an_overflow() -> None:
    extreme = suspects(datetime(9999, 12, 31, 23, 59, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC))
    assert extreme == {0: AHEAD_OF_CLOCK, 1: BEFORE_EARLIEST}


def test_a_configured_window() -> None:
    strict = TimeWindow(earliest=NOW, max_ahead=timedelta(0))
    assert suspects(NOW, window=strict) == {}
    assert suspects(NOW - timedelta(microseconds=1), NOW + timedelta(microseconds=1), window=strict) == {
        0: BEFORE_EARLIEST,
        1: AHEAD_OF_CLOCK,
    }
