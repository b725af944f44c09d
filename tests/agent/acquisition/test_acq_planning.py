"""Register-request coalescing (protocols.planning)."""

from __future__ import annotations

import pytest

from protocols.errors import ConfigError, RegisterError
from protocols.planning import ReadRequest, RegisterImage, Span, plan, plan_profile
from protocols.profiles import builtin_names, load_profile


def covers(requests: list[ReadRequest], spans: list[Span]) -> bool:
    return all(any(r.address <= s.address and s.end <= r.end for r in requests) for s in spans)


def test_adjacent_spans_coalesce_into_one_request() -> None:
    spans = [Span(0, 2), Span(2, 2), Span(4, 1), Span(5, 1)]
    assert plan(spans, 125) == [ReadRequest(0, 6)]


def test_order_of_spans_does_not_matter() -> None:
    spans = [Span(5, 1), Span(0, 2), Span(4, 1), Span(2, 2)]
    assert plan(spans, 125) == [ReadRequest(0, 6)]


def test_max_registers_splits_without_tearing_a_value() -> None:
    spans = [Span(0, 2), Span(2, 2), Span(4, 2), Span(6, 2)]
    result = plan(spans, 5)
    assert result == [ReadRequest(0, 4), ReadRequest(4, 4)]
    assert all(r.count <= 5 for r in result)


def test_holes_are_bridged_by_default_but_not_with_max_gap_zero() -> None:
    spans = [Span(0, 2), Span(8, 2), Span(20, 1)]
    assert plan(spans, 64) == [ReadRequest(0, 21)]
    assert plan(spans, 64, max_gap=0) == [ReadRequest(0, 2), ReadRequest(8, 2), ReadRequest(20, 1)]
    assert plan(spans, 64, max_gap=6) == [ReadRequest(0, 10), ReadRequest(20, 1)]


def test_a_hole_wider_than_a_request_starts_a_new_one() -> None:
    assert plan([Span(0, 2), Span(200, 2)], 125) == [ReadRequest(0, 2), ReadRequest(200, 2)]


def test_greedy_is_minimal_on_an_exhaustive_small_case() -> None:
    # Every set of 1- and 2-register spans on 0..11 with window 4: compare with brute-force minimum.
    import itertools

    def brute(spans: list[Span], window: int) -> int:
        # minimal number of windows [a, a+window) covering each span whole; candidate starts = span starts
        starts = sorted({s.address for s in spans})
        for k in range(1, len(spans) + 1):
            for combo in itertools.combinations(starts, k):
                if all(any(a <= s.address and s.end <= a + window for a in combo) for s in spans):
                    return k
        return len(spans)

    layouts = [
        [Span(0, 2), Span(3, 1), Span(5, 2), Span(9, 1)],
        [Span(1, 1), Span(2, 2), Span(6, 2), Span(8, 1)],
        [Span(0, 1), Span(4, 2), Span(7, 1), Span(10, 2)],
    ]
    for spans in layouts:
        result = plan(spans, 4)
        assert covers(result, spans)
        assert len(result) == brute(spans, 4)


def test_a_value_wider_than_a_request_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="does not fit"):
        plan([Span(0, 4)], 2)


def test_overlapping_spans_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="overlap"):
        plan([Span(0, 2), Span(1, 2)], 10)


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_profile_needs_one_request(name: str) -> None:
    profile = load_profile(name)
    requests = plan_profile(profile)
    assert len(requests) == 1
    assert requests[0].count <= profile.max_registers_per_request


def test_probe_contiguous_plan_reads_around_the_hole() -> None:
    assert plan_profile(load_profile("multiparam_probe"), max_gap=0) == [
        ReadRequest(0, 10),
        ReadRequest(20, 1),
    ]


def test_register_image_checks_counts_and_unread_registers() -> None:
    image = RegisterImage()
    image.add(ReadRequest(10, 2), [1, 2])
    assert image.get(10, 2) == [1, 2]
    with pytest.raises(RegisterError):
        image.add(ReadRequest(0, 3), [1, 2])
    with pytest.raises(RegisterError, match="not read"):
        image.get(11, 2)
