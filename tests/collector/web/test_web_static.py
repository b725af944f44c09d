"""collector.web.mount(): the page at / and its client routes, assets with fixed types, nothing from outside."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector import web

ASSETS = sorted(p for p in web.STATIC_DIR.rglob("*") if p.is_file())


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()

    @app.get("/api/alerts")
    async def alerts() -> dict[str, list[object]]:
        return {"alerts": []}

    web.mount(app)
    return TestClient(app)


@pytest.mark.parametrize("path", ["/", "/alerts", "/station/hexicun", "/station/%E6%B2%B3"])
def test_page_and_client_routes_serve_index_html(client: TestClient, path: str) -> None:
    res = client.get(path)
    assert res.status_code == 200
    assert res.headers["content-type"] == "text/html; charset=utf-8"
    assert res.content == (web.STATIC_DIR / "index.html").read_bytes()
    assert "script-src 'self'" in res.headers["content-security-policy"]


def test_api_routes_are_not_shadowed(client: TestClient) -> None:
    assert client.get("/api/alerts").json() == {"alerts": []}


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("i18n.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
    ],
)
def test_assets_have_fixed_content_types(client: TestClient, name: str, content_type: str) -> None:
    res = client.get(f"/static/{name}")
    assert res.status_code == 200
    assert res.headers["content-type"] == content_type
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.content == (web.STATIC_DIR / name).read_bytes()


def test_every_module_is_served_as_javascript(client: TestClient) -> None:
    scripts = [p for p in ASSETS if p.suffix == ".js"]
    assert len(scripts) >= 5
    for path in scripts:
        res = client.get(f"/static/{path.relative_to(web.STATIC_DIR).as_posix()}")
        assert res.status_code == 200, path
        assert res.headers["content-type"].startswith("text/javascript")


def test_every_imported_module_exists() -> None:
    for path in ASSETS:
        if path.suffix != ".js":
            continue
        for target in re.findall(r'from\s+"(\./[^"]+)"', path.read_text(encoding="utf-8")):
            assert (path.parent / target).is_file(), f"{path.name} imports missing {target}"


def test_etag_revalidation_returns_304(client: TestClient) -> None:
    first = client.get("/static/app.js")
    assert first.headers["cache-control"] == "no-cache"
    again = client.get("/static/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    stale = client.get("/static/app.js", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/missing.js",
        "/static/../__init__.py",
        "/static/%2e%2e/__init__.py",
        "/static/",
        "/static/..%2F__init__.py",
        "/static/app.js%00.css",
    ],
)
def test_missing_and_escaping_paths_are_404(client: TestClient, path: str) -> None:
    res = client.get(path)
    assert res.status_code == 404
    assert b"STATIC_DIR" not in res.content and b"import" not in res.content


def test_only_known_visible_files_inside_the_folder_are_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stray file (a note, a backup, a symlink out) dropped into the folder is not published.
    root = tmp_path / "static"
    (root / ".hidden").mkdir(parents=True)
    (root / "app.js").write_text("export {};")
    (root / "notes.txt").write_text("secret")
    (root / ".hidden" / "x.js").write_text("export {};")
    outside = tmp_path / "outside.js"
    outside.write_text("export {};")
    (root / "link.js").symlink_to(outside)
    monkeypatch.setattr(web, "STATIC_DIR", root.resolve())
    assert web._resolve("app.js") == (root / "app.js").resolve()
    assert web._resolve("notes.txt") is None
    assert web._resolve(".hidden/x.js") is None
    assert web._resolve("link.js") is None
    assert web._resolve("../outside.js") is None
    assert web._resolve("") is None


def test_no_file_references_an_outside_url() -> None:
    assert ASSETS, "no static files found"
    for path in ASSETS:
        text = path.read_text(encoding="utf-8")
        # The SVG namespace is an identifier, not a fetch; everything else must stay on this origin.
        text = text.replace("http://www.w3.org/2000/svg", "")
        assert not re.search(r"https?://", text, re.IGNORECASE), f"{path.name} refers to an outside URL"
        assert "//cdn" not in text.lower()


def test_static_files_are_small() -> None:
    total = sum(p.stat().st_size for p in ASSETS)
    assert total < 150 * 1024, f"static files total {total} bytes"


def test_index_loads_only_local_module_and_stylesheet() -> None:
    html = (web.STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert '<script type="module" src="/static/app.js"></script>' in html
    assert '<link rel="stylesheet" href="/static/app.css">' in html
    assert "<style" not in html and "style=" not in html  # the CSP allows no inline style
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None  # nor inline scripts


def test_gzip_when_accepted_and_plain_otherwise(client: TestClient) -> None:
    raw = (web.STATIC_DIR / "app.js").read_bytes()
    zipped = client.get("/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == raw  # httpx decodes; the point is the bytes survive the round trip
    assert int(zipped.headers["content-length"]) < len(raw) / 2
    plain = client.get("/static/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == raw


def test_index_preloads_every_module() -> None:
    # Preloading flattens the import waterfall to one round trip; a new module must be listed too.
    html = (web.STATIC_DIR / "index.html").read_text(encoding="utf-8")
    listed = set(re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', html))
    assert listed == {p.name for p in ASSETS if p.suffix == ".js"}
