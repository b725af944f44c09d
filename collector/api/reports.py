"""The bureau's products over HTTP (issue 13 item 7): the archive and any product in any format.

GET  /api/reports?kind=&limit=                          {reports: [the latest making of each archived period:
                                                          kind, period, title, made_at, cutoff, completeness,
                                                          partial, figures, links per format]}
GET  /api/reports/{kind}/{period}?format=&lang=         the archived product (html | xlsx | docx | json; zh | en);
                                                          none archived: made now, and archived when its
                                                          period is complete
POST /api/reports/{kind}/{period}                       make it again now and archive it (admin; audited as
                                                          report.remake): {made_at,
                                                          archived, same, note}

``kind`` is daily | weekly | monthly | flood; ``period`` its reference (collector/reports/refs.py). A malformed
one is 422 with what a period of that kind looks like; a period that has not started (nothing to make) 404.
Files come with ``Content-Disposition`` and a name (``qingliu-monthly-2026-06.xlsx``); HTML and JSON inline (the
dashboard shows the page in a frame), xlsx and docx as attachments.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response

from collector.assessing import Assessor
from collector.reports.context import ReportContext
from collector.reports.document import Report, ReportKind, from_json, loads
from collector.reports.making import (
    FORMATS,
    Maker,
    Renderer,
    file_name,
    make_product,
    real_maker,
    real_renderer,
)
from collector.reports.refs import PATTERN, check_ref
from collector.store.report_rows import StoredReport

if TYPE_CHECKING:
    from collector.service import CollectorService

# The app's audit log (collector/api/auth.py Auth.audit): request, who, action, target, details.
Auditor = Callable[..., None]
Format = Literal["html", "xlsx", "docx", "json"]
Lang = Literal["zh", "en"]
PeriodPath = Annotated[
    str, Path(min_length=4, max_length=10, pattern=PATTERN, description="2026-07-01, 2026-W27, 2026-07, 2026")
]
KindQuery = Annotated[ReportKind | None, Query(description="daily | weekly | monthly | flood (default: all)")]
ListLimit = Annotated[int, Query(ge=1, le=1000, description="at most this many, 1 to 1000")]
INLINE = frozenset({"html", "json"})


def content_type(fmt: str) -> str:
    types: dict[str, str] = import_module("collector.reports.render").CONTENT_TYPES
    return types[fmt]


def links(kind: str, period: str) -> dict[str, str]:
    return {fmt: f"/api/reports/{kind}/{period}?format={fmt}" for fmt in FORMATS}


def plain(value: Any) -> Any:
    """Decimals as JSON numbers (pydantic would write them as strings); a float prints their digits."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def listed(stored: StoredReport) -> dict[str, Any]:
    kind = ReportKind(stored.kind)
    return {
        "kind": stored.kind,
        "period": stored.period,
        "title_zh": kind.title_zh,
        "title_en": kind.title_en,
        "made_at": stored.made_at,
        "cutoff": stored.cutoff,
        "completeness": plain(stored.completeness),
        "partial": stored.partial,
        "figures": plain(stored.figures),
        "links": links(stored.kind, stored.period),
    }


def reports_router(
    service: CollectorService,
    admin: Callable[..., Any],
    *,
    audit: Auditor | None = None,
    maker: Maker = real_maker,
    renderer: Renderer = real_renderer,
) -> APIRouter:
    """``admin``: the app's admin check (a dependency returning who asked); ``audit``: the app's audit log,
    which records each remake (who, when, from where, whether the figures changed); ``maker`` / ``renderer``:
    the products and formats (a test hands in its own)."""
    router = APIRouter()
    config = service.config
    ctx = ReportContext(
        assessor=Assessor.from_config(
            config, service.store, excluded=service.excluded_periods, clock=service.clock
        ),
        store=service.store,
        settings=config.reports,
        stations=config.stations,
        config=config,
        clock=service.clock,
    )
    admin_dep: Any = Depends(admin)

    def checked(kind: ReportKind, period: str) -> str:
        try:
            return check_ref(kind, period)
        except ValueError as exc:
            service.count_rejected("invalid_request")
            raise HTTPException(422, str(exc)) from None

    def made(kind: ReportKind, period: str, *, archive: bool | None) -> Any:
        try:
            return make_product(ctx, kind, period, archive=archive, maker=maker, renderer=renderer)
        except ValueError as exc:  # a period that has not started: nothing to make
            raise HTTPException(404, f"no {kind.value} product for {period}: {exc}") from None

    def archived(stored: StoredReport) -> Report | None:
        """The archived document; None when it no longer reads (an older document format): made again."""
        try:
            return from_json(loads(stored.document))
        except (ValueError, KeyError, TypeError):
            return None

    @router.get("/api/reports")
    def archive(kind: KindQuery = None, limit: ListLimit = 100) -> dict[str, Any]:
        found = service.store.reports(kind=kind.value if kind else None, limit=limit)
        return {"reports": [listed(r) for r in found]}

    @router.get("/api/reports/{kind}/{period}")
    def product(kind: ReportKind, period: PeriodPath, format: Format = "html", lang: Lang = "zh") -> Response:
        period = checked(kind, period)
        stored = service.store.report(kind.value, period)
        report, text = (archived(stored), stored.document) if stored is not None else (None, None)
        if report is None:
            report, text = made(kind, period, archive=None).report, None
        body = (
            text.encode("utf-8") if format == "json" and text is not None else renderer(report, format, lang)
        )
        name = file_name(kind.value, period, format, lang)
        disposition = "inline" if format in INLINE else "attachment"
        return Response(
            body,
            media_type=content_type(format),
            headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
        )

    @router.post("/api/reports/{kind}/{period}")
    def remake(
        kind: ReportKind, period: PeriodPath, request: Request, who: Any = admin_dep
    ) -> dict[str, Any]:
        period = checked(kind, period)
        result = made(kind, period, archive=True)
        if audit is not None:  # a remade product may change figures the bureau has already sent on
            audit(
                request,
                who,
                "report.remake",
                f"{kind.value}/{period}",
                archived=result.archived,
                same=result.same,
            )
        notes = result.report.notes
        return {
            "kind": kind.value,
            "period": period,
            "made_at": result.report.made_at,
            "partial": result.report.partial,
            "archived": result.archived,
            "same": result.same,
            "note": {"zh": notes[-1].zh, "en": notes[-1].en} if result.previous is not None else None,
        }

    return router


__all__ = ["links", "listed", "reports_router"]
