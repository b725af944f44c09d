"""Golden decoding for every built-in profile: registers in, values, flags, signals and result time out.

The golden files under golden/ hold the raw register words a device shows (from address 0) and the expected
outcome; they were written once from hand-chosen engineering values and checked by eye (e.g. TN 1.87 as
float64 BADC is FD3F 85EB B81E EC51; COD 17.25 at scale 0.01 is int32 1725 = 0000 06BD).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.acquisition.decoding import decode_sample
from protocols.flags import Flag
from protocols.planning import RegisterImage, plan_profile
from protocols.profiles import builtin_names, load_profile

GOLDEN = Path(__file__).parent / "golden"


def _cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(GOLDEN.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        out += [(doc["profile"], case) for case in doc["cases"]]
    return out


def test_every_builtin_profile_has_golden_cases() -> None:
    covered = {json.loads(p.read_text(encoding="utf-8"))["profile"] for p in GOLDEN.glob("*.json")}
    assert covered == set(builtin_names())


@pytest.mark.parametrize(
    ("profile_name", "case"), _cases(), ids=lambda x: x if isinstance(x, str) else x["name"]
)
def test_golden(profile_name: str, case: dict[str, Any]) -> None:
    profile = load_profile(profile_name)
    words = dict(enumerate(case["registers"]))
    # Only the registers the planned requests read are visible, as on the wire.
    image = RegisterImage()
    for request in plan_profile(profile):
        image.add(request, [words.get(a, 0) for a in range(request.address, request.end)])
    sample = decode_sample(profile, image)

    assert sample.device_flag == Flag(case["device_flag"])
    got = {v.param: v for v in sample.values}
    assert set(got) == set(case["values"])
    for param, expected in case["values"].items():
        value = got[param]
        assert value.flag == Flag(expected["flag"]), param
        if expected.get("missing"):
            assert value.missing and value.value is None
        else:
            assert value.value == pytest.approx(expected["value"], rel=1e-6, abs=1e-9), param
    assert sample.signals == pytest.approx(case.get("signals", {}), rel=1e-9)
    if "result_time" in case:
        assert sample.has_result_time
        rt = case["result_time"]
        assert (sample.result_time.isoformat() if sample.result_time else None) == rt
    else:
        assert not sample.has_result_time
    assert sample.errors == []


def test_nan_register_is_a_decode_error_flagged_d() -> None:
    profile = load_profile("multiparam_probe")
    words = {a: 0 for a in range(21)}
    words[0], words[1] = 0x7FC0, 0x0000  # float32 NaN in the temperature field
    sample = decode_sample(profile, RegisterImage.of(words))
    temp = next(v for v in sample.values if v.param == "w01010")
    assert temp.value is None and temp.flag == Flag.FAULT and sample.errors
