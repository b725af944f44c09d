"""GET /api/fleet/health: every station's uptime and data capture over the last 24 h, each clipped to when
the station was first heard (collector/api/health_window.py), for the fleet view's columns. Kept for
``CACHE_S``: the fleet view asks each time it opens, and the figures move slowly."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from collector import summaries
from collector.api.health_window import clipped_headline

if TYPE_CHECKING:
    from collector.service import CollectorService

WINDOW = timedelta(hours=24)
CACHE_S = 30.0


def fleet_router(service: CollectorService) -> APIRouter:
    router = APIRouter()
    lock = threading.Lock()
    cached: dict[str, Any] = {}

    def compute() -> dict[str, Any]:
        end = service.clock()
        start = end - WINDOW
        stations = []
        for station_id in service.station_ids():
            site = service.site(station_id)
            if site is None:
                continue
            stations.append({"id": station_id, **clipped_headline(service, site, start, end)})
        return {"from": summaries.iso(start), "to": summaries.iso(end), "hours": 24, "stations": stations}

    @router.get("/api/fleet/health")
    def fleet_health() -> dict[str, Any]:
        with lock:
            now = service.clock()
            at = cached.get("at")
            if at is None or (now - at).total_seconds() >= CACHE_S or (now - at).total_seconds() < 0:
                cached["body"], cached["at"] = compute(), now
            body: dict[str, Any] = cached["body"]
            return body

    return router
