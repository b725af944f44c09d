"""The section assessment over HTTP (issue 12 item 8): machine-readable, every input checked (422, never 500).

GET /api/sections                                   {sections: [registry entry...], rivers: [...]}
GET /api/sections/{id}/assessment?period=&ref=      {period, section: entry}
GET /api/sections/{id}/neighbours?from=&to=         {period, section, upstream, downstream} (nearest first)
GET /api/assessment?period=&ref=                    {period, sections, counts, rivers} (all sections)
GET /api/assessment/cwqi?period=&ref=               CWQI per section, county and city, ΔCWQI, rankings
GET /api/assessment/flood?year=                     flood-season intensity per section and the ranking

``period`` is day | week | month | quarter | year | flood | custom (default month) and ``ref`` names it as
collector/assessment/periods.py parses it ("2026-07-15", "2026-W27", "2026-07", "2026-Q3", "2026",
"2026-07-01..2026-07-15"); without ``ref``, the current one (custom needs a ref). ``month=2026-07`` is accepted
for ``period=month&ref=2026-07``. A period still running is assessed so far (``partial``); one that has not
started is 422. The JSON shapes are collector/assessing_json.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query

from collector import assessing_json
from collector.api.params import MAX_ID, IdPath, Inputs, TimeRange
from collector.assessing import Assessor, SectionAssessment, current_ref
from collector.assessment import Period, PeriodKind
from collector.assessment.periods import ZONE

if TYPE_CHECKING:
    from collector.service import CollectorService

PeriodName = Literal["day", "week", "month", "quarter", "year", "flood", "custom"]
Ref = Annotated[str | None, Query(max_length=32, description="the period, e.g. 2026-07 (default: current)")]
MonthRef = Annotated[str | None, Query(max_length=16, description="shorthand for period=month&ref=…")]
Year = Annotated[int | None, Query(ge=2000, le=2199, description="flood season year (default: this year)")]
MAX_NEIGHBOUR_SPAN = timedelta(days=366)

T = TypeVar("T")


def assessment_router(service: CollectorService) -> APIRouter:
    router = APIRouter()
    assessor = Assessor.from_config(
        service.config, service.store, excluded=service.excluded_periods, clock=service.clock
    )
    registry = assessor.registry
    inputs = Inputs(service.clock, service.site)
    window_dep: Any = Depends(inputs.time_range(max_span=MAX_NEIGHBOUR_SPAN, default_span=timedelta(days=30)))

    def checked(make: Callable[[], T]) -> T:
        """A bad period or ref is 422 with the parser's message, and counted."""
        try:
            return make()
        except ValueError as exc:
            service.count_rejected("invalid_request")
            raise HTTPException(422, str(exc)) from None

    def period_of(kind: PeriodName, ref: str | None, month: str | None) -> Period:
        if month is not None and ref is None and kind == "month":
            ref = month
        return checked(lambda: assessor.period(kind, ref or current_ref(PeriodKind(kind), assessor.now())))

    def section_id(section_id: IdPath) -> str:
        if section_id not in registry:
            raise HTTPException(404, f"unknown section {section_id[:MAX_ID]!r} (see /api/sections)")
        return section_id

    section_dep: Any = Depends(section_id)

    @router.get("/api/sections")
    def sections() -> dict[str, Any]:
        return {
            "sections": assessing_json.sections(registry),
            "rivers": [
                {
                    "id": r.id,
                    "name_zh": r.name_zh,
                    "name_en": r.name_en,
                    "basin": r.basin,
                    "sections": [s.id for s in registry.on_river(r.id)],
                }
                for r in registry.rivers.values()
            ],
        }

    @router.get("/api/sections/{section_id}/assessment")
    def section_assessment(
        sid: str = section_dep,
        period: PeriodName = "month",
        ref: Ref = None,
        month: MonthRef = None,
    ) -> dict[str, Any]:
        found: SectionAssessment = assessor.section(sid, period_of(period, ref, month))
        return assessing_json.section_report(found, registry)

    @router.get("/api/sections/{section_id}/neighbours")
    def section_neighbours(sid: str = section_dep, span: TimeRange = window_dep) -> dict[str, Any]:
        assert span.start is not None and span.end is not None  # the default span fills both
        start, end = span.start, span.end
        view = checked(lambda: assessor.neighbours(sid, assessor.window(start, end)))
        return assessing_json.neighbours(view, registry)

    @router.get("/api/assessment")
    def city(period: PeriodName = "month", ref: Ref = None, month: MonthRef = None) -> dict[str, Any]:
        return assessing_json.city(assessor.city(period_of(period, ref, month)), registry)

    @router.get("/api/assessment/cwqi")
    def cwqi(period: PeriodName = "month", ref: Ref = None, month: MonthRef = None) -> dict[str, Any]:
        chosen = period_of(period, ref, month)
        return assessing_json.cwqi_report(checked(lambda: assessor.cwqi(chosen)), registry)

    @router.get("/api/assessment/flood")
    def flood(year: Year = None) -> dict[str, Any]:
        chosen = year if year is not None else assessor.now().astimezone(ZONE).year
        return assessing_json.flood(checked(lambda: assessor.flood(chosen)), registry)

    return router
