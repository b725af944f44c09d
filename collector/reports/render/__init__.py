"""Render a ``Report`` (collector/reports/document.py) as JSON, an HTML page, an xlsx workbook or a docx.

Every renderer only lays the report out: the figures come from the product, so they are the same in every
format. ``lang`` chooses the language of titles and texts ("zh" or "en"); JSON carries both and ignores it.
"""

from __future__ import annotations

from collector.reports.document import Report, dumps, to_json
from collector.reports.render.cells import LANGS, check_lang

FORMATS = ("json", "html", "xlsx", "docx")

CONTENT_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
EXTENSIONS = {fmt: f".{fmt}" for fmt in FORMATS}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return fmt


def content_type(fmt: str) -> str:
    return CONTENT_TYPES[check_format(fmt)]


def extension(fmt: str) -> str:
    return EXTENSIONS[check_format(fmt)]


def filename(report: Report, fmt: str, lang: str = "zh") -> str:
    """ "qingliu-daily-2026-12-02.xlsx"; the English rendering adds "-en" (JSON has both languages)."""
    check_format(fmt)
    check_lang(lang)
    suffix = "-en" if lang == "en" and fmt != "json" else ""
    return f"qingliu-{report.kind.value}-{report.period}{suffix}{extension(fmt)}"


def render(report: Report, fmt: str, lang: str = "zh") -> bytes:
    """The report in ``fmt`` ("json", "html", "xlsx", "docx"); ValueError names a bad format or language."""
    check_format(fmt)
    check_lang(lang)
    if fmt == "json":
        return dumps(to_json(report), indent=2).encode("utf-8")
    if fmt == "html":
        from collector.reports.render import html

        return html.render(report, lang).encode("utf-8")
    if fmt == "xlsx":
        from collector.reports.render import xlsx

        return xlsx.render(report, lang)
    from collector.reports.render import docx  # imported when asked: matplotlib and python-docx load slowly

    return docx.render(report, lang)


__all__ = [
    "CONTENT_TYPES",
    "EXTENSIONS",
    "FORMATS",
    "LANGS",
    "check_format",
    "content_type",
    "extension",
    "filename",
    "render",
]
