"""The API reference at /api/docs, made from the app's own OpenAPI schema and served whole by the collector.

Swagger UI and ReDoc load their scripts and styles from a CDN; a bureau's network has no internet, so the
page would stay blank there. This page needs nothing outside the collector: plain HTML with inline CSS, one
entry per operation (method, path, summary, parameters, request body, responses), schemas named by their
OpenAPI names. The machine-readable schema stays at /api/openapi.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")

_STYLE = """
body{font:14px/1.5 system-ui,"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:0 auto;max-width:980px;
padding:1rem 1.5rem;color:#1f2933}
h1{font-size:1.4rem}h2{font-size:1.1rem;border-bottom:1px solid #d0d7de;padding-top:1rem}
.op{border:1px solid #d0d7de;border-radius:6px;margin:.6rem 0;padding:.5rem .8rem}
.m{display:inline-block;min-width:4.2em;font-weight:600;text-transform:uppercase}
.get{color:#0969da}.post{color:#1a7f37}.put,.patch{color:#9a6700}.delete{color:#cf222e}
code{background:#f6f8fa;padding:0 .25em;border-radius:3px}
table{border-collapse:collapse;margin:.3rem 0}td,th{border:1px solid #d0d7de;padding:.15rem .5rem;text-align:left}
nav a{margin-right:.8rem}
"""


def _type(schema: Mapping[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    kind = str(schema.get("type", ""))
    if kind == "array":
        return f"{_type(schema.get('items'))}[]"
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    return kind or "object"


def _parameters(op: Mapping[str, Any]) -> str:
    params = op.get("parameters") or []
    if not params:
        return ""
    rows = "".join(
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            escape(str(p.get("name", ""))),
            escape(str(p.get("in", ""))),
            "yes / 是" if p.get("required") else "",
            escape(_type(p.get("schema"))),
            escape(str(p.get("description") or (p.get("schema") or {}).get("description") or "")),
        )
        for p in params
    )
    head = "<tr><th>name 名称</th><th>in</th><th>required 必填</th><th>type 类型</th><th></th></tr>"
    return f"<table>{head}{rows}</table>"


def _body(op: Mapping[str, Any]) -> str:
    content = (op.get("requestBody") or {}).get("content") or {}
    return "".join(
        f"<p>body: <code>{escape(kind)}</code> {escape(_type(entry.get('schema')))}</p>"
        for kind, entry in content.items()
    )


def _responses(op: Mapping[str, Any]) -> str:
    responses = op.get("responses") or {}
    items = ", ".join(
        f"<code>{escape(str(code))}</code> {escape(str((r or {}).get('description', '')))}"
        for code, r in responses.items()
    )
    return f"<p>responses 响应: {items}</p>" if items else ""


def reference_html(schema: Mapping[str, Any]) -> str:
    """The whole reference page for an OpenAPI document."""
    info = schema.get("info") or {}
    by_tag: dict[str, list[str]] = {}
    for path, entry in sorted((schema.get("paths") or {}).items()):
        for method in METHODS:
            op = entry.get(method)
            if not op:
                continue
            tag = (op.get("tags") or [path.removeprefix("/api/").split("/", 1)[0] or "api"])[0]
            summary = op.get("summary") or ""
            text = (op.get("description") or "").strip()
            by_tag.setdefault(tag, []).append(
                f'<div class="op"><span class="m {method}">{method}</span> <code>{escape(path)}</code>'
                f" {escape(summary)}"
                + (f"<p>{escape(text)}</p>" if text and text != summary else "")
                + _parameters(op)
                + _body(op)
                + _responses(op)
                + "</div>"
            )
    sections = "".join(
        f'<h2 id="{escape(tag)}">{escape(tag)}</h2>' + "".join(ops) for tag, ops in sorted(by_tag.items())
    )
    nav = " ".join(f'<a href="#{escape(tag)}">{escape(tag)}</a>' for tag in sorted(by_tag))
    title = escape(str(info.get("title", "API")))
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{title} — API</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title} API {escape(str(info.get('version', '')))}</h1>"
        '<p>接口说明 · API reference. Schema 机器可读: <a href="/api/openapi.json">/api/openapi.json</a>.'
        " 修改类接口需要管理令牌 · changes need the admin token (header <code>Authorization: Bearer …</code>).</p>"
        f"<nav>{nav}</nav>{sections}</body></html>"
    )


__all__ = ["reference_html"]
