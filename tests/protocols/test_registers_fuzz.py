"""protocols.registers.decode on arbitrary words: a number, or RegisterError; nothing else escapes."""

from __future__ import annotations

import math
from typing import get_args

from hypothesis import strategies as st

from protocols.errors import RegisterError
from protocols.registers import WIDTH, DataType, WordOrder, decode, encode
from tests.fuzz_settings import Budget, budgets, check

TYPES = list(get_args(DataType))
ORDERS = list(get_args(WordOrder))


@budgets(500)
def test_decode_returns_a_number_or_its_own_error(budget: Budget) -> None:
    def prop(data_type: DataType, order: WordOrder, words: list[int]) -> None:
        try:
            value = decode(words, data_type, order)
        except RegisterError as exc:
            assert exc.reason in {"width", "word"}
            assert len(words) != WIDTH[data_type] or any(not 0 <= w <= 0xFFFF for w in words)
            return
        assert isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(value, float) and math.isfinite(value):
            assert decode(encode(value, data_type, order), data_type, order) == value
        elif isinstance(value, int):
            assert encode(value, data_type, order) == words

    word = st.integers(0, 0xFFFF) | st.integers(-(2**20), 2**20)
    check(
        prop,
        budget,
        st.sampled_from(TYPES),
        st.sampled_from(ORDERS),
        st.lists(word, max_size=5) | st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=4),
    )


@budgets(300)
def test_encode_fits_or_raises_its_own_error(budget: Budget) -> None:
    def prop(data_type: DataType, order: WordOrder, value: int | float) -> None:
        try:
            words = encode(value, data_type, order)
        except RegisterError as exc:
            assert exc.reason == "range"
            return
        assert len(words) == WIDTH[data_type] and all(0 <= w <= 0xFFFF for w in words)

    numbers = st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    check(prop, budget, st.sampled_from(TYPES), st.sampled_from(ORDERS), numbers)


def test_a_word_that_is_not_an_integer_is_a_register_error() -> None:
    for word in (1.5, "1", None):
        try:
            decode([word], "uint16")  # type: ignore[list-item]
        except RegisterError as exc:
            assert exc.reason == "word"
        else:
            raise AssertionError(f"{word!r} accepted")
