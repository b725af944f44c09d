"""The outfalls over HTTP (issue 14 item 4): the registry with each outfall's latest values against its limits.

GET /api/outfalls                      {outfalls: [entry...]} in registry order
GET /api/sections/{id}/outfalls        {section, outfalls: [entry...]}: those upstream of it, nearest first

An entry: the registry's fields (names, enterprise, river, section downstream, order, MN, standard, limits),
``reporting`` (an HJ 212 logger reports for it), ``state`` (online / degraded / offline / unknown, as a
station's), ``latest`` per item (value, flag, time, unit, limit, over), ``over`` (items whose latest valid
value breaches its limit) and ``open_alerts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException

from collector import summaries
from collector.alerts.rules.outfall import breached
from collector.api.params import MAX_ID, IdPath
from collector.outfalls import Outfall
from collector.sections import load_sections
from collector.store.base import StoredReading
from protocols import catalogue
from protocols.flags import is_valid

if TYPE_CHECKING:
    from collector.service import CollectorService


def entry(
    outfall: Outfall,
    section_zh: str,
    latest: dict[str, StoredReading],
    *,
    reporting: bool,
    state: str,
    open_alerts: int,
) -> dict[str, Any]:
    """One outfall as the API shows it. Pure."""
    items: dict[str, Any] = {}
    over = []
    for code in dict.fromkeys([*outfall.items, *outfall.limits, *sorted(latest)]):
        reading = latest.get(code)
        limit = outfall.limits.get(code)
        breach = (
            reading is not None
            and reading.value is not None
            and is_valid(reading.flag)
            and limit is not None
            and breached((limit.min, limit.max), reading.value)
        )
        if breach:
            over.append(code)
        param = catalogue.PARAMETERS.get(code)
        items[code] = {
            "value": reading.value if reading else None,
            "flag": reading.flag if reading else None,
            "t": summaries.iso(reading.t) if reading else None,
            "unit": param.unit if param else "",
            "name_zh": param.name_zh if param else code,
            "name_en": param.name_en if param else code,
            "limit_min": limit.min if limit else None,
            "limit_max": limit.max if limit else None,
            "over": breach,
        }
    return {
        "id": outfall.id,
        "name_zh": outfall.name_zh,
        "name_en": outfall.name_en,
        "enterprise_zh": outfall.enterprise_zh,
        "enterprise_en": outfall.enterprise_en,
        "river": outfall.river,
        "section": outfall.section,
        "section_zh": section_zh,
        "order": outfall.order,
        "mn": outfall.mn or None,
        "standard": outfall.standard,
        "limits": {code: {"min": lim.min, "max": lim.max} for code, lim in outfall.limits.items()},
        "reporting": reporting,
        "state": state,
        "latest": items,
        "over": over,
        "open_alerts": open_alerts,
    }


def outfalls_router(service: CollectorService) -> APIRouter:
    router = APIRouter()
    sections = load_sections(service.config.assessment.sections or None)
    registry = service.config.outfall_registry()

    def describe(outfall: Outfall) -> dict[str, Any]:
        site = service.stations.get(outfall.id)
        reporting = site is not None and site.kind == "outfall"
        section = sections.get(outfall.section)
        return entry(
            outfall,
            section.name_zh if section else outfall.section,
            service.store.latest(outfall.id) if reporting else {},
            reporting=reporting,
            state=summaries.api_state(service.tracker.get(outfall.id)) if reporting else "unknown",
            open_alerts=service.alert_summary(outfall.id).open_alerts if reporting else 0,
        )

    @router.get("/api/outfalls")
    def outfalls() -> dict[str, Any]:
        return {"outfalls": [describe(o) for o in registry]}

    @router.get("/api/sections/{section_id}/outfalls")
    def section_outfalls(section_id: IdPath) -> dict[str, Any]:
        section = sections.get(section_id)
        if section is None:
            raise HTTPException(404, f"unknown section {section_id[:MAX_ID]!r} (see /api/sections)")
        return {"section": section.id, "outfalls": [describe(o) for o in registry.upstream_of(section)]}

    return router
