"""Analyser register-map profiles: built-ins load; a bad one is a ConfigError naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols import catalogue
from protocols.errors import ConfigError
from protocols.flags import Flag
from protocols.profiles import builtin_names, load_profile, parse_profile

BUILTIN = builtin_names()

MINIMAL = """
name = "t"
kind = "probe"

[[fields]]
param = "w01001"
address = 0
"""


def test_builtin_set() -> None:
    assert set(BUILTIN) >= {
        "multiparam_probe", "nutrient_codmn", "nutrient_nh3n", "nutrient_tp", "nutrient_tn",
        "cod_analyser", "station_controller",
    }  # fmt: skip


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_profile_loads(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.fields
    for field in profile.fields:
        if field.param is not None:
            assert catalogue.is_known(field.param)
            # Registers the agent reads in one request must fit the device's request limit.
            assert field.width <= profile.max_registers_per_request
    if profile.kind != "controller":
        assert any(f.param for f in profile.fields)


def test_probe_profile_contents() -> None:
    probe = load_profile("multiparam_probe")
    assert [f.param for f in probe.fields] == ["w01010", "w01001", "w01009", "w01014", "w01003"]
    assert probe.status is not None and probe.status.values[3] == Flag.FAULT
    assert probe.fields[4].missing == -9999.0


def test_nutrient_profiles_hold_their_result_time() -> None:
    for name in ("nutrient_codmn", "nutrient_nh3n", "nutrient_tp", "nutrient_tn", "cod_analyser"):
        profile = load_profile(name)
        assert profile.result_time is not None, name
        assert profile.result_time.type == "uint32"


def test_builtin_profiles_cover_the_nine_basic_items() -> None:
    params = {f.param for name in BUILTIN for f in load_profile(name).fields if f.param}
    assert {
        "w01010",
        "w01001",
        "w01009",
        "w01014",
        "w01003",
        "w01019",
        "w21003",
        "w21011",
        "w21001",
    } <= params


def test_profile_from_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    profile = load_profile(str(path))
    assert profile.name == "t" and profile.fields[0].type == "float32" and profile.fields[0].order == "ABCD"


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml") as info:
        load_profile(str(path))
    assert "TOML" in str(info.value)
    assert info.value.reason == "config"


def test_invalid_profile_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text(MINIMAL.replace("address = 0", 'address = 0\ntype = "float16"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"(?s)typo\.toml.*fields\[0\]\.type"):
        load_profile(str(path))


def test_unknown_builtin_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="multiparam_probe"):
        load_profile("no_such_profile")


def test_overlap_detected() -> None:
    text = MINIMAL + '\n[[fields]]\nparam = "w01009"\naddress = 1\n'
    with pytest.raises(ConfigError, match=r"register 1 is used by both 'w01001' and 'w01009'"):
        parse_profile(text, source="overlap.toml")
    # Adjacent is fine: float32 at 0 uses 0-1.
    assert len(parse_profile(MINIMAL + '\n[[fields]]\nparam = "w01009"\naddress = 2\n').fields) == 2


def test_overlap_with_status_and_result_time() -> None:
    with pytest.raises(ConfigError, match="status"):
        parse_profile(MINIMAL + "\n[status]\naddress = 1\n")
    with pytest.raises(ConfigError, match="result_time"):
        parse_profile(MINIMAL + '\n[result_time]\nsignal = "t"\naddress = 1\ntype = "uint32"\n')
    with pytest.raises(ConfigError, match="alarm"):
        parse_profile(MINIMAL + "\n[status]\naddress = 5\n[alarm]\naddress = 5\n")


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ('\n[[fields]]\nparam = "w99999"\naddress = 4\n', "unknown parameter code 'w99999'"),
        ("\n[[fields]]\naddress = 4\n", "exactly one of"),
        ('\n[[fields]]\nparam = "w01009"\nsignal = "x"\naddress = 4\n', "exactly one of"),
        ('\n[[fields]]\nparam = "w01009"\naddress = 4\nrange = [5.0, 1.0]\n', "low < high"),
        ('\n[[fields]]\nparam = "w01009"\naddress = 4\norder = "ACBD"\n', "order"),
        ('\n[[fields]]\nparam = "w01009"\naddress = 65536\n', "address"),
        ('\n[status]\naddress = 9\nbits = { 16 = "D" }\n', "outside 0-15"),
        ('\n[status]\naddress = 9\nvalues = { 1 = "X" }\n', "status.values"),
        ('\nvendorr = "typo"\n', "vendorr"),
    ],
)
def test_invalid_profiles(extra: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_profile(MINIMAL + extra, source="bad.toml")


def test_profile_needs_fields() -> None:
    with pytest.raises(ConfigError, match="fields"):
        parse_profile('name = "t"\nkind = "probe"\nfields = []\n')


def test_max_registers_per_request_bounds() -> None:
    with pytest.raises(ConfigError, match="max_registers_per_request"):
        parse_profile("max_registers_per_request = 126\n" + MINIMAL)
