"""City water-quality index (CWQI) of the 2017 national rule for ranking cities (STANDARDS.md §8).

Per item: C ÷ S with S the class III limit (TP: the lake column for lakes and reservoirs); DO: 5 ÷ C;
pH: (7 − pH) ÷ 1 at or below 7, (pH − 7) ÷ 2 above. A section's CWQI is the sum over the items it
measured, a county's or the city's the mean over its sections; smaller is cleaner. ΔCWQI is the change
against the same period a year earlier, in percent (negative = improving).

Indices are computed in Decimal from means rounded to the items' decimals (as the class is judged); each
figure is rounded once, to 2 places, for output, and aggregates are taken over the unrounded figures.
Every figure says which items it covers: a section with 5 items and one with 8 are not comparable, so the
rankings refuse to compare unlike sets (compute both over ``common_items`` instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from collector.assessment.classes import WaterClass
from collector.assessment.classify import class_limit
from collector.assessment.limits import (
    BOD5,
    COD,
    CODMN,
    DO,
    FLUORIDE,
    NH3N,
    PH,
    TN,
    TP,
    WaterType,
    water_type,
)
from collector.assessment.rounding import MULTIPLE_PLACES, Number, round_param, round_ratio
from collector.assessment.section import JudgementStatus, SectionJudgement
from protocols import catalogue

# Table 1 items of the 2011 method present in the catalogue (not temperature, TN, fecal coliform): config.
DEFAULT_ITEMS: frozenset[str] = frozenset({PH, DO, CODMN, COD, BOD5, NH3N, TP, FLUORIDE})
DO_STANDARD = Decimal(5)
DELTA_PLACES = 2  # ΔCWQI in percent: -5.23 means 5.23 % cleaner than a year earlier


@dataclass(frozen=True, slots=True)
class Cwqi:
    value: Decimal  # rounded to 2 places
    exact: Decimal  # unrounded, for means and ΔCWQI
    covers: frozenset[str]  # the items summed (for an area: every item any of its sections covers)
    indices: Mapping[str, Decimal] = field(default_factory=dict)  # per item, 2 places (sections only)
    sections: int = 1
    uniform: bool = True  # False for an area whose sections cover different item sets


def item_index(param: str, mean: Number, water_body: WaterType | str) -> Decimal:
    """The unrounded index of one item for its period mean (rounded to the item's decimals first).

    ValueError for an item without a CWQI index and for a DO mean of 0 (the index 5 ÷ 0 does not exist).
    """
    kind = water_type(water_body)
    if not catalogue.is_known(param):
        raise ValueError(f"unknown parameter code {param!r}")
    c = round_param(param, mean)
    if param == PH:
        return (Decimal(7) - c) / Decimal(1) if c <= 7 else (c - Decimal(7)) / Decimal(2)
    if param == DO:
        if c <= 0:
            raise ValueError(f"dissolved oxygen {c} mg/L has no CWQI index (5 ÷ C needs C > 0)")
        return DO_STANDARD / c
    limit = class_limit(param, WaterClass.III, kind)
    if limit is None or param == TN:  # TN is not a ranking item, even where it has a class
        raise ValueError(f"{param} has no CWQI index")
    return c / Decimal(repr(limit))


def section_cwqi(
    means: Mapping[str, Number | None], water_body: WaterType | str, items: Iterable[str] = DEFAULT_ITEMS
) -> Cwqi | None:
    """The section's CWQI over the items of ``items`` that have a mean; None when none has.

    Means of other items (temperature, TN, conductivity …) are ignored; an unknown code is a ValueError.
    """
    wanted = frozenset(items)
    exact: dict[str, Decimal] = {}
    for param, mean in means.items():
        if not catalogue.is_known(param):
            raise ValueError(f"unknown parameter code {param!r}")
        if mean is not None and param in wanted:
            exact[param] = item_index(param, mean, water_body)
    if not exact:
        return None
    total = sum(exact.values(), Decimal(0))
    indices = {p: round_ratio(v, MULTIPLE_PLACES) for p, v in exact.items()}
    return Cwqi(round_ratio(total, MULTIPLE_PLACES), total, frozenset(exact), indices)


def judgement_cwqi(judgement: SectionJudgement, items: Iterable[str] = DEFAULT_ITEMS) -> Cwqi | None:
    """The CWQI of a judged section from its rounded means; None when not judged (ice, dry, no data)."""
    if judgement.status is not JudgementStatus.JUDGED:
        return None
    return section_cwqi({i.param: i.mean for i in judgement.items}, judgement.water_type, items)


def area_cwqi(sections: Sequence[Cwqi]) -> Cwqi | None:
    """A county's or the city's CWQI: the mean over its sections' CWQI; None without any section."""
    if not sections:
        return None
    exact = sum((s.exact for s in sections), Decimal(0)) / len(sections)
    covers = frozenset().union(*(s.covers for s in sections))
    uniform = all(s.uniform and s.covers == sections[0].covers for s in sections)
    return Cwqi(round_ratio(exact, MULTIPLE_PLACES), exact, covers, {}, len(sections), uniform)


def common_items(figures: Iterable[Cwqi]) -> frozenset[str]:
    """The items every figure covers: recompute over these to compare unlike sections."""
    sets = [f.covers for f in figures]
    return frozenset.intersection(*sets) if sets else frozenset()


def _comparable(entries: Mapping[str, Cwqi]) -> None:
    sets = {f.covers for f in entries.values()}
    mixed = [key for key, f in entries.items() if not f.uniform]
    if mixed:
        raise ValueError(f"not comparable: {', '.join(sorted(mixed))} mix sections with different item sets")
    if len(sets) > 1:
        described = "; ".join(
            f"{key} covers {', '.join(sorted(f.covers))}" for key, f in sorted(entries.items())
        )
        raise ValueError(f"not comparable, item sets differ ({described}); compare over their common items")


def delta_cwqi(now: Cwqi, last_year: Cwqi) -> Decimal | None:
    """ΔCWQI = (now − last year) ÷ last year, in percent, 2 places; None when last year's CWQI is 0.

    ValueError when the two cover different item sets.
    """
    _comparable({"now": now, "last year": last_year})
    if last_year.exact.is_zero():
        return None
    return round_ratio((now.exact - last_year.exact) / last_year.exact * 100, DELTA_PLACES)


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int  # 1 = cleanest (or most improved); equal rounded figures share a rank (1, 2, 2, 4)
    key: str
    value: Decimal


def _rank(values: Mapping[str, Decimal]) -> list[Ranked]:
    ranked: list[Ranked] = []
    for position, (key, value) in enumerate(sorted(values.items(), key=lambda kv: (kv[1], kv[0])), start=1):
        rank = ranked[-1].rank if ranked and ranked[-1].value == value else position
        ranked.append(Ranked(rank, key, value))
    return ranked


def rank_cwqi(entries: Mapping[str, Cwqi]) -> list[Ranked]:
    """Counties (or sections) by CWQI, smallest (cleanest) first; ValueError unless all cover the same items."""
    _comparable(entries)
    return _rank({key: f.value for key, f in entries.items()})


def rank_delta(entries: Mapping[str, tuple[Cwqi, Cwqi]]) -> list[Ranked]:
    """By ΔCWQI (now, same period last year), most improved (most negative) first; entries whose
    last-year CWQI is 0 have no ΔCWQI and are left out. ValueError unless all cover the same items."""
    _comparable({key: now for key, (now, _) in entries.items()})
    deltas = {key: delta_cwqi(now, last) for key, (now, last) in entries.items()}
    return _rank({key: d for key, d in deltas.items() if d is not None})
