"""The FastAPI app: the API contract is the endpoint list below. Reading needs no token; changes need
``Authorization: Bearer <api.admin_token>``.

GET  /healthz                                    service.health_report(): {ok, reasons, store, mqtt,
                                                  receiver, applier, inbox_depth, dead_letters...} (503 not ok)
GET  /api/overview                               {generated_at, stations, rivers, basins, counts}
GET  /api/stations                               [StationSummary...]
GET  /api/stations/{id}                          StationSummary + devices, controller, transitions, events...
GET  /api/stations/{id}/readings?param=&from=&to=&limit=&points=  (points: a chart's series, bucketed)
GET  /api/stations/{id}/health?from=&to=         uptime, capture and valid rates (default: 7 days)
GET  /api/stations/{id}/gaps                     received seq ranges, the holes still missing and those
                                                  recovered (re-sent under new numbers)
GET  /api/fleet/health                           each station's uptime and capture, last 24 h, from first heard
GET  /api/parameters                             [catalogue entries]
GET  /api/flags                                  [HJ 212 flags]
GET  /api/stats                                  ingest counters, receiver and inbox
GET  /api/dead-letters?station=&reason=&limit=   {counts: {reason: n}, items: [quarantined message...]}
POST /api/dead-letters/reapply                   {ids?} → {reapplied, still_failing} (Bearer; 503 store down)
GET  /api/alerts?state=&station=&severity=&limit=  {alerts: [Alert...]}, newest first
POST /api/alerts/{id}/ack                        {by, note} → Alert (Bearer; 404 unknown, 409 resolved)
GET  /api/stream                                 server-sent events: station, alert, ping
POST /api/login                                  {token} → 200 {ok: true} | 401
POST /api/stations/{id}/commands                 {kind, args} → 202 {id, ...} (Bearer; 422 when the args are
                                                  not what protocols.commands accepts for the kind; sync_clock
                                                  without reference_time carries the collector's clock)
GET  /api/stations/{id}/commands/{cmd_id}        the command and its reply (null until it comes)
GET  /api/sections                               the assessed sections and rivers (collector/api/assessment.py:
GET  /api/sections/{id}/assessment?period=&ref=   one section over a period; its neighbours on the river over
GET  /api/sections/{id}/neighbours?from=&to=      a window; all sections with counts, shares and river grades;
GET  /api/assessment?period=&ref=                 CWQI with ΔCWQI and county rankings; flood-season intensity
GET  /api/assessment/cwqi?period=&ref=            with the city ranking; period day|week|month|quarter|year|
GET  /api/assessment/flood?year=                  flood|custom, ref as collector/assessment/periods.py parses)
GET  /api/reports?kind=&limit=                   the archive of the bureau's products (collector/api/reports.py:
GET  /api/reports/{kind}/{period}?format=&lang=   one product as html|xlsx|docx|json, made on demand when not
POST /api/reports/{kind}/{period}                 archived; make it again now (Bearer))
GET  /metrics                                    Prometheus text
GET  /                                           the dashboard (collector.web)

Every input is bounded by collector/api/params.py: a bad one is 422 with a message (counted as
api_rejected{reason="invalid_request"}), an unknown station 404, never a 500.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from collector import exposition, summaries, web
from collector.api import health_window, series, views
from collector.api.assessment import assessment_router
from collector.api.auth import ReadGuard, make_auth
from collector.api.fleet import fleet_router
from collector.api.outfalls import outfalls_router
from collector.api.params import (
    EARLIEST,
    AlertState,
    IdPath,
    Inputs,
    Limit,
    ParamCode,
    Reason,
    Severity,
    StationQuery,
    TimeRange,
)
from collector.api.reference import reference_html
from collector.api.reports import reports_router
from collector.auth.accounts import ADMIN_TOKEN_USER, Principal
from collector.auth.roles import Role
from collector.commands import command_args as checked_args
from collector.config import StationConfig
from collector.gaps import agent_seqs
from collector.store.failures import store_failure
from protocols.errors import CommandError
from protocols.messages import CommandKind

if TYPE_CHECKING:
    from collector.service import CollectorService

MAX_LIMIT = 1_000_000
MAX_POINTS = 5000  # a chart's points at most (readings or buckets)
MAX_HEALTH_RANGE = timedelta(days=92)


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=1000)


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: CommandKind
    # Checked per kind by protocols.commands.check_args (422 with the agent's own reason).
    args: dict[str, Any] = Field(default_factory=dict, max_length=8)


class ReapplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # None: every dead letter. Ids are the store's row ids (positive 64-bit integers).
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(default=None, max_length=10_000)


def create_app(service: CollectorService) -> FastAPI:
    app = FastAPI(
        title="qingliu collector 清流中心采集",
        version="1",
        docs_url=None,  # Swagger UI loads from a CDN: /api/docs below is served whole by the collector
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )

    @app.get("/api/docs", include_in_schema=False)
    def api_reference() -> HTMLResponse:
        return HTMLResponse(reference_html(app.openapi()))

    inputs = Inputs(service.clock, service.site)
    # Dependencies as defaults, not in Annotated: annotations are strings here, resolved in module globals.
    station_dep: Any = Depends(inputs.station)
    range_dep: Any = Depends(inputs.time_range())
    health_range_dep: Any = Depends(
        inputs.time_range(max_span=MAX_HEALTH_RANGE, default_span=timedelta(days=7))
    )
    station_filter_dep: Any = Depends(inputs.station_filter)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        service.count_rejected("invalid_request")  # bad input is counted, not only answered
        # FastAPI's own handler echoes the input as UTF-8 and fails (500) on a lone surrogate: ASCII escapes.
        body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True, default=str)
        return Response(body, status_code=422, media_type="application/json")

    # Who may change what (collector/api/auth.py): operators acknowledge, admins command; each is audited.
    auth = make_auth(service)
    require_admin = auth.require(Role.ADMIN)
    require_operator = auth.require(Role.OPERATOR)
    admin_dep: Any = Depends(require_admin)
    operator_dep: Any = Depends(require_operator)

    app.add_middleware(ReadGuard, auth=auth)  # api.read_requires_login
    app.include_router(auth.router())  # /api/login, /api/logout, /api/me, /api/audit, /api/tokens

    def station_summaries() -> list[dict[str, Any]]:
        return [s for s in (service.summary(i) for i in service.station_ids()) if s is not None]

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        ok, body = service.health_report()  # with the reasons when not ok (collector/service.py)
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/api/overview")
    def overview() -> dict[str, Any]:
        sites = [inputs.known(i) for i in service.station_ids()]
        return summaries.overview(sites, station_summaries(), service.clock())

    @app.get("/api/stations")
    def stations() -> list[dict[str, Any]]:
        return station_summaries()

    @app.get("/api/stations/{station_id}")
    def station(config: StationConfig = station_dep) -> dict[str, Any]:
        station_id = config.id
        return views.station_detail(
            config,
            service.tracker.get(station_id),
            service.store.latest(station_id),
            service.store.transitions(station_id, limit=50),
            service.store.events(station_id, limit=20),
            service.clock(),
            service.alert_summary(station_id),
        )

    @app.get("/api/stations/{station_id}/readings")
    def readings(
        config: StationConfig = station_dep,
        param: ParamCode | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
        span: TimeRange = range_dep,
        points: Annotated[int | None, Query(ge=10, le=MAX_POINTS)] = None,
    ) -> dict[str, Any]:
        if points is not None and param is not None and span.start is not None and span.end is not None:
            # A chart: the whole range, as buckets when it holds more than `points` (collector/api/series.py).
            width, found = service.store.reading_buckets(config.id, param, span.start, span.end, points)
            return series.series(config, param, span.start, span.end, points, width, found)
        # Without 'from', the newest readings up to 'to' (still oldest first): what a chart of "now" wants.
        rows = service.store.readings(
            config.id, param=param, start=span.start, end=span.end, limit=limit, newest=span.start is None
        )
        return views.readings(config, param, span.start, span.end, limit, rows)

    @app.get("/api/stations/{station_id}/health")
    def station_health(
        config: StationConfig = station_dep,
        span: TimeRange = health_range_dep,
    ) -> dict[str, Any]:
        assert span.start is not None and span.end is not None  # the default span fills both
        # Clipped to when the station was first heard (collector/api/health_window.py).
        return health_window.clipped_health(service, config, span.start, span.end)

    @app.get("/api/stations/{station_id}/gaps")
    def gaps(config: StationConfig = station_dep) -> dict[str, Any]:
        record = service.tracker.get(config.id)
        next_seq = record.status.next_seq if record is not None and record.status is not None else None
        return views.gaps(
            config.id,
            agent_seqs(service.store.seq_summary(config.id)),
            next_seq,
            service.recovered_seqs(config.id),
        )

    @app.get("/api/alerts")
    def alerts(
        state: AlertState | None = None,
        severity: Severity | None = None,
        limit: Limit = 100,
        station: str | None = station_filter_dep,
    ) -> dict[str, Any]:
        found = service.store.alerts(state=state, station=station, severity=severity, limit=limit)
        return {"alerts": [summaries.alert(a, service.site(a.station)) for a in found]}

    @app.post("/api/alerts/{alert_id}/ack")
    def acknowledge(
        alert_id: IdPath, body: AckRequest, request: Request, who: Principal = operator_dep
    ) -> dict[str, Any]:
        stored = service.store.alert(alert_id)
        if stored is None:
            service.count_rejected("ack_unknown_alert")
            raise HTTPException(404, f"unknown alert {alert_id!r}")
        # A signed-in person is who acknowledged; the shared bootstrap token keeps the name it was given.
        by = (body.by or ADMIN_TOKEN_USER) if who.via == "admin_token" else who.name
        acked = service.acknowledge_alert(alert_id, by, body.note)
        if acked is None:
            raise HTTPException(409, f"alert {alert_id!r} is already resolved")
        auth.audit(request, who, "ack", alert_id, station=acked.station, by=by, note=body.note)
        return summaries.alert(acked, service.site(acked.station))

    @app.get("/api/parameters")
    def parameters() -> list[dict[str, Any]]:
        return views.parameters()

    @app.get("/api/flags")
    def flags() -> list[dict[str, Any]]:
        return views.flags()

    @app.get("/api/stream")
    async def stream(request: Request) -> StreamingResponse:
        if service.live.subscriber_count >= service.live.max_subscribers:  # a bound (collector/live.py)
            raise HTTPException(503, "too many live-stream listeners; try again later")

        async def events() -> AsyncIterator[str]:
            async for update in service.live.subscribe(ping_s=15.0):
                if await request.is_disconnected():
                    break
                yield update.sse()

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    @app.get("/api/stats")
    def stats() -> dict[str, Any]:
        snap = service.counters.snapshot()
        snap["last_commit_at"] = summaries.iso(snap["last_commit_at"])
        receiver = service.receiver_status()
        return {
            "ingest": snap,
            "queue_depth": receiver["inbox_depth"],
            "receiver": receiver,
            "receiver_counters": service.inbox.counters(),
            "store": service.store.counts(),
            "mqtt_connected": service.mqtt_connected,
            "hj212": service.hj212.status() if service.hj212 is not None else None,  # None: not enabled
            "started_at": summaries.iso(service.started_at),
            "stations": {state.value: n for state, n in service.tracker.count_by_state().items()},
        }

    def command_args(config: StationConfig, body: CommandRequest) -> dict[str, Any]:
        """The arguments to send, checked as the agent will check them (422 otherwise)."""
        record = service.tracker.get(config.id)
        status = record.status if record is not None else None
        try:
            logger = service.hj212 is not None and service.hj212.serves(config.id)
            return checked_args(
                body.kind, body.args, service.clock(), status, EARLIEST, inputs.latest(), logger=logger
            )
        except CommandError as exc:
            service.count_rejected("invalid_command")
            raise HTTPException(422, str(exc)) from None

    @app.post("/api/stations/{station_id}/commands", status_code=202)
    def send_command(
        body: CommandRequest,
        request: Request,
        config: StationConfig = station_dep,
        who: Principal = admin_dep,
    ) -> dict[str, Any]:
        args = command_args(config, body)
        try:
            command = service.send_command(config.id, body.kind, args)
        except CommandError as exc:
            auth.audit(request, who, "command", config.id, kind=body.kind.value, args=args, failed=exc.reason)
            raise HTTPException(503 if exc.reason == "not_connected" else 504, str(exc)) from None
        auth.audit(request, who, "command", config.id, kind=body.kind.value, args=args, id=command.id)
        return {
            "id": command.id,
            "station": config.id,
            "kind": command.kind.value,
            "args": command.args,
            "issued_at": summaries.iso(command.issued_at),
        }

    @app.get("/api/stations/{station_id}/commands/{command_id}")
    def get_command(command_id: IdPath, config: StationConfig = station_dep) -> dict[str, Any]:
        stored = service.store.command(config.id, command_id)
        if stored is None:
            raise HTTPException(404, f"no command {command_id!r} for station {config.id!r}")
        return views.command(stored)

    @app.get("/api/dead-letters")
    def dead_letters(
        station: StationQuery | None = None,
        reason: Reason | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        # Any station id may be asked: a station whose every message was refused is known only here.
        items = service.dead_letters(station=station or None, reason=reason, limit=limit)
        return {"counts": service.dead_letter_counts(), "items": items}

    @app.post("/api/dead-letters/reapply")
    def reapply_dead_letters(
        request: Request, body: ReapplyRequest | None = None, who: Principal = admin_dep
    ) -> dict[str, int]:
        try:
            result = service.reapply_dead_letters(body.ids if body is not None else None)
            auth.audit(
                request, who, "reapply", "dead-letters", ids=body.ids if body is not None else None, **result
            )
            return result
        except Exception as exc:
            if store_failure(exc) == "down":
                raise HTTPException(503, f"the store is down, try again later: {exc}") from None
            raise

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(exposition.render(service.metrics), media_type=exposition.CONTENT_TYPE)

    app.include_router(fleet_router(service))  # the fleet's 24 h uptime and capture (issue 18)
    app.include_router(assessment_router(service))  # sections and their assessment (issue 12)
    app.include_router(outfalls_router(service))  # outfalls and their limits (issue 14)
    app.include_router(reports_router(service, require_admin, audit=auth.audit))  # the bureau's products
    web.mount(app)  # the operators' dashboard: /, /station/{id}, /alerts, /static/
    return app
