from __future__ import annotations

import pytest

from protocols.flags import FLAG_NAMES, VALID_FLAGS, Flag, is_valid, worst


def test_every_flag_has_chinese_and_english_names() -> None:
    assert set(FLAG_NAMES) == set(Flag)
    for zh, en in FLAG_NAMES.values():
        assert zh and en


def test_only_n_and_t_are_valid() -> None:
    assert VALID_FLAGS == {Flag.NORMAL, Flag.OVER_RANGE}
    assert is_valid("N") and is_valid("T")
    assert not any(is_valid(f) for f in "FMSDCB")
    with pytest.raises(ValueError):
        is_valid("X")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), Flag.NORMAL),
        ((Flag.NORMAL, Flag.OVER_RANGE), Flag.OVER_RANGE),
        ((Flag.OVER_RANGE, Flag.CALIBRATION), Flag.CALIBRATION),
        ((Flag.CALIBRATION, Flag.FAULT), Flag.FAULT),
        ((Flag.FAULT, Flag.COMM_FAILED, Flag.NORMAL), Flag.COMM_FAILED),
        ((Flag.MAINTENANCE, Flag.STOPPED), Flag.STOPPED),
    ],
)
def test_worst_flag_wins(flags: tuple[Flag, ...], expected: Flag) -> None:
    assert worst(*flags) is expected
