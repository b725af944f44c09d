"""The operators' health dashboard: hand-written static files (ES modules + CSS, no build step, no CDN).

``mount(app)`` adds:

- ``GET /static/{path}``: files under ``STATIC_DIR`` with fixed content types (unknown suffixes and paths that
  leave the folder are 404), ``Cache-Control: no-cache`` plus an ETag so browsers revalidate cheaply, gzip when
  the client accepts it;
- ``GET /``, ``GET /alerts``, ``GET /sections``, ``GET /station/{id}``: ``index.html``; the page routes on the client
  (History API), so a reload or a shared link lands on the same view.

The page only talks to the JSON API of the collector (``/api/...``, see the API contract); it holds no data itself.
"""

from __future__ import annotations

import gzip
import hashlib
import pathlib

from fastapi import FastAPI, Request
from fastapi.responses import Response

STATIC_DIR: pathlib.Path = pathlib.Path(__file__).resolve().parent / "static"

# A fixed table rather than the platform's mimetypes database: ES modules need a JavaScript type, and
# Debian's /etc/mime.types and Python versions disagree about which one.
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# Everything is served from this origin; the CSP makes a stray CDN link fail loudly instead of leaking out.
_SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

CLIENT_ROUTES: tuple[str, ...] = ("/", "/alerts", "/sections", "/station/{station_id}")


def _resolve(relative: str) -> pathlib.Path | None:
    """The file under STATIC_DIR that ``relative`` names, or None if it is missing, hidden or outside."""
    if not relative or "\x00" in relative:
        return None
    candidate = (STATIC_DIR / relative).resolve()
    if not candidate.is_relative_to(STATIC_DIR) or not candidate.is_file():
        return None
    if candidate.suffix not in CONTENT_TYPES or any(
        p.startswith(".") for p in candidate.relative_to(STATIC_DIR).parts
    ):
        return None
    return candidate


# ETag → gzip-compressed body; the files are few and small, so this never grows past a few dozen KB.
_GZIPPED: dict[str, bytes] = {}


def _file_response(path: pathlib.Path, request: Request) -> Response:
    body = path.read_bytes()  # the files are a few KB each; reading whole keeps the ETag exact
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding", **_SECURITY_HEADERS}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    # Compressed here rather than by an app-wide GZipMiddleware, which would also buffer the SSE stream.
    if "gzip" in request.headers.get("accept-encoding", "") and len(body) > 1024:
        if etag not in _GZIPPED:
            _GZIPPED[etag] = gzip.compress(body, mtime=0)
        body = _GZIPPED[etag]
        headers["Content-Encoding"] = "gzip"
    return Response(content=body, media_type=CONTENT_TYPES[path.suffix], headers=headers)


def mount(app: FastAPI) -> None:
    """Serve the dashboard on ``app``: assets under /static, the page at / and its client-side routes."""

    async def static_file(path: str, request: Request) -> Response:
        found = _resolve(path)
        if found is None:
            return Response(status_code=404, content="not found", media_type="text/plain")
        return _file_response(found, request)

    async def page(request: Request) -> Response:
        return _file_response(STATIC_DIR / "index.html", request)

    app.add_api_route("/static/{path:path}", static_file, methods=["GET", "HEAD"], include_in_schema=False)
    for route in CLIENT_ROUTES:
        app.add_api_route(route, page, methods=["GET", "HEAD"], include_in_schema=False)
