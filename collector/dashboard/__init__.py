"""A basic health page: one self-contained HTML page (no CDN), its script and style, served under ``/basic/``.

The page polls ``/api/stations`` with fetch() every 5 s and shows times in Asia/Shanghai. The full operators'
dashboard lives in ``collector.web``; when that package is not installed, ``/`` redirects here.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
PREFIX = "/basic"


def mount_dashboard(app: FastAPI, *, at_root: bool = False) -> None:
    """Serve the basic page at /basic/ (and redirect / to it when ``at_root``)."""

    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.add_api_route(PREFIX, index, methods=["GET"], include_in_schema=False)
    app.add_api_route(PREFIX + "/", index, methods=["GET"], include_in_schema=False)
    app.mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="basic-static")
    if at_root:

        def root() -> RedirectResponse:
            return RedirectResponse(PREFIX + "/")

        app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
