"""GB 3838-2002 Table 1 boundaries: limits are inclusive (≤ limit, DO ≥ limit, pH 6–9)."""

from __future__ import annotations

import pytest

from collector.assessment import (
    DEFAULT_COLOUR_NAMES,
    Colour,
    WaterClass,
    class_limit,
    classify,
    colour,
    exceedance_multiple,
    parse_class,
)

I, II, III, IV, V, W = (  # noqa: E741 - the standard's class names
    WaterClass.I,
    WaterClass.II,
    WaterClass.III,
    WaterClass.IV,
    WaterClass.V,
    WaterClass.WORSE_THAN_V,
)

BOUNDARIES = [
    # (code, value, water type, class)
    ("w01001", 6.0, "river", I),
    ("w01001", 9.0, "river", I),
    ("w01001", 5.99, "river", W),
    ("w01001", 9.01, "river", W),
    ("w01001", 7.2, "lake", I),
    ("w01009", 7.5, "river", I),
    ("w01009", 7.49, "river", II),
    ("w01009", 6.0, "river", II),
    ("w01009", 5.0, "river", III),
    ("w01009", 4.99, "river", IV),
    ("w01009", 3.0, "river", IV),
    ("w01009", 2.0, "river", V),
    ("w01009", 1.99, "river", W),
    ("w01019", 2.0, "river", I),
    ("w01019", 2.01, "river", II),
    ("w01019", 4.0, "river", II),
    ("w01019", 6.0, "river", III),
    ("w01019", 6.01, "river", IV),
    ("w01019", 10.0, "river", IV),
    ("w01019", 15.0, "river", V),
    ("w01019", 15.01, "river", W),
    ("w01018", 15.0, "river", I),
    ("w01018", 15.1, "river", III),
    ("w01018", 20.0, "river", III),
    ("w01018", 30.0, "river", IV),
    ("w01018", 40.0, "river", V),
    ("w01018", 40.1, "river", W),
    ("w01017", 3.0, "river", I),
    ("w01017", 4.0, "river", III),
    ("w01017", 6.0, "river", IV),
    ("w01017", 10.0, "river", V),
    ("w01017", 10.5, "river", W),
    ("w21003", 0.15, "river", I),
    ("w21003", 0.151, "river", II),
    ("w21003", 0.5, "river", II),
    ("w21003", 1.0, "river", III),
    ("w21003", 1.0001, "river", IV),
    ("w21003", 1.5, "river", IV),
    ("w21003", 2.0, "river", V),
    ("w21003", 2.0001, "river", W),
    ("w21011", 0.02, "river", I),
    ("w21011", 0.1, "river", II),
    ("w21011", 0.2, "river", III),
    ("w21011", 0.3, "river", IV),
    ("w21011", 0.4, "river", V),
    ("w21011", 0.41, "river", W),
    ("w21011", 0.01, "lake", I),
    ("w21011", 0.025, "lake", II),
    ("w21011", 0.05, "lake", III),
    ("w21011", 0.1, "lake", IV),
    ("w21011", 0.2, "lake", V),
    ("w21011", 0.21, "lake", W),
    ("w21001", 0.2, "lake", I),
    ("w21001", 0.5, "lake", II),
    ("w21001", 1.0, "lake", III),
    ("w21001", 1.5, "lake", IV),
    ("w21001", 2.0, "lake", V),
    ("w21001", 2.01, "lake", W),
    ("w21017", 1.0, "river", I),
    ("w21017", 1.01, "river", IV),
    ("w21017", 1.5, "river", IV),
    ("w21017", 1.51, "river", W),
]


@pytest.mark.parametrize(("code", "value", "kind", "expected"), BOUNDARIES)
def test_boundaries(code: str, value: float, kind: str, expected: WaterClass) -> None:
    assert classify(code, value, kind) is expected


def test_tp_same_value_differs_between_river_and_lake() -> None:
    # The lake column is stricter: 0.2 mg/L is III in a river but V in a lake (lake IV ends at 0.1).
    assert classify("w21011", 0.2, "river") is III
    assert classify("w21011", 0.2, "lake") is V
    assert classify("w21011", 0.1, "lake") is IV


@pytest.mark.parametrize("code", ["w01010", "w01014", "w01003", "w01016", "w00000"])
def test_items_without_class_limit(code: str) -> None:
    assert classify(code, 12.3, "river") is None
    assert classify(code, 12.3, "lake") is None


def test_tn_only_for_lakes() -> None:
    assert classify("w21001", 5.0, "river") is None
    assert classify("w21001", 5.0, "lake") is W


def test_mean_rounding_noise_stays_in_class() -> None:
    mean = (0.1 + 0.2 + 0.3) / 3  # 0.20000000000000004 in binary floating point
    assert mean > 0.2
    assert classify("w21011", mean, "river") is III


@pytest.mark.parametrize(
    ("code", "value", "kind", "message"),
    [
        ("w99999", 1.0, "river", "unknown parameter code"),
        ("w21003", float("nan"), "river", "finite"),
        ("w21003", float("inf"), "river", "finite"),
        ("w21003", 1.0, "sea", "water type"),
    ],
)
def test_bad_input(code: str, value: float, kind: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        classify(code, value, kind)


def test_exceedance_multiple_against_class_iii_and_target() -> None:
    assert exceedance_multiple("w21003", 1.5, "river") == pytest.approx(0.5)
    assert exceedance_multiple("w21003", 0.5, "river") == pytest.approx(-0.5)
    assert exceedance_multiple("w21011", 0.3, "river", against=II) == pytest.approx(2.0)
    assert exceedance_multiple("w21011", 0.1, "lake") == pytest.approx(1.0)
    for code in ("w01010", "w01001", "w01009"):
        assert exceedance_multiple(code, 3.0, "river") is None
    assert exceedance_multiple("w21001", 3.0, "river") is None
    with pytest.raises(ValueError, match="劣V"):
        class_limit("w21003", W, "river")


def test_labels_and_colours() -> None:
    assert W.label_zh == "劣Ⅴ类" and W.roman == "劣V" and III.label_en == "Class III"
    assert [DEFAULT_COLOUR_NAMES[c] for c in WaterClass] == [
        Colour.BLUE,
        Colour.BLUE,
        Colour.GREEN,
        Colour.YELLOW,
        Colour.ORANGE,
        Colour.RED,
    ]
    assert colour(I) == colour(II) != colour(III)
    custom = {c: "#000000" for c in WaterClass}
    assert colour(W, custom) == "#000000"
    with pytest.raises(KeyError, match="劣V"):
        colour(W, {I: "#fff"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("III", III), ("Ⅲ类", III), ("iv", IV), ("劣V", W), ("劣Ⅴ类", W), (2, II), ("worse_than_v", W)],
)
def test_parse_class(text: str | int, expected: WaterClass) -> None:
    assert parse_class(text) is expected


@pytest.mark.parametrize("text", ["VI", "", 0, 7, "three"])
def test_parse_class_rejects(text: str | int) -> None:
    with pytest.raises(ValueError, match="class"):
        parse_class(text)


def test_report_colours_are_the_dashboards() -> None:
    """One colour per class everywhere: the JSON/report table equals the dashboard's colours.js."""
    import json
    import re
    from pathlib import Path

    from collector.assessment.classes import DEFAULT_COLOURS

    source = Path(__file__).resolve().parents[3] / "collector" / "web" / "static" / "colours.js"
    body = re.search(r"CLASS_COLOURS = (\{.*?\});", source.read_text(encoding="utf-8"), re.S)
    assert body is not None
    as_json = re.sub(r"(\b[IV]+\b)(?=\s*:)", r'"\1"', body.group(1)).replace(",\n}", "\n}")
    dashboard = json.loads(as_json)
    assert {c.roman: hexes for c, hexes in DEFAULT_COLOURS.items()} == dashboard
