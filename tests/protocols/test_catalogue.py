"""The parameter catalogue: HJ 212-2017 codes, units and names as STANDARDS.md §2 lists them."""

from __future__ import annotations

import re

import pytest

from protocols import catalogue

# STANDARDS.md §2: code → unit.
EXPECTED_UNITS = {
    "w01010": "°C", "w01001": "", "w01009": "mg/L", "w01014": "μS/cm", "w01003": "NTU", "w01019": "mg/L",
    "w01018": "mg/L", "w01017": "mg/L", "w21003": "mg/L", "w21011": "mg/L", "w21001": "mg/L",
    "w21017": "mg/L", "w01016": "μg/L", "w00000": "L/s",
}  # fmt: skip


def test_catalogue_holds_the_standard_table() -> None:
    assert {code: p.unit for code, p in catalogue.PARAMETERS.items()} == EXPECTED_UNITS


@pytest.mark.parametrize("code", sorted(EXPECTED_UNITS))
def test_entry_is_consistent(code: str) -> None:
    parameter = catalogue.get(code)
    assert parameter.code == code
    assert re.fullmatch(r"w\d{5}", code)
    assert parameter.range_min < parameter.range_max
    assert 0 <= parameter.decimals <= 4
    assert parameter.name_zh and parameter.name_en


def test_basic_parameters() -> None:
    assert len(catalogue.BASIC_PARAMETERS) == len(set(catalogue.BASIC_PARAMETERS)) == 10
    assert all(catalogue.is_known(code) for code in catalogue.BASIC_PARAMETERS)
    # The nine basic items of a national station are all there (COD is the tenth).
    assert {"w01010", "w01001", "w01009", "w01014", "w01003", "w01019", "w21003", "w21011", "w21001"} < set(
        catalogue.BASIC_PARAMETERS
    )


def test_names() -> None:
    assert catalogue.get("w21003").name_zh == "氨氮"
    assert catalogue.get("w01019").name_zh == "高锰酸盐指数"
    assert catalogue.get("w01001").range_max == 14.0


@pytest.mark.parametrize("code", ["w99999", "", "W21003", "060", "w21003 "])
def test_unknown_code(code: str) -> None:
    assert not catalogue.is_known(code)
    with pytest.raises(KeyError, match="unknown parameter code"):
        catalogue.get(code)


def test_entries_are_immutable() -> None:
    with pytest.raises(AttributeError):
        catalogue.get("w01001").unit = "x"  # type: ignore[misc]
