"""Water-quality classes of GB 3838-2002 (I–V and worse than V), with bulletin labels and colours."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum


class WaterClass(IntEnum):
    """Ordered so that a larger value is worse water: ``max()`` of classes is the worst."""

    I = 1  # noqa: E741 - the standard's own name
    II = 2
    III = 3
    IV = 4
    V = 5
    WORSE_THAN_V = 6

    @property
    def roman(self) -> str:
        return _ROMAN[self]

    @property
    def label_zh(self) -> str:
        return _LABEL_ZH[self]

    @property
    def label_en(self) -> str:
        return _LABEL_EN[self]


_ROMAN = {
    WaterClass.I: "I",
    WaterClass.II: "II",
    WaterClass.III: "III",
    WaterClass.IV: "IV",
    WaterClass.V: "V",
    WaterClass.WORSE_THAN_V: "劣V",
}
_LABEL_ZH = {
    WaterClass.I: "Ⅰ类",
    WaterClass.II: "Ⅱ类",
    WaterClass.III: "Ⅲ类",
    WaterClass.IV: "Ⅳ类",
    WaterClass.V: "Ⅴ类",
    WaterClass.WORSE_THAN_V: "劣Ⅴ类",
}
_LABEL_EN = {
    WaterClass.I: "Class I",
    WaterClass.II: "Class II",
    WaterClass.III: "Class III",
    WaterClass.IV: "Class IV",
    WaterClass.V: "Class V",
    WaterClass.WORSE_THAN_V: "Worse than Class V",
}


def parse_class(text: str | int) -> WaterClass:
    """Accept 'III', 'Ⅲ', 'Ⅲ类', '劣V', '劣Ⅴ类', 'worse_than_v' or 1–6; ValueError names the bad input."""
    if isinstance(text, int) and not isinstance(text, bool):
        try:
            return WaterClass(text)
        except ValueError:
            raise ValueError(f"water class must be 1-6, got {text!r}") from None
    if isinstance(text, str):
        key = text.strip().removesuffix("类").upper()
        key = (
            key.replace("Ⅰ", "I").replace("Ⅱ", "II").replace("Ⅲ", "III").replace("Ⅳ", "IV").replace("Ⅴ", "V")
        )
        if key in ("劣V", "WORSE_THAN_V", "WORSE THAN V", ">V"):
            return WaterClass.WORSE_THAN_V
        if key in WaterClass.__members__ and key != "WORSE_THAN_V":
            return WaterClass[key]
    raise ValueError(f"not a water class: {text!r} (expected I, II, III, IV, V or 劣V)")


class Colour(StrEnum):
    BLUE = "blue"
    GREEN = "green"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"


# Colours of Chinese bulletins (STANDARDS.md §3) — configuration, not a standard's text. The same hexes as the
# dashboard (collector/web/static/colours.js; a test holds the two equal), so a figure printed in a report has
# the colour the operator sees on screen; I and II share the bulletins' blue.
DEFAULT_COLOURS: Mapping[WaterClass, str] = {
    WaterClass.I: "#1e6fd9",
    WaterClass.II: "#1e6fd9",
    WaterClass.III: "#2ca02c",
    WaterClass.IV: "#f2c200",
    WaterClass.V: "#ff7f0e",
    WaterClass.WORSE_THAN_V: "#d62728",
}
DEFAULT_COLOUR_NAMES: Mapping[WaterClass, Colour] = {
    WaterClass.I: Colour.BLUE,
    WaterClass.II: Colour.BLUE,
    WaterClass.III: Colour.GREEN,
    WaterClass.IV: Colour.YELLOW,
    WaterClass.V: Colour.ORANGE,
    WaterClass.WORSE_THAN_V: Colour.RED,
}


def colour(water_class: WaterClass, scheme: Mapping[WaterClass, str] | None = None) -> str:
    """The bulletin colour (CSS hex by default) of ``water_class``; pass ``scheme`` to override."""
    table = DEFAULT_COLOURS if scheme is None else scheme
    try:
        return table[water_class]
    except KeyError:
        raise KeyError(f"colour scheme has no colour for {water_class.roman}") from None
