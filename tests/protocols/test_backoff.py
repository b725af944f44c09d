"""The one back-off formula: growth, cap, jitter bounds, and the two forms agreeing."""

from __future__ import annotations

import pytest

from protocols.backoff import exponential, full_jitter, grow, proportional_jitter


def test_exponential_grows_from_the_base_and_stops_at_the_cap() -> None:
    assert [exponential(a, 0.5, 30.0) for a in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert [exponential(a, 2.0, 300.0, factor=3.0) for a in range(5)] == [2.0, 6.0, 18.0, 54.0, 162.0]
    assert exponential(0, 1.0, 0.25) == 0.25  # a cap below the base wins
    assert exponential(5, 1.0, 10.0, factor=1.0) == 1.0  # factor 1: a constant wait


def test_exponential_survives_attempt_numbers_far_past_the_cap() -> None:
    assert exponential(10_000, 0.5, 30.0) == 30.0  # 2.0**10000 overflows a float: the cap, not an error
    assert exponential(1_000_000, 1e-9, 5.0, factor=1.5) == 5.0
    with pytest.raises(ValueError, match="start at 0"):
        exponential(-1, 1.0, 2.0)


def test_grow_is_the_step_form_of_exponential() -> None:
    delay, seen = 1.0, []
    for attempt in range(10):
        seen.append(delay)
        assert delay == exponential(attempt, 1.0, 30.0)
        delay = grow(delay, 30.0)
    assert seen[-1] == 30.0 and grow(30.0, 30.0) == 30.0
    assert grow(0.0, 30.0) == 0.0  # a zero wait stays zero
    assert grow(4.0, 100.0, factor=1.5) == 6.0


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999, 1.0])
def test_full_jitter_stays_between_its_bounds(draw: float) -> None:
    wait = full_jitter(0.5, 8.0, draw)
    assert 0.5 <= wait <= 8.0
    assert wait == pytest.approx(0.5 + 7.5 * draw)


def test_full_jitter_ends() -> None:
    assert full_jitter(0.5, 8.0, 0.0) == 0.5 and full_jitter(0.5, 8.0, 1.0) == 8.0
    assert full_jitter(3.0, 3.0, 0.7) == 3.0


@pytest.mark.parametrize("draw", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_proportional_jitter_spreads_around_the_nominal_wait(draw: float) -> None:
    wait = proportional_jitter(10.0, 0.2, draw)
    assert 8.0 <= wait <= 12.0
    assert wait == pytest.approx(10.0 * (1 + 0.2 * (2 * draw - 1)))


def test_proportional_jitter_ends_and_middle() -> None:
    assert proportional_jitter(10.0, 0.2, 0.5) == 10.0
    assert proportional_jitter(10.0, 0.2, 0.0) == pytest.approx(8.0)
    assert proportional_jitter(10.0, 0.2, 1.0) == pytest.approx(12.0)
    assert proportional_jitter(10.0, 0.0, 0.9) == 10.0  # no jitter
