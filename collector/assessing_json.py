"""The assessment as JSON, for the API and ``qingliu assess --format json`` alike. Pure.

Classes are "I".."V" and "劣V", items are HJ 212 codes, times ISO 8601 UTC with Z, and every rounded figure is a
JSON number carrying exactly its rounding (``as_number`` of the rounded Decimal: 0.70, 33.0, 3.78).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from collector.assessing import (
    AreaCwqi,
    CityAssessment,
    CwqiReport,
    FloodReport,
    NeighbourView,
    SectionAssessment,
)
from collector.assessment import (
    ClassCounts,
    Cwqi,
    ItemIntensity,
    ItemJudgement,
    Period,
    Ranked,
    RiverGrade,
    WaterClass,
    as_number,
    colour,
    describe_main_pollutants,
)
from collector.sections import Section, SectionRegistry
from protocols import catalogue


def iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z") if t is not None else None


def num(d: Decimal | None) -> float | int | None:
    return as_number(d) if d is not None else None


def cls(c: WaterClass | None) -> str | None:
    return c.roman if c is not None else None


def period(p: Period) -> dict[str, Any]:
    return {
        "kind": p.kind.value,
        "ref": p.label,
        "from": iso(p.start),
        "to": iso(p.end),
        "partial": p.partial,
    }


def section_info(s: Section, registry: SectionRegistry) -> dict[str, Any]:
    river = registry.rivers.get(s.river)
    return {
        "id": s.id,
        "name_zh": s.name_zh,
        "name_en": s.name_en,
        "river": s.river,
        "river_zh": river.name_zh if river else "",
        "river_en": river.name_en if river else "",
        "basin": s.basin,
        "county": s.county,
        "level": s.level,
        "water_body": s.water_body,
        "target": s.target,
        "station": s.station,
        "order": s.order,
        "lat": s.lat,
        "lon": s.lon,
    }


def sections(registry: SectionRegistry) -> list[dict[str, Any]]:
    return [section_info(s, registry) for s in registry]


def cwqi(c: Cwqi | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "value": as_number(c.value),
        "items": sorted(c.covers),
        "indices": {p: as_number(v) for p, v in sorted(c.indices.items())},
        "sections": c.sections,
        "uniform": c.uniform,
    }


def item(i: ItemJudgement, source: str | None) -> dict[str, Any]:
    return {
        "name_zh": i.name_zh,
        "name_en": i.name_en,
        "unit": catalogue.get(i.param).unit,
        "mean": num(i.mean),
        "evaluated": i.evaluated,
        "class": cls(i.water_class),
        "meets_target": i.meets_target,
        "multiple_iii": num(i.multiple),
        "multiple_target": num(i.multiple_vs_target),
        "n_valid": i.valid,
        "n_expected": i.expected,
        "completeness": num(i.completeness),
        "source": source,
        "not_measured": i.not_measured.value if i.not_measured else None,
    }


def assessment(a: SectionAssessment, registry: SectionRegistry) -> dict[str, Any]:
    """One section over one period: the entry of every list below."""
    j = a.judgement
    zh, en = describe_main_pollutants(j)
    return {
        **section_info(a.section, registry),
        "status": j.status.value,
        "class": cls(j.water_class),
        "class_zh": j.label_zh,
        "class_en": j.label_en,
        "colour": colour(j.water_class) if j.water_class is not None else None,
        "meets_target": j.meets_target,
        "items": {i.param: item(i, a.sources.get(i.param)) for i in j.items},
        "main_pollutants": [
            {
                "param": i.param,
                "name_zh": i.name_zh,
                "name_en": i.name_en,
                "class": cls(i.water_class),
                "multiple_iii": num(i.multiple),
            }
            for i in j.main_pollutants
        ],
        "main_pollutants_zh": zh,
        "main_pollutants_en": en,
        "cwqi": cwqi(a.cwqi),
        "n_valid": j.valid,
        "n_expected": j.expected,
        "completeness": num(j.completeness),
        "not_measured": j.not_measured.value if j.not_measured else None,
        "not_evaluated": list(j.not_evaluated),
    }


def section_report(a: SectionAssessment, registry: SectionRegistry) -> dict[str, Any]:
    return {"period": period(a.period), "section": assessment(a, registry)}


def counts(c: ClassCounts) -> dict[str, Any]:
    return {
        "sections": c.sections,
        "classed": c.classed,
        "unclassed": c.unclassed,
        "by_class": {k.roman: n for k, n in c.by_class.items()},
        "i_to_iii": c.i_to_iii,
        "worse_than_v": c.worse_than_v,
        "percent_i_to_iii": num(c.percent_i_to_iii),
        "percent_worse_than_v": num(c.percent_worse_than_v),
    }


def grade(g: RiverGrade | None) -> dict[str, Any] | None:
    if g is None:
        return None
    return {
        "grade": g.grade.value,
        "label_zh": g.grade.label_zh,
        "label_en": g.grade.label_en,
        "sections": g.sections,
        "i_to_iii": g.i_to_iii,
        "worse_than_v": g.worse_than_v,
        "percent_i_to_iii": as_number(g.percent_i_to_iii),
        "percent_worse_than_v": as_number(g.percent_worse_than_v),
    }


def city(c: CityAssessment, registry: SectionRegistry) -> dict[str, Any]:
    return {
        "period": period(c.period),
        "sections": [assessment(a, registry) for a in c.sections],
        "counts": {scope: counts(n) for scope, n in c.counts.items()},
        "rivers": [
            {
                "id": r.river.id,
                "name_zh": r.river.name_zh,
                "name_en": r.river.name_en,
                "basin": r.river.basin,
                "sections": list(r.sections),
                "grade": grade(r.grade),
            }
            for r in c.rivers
        ],
    }


def _ranked(entries: Iterable[Ranked], key: str) -> list[dict[str, Any]]:
    return [{"rank": r.rank, key: r.key, "value": as_number(r.value)} for r in entries]


def _area(a: AreaCwqi) -> dict[str, Any]:
    return {
        "name": a.name,
        "sections": list(a.sections),
        "cwqi": num(a.now.value) if a.now else None,
        "last_year": num(a.last_year.value) if a.last_year else None,
        "delta_percent": num(a.delta),
    }


def cwqi_report(r: CwqiReport, registry: SectionRegistry) -> dict[str, Any]:
    return {
        "period": period(r.period),
        "last_year_period": period(r.last_year_period),
        "items": sorted(r.items),
        "sections": [
            {
                "id": s.section.id,
                "name_zh": s.section.name_zh,
                "name_en": s.section.name_en,
                "county": s.section.county,
                "level": s.section.level,
                "cwqi_own": cwqi(s.cwqi),
                "cwqi": num(s.now.value) if s.now else None,
                "last_year": num(s.last_year.value) if s.last_year else None,
                "delta_percent": num(s.delta),
            }
            for s in r.sections
        ],
        "counties": [_area(a) for a in r.counties],
        "city": _area(r.city),
        "county_ranking": _ranked(r.county_ranking, "county"),
        "county_delta_ranking": _ranked(r.county_delta_ranking, "county"),
        "section_delta_ranking": _ranked(r.section_delta_ranking, "section"),
    }


def intensity_item(i: ItemIntensity) -> dict[str, Any]:
    return {
        "param": i.param,
        "name_zh": i.name_zh,
        "name_en": i.name_en,
        "value": as_number(i.value),
        "at": iso(i.at),
        "limit": as_number(i.limit),
        "ratio": as_number(i.ratio),
    }


def flood(r: FloodReport, registry: SectionRegistry) -> dict[str, Any]:
    names = {s.id: s for s in registry}
    return {
        "year": r.year,
        "period": period(r.period),
        "sections": [
            {
                "id": s.id,
                "name_zh": s.name_zh,
                "name_en": s.name_en,
                "target": s.target,
                "intensity": intensity_item(i.top) if i.top else None,
                "items": [intensity_item(x) for x in i.items],
            }
            for s, i in r.sections
        ],
        "ranking": [
            {
                "rank": x.rank,
                "section": x.section,
                "section_zh": names[x.section].name_zh,
                "section_en": names[x.section].name_en,
                **intensity_item(x.top),  # name_zh / name_en: the item's
            }
            for x in r.ranking
        ],
    }


def neighbours(v: NeighbourView, registry: SectionRegistry) -> dict[str, Any]:
    return {
        "period": period(v.section.period),
        "section": assessment(v.section, registry),
        "upstream": [assessment(a, registry) for a in v.upstream],
        "downstream": [assessment(a, registry) for a in v.downstream],
    }
