"""GB 3838-2002 Table 1 as data (STANDARDS.md §3), keyed by HJ 212-2017 parameter codes.

Limits are inclusive: a value at the limit is in that class ("≤" for most items, "≥" for DO, 6–9 for pH).
DO class I is 7.5 mg/L; the alternative "90 % saturation" needs temperature and pressure and is not applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from protocols import catalogue

Direction = Literal["max", "min", "range"]


class WaterType(StrEnum):
    """The water body of a section; lakes and reservoirs share one column in Table 1."""

    RIVER = "river"
    LAKE = "lake"
    RESERVOIR = "reservoir"

    @property
    def label_zh(self) -> str:
        return _WATER_ZH[self]

    @property
    def label_en(self) -> str:
        return self.value


_WATER_ZH = {WaterType.RIVER: "河流", WaterType.LAKE: "湖泊", WaterType.RESERVOIR: "水库"}


@dataclass(frozen=True, slots=True)
class ItemLimits:
    """Limits of classes I..V for one item; for ``range`` (pH) each entry is (low, high)."""

    param: str
    direction: Direction
    limits: tuple[float, float, float, float, float] | tuple[tuple[float, float], ...]


PH, DO, CODMN, COD, BOD5 = "w01001", "w01009", "w01019", "w01018", "w01017"
NH3N, TP, TN, FLUORIDE, TEMPERATURE = "w21003", "w21011", "w21001", "w21017", "w01010"

_PH_RANGE = (6.0, 9.0)

_COMMON: dict[str, ItemLimits] = {
    PH: ItemLimits(PH, "range", (_PH_RANGE,) * 5),
    DO: ItemLimits(DO, "min", (7.5, 6.0, 5.0, 3.0, 2.0)),
    CODMN: ItemLimits(CODMN, "max", (2.0, 4.0, 6.0, 10.0, 15.0)),
    COD: ItemLimits(COD, "max", (15.0, 15.0, 20.0, 30.0, 40.0)),
    BOD5: ItemLimits(BOD5, "max", (3.0, 3.0, 4.0, 6.0, 10.0)),
    NH3N: ItemLimits(NH3N, "max", (0.15, 0.5, 1.0, 1.5, 2.0)),
    FLUORIDE: ItemLimits(FLUORIDE, "max", (1.0, 1.0, 1.0, 1.5, 1.5)),
}

_LAKE_COLUMN: dict[str, ItemLimits] = {
    **_COMMON,
    TP: ItemLimits(TP, "max", (0.01, 0.025, 0.05, 0.1, 0.2)),
    TN: ItemLimits(TN, "max", (0.2, 0.5, 1.0, 1.5, 2.0)),
}

TABLE: dict[WaterType, dict[str, ItemLimits]] = {
    WaterType.RIVER: {**_COMMON, TP: ItemLimits(TP, "max", (0.02, 0.1, 0.2, 0.3, 0.4))},
    WaterType.LAKE: _LAKE_COLUMN,
    WaterType.RESERVOIR: _LAKE_COLUMN,
}

# Items that never get an exceedance multiple or a flood-season intensity (STANDARDS.md §3, §4).
NO_MULTIPLE: frozenset[str] = frozenset({TEMPERATURE, PH, DO})


def water_type(value: WaterType | str) -> WaterType:
    try:
        return WaterType(value)
    except ValueError:
        raise ValueError(f"water type must be 'river', 'lake' or 'reservoir', got {value!r}") from None


def item_limits(param: str, kind: WaterType | str) -> ItemLimits | None:
    """The limits of ``param`` for ``kind`` of water, None when it has no class limit there.

    Raises ValueError for a code that is not in the parameter catalogue.
    """
    if not catalogue.is_known(param):
        raise ValueError(f"unknown parameter code {param!r}")
    return TABLE[water_type(kind)].get(param)
