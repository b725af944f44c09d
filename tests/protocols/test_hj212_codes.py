"""HJ/T 212-2005 three-digit codes mapped to HJ 212-2017 codes, per logger."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols.errors import FrameError
from protocols.hj212 import decode_frame, encode_frame
from protocols.hj212_codes import LEGACY_WATER_CODES, code_table, map_frame, map_params, to_2017

VECTORS = (Path(__file__).with_name("data") / "hj212_vectors.tsv").read_text(encoding="utf-8").splitlines()
LEGACY = next(line.split("\t")[0] for line in VECTORS if "2005-style codes" in line)


def test_the_items_an_outfall_monitor_reports() -> None:
    assert [to_2017(c, LEGACY_WATER_CODES) for c in ("001", "011", "060", "065", "101", "B01")] == [
        "w01001",
        "w01018",
        "w21003",
        "w21001",
        "w21011",
        "w00000",
    ]


def test_the_table_is_one_to_one_and_well_formed() -> None:
    assert len(set(LEGACY_WATER_CODES.values())) == len(LEGACY_WATER_CODES)
    assert all(len(new) == 6 and new[0] == "w" and new[1:].isdigit() for new in LEGACY_WATER_CODES.values())
    assert code_table() == dict(LEGACY_WATER_CODES)


def test_unknown_and_2017_codes_pass_through() -> None:
    assert to_2017("w21003", LEGACY_WATER_CODES) == "w21003"
    assert to_2017("999", LEGACY_WATER_CODES) == "999"


def test_per_logger_overrides_and_no_table() -> None:
    # A vendor that sent 012 for CODMn: the logger's config adds it.
    table = code_table({"012": "w01019"})
    assert to_2017("012", table) == "w01019" and to_2017("011", table) == "w01018"
    assert code_table(legacy=False) == {}
    assert to_2017("011", code_table(legacy=False)) == "011"
    # An override replaces the table's entry for that code.
    assert to_2017("065", code_table({"065": "w21002"})) == "w21002"
    with pytest.raises(ValueError, match="both map"):
        code_table({"012": "w01018"})  # 011 already maps there
    with pytest.raises(ValueError, match="ASCII"):
        code_table({"01-1": "w01018"})
    with pytest.raises(ValueError, match="ASCII"):
        code_table({"012": "w01019\n"})


def test_map_params_refuses_an_item_named_twice() -> None:
    assert map_params({"011": 1.0, "w21003": 2.0}, LEGACY_WATER_CODES) == {"w01018": 1.0, "w21003": 2.0}
    with pytest.raises(ValueError, match="w01018"):
        map_params({"011": 1.0, "w01018": 2.0}, LEGACY_WATER_CODES)


def test_map_a_2005_frame() -> None:
    frame = decode_frame((LEGACY + "\r\n").encode())
    mapped = map_frame(frame, LEGACY_WATER_CODES)
    assert mapped.cp.params == {
        "w00000": {"Rtd": "36.91"},
        "w01018": {"Rtd": "231.0", "Flag": "N"},
        "w21003": {"Rtd": "1.803", "Flag": "N"},
    }
    assert mapped.cp.get("DataTime") == frame.cp.get("DataTime")
    assert (mapped.st, mapped.cn, mapped.mn) == (frame.st, frame.cn, frame.mn)
    # The mapped frame is still one the codec can send and read back.
    assert decode_frame(encode_frame(mapped)) == mapped
    # Without a table nothing changes.
    assert map_frame(frame, {}) == frame


def test_map_frame_refuses_an_item_named_twice() -> None:
    frame = decode_frame((LEGACY + "\r\n").encode())
    with pytest.raises(FrameError) as info:
        map_frame(frame, {"B01": "w01018", **{k: v for k, v in LEGACY_WATER_CODES.items() if k != "B01"}})
    assert info.value.reason == "field"
