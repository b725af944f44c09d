"""The renderer entry: formats, languages, file names, content types, and the JSON that round-trips."""

from __future__ import annotations

import json

import pytest

from collector.reports.document import Report, from_json, loads
from collector.reports.render import CONTENT_TYPES, FORMATS, content_type, extension, filename, render


def test_formats_and_their_content_types() -> None:
    assert FORMATS == ("json", "html", "xlsx", "docx")
    assert set(CONTENT_TYPES) == set(FORMATS)
    assert content_type("html") == "text/html; charset=utf-8"
    assert content_type("xlsx") == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert content_type("docx") == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert content_type("json") == "application/json"
    assert [extension(f) for f in FORMATS] == [".json", ".html", ".xlsx", ".docx"]


def test_file_names(report: Report) -> None:
    assert filename(report, "xlsx") == "qingliu-daily-2026-12-02.xlsx"
    assert filename(report, "docx", "en") == "qingliu-daily-2026-12-02-en.docx"
    assert filename(report, "json", "en") == "qingliu-daily-2026-12-02.json"  # JSON carries both languages


@pytest.mark.parametrize("fmt", ["pdf", "HTML", ""])
def test_a_bad_format_is_named(report: Report, fmt: str) -> None:
    with pytest.raises(ValueError, match=f"format '{fmt}'"):
        render(report, fmt)
    with pytest.raises(ValueError, match=f"format '{fmt}'"):
        filename(report, fmt)


def test_a_bad_language_is_named(report: Report) -> None:
    with pytest.raises(ValueError, match="language 'fr'"):
        render(report, "html", "fr")
    with pytest.raises(ValueError, match="language 'fr'"):
        render(report, "json", "fr")


def test_json_parses_back_to_an_equal_report(report: Report) -> None:
    body = render(report, "json")
    json.loads(body)  # plain JSON for any client
    again = from_json(loads(body.decode("utf-8")))
    assert again == report
    assert render(again, "json") == body
    assert render(report, "json", "en") == body
