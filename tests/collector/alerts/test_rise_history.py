"""collector/alerts/rise_history.py: the sudden-rise history as two arrays — exact times, the same lookups as
the list of (datetime, value) pairs it replaces, the same persisted form, and a fraction of the memory."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from collector.alerts.model import EngineState, ParamMemo
from collector.alerts.rise_history import RiseHistory
from collector.timestamps import to_us
from tests.fuzz_settings import Budget, budgets, check

T0 = datetime(2026, 7, 15, 0, 0, 0, 123457, tzinfo=UTC)


def test_times_are_exact_to_the_microsecond_and_persist_as_pairs() -> None:
    history = RiseHistory([(T0, 0.1), (T0 + timedelta(minutes=10, microseconds=1), 1.6)])
    assert history[1] == (T0 + timedelta(minutes=10, microseconds=1), 1.6)
    state = EngineState(params={"hexicun|w21003": ParamMemo(history=history)})
    text = state.model_dump_json()
    assert '"history":[["2026-07-15T00:00:00.123457Z",0.1],["2026-07-15T00:10:00.123458Z",1.6]]' in text
    assert EngineState.model_validate_json(text).params["hexicun|w21003"].history == history


def test_old_entries_go_and_the_length_is_capped() -> None:
    history = RiseHistory((T0 + timedelta(minutes=m), float(m)) for m in range(10))
    history.drop_before(to_us(T0 + timedelta(minutes=3)))
    assert [v for _, v in history.entries()] == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    history.keep_last(2)
    assert history.entries() == [(T0 + timedelta(minutes=8), 8.0), (T0 + timedelta(minutes=9), 9.0)]


def lookup_matches_a_search_of_the_pairs(minutes: list[int], probe: int, span: int) -> None:
    pairs = [(T0 + timedelta(minutes=m), float(m)) for m in sorted(minutes)]
    t = T0 + timedelta(minutes=probe)
    expected = -1  # the newest pair at least span old and strictly older than t
    for j, (when, _) in enumerate(pairs):
        if when <= t - timedelta(minutes=span) and when < t:
            expected = j
    history = RiseHistory(pairs)
    assert history.newest_at_or_before(to_us(t - timedelta(minutes=span)), to_us(t)) == expected


@budgets(300)
def test_the_reference_lookup_matches_a_search_of_the_pairs(budget: Budget) -> None:
    check(
        lookup_matches_a_search_of_the_pairs,
        budget,
        st.lists(st.integers(0, 600), max_size=40),
        st.integers(-10, 700),
        st.integers(0, 120),
    )


def test_an_entry_costs_sixteen_bytes_not_a_tuple_a_datetime_and_a_float() -> None:
    n = 10_000
    history = RiseHistory((T0 + timedelta(seconds=s), 1.5 + s) for s in range(n))
    compact = sys.getsizeof(history.times) + sys.getsizeof(history.values)
    pairs = history.entries()
    as_pairs = sys.getsizeof(pairs) + sum(
        sys.getsizeof(p) + sys.getsizeof(p[0]) + sys.getsizeof(p[1]) for p in pairs
    )
    assert compact < 20 * n and as_pairs > 6 * compact
