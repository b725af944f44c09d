"""The agent config's station id (a msgspec pattern) accepts exactly what the wire contract accepts
(protocols.topics.is_station_id): a station whose config loads can always publish."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import strategies as st

from agent.config import StationConfig
from protocols.messages import STATION_ID_PATTERN
from protocols.tomldoc import convert
from protocols.topics import RESERVED_IDS, is_station_id
from tests.fuzz_settings import Budget, budgets, check


def config_accepts(value: str) -> bool:
    try:
        convert({"id": value}, StationConfig)
    except msgspec.ValidationError:
        return False
    return True


EDGES = [
    "", "a", "0", "hexicun", "a" * 32, "a" * 33, "-a", "_a", "a-", "a_", "a-b_c", "A", "hexiCun", "a b",
    "a\n", "\na", "a\x00", "ä", "a.b", "a/b", "+", "#", *RESERVED_IDS, *(r + "x" for r in RESERVED_IDS),
    *("x" + r for r in RESERVED_IDS), *(r.upper() for r in RESERVED_IDS),
]  # fmt: skip


@pytest.mark.parametrize("value", EDGES)
def test_edges_agree_with_the_wire_contract(value: str) -> None:
    assert config_accepts(value) == is_station_id(value), (value, STATION_ID_PATTERN)


@budgets(300)
def test_any_text_agrees_with_the_wire_contract(budget: Budget) -> None:
    def agrees(value: str) -> None:
        assert config_accepts(value) == is_station_id(value), value

    alphabet = st.sampled_from("abz09_-A\n .") | st.characters()
    check(agrees, budget, st.text(alphabet, max_size=40) | st.sampled_from(sorted(RESERVED_IDS)))
