"""The HJ 212 CRC and time parsing without a Python step per byte or strptime: equal to the standard's loop and
to strptime on every input, as properties (protocols/hj212.py). The shared vectors' known CRCs are checked in
test_hj212.py."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import strategies as st

from protocols import hj212
from protocols.hj212 import _CRC_TABLE, _POWERS, crc_bytewise, crc_hj212
from protocols.zones import zone
from tests.fuzz_settings import Budget, budgets, check


def test_the_carried_byte_step_is_linear_and_of_order_eight() -> None:
    """What crc_hj212 relies on: x → T[x] >> 8 is linear over GF(2), and eight steps are the identity."""
    step = [_CRC_TABLE[x] >> 8 for x in range(256)]
    assert all(step[a ^ b] == step[a] ^ step[b] for a in range(256) for b in range(256))
    assert _POWERS[0] == tuple(range(256))
    assert tuple(step[x] for x in _POWERS[7]) == tuple(range(256))
    assert all(_POWERS[j] != tuple(range(256)) for j in range(1, 8))


@pytest.mark.parametrize("length", [*range(0, 80), 127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 4096])
def test_every_length_around_the_word_and_fold_boundaries(length: int) -> None:
    data = bytes((i * 37 + length) % 256 for i in range(length))
    assert crc_hj212(data) == crc_bytewise(data)
    assert crc_hj212(b"\xff" * length) == crc_bytewise(b"\xff" * length)
    assert crc_hj212(b"\x00" * length) == crc_bytewise(b"\x00" * length)


@budgets(ci=3000)
def test_crc_equals_the_bytewise_loop(budget: Budget) -> None:
    def prop(data: bytes) -> None:
        assert crc_hj212(data) == crc_bytewise(data)
        assert crc_hj212(data, "modbus") == crc_bytewise(data, "modbus")

    check(prop, budget, st.binary(max_size=2100))


def _strptime_reference(text: str, zone_name: str = "Asia/Shanghai") -> datetime:
    """parse_time as it was: strptime on the 14 digits, milliseconds apart."""
    if not (text.isascii() and text.isdigit() and len(text) in (14, 17)):
        raise ValueError(text)
    moment = datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    millis = int(text[14:]) if len(text) == 17 else 0
    return moment.replace(microsecond=millis * 1000, tzinfo=zone(zone_name))


def _same(text: str) -> None:
    try:
        expected = _strptime_reference(text)
    except ValueError:
        with pytest.raises(ValueError):
            hj212.parse_time(text)
        return
    assert hj212.parse_time(text) == expected
    assert hj212.parse_time(text).tzinfo is expected.tzinfo


@pytest.mark.parametrize(
    "text",
    [
        "20160801085857",
        "20160801085857223",
        "20240229235959999",  # a leap day
        "20230229000000",  # not one
        "20261301000000",  # month 13
        "20260100000000",  # day 0
        "20260431120000",  # 31 April
        "20260101240000",  # hour 24
        "20260101006000",  # minute 60
        "20260101000060",  # second 60
        "00000101000000",  # year 0
        "00010101000000",
        "99991231235959999",
        "2016080108585",  # 13 digits
        "201608010858572",  # 15
        "2016-08-01T0858",
        "２０１６０８０１０８５８５７",  # full-width digits: isdigit, not ASCII
    ],
)
def test_parse_time_cases(text: str) -> None:
    _same(text)


@budgets(ci=3000)
def test_parse_time_equals_strptime(budget: Budget) -> None:
    digits = st.text(alphabet="0123456789", min_size=14, max_size=14)
    plausible = st.builds(
        lambda y, mo, d, h, mi, s, ms: f"{y:04d}{mo:02d}{d:02d}{h:02d}{mi:02d}{s:02d}{ms}",
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
        st.sampled_from(["", "000", "999", "5"]),
    )
    check(_same, budget, st.one_of(digits, plausible, st.text(max_size=18)))
