"""decode_sample on hostile register images: a value that scaling takes beyond the float range is flagged D
with an error (never inf, never an exception), and any register image of a shipped profile decodes."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from agent.acquisition.decoding import decode_sample
from protocols.flags import Flag
from protocols.planning import RegisterImage
from protocols.profiles import Profile, builtin_names, load_profile, parse_profile
from protocols.registers import encode
from tests.fuzz_settings import Budget, budgets, check

OVERFLOWING = """
name = "overflow"
kind = "probe"

[[fields]]
param = "w01010"
address = 0
type = "float64"
scale = 10.0

[[fields]]
param = "w01001"
address = 4
type = "float64"
offset = 1e308

[[fields]]
signal = "level"
address = 8
type = "float64"
scale = -10.0
"""


def image_of(profile: Profile, values: dict[int, float]) -> RegisterImage:
    words: dict[int, int] = {}
    for address, value in values.items():
        words.update(enumerate(encode(value, "float64"), start=address))
    return RegisterImage.of(words)


def test_a_value_that_overflows_when_scaled_is_flagged_d_with_an_error() -> None:
    profile = parse_profile(OVERFLOWING)
    sample = decode_sample(profile, image_of(profile, {0: 1e308, 4: 1e308, 8: 1e308}))
    by_param = {v.param: v for v in sample.values}
    for param in ("w01010", "w01001"):
        value = by_param[param]
        assert value.value is None and value.flag == Flag.FAULT and value.error, param
        assert value.raw == 1e308
    assert "level" not in sample.signals  # a signal that overflows is left out, not inf
    assert len(sample.errors) == 3 and all("not finite after scaling" in e for e in sample.errors)


def test_the_same_fields_decode_when_they_fit() -> None:
    profile = parse_profile(OVERFLOWING)
    sample = decode_sample(profile, image_of(profile, {0: 2.5, 4: -1e308, 8: 1.5}))
    by_param = {v.param: v for v in sample.values}
    assert by_param["w01010"].value == 25.0
    assert by_param["w01001"].value == 0.0
    assert sample.signals == {"level": -15.0}
    assert sample.errors == []


def _full_image(profile: Profile, words: list[int]) -> RegisterImage:
    return RegisterImage.of(dict(enumerate(words)))


def _span(profile: Profile) -> int:
    ends = [f.address + f.width for f in profile.fields]
    ends += [m.address + 1 for m in (profile.status, profile.alarm) if m is not None]
    if profile.result_time is not None:
        ends.append(profile.result_time.address + profile.result_time.width)
    return max(ends)


@budgets(200)
def test_any_register_image_of_a_shipped_profile_decodes(budget: Budget) -> None:
    profiles = [load_profile(name) for name in builtin_names()]
    # Words biased towards the interesting ones: all bits set, NaN/Inf exponents, sign bits, zero.
    word = st.integers(0, 0xFFFF) | st.sampled_from(
        [0, 0xFFFF, 0x7FF0, 0x7FF8, 0x7F80, 0x7FC0, 0x8000, 0xFF80]
    )

    def prop(index: int, data: st.DataObject) -> None:
        profile = profiles[index]
        span = _span(profile)
        words = data.draw(st.lists(word, min_size=span, max_size=span))
        sample = decode_sample(profile, _full_image(profile, words))
        for value in sample.values:
            assert value.value is None or math.isfinite(value.value)
            if value.value is None:
                assert value.missing or value.flag == Flag.FAULT
        assert all(math.isfinite(v) for v in sample.signals.values())

    check(prop, budget, st.integers(0, len(profiles) - 1), st.data())
