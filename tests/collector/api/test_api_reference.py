"""/api/docs: the API reference made from the app's own schema, needing nothing outside the collector."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from collector.api.reference import reference_html


def test_the_reference_lists_every_operation_of_the_schema(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    schema = client.get("/api/openapi.json").json()
    for path, entry in schema["paths"].items():
        for method in entry:
            assert f'<span class="m {method}">{method}</span> <code>{path}</code>' in page.text
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", page.text)  # nothing to fetch from elsewhere


def test_parameters_bodies_and_responses_are_shown_escaped() -> None:
    schema = {
        "info": {"title": "t <b>", "version": "1"},
        "paths": {
            "/api/things/{id}": {
                "post": {
                    "summary": "make <it>",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {
                            "name": "n",
                            "in": "query",
                            "schema": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                        },
                    ],
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/c/s/Thing"}}}},
                    "responses": {"202": {"description": "accepted"}, "404": {"description": "unknown"}},
                }
            }
        },
    }
    html = reference_html(schema)
    assert "t &lt;b&gt;" in html and "make &lt;it&gt;" in html and "<b>" not in html.split("<body>")[1]
    assert "<code>id</code></td><td>path</td><td>yes / 是</td><td>string</td>" in html
    assert "<code>n</code></td><td>query</td><td></td><td>integer | null</td>" in html
    assert "body: <code>application/json</code> Thing" in html
    assert "<code>202</code> accepted, <code>404</code> unknown" in html
    assert '<h2 id="things">things</h2>' in html
