"""The FastAPI app, following the contract in /work/helpers/API.md. Reading needs no token; changes need
``Authorization: Bearer <api.admin_token>``.

GET  /healthz                                    {ok, store: ok|error, mqtt: connected|disconnected,
                                                  receiver: up|down, inbox_depth, ...} (503 not ok)
GET  /api/overview                               {generated_at, stations, rivers, basins, counts}
GET  /api/stations                               [StationSummary...]
GET  /api/stations/{id}                          StationSummary + devices, controller, transitions, events...
GET  /api/stations/{id}/readings?param=&from=&to=&limit=
GET  /api/stations/{id}/health?from=&to=         uptime, capture and valid rates (default: 7 days)
GET  /api/stations/{id}/gaps                     received seq ranges and the holes between them
GET  /api/parameters                             [catalogue entries]
GET  /api/flags                                  [HJ 212 flags]
GET  /api/stats                                  ingest counters, receiver and inbox
GET  /api/alerts?state=&station=&severity=&limit=  {alerts: [Alert...]}, newest first
POST /api/alerts/{id}/ack                        {by, note} → Alert (Bearer; 404 unknown, 409 resolved)
GET  /api/stream                                 server-sent events: station, alert, ping
POST /api/login                                  {token} → 200 {ok: true} | 401
POST /api/stations/{id}/commands                 {kind, args} → 202 {id, ...}        (Bearer)
GET  /api/stations/{id}/commands/{cmd_id}        the command and its reply (null until it comes)
GET  /metrics                                    Prometheus text
GET  /                                           the dashboard (collector.web)
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from collector import metrics, web
from collector.api import health, views
from collector.config import StationConfig
from protocols import catalogue
from protocols.errors import CommandError
from protocols.messages import CommandKind

if TYPE_CHECKING:
    from collector.service import CollectorService

MAX_LIMIT = 1_000_000
MAX_HEALTH_RANGE = timedelta(days=92)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=1000)


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=1000)


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: CommandKind
    args: dict[str, Any] = Field(default_factory=dict)


def create_app(service: CollectorService) -> FastAPI:
    app = FastAPI(
        title="qingliu collector 清流中心采集",
        version="1",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )

    def site(station_id: str) -> StationConfig:
        config = service.site(station_id)
        if config is None:
            raise HTTPException(404, f"unknown station {station_id!r}")
        return config

    def token_ok(given: str) -> bool:
        token = service.config.api.admin_token
        return bool(token) and hmac.compare_digest(given.encode(), token.encode())

    def require_admin(authorization: Annotated[str | None, Header()] = None) -> None:
        if not service.config.api.admin_token:
            raise HTTPException(403, "changes are disabled: no api.admin_token is configured")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token_ok(given.strip()):
            raise HTTPException(
                401,
                "a valid 'Authorization: Bearer <admin token>' header is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def summaries() -> list[dict[str, Any]]:
        return [s for s in (service.summary(i) for i in service.station_ids()) if s is not None]

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        store_ok = service.store.ping()
        mqtt_ok = service.mqtt_connected
        ok = store_ok and mqtt_ok
        receiver = service.receiver_status()
        body = {
            "ok": ok,
            "store": "ok" if store_ok else "error",
            "mqtt": "connected" if mqtt_ok else "disconnected",
            "receiver": "up" if receiver["running"] else "down",
            "receiver_restarts": receiver["restarts"],
            "inbox_depth": receiver["inbox_depth"],
            "inbox_oldest_age_s": receiver["inbox_oldest_age_s"],
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/api/overview")
    def overview() -> dict[str, Any]:
        sites = [site(i) for i in service.station_ids()]
        return views.overview(sites, summaries(), service.clock())

    @app.get("/api/stations")
    def stations() -> list[dict[str, Any]]:
        return summaries()

    @app.get("/api/stations/{station_id}")
    def station(station_id: str) -> dict[str, Any]:
        config = site(station_id)
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
        station_id: str,
        param: str | None = None,
        start: Annotated[datetime | None, Query(alias="from")] = None,
        end: Annotated[datetime | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
    ) -> dict[str, Any]:
        config = site(station_id)
        if param is not None and not catalogue.is_known(param):
            raise HTTPException(422, f"unknown parameter code {param!r}")
        for name, value in (("from", start), ("to", end)):
            if value is not None and value.tzinfo is None:
                raise HTTPException(422, f"'{name}' must carry a time zone, e.g. 2026-07-01T00:00:00Z")
        if start is not None and end is not None and start >= end:
            raise HTTPException(422, "'from' must be before 'to'")
        # Without 'from', the newest readings up to 'to' (still oldest first): what a chart of "now" wants.
        rows = service.store.readings(
            station_id, param=param, start=start, end=end, limit=limit, newest=start is None
        )
        return views.readings(config, param, start, end, limit, rows)

    @app.get("/api/stations/{station_id}/health")
    def station_health(
        station_id: str,
        start: Annotated[datetime | None, Query(alias="from")] = None,
        end: Annotated[datetime | None, Query(alias="to")] = None,
    ) -> dict[str, Any]:
        config = site(station_id)
        for name, value in (("from", start), ("to", end)):
            if value is not None and value.tzinfo is None:
                raise HTTPException(422, f"'{name}' must carry a time zone, e.g. 2026-07-01T00:00:00Z")
        end = end or service.clock()
        defaulted = start is None
        start = start or end - timedelta(days=7)
        if start >= end:
            raise HTTPException(422, "'from' must be before 'to'")
        if end - start > MAX_HEALTH_RANGE:
            raise HTTPException(422, f"the range may span at most {MAX_HEALTH_RANGE.days} days")
        initial, transitions = service.store.transitions_between(station_id, start, end)
        if defaulted and initial is None:
            # A station first heard inside the default window is judged from then on: the days before it was
            # commissioned are not downtime, and a new station would otherwise show 0.1 % uptime.
            first_heard = next((t.at for t in transitions if t.new != "offline"), None)
            if first_heard is not None and first_heard > start:
                start = first_heard
                initial, transitions = service.store.transitions_between(station_id, start, end)
        plan = health.schedules(config, service.config.schedule)
        readings = {
            code: service.store.readings(station_id, param=code, start=start, end=end, limit=MAX_LIMIT)
            for code in plan
        }
        excluded = [(e.start, e.end, e.reason) for e in service.excluded_periods(station_id, start, end)]
        body = health.station_health(
            config, service.config.schedule, start, end, readings, initial, transitions, excluded
        )
        body["from"], body["to"] = views.iso(start), views.iso(end)
        return body

    @app.get("/api/stations/{station_id}/gaps")
    def gaps(station_id: str) -> dict[str, Any]:
        site(station_id)
        record = service.tracker.get(station_id)
        next_seq = record.status.next_seq if record is not None and record.status is not None else None
        return views.gaps(station_id, service.store.seq_summary(station_id), next_seq)

    @app.get("/api/alerts")
    def alerts(
        state: Literal["open", "acknowledged", "resolved", "active"] | None = None,
        station: str | None = None,
        severity: Literal["info", "warning", "critical"] | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> dict[str, Any]:
        found = service.store.alerts(state=state, station=station or None, severity=severity, limit=limit)
        return {"alerts": [views.alert(a, service.site(a.station)) for a in found]}

    @app.post("/api/alerts/{alert_id}/ack", dependencies=[Depends(require_admin)])
    def acknowledge(alert_id: str, body: AckRequest) -> dict[str, Any]:
        stored = service.store.alert(alert_id)
        if stored is None:
            service.count_rejected("ack_unknown_alert")
            raise HTTPException(404, f"unknown alert {alert_id!r}")
        acked = service.acknowledge_alert(alert_id, body.by, body.note)
        if acked is None:
            raise HTTPException(409, f"alert {alert_id!r} is already resolved")
        return views.alert(acked, service.site(acked.station))

    @app.get("/api/parameters")
    def parameters() -> list[dict[str, Any]]:
        return views.parameters()

    @app.get("/api/flags")
    def flags() -> list[dict[str, Any]]:
        return views.flags()

    @app.post("/api/login")
    def login(body: LoginRequest) -> JSONResponse:
        if not token_ok(body.token):
            return JSONResponse({"ok": False, "detail": "invalid token"}, status_code=401)
        return JSONResponse({"ok": True})

    @app.get("/api/stream")
    async def stream(request: Request) -> StreamingResponse:
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
        snap["last_commit_at"] = views.iso(snap["last_commit_at"])
        receiver = service.receiver_status()
        return {
            "ingest": snap,
            "queue_depth": receiver["inbox_depth"],
            "receiver": receiver,
            "receiver_counters": service.inbox.counters(),
            "store": service.store.counts(),
            "mqtt_connected": service.mqtt_connected,
            "started_at": views.iso(service.started_at),
            "stations": {state.value: n for state, n in service.tracker.count_by_state().items()},
        }

    @app.post("/api/stations/{station_id}/commands", status_code=202, dependencies=[Depends(require_admin)])
    def send_command(station_id: str, body: CommandRequest) -> dict[str, Any]:
        site(station_id)
        try:
            command = service.send_command(station_id, body.kind, body.args)
        except CommandError as exc:
            raise HTTPException(503 if exc.reason == "not_connected" else 504, str(exc)) from None
        return {
            "id": command.id,
            "station": station_id,
            "kind": command.kind.value,
            "args": command.args,
            "issued_at": views.iso(command.issued_at),
        }

    @app.get("/api/stations/{station_id}/commands/{command_id}")
    def get_command(station_id: str, command_id: str) -> dict[str, Any]:
        site(station_id)
        stored = service.store.command(station_id, command_id)
        if stored is None:
            raise HTTPException(404, f"no command {command_id!r} for station {station_id!r}")
        return views.command(stored)

    @app.get("/metrics")
    def prometheus() -> PlainTextResponse:
        receiver = service.receiver_status()  # counts the inbox once for both depth metrics
        text = metrics.render(
            service.counters,
            service.tracker.count_by_state(),
            mqtt_connected=receiver["connected"],
            queue_depth=receiver["inbox_depth"],
            extra=service.metric_families(receiver),
        )
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    web.mount(app)  # the operators' dashboard: /, /station/{id}, /alerts, /static/
    return app
