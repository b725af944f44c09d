"""Modbus register decoding: every type in every order round-trips; known byte layouts are exact."""

from __future__ import annotations

import math
import random
import struct

import pytest

from protocols import registers
from protocols.errors import RegisterError

TYPES = ("int16", "uint16", "int32", "uint32", "float32", "float64")
ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")

SAMPLES: dict[str, list[float]] = {
    "int16": [0, 1, -1, 32767, -32768, 12345],
    "uint16": [0, 1, 65535, 0x1234],
    "int32": [0, -1, 2**31 - 1, -(2**31), 0x12345678, -123456],
    "uint32": [0, 2**32 - 1, 0x12345678, 1_767_225_600],
    "float32": [0.0, 12.5, -7.25, 1.0e-3, 3.4e38, -0.0],
    "float64": [0.0, 1.0, -2.5e-300, math.pi, 1.0e300],
}


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("data_type", TYPES)
def test_round_trip_every_type_and_order(data_type: registers.DataType, order: registers.WordOrder) -> None:
    for value in SAMPLES[data_type]:
        words = registers.encode(value, data_type, order)
        assert len(words) == registers.WIDTH[data_type]
        assert all(0 <= w <= 0xFFFF for w in words)
        decoded = registers.decode(words, data_type, order)
        if data_type == "float32":
            assert decoded == struct.unpack(">f", struct.pack(">f", value))[0]
        else:
            assert decoded == value
        assert math.copysign(1, decoded) == math.copysign(1, value)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("data_type", TYPES)
def test_random_words_decode_and_re_encode(data_type: registers.DataType, order: registers.WordOrder) -> None:
    rng = random.Random(hash((data_type, order)) & 0xFFFF)
    for _ in range(200):
        words = [rng.randrange(0x10000) for _ in range(registers.WIDTH[data_type])]
        value = registers.decode(words, data_type, order)
        if isinstance(value, float) and math.isnan(value):
            continue
        assert registers.encode(value, data_type, order) == words


KNOWN: list[tuple[str, str, float, list[int]]] = [
    # float32 12.5 = 0x41480000
    ("float32", "ABCD", 12.5, [0x4148, 0x0000]),
    ("float32", "CDAB", 12.5, [0x0000, 0x4148]),
    ("float32", "BADC", 12.5, [0x4841, 0x0000]),
    ("float32", "DCBA", 12.5, [0x0000, 0x4841]),
    # float32 7.85 = 0x40FB3333
    ("float32", "ABCD", struct.unpack(">f", bytes.fromhex("40FB3333"))[0], [0x40FB, 0x3333]),
    ("float32", "CDAB", struct.unpack(">f", bytes.fromhex("40FB3333"))[0], [0x3333, 0x40FB]),
    ("int32", "ABCD", 0x12345678, [0x1234, 0x5678]),
    ("int32", "CDAB", 0x12345678, [0x5678, 0x1234]),
    ("int32", "BADC", 0x12345678, [0x3412, 0x7856]),
    ("int32", "DCBA", 0x12345678, [0x7856, 0x3412]),
    ("int32", "ABCD", -1, [0xFFFF, 0xFFFF]),
    ("int32", "ABCD", -2, [0xFFFF, 0xFFFE]),
    ("int32", "CDAB", -2, [0xFFFE, 0xFFFF]),
    ("uint32", "ABCD", 0xDEADBEEF, [0xDEAD, 0xBEEF]),
    ("int16", "ABCD", -2, [0xFFFE]),
    ("int16", "CDAB", -2, [0xFFFE]),  # one word: word order does not apply
    ("int16", "BADC", -2, [0xFEFF]),  # ... but a byte swap does
    ("uint16", "DCBA", 0x1234, [0x3412]),
    # float64 1.0 = 0x3FF0000000000000
    ("float64", "ABCD", 1.0, [0x3FF0, 0, 0, 0]),
    ("float64", "CDAB", 1.0, [0, 0, 0, 0x3FF0]),
    ("float64", "BADC", 1.0, [0xF03F, 0, 0, 0]),
    ("float64", "DCBA", 1.0, [0, 0, 0, 0xF03F]),
    ("float64", "ABCD", -2.0, [0xC000, 0, 0, 0]),
]


@pytest.mark.parametrize(("data_type", "order", "value", "words"), KNOWN)
def test_known_layouts(
    data_type: registers.DataType, order: registers.WordOrder, value: float, words: list[int]
) -> None:
    assert registers.encode(value, data_type, order) == words
    assert registers.decode(words, data_type, order) == value


def test_default_order_is_big_endian() -> None:
    assert registers.decode([0x4148, 0x0000], "float32") == 12.5
    assert registers.encode(12.5, "float32") == [0x4148, 0x0000]


@pytest.mark.parametrize("data_type", TYPES)
def test_wrong_width(data_type: registers.DataType) -> None:
    width = registers.WIDTH[data_type]
    for count in {0, width - 1, width + 1} - {width}:
        with pytest.raises(RegisterError, match=data_type) as info:
            registers.decode([0] * count, data_type)
        assert info.value.reason == "width"


@pytest.mark.parametrize("word", [-1, 0x10000, 1 << 20])
def test_non_16_bit_word(word: int) -> None:
    with pytest.raises(RegisterError) as info:
        registers.decode([0, word], "float32")
    assert info.value.reason == "word"
    assert str(word) in str(info.value)


@pytest.mark.parametrize(
    ("value", "data_type"),
    [
        (65536, "uint16"),
        (-1, "uint16"),
        (32768, "int16"),
        (2**32, "uint32"),
        (-(2**31) - 1, "int32"),
    ],
)
def test_encode_out_of_range(value: float, data_type: registers.DataType) -> None:
    with pytest.raises(RegisterError) as info:
        registers.encode(value, data_type)
    assert info.value.reason == "range"


@pytest.mark.parametrize(
    ("value", "data_type"), [(math.nan, "int16"), (math.inf, "int32"), (1e39, "float32")]
)
def test_encode_unrepresentable_value(value: float, data_type: registers.DataType) -> None:
    with pytest.raises(RegisterError):
        registers.encode(value, data_type)


def test_nan_float_passes_through_for_flagging() -> None:
    # The decoder does not judge values: NaN comes out as NaN and flagging decides what it means.
    assert math.isnan(registers.decode([0x7FC0, 0x0000], "float32"))
