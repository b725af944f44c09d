"""HJ/T 212-2005 three-digit item codes → HJ 212-2017 codes, for data loggers of the old edition.

Pure data and functions; the collector chooses per logger whether to map and with which overrides (its
config). The table is the water part of HJ 212-2017 Appendix B (Table B.1 gives each 2017 code its former
2005 code); docs/STANDARDS.md §10 lists it with its source. A code not in the table passes through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import TypeVar

from protocols.errors import FrameError
from protocols.hj212 import CP, Frame, Group

T = TypeVar("T")

LEGACY_WATER_CODES: Mapping[str, str] = MappingProxyType(
    {
        "B01": "w00000",  # 污水 flow
        "001": "w01001",  # pH
        "002": "w01002",  # 色度 colour
        "003": "w01012",  # 悬浮物 suspended solids
        "010": "w01017",  # BOD5
        "011": "w01018",  # COD
        "015": "w01020",  # TOC
        "020": "w20111",  # 总汞 mercury
        "021": "w20113",  # 烷基汞 alkyl mercury
        "022": "w20115",  # 总镉 cadmium
        "023": "w20116",  # 总铬 chromium
        "024": "w20117",  # 六价铬 hexavalent chromium
        "026": "w20119",  # 总砷 arsenic
        "027": "w20120",  # 总铅 lead
        "028": "w20121",  # 总镍 nickel
        "029": "w20122",  # 总铜 copper
        "030": "w20123",  # 总锌 zinc
        "031": "w20124",  # 总锰 manganese
        "032": "w20125",  # 总铁 iron
        "033": "w20126",  # 总银 silver
        "034": "w20127",  # 总铍 beryllium
        "035": "w20128",  # 总硒 selenium
        "036": "w20092",  # 锡 tin
        "037": "w20023",  # 硼 boron
        "038": "w20061",  # 钼 molybdenum
        "039": "w20012",  # 钡 barium
        "040": "w20038",  # 钴 cobalt
        "041": "w20089",  # 铊 thallium
        "060": "w21003",  # 氨氮 ammonia nitrogen
        "061": "w99001",  # 有机氮 organic nitrogen
        "062": "w21004",  # 凯氏氮 Kjeldahl nitrogen
        "063": "w21006",  # 亚硝酸盐 nitrite
        "064": "w21007",  # 硝酸盐 nitrate
        "065": "w21001",  # 总氮 total nitrogen
        "070": "w21016",  # 氰化物 cyanide
        "071": "w21019",  # 硫化物 sulfide
        "072": "w21017",  # 氟化物 fluoride
        "080": "w22001",  # 石油类 petroleum
        "090": "w21022",  # 氯化物 chloride
        "101": "w21011",  # 总磷 total phosphorus
        "110": "w23002",  # 挥发酚 volatile phenol
        "350": "w33001",  # 六六六 HCH
        "351": "w33007",  # 滴滴涕 DDT
        "520": "w19002",  # 阴离子表面活性剂 anionic surfactant
        "540": "w25043",  # 苯并[a]芘 benzo[a]pyrene
        "550": "w02003",  # 粪大肠菌群 faecal coliforms
        "570": "w03001",  # 总α放射性 gross alpha
        "571": "w03002",  # 总β放射性 gross beta
    }
)

_CODE_RE = re.compile(r"^[A-Za-z0-9]{1,24}$")


def code_table(overrides: Mapping[str, str] | None = None, *, legacy: bool = True) -> dict[str, str]:
    """The mapping one logger uses: the 2005 table (if ``legacy``) with ``overrides`` on top.

    ValueError if a code is not 1-24 ASCII letters or digits, or if two old codes map to one new code.
    """
    table = dict(LEGACY_WATER_CODES) if legacy else {}
    table.update(overrides or {})
    seen: dict[str, str] = {}
    for old, new in table.items():
        for code in (old, new):
            if not _CODE_RE.fullmatch(code):
                raise ValueError(f"item code {code!r} is not 1-24 ASCII letters or digits")
        if new in seen:
            raise ValueError(f"codes {seen[new]} and {old} both map to {new}")
        seen[new] = old
    return table


def to_2017(code: str, table: Mapping[str, str]) -> str:
    """The 2017 code for ``code`` (itself if the table does not name it)."""
    return table.get(code, code)


def map_params(params: Mapping[str, T], table: Mapping[str, str]) -> dict[str, T]:
    """``params`` keyed by 2017 codes. ValueError if two keys land on one code (e.g. 011 and w01018)."""
    result: dict[str, T] = {}
    for code, value in params.items():
        new = to_2017(code, table)
        if new in result:
            raise ValueError(f"item {new} appears twice once {code} is mapped")
        result[new] = value
    return result


def map_frame(frame: Frame, table: Mapping[str, str]) -> Frame:
    """``frame`` with the parameter codes of its CP keys (``011-Rtd`` → ``w01018-Rtd``) mapped.

    FrameError(reason="field") if the mapped frame would name one item twice.
    """
    try:
        map_params(frame.cp.params, table)
    except ValueError as exc:
        raise FrameError(str(exc), reason="field") from None
    groups: list[Group] = []
    for group in frame.cp.groups:
        pairs = []
        for key, value in group:
            code, dash, name = key.partition("-")
            pairs.append((f"{to_2017(code, table)}-{name}" if dash else key, value))
        groups.append(tuple(pairs))
    return replace(frame, cp=CP(tuple(groups)))
