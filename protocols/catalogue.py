"""The parameter catalogue: HJ 212-2017 codes are the parameter identity on the wire, in the store and in the API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Parameter:
    code: str
    name_zh: str
    name_en: str
    unit: str
    # Plausible measurement range of a typical analyser: a default for flagging, not a class limit.
    range_min: float
    range_max: float
    decimals: int


PARAMETERS: dict[str, Parameter] = {
    p.code: p
    for p in [
        Parameter("w01010", "水温", "water temperature", "°C", -5.0, 50.0, 1),
        Parameter("w01001", "pH", "pH", "", 0.0, 14.0, 2),
        Parameter("w01009", "溶解氧", "dissolved oxygen", "mg/L", 0.0, 20.0, 2),
        Parameter("w01014", "电导率", "conductivity", "μS/cm", 0.0, 5000.0, 0),
        Parameter("w01003", "浊度", "turbidity", "NTU", 0.0, 4000.0, 1),
        Parameter("w01019", "高锰酸盐指数", "permanganate index (CODMn)", "mg/L", 0.0, 100.0, 2),
        Parameter("w01018", "化学需氧量", "COD", "mg/L", 0.0, 1000.0, 1),
        Parameter("w21003", "氨氮", "ammonia nitrogen", "mg/L", 0.0, 50.0, 3),
        Parameter("w21011", "总磷", "total phosphorus", "mg/L", 0.0, 10.0, 3),
        Parameter("w21001", "总氮", "total nitrogen", "mg/L", 0.0, 100.0, 2),
        Parameter("w01017", "五日生化需氧量", "BOD5", "mg/L", 0.0, 100.0, 1),
        Parameter("w21017", "氟化物", "fluoride", "mg/L", 0.0, 20.0, 3),
        Parameter("w01016", "叶绿素a", "chlorophyll-a", "μg/L", 0.0, 500.0, 1),
        Parameter("w00000", "流量", "flow", "L/s", 0.0, 1.0e6, 1),
    ]
}

# The nine basic items of a national station plus COD, in display order.
BASIC_PARAMETERS: tuple[str, ...] = (
    "w01010",
    "w01001",
    "w01009",
    "w01014",
    "w01003",
    "w01019",
    "w21003",
    "w21011",
    "w21001",
    "w01018",
)


def is_known(code: str) -> bool:
    return code in PARAMETERS


def get(code: str) -> Parameter:
    """The catalogue entry for ``code``; KeyError names the code when it is unknown."""
    try:
        return PARAMETERS[code]
    except KeyError:
        raise KeyError(f"unknown parameter code {code!r}") from None
