"""A stand-in collector for the dashboard's browser tests: the real static files plus canned JSON that follows
the API contract (collector/api/app.py), an SSE stream the test can push events into, and a record of what the page sent.

The real collector backend is written separately; a full-stack browser test against it belongs to the lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse

from collector import web
from collector.names import station_en
from protocols.catalogue import PARAMETERS
from protocols.sections import BASIN_NAMES, RIVERS, SECTIONS
from tests.support.ports import free_port, wait_for_port

GOOD_TOKEN = "good-token"
# The canned data end at the last whole hour, so "the last 24 h" always holds readings.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

LIMITS: dict[str, dict[str, float]] = {
    "w21003": {"I": 0.15, "II": 0.5, "III": 1.0, "IV": 1.5, "V": 2.0},
    "w01019": {"I": 2, "II": 4, "III": 6, "IV": 10, "V": 15},
    "w21011": {"I": 0.02, "II": 0.1, "III": 0.2, "IV": 0.3, "V": 0.4},
    "w01009": {"I": 7.5, "II": 6, "III": 5, "IV": 3, "V": 2},
}
DIRECTION = {"w21003": "max", "w01019": "max", "w21011": "max", "w01009": "min", "w01001": "range"}
BASE = {"w21003": 0.45, "w01019": 3.2, "w21011": 0.08, "w01009": 8.1, "w01001": 7.8, "w01010": 4.0}


def z(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_z(text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise HTTPException(422, f"bad time {text!r}") from exc
    if dt.tzinfo is None:
        raise HTTPException(422, f"time without zone {text!r}")
    return dt


# Per station: state, current class, data age, backlog, open alerts, worst severity.
STATION_SETUP: dict[str, tuple[str, str | None, float | None, int, int, str | None]] = {
    "chuanhutun": ("online", "II", 42.0, 0, 0, None),
    "hexicun": ("online", "III", 180.0, 0, 1, "warning"),
    "huayuanzi": ("degraded", "IV", 600.0, 120, 1, "critical"),
    "leijiaping": ("offline", "III", 7300.0, 3400, 1, "critical"),
    "bifengcun": ("online", "II", 30.0, 0, 0, None),
    "boshuicun": ("online", "III", 75.0, 2, 0, None),
    "jiehepucun": ("online", "劣V", 50.0, 0, 1, "warning"),
    "cigouyingqiao": ("unknown", None, None, 0, 0, None),
}


def latest_for(station: str, klass: str | None) -> dict[str, Any]:
    if klass is None:
        return {}
    out: dict[str, Any] = {}
    for code in ("w01010", "w01001", "w01009", "w01019", "w21003", "w21011"):
        p = PARAMETERS[code]
        limits = LIMITS.get(code)
        out[code] = {
            "value": BASE[code] * (1.8 if klass in ("IV", "劣V") and code == "w21003" else 1.0),
            "flag": "C" if (station == "hexicun" and code == "w21011") else "N",
            "t": z(NOW - timedelta(minutes=5)),
            "unit": p.unit,
            "name_zh": p.name_zh,
            "name_en": p.name_en,
            "class": klass if limits else None,
            "limit_target": limits["III"] if limits else None,
        }
    return out


def station_summary(station: str) -> dict[str, Any]:
    sec = SECTIONS[station]
    river = RIVERS[sec.river]
    state, klass, age, backlog, open_alerts, worst = STATION_SETUP[station]
    last = None if age is None else z(NOW - timedelta(seconds=age))
    return {
        "id": station,
        "name_zh": sec.name_zh,
        "name_en": station_en(station),
        "river": river.id,
        "river_zh": river.name_zh,
        "river_en": river.name_en,
        "basin": river.basin,
        "level": sec.level,
        "county": sec.county,
        "target_class": "III",
        "water_type": "river",
        "state": state,
        "online": state in ("online", "degraded"),
        "last_reading_at": last,
        "last_status_at": last,
        "data_age_s": age,
        "backlog": backlog,
        "dropped": 3 if station == "leijiaping" else 0,
        "clock_offset_s": None if age is None else 0.4,
        "current_class": klass,
        "off_target": klass in ("IV", "V", "劣V"),
        "open_alerts": open_alerts,
        "worst_alert_severity": worst,
        "latest": latest_for(station, klass),
    }


def station_detail(station: str, summary: dict[str, Any]) -> dict[str, Any]:
    return {
        **summary,
        "devices": {
            "probe": {
                "up": True,
                "flag": "N",
                "failures": 0,
                "last_ok": z(NOW - timedelta(minutes=1)),
                "error": None,
            },
            "nh3n": {
                "up": station != "huayuanzi",
                "flag": "N" if station != "huayuanzi" else "D",
                "failures": 0 if station != "huayuanzi" else 7,
                "last_ok": z(NOW - timedelta(hours=2)),
                "error": None if station != "huayuanzi" else "timeout reading holding registers",
            },
            "tp": {
                "up": True,
                "flag": "C",
                "failures": 0,
                "last_ok": z(NOW - timedelta(minutes=30)),
                "error": None,
            },
        },
        "controller": {
            "pump_running": 1,
            "water_present": 1,
            "mains_power": 0 if station == "leijiaping" else 1,
            "on_battery": 1 if station == "leijiaping" else 0,
            "battery_pct": 64,
            "door_open": 0,
            "cabinet_temp_c": 18.5,
        },
        # HJ 212 platforms above the station (agent/hj212up): one delivering, one down with a backlog.
        "uplinks": {
            "national": {"connected": True, "backlog": 0, "last_reply": z(NOW - timedelta(seconds=20))},
            "province": {"connected": False, "backlog": 12000, "alert": True, "refusals": 3},
        }
        if station == "hexicun"
        else {},
        "transitions": [
            {
                "at": z(NOW - timedelta(hours=3)),
                "from": "degraded",
                "to": summary["state"],
                "reason": "status",
            },
            {"at": z(NOW - timedelta(hours=5)), "from": "offline", "to": "degraded", "reason": "reading"},
        ],
        "oldest_unsent": z(NOW - timedelta(hours=2)) if summary["backlog"] else None,
        "next_seq": 12345,
        "agent_version": "0.1.0",
        "heartbeat_s": 30,
    }


def make_alert(
    aid: int, station: str, state: str, severity: str, param: str | None, hours_ago: float
) -> dict[str, Any]:
    p = PARAMETERS[param] if param else None
    opened = NOW - timedelta(hours=hours_ago)
    return {
        "id": aid,
        "station": station,
        "station_zh": SECTIONS[station].name_zh,
        "rule": "exceedance" if param else "offline",
        "param": param,
        "device": None,
        "severity": severity,
        "state": state,
        "title_zh": f"{p.name_zh}超标" if p else "站点离线",
        "title_en": f"{p.name_en} above target" if p else "Station offline",
        "message_zh": "高于目标类别限值" if p else "超过 10 分钟没有数据",
        "message_en": "above the target class limit" if p else "no data for more than 10 minutes",
        "opened_at": z(opened),
        "acked_at": z(opened + timedelta(minutes=20)) if state != "open" else None,
        "acked_by": "王工" if state != "open" else None,
        "resolved_at": z(opened + timedelta(hours=1)) if state == "resolved" else None,
        "last_value": 1.62 if param else None,
    }


@dataclass
class FakeCollector:
    """State of the fake API; tests read what the page sent and push events through it."""

    stations: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: dict[int, dict[str, Any]] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    outfalls: list[dict[str, Any]] = field(
        default_factory=list
    )  # GET /api/outfalls (collector/api/outfalls.py)
    stream_fails: bool = False
    ack_auth: list[str | None] = field(default_factory=list)
    ack_bodies: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    queues: list[asyncio.Queue[tuple[str, dict[str, Any]] | None]] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None

    def __post_init__(self) -> None:
        self.stations = {sid: station_summary(sid) for sid in SECTIONS}
        for alert in [
            make_alert(101, "huayuanzi", "open", "critical", "w21003", 2),
            make_alert(102, "hexicun", "open", "warning", "w21011", 5),
            make_alert(103, "leijiaping", "open", "critical", None, 1),
            make_alert(104, "jiehepucun", "open", "warning", "w01019", 8),
            make_alert(90, "boshuicun", "acknowledged", "warning", "w21003", 20),
            make_alert(80, "hexicun", "resolved", "info", "w01009", 30),
        ]:
            self.alerts[alert["id"]] = alert
        self.dead_letters = [dead_letter(7, "hexicun", "malformed", NOW - timedelta(minutes=90), 3)]

    def overview(self) -> dict[str, Any]:
        stations = list(self.stations.values())
        counts = {k: sum(1 for s in stations if s["state"] == k) for k in ("online", "degraded", "offline")}
        counts["open_alerts"] = sum(1 for a in self.alerts.values() if a["state"] == "open")
        counts["off_target"] = sum(1 for s in stations if s["off_target"])
        return {
            "generated_at": z(NOW),
            "stations": stations,
            "rivers": [
                {
                    "id": r.id,
                    "name_zh": r.name_zh,
                    "name_en": r.name_en,
                    "basin": r.basin,
                    "stations": list(r.stations),
                }
                for r in RIVERS.values()
            ],
            "basins": [
                {
                    "id": b,
                    "name_zh": zh,
                    "name_en": en,
                    "rivers": [r.id for r in RIVERS.values() if r.basin == b],
                }
                for b, (zh, en) in BASIN_NAMES.items()
            ],
            "counts": counts,
        }

    def broadcast(self, event: str, data: dict[str, Any]) -> None:
        """Send one SSE event to every open stream (safe to call from any thread)."""
        assert self.loop is not None
        for q in list(self.queues):
            self.loop.call_soon_threadsafe(q.put_nowait, (event, data))

    def close_streams(self) -> None:
        if self.loop is not None:
            for q in list(self.queues):
                self.loop.call_soon_threadsafe(q.put_nowait, None)


def dead_letter(letter_id: int, station: str, reason: str, last_seen: datetime, count: int) -> dict[str, Any]:
    """One quarantined message as GET /api/dead-letters lists it."""
    return {
        "id": letter_id,
        "station": station,
        "topic": f"qingliu/v1/{station}/readings",
        "reason": reason,
        "error": "payload is not valid JSON: Expecting value: line 1 column 1 (char 0) " + "x" * 120,
        "first_seen": z(last_seen - timedelta(hours=2)),
        "last_seen": z(last_seen),
        "count": count,
        "size": 8,
        "preview": "not json",
    }


def readings_for(
    station: str, param: str, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    t = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    base = BASE.get(param, 10.0) * (1.8 if station in ("huayuanzi", "jiehepucun") else 1.0)
    while t <= end and len(out) < limit:
        k = int(t.timestamp() // 3600)
        value = base * (1 + 0.35 * math.sin(k / 5.0))
        flag = "N"
        if k % 17 == 0:
            flag = "C"
        elif k % 29 == 0:
            flag = "D"
        elif k % 41 == 0:
            flag, value = "T", base * 2.6
        out.append({"t": z(t), "value": round(value, 4), "flag": flag})
        t += timedelta(hours=1)
    return out


def build_app(fake: FakeCollector) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        fake.loop = asyncio.get_running_loop()  # broadcast() hands events to this loop from the test thread
        yield

    app = FastAPI(lifespan=lifespan)

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        fake.requests.append(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return await call_next(request)

    @app.get("/api/parameters")
    async def parameters() -> list[dict[str, Any]]:
        return [
            {
                "code": p.code,
                "name_zh": p.name_zh,
                "name_en": p.name_en,
                "unit": p.unit,
                "decimals": p.decimals,
            }
            for p in PARAMETERS.values()
        ]

    @app.get("/api/overview")
    async def overview() -> dict[str, Any]:
        return fake.overview()

    @app.get("/api/stations/{sid}")
    async def station(sid: str) -> dict[str, Any]:
        if sid not in fake.stations:
            raise HTTPException(404, f"unknown station {sid!r}")
        return station_detail(sid, fake.stations[sid])

    @app.get("/api/stations/{sid}/readings")
    async def readings(sid: str, param: str, request: Request, limit: int = 5000) -> dict[str, Any]:
        if sid not in fake.stations:
            raise HTTPException(404, f"unknown station {sid!r}")
        if param not in PARAMETERS:
            raise HTTPException(422, f"unknown parameter {param!r}")
        start = parse_z(request.query_params.get("from", z(NOW - timedelta(hours=24))))
        end = parse_z(request.query_params.get("to", z(NOW)))
        return {
            "station": sid,
            "param": param,
            "unit": PARAMETERS[param].unit,
            "limits": LIMITS.get(param),
            "target_class": "III",
            "direction": DIRECTION.get(param),
            "readings": readings_for(sid, param, start, min(end, NOW), limit),
        }

    @app.get("/api/outfalls")
    async def outfalls() -> dict[str, Any]:
        return {"outfalls": fake.outfalls}

    @app.get("/api/fleet/health")
    async def fleet_health() -> dict[str, Any]:
        # An offline station at 50 % uptime and 40 % capture, the others whole (collector/api/fleet.py).
        rows = [
            {
                "id": sid,
                "first_heard": None,
                "uptime_pct": 50.0 if st["state"] == "offline" else 100.0,
                "capture_rate": 0.4 if st["state"] == "offline" else 1.0,
                "valid_rate": None,
            }
            for sid, st in fake.stations.items()
        ]
        return {"from": z(NOW - timedelta(hours=24)), "to": z(NOW), "hours": 24, "stations": rows}

    @app.get("/api/stations/{sid}/health")
    async def health(sid: str) -> dict[str, Any]:
        if sid not in fake.stations:
            raise HTTPException(404, f"unknown station {sid!r}")
        return {
            "uptime_pct": 99.1,
            "capture_rate": 0.97,
            "valid_rate": 0.88,
            "params": [
                {
                    "param": "w21003",
                    "expected": 6,
                    "received": 6,
                    "valid": 5,
                    "capture_rate": 1.0,
                    "valid_rate": 0.83,
                },
                {
                    "param": "w01009",
                    "expected": 24,
                    "received": 23,
                    "valid": 23,
                    "capture_rate": 0.958,
                    "valid_rate": 0.958,
                },
            ],
            "devices": [{"device": "nh3n", "expected": 6, "received": 6, "capture_rate": 1.0}],
            "days": [
                {
                    "date": "2026-11-27",
                    "uptime_pct": 100,
                    "capture_rate": 0.98,
                    "valid_rate": 0.97,
                    "ice_or_dry": False,
                }
            ],
            "excluded": [
                {"from": z(NOW - timedelta(hours=30)), "to": z(NOW - timedelta(hours=26)), "reason": "ice"}
            ],
        }

    @app.get("/api/alerts")
    async def alerts(
        state: str | None = None, station: str | None = None, severity: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        if state not in (None, "open", "acknowledged", "resolved", "active"):
            raise HTTPException(422, f"bad state {state!r}")
        out = [
            a
            for a in fake.alerts.values()
            if (state is None or a["state"] == state or (state == "active" and a["state"] != "resolved"))
            and (not station or a["station"] == station)
            and (not severity or a["severity"] == severity)
        ]
        out.sort(key=lambda a: a["opened_at"], reverse=True)
        return {"alerts": out[:limit]}

    @app.get("/api/dead-letters")
    async def dead_letters(
        station: str | None = None, reason: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        items = [
            d
            for d in fake.dead_letters
            if (not station or d["station"] == station) and (not reason or d["reason"] == reason)
        ]
        counts: dict[str, int] = {}
        for d in fake.dead_letters:
            counts[d["reason"]] = counts.get(d["reason"], 0) + d["count"]
        return {"counts": counts, "items": items[:limit]}

    @app.post("/api/login")
    async def login(request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("token") != GOOD_TOKEN:
            return JSONResponse({"detail": "invalid token"}, status_code=401)
        return JSONResponse({"ok": True})

    @app.get("/api/audit")
    async def audit(limit: int = 100) -> dict[str, Any]:
        """The acks the page sent, as the collector's audit log shows them (collector/api/auth.py)."""
        entries = [
            {
                "id": i,
                "at": z(NOW),
                "who": "admin-token",
                "role": "admin",
                "address": "127.0.0.1",
                "action": "ack",
                "target": "",
                "detail": {"by": b.get("by"), "note": b.get("note")},
            }
            for i, b in enumerate(fake.ack_bodies, start=1)
        ]
        return {"entries": entries[::-1][:limit]}

    @app.post("/api/alerts/{aid}/ack")
    async def ack(aid: int, request: Request) -> JSONResponse:
        auth = request.headers.get("authorization")
        fake.ack_auth.append(auth)
        if auth != f"Bearer {GOOD_TOKEN}":
            return JSONResponse({"detail": "invalid token"}, status_code=401)
        fake.ack_bodies.append(await request.json())
        alert = fake.alerts.get(aid)
        if alert is None:
            return JSONResponse({"detail": f"unknown alert {aid}"}, status_code=404)
        if alert["state"] == "resolved":
            return JSONResponse({"detail": "already resolved"}, status_code=409)
        alert.update(state="acknowledged", acked_at=z(NOW), acked_by=fake.ack_bodies[-1].get("by"))
        fake.broadcast("alert", copy.deepcopy(alert))
        return JSONResponse(alert)

    @app.get("/api/stream", response_model=None)
    async def stream(request: Request) -> StreamingResponse | JSONResponse:
        if fake.stream_fails:
            return JSONResponse({"detail": "stream unavailable"}, status_code=503)
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        fake.queues.append(queue)

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b": hello\n\n"
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), timeout=1.0)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield b"event: ping\ndata: {}\n\n"
                        continue
                    if item is None:
                        return
                    event, data = item
                    yield f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
            finally:
                fake.queues.remove(queue)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    web.mount(app)
    return app


class FakeServer:
    """Uvicorn in a thread on a free port, serving build_app(fake)."""

    def __init__(self, fake: FakeCollector) -> None:
        self.fake = fake
        self.port = free_port()
        config = uvicorn.Config(
            build_app(fake),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=1,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self.thread.start()
        wait_for_port(self.port)
        deadline = time.monotonic() + 10
        while self.fake.loop is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.fake.close_streams()
        self.server.should_exit = True
        self.thread.join(timeout=10)
