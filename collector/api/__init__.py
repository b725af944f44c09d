"""The collector's HTTP API (FastAPI): ``create_app(service)`` builds it."""

from __future__ import annotations

from collector.api.app import create_app

__all__ = ["create_app"]
