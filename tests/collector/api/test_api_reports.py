"""The products over HTTP (collector/api/reports.py) on a real service: the archive list, a product in each
format with its file name, made on demand and archived when its period is complete, re-made by an admin, and
every bad input a 422 or 404 with a message. The product and renderer are the tests' small fakes."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Annotated

import pytest
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient

from collector.api import create_app
from collector.api.reports import reports_router
from collector.reports.document import loads
from collector.service import CollectorService
from collector.store.report_rows import ReportRecord
from tests.collector.api.helpers import AUTH, feed
from tests.collector.factories import T0, batch
from tests.collector.reports.fakes import fake_maker, fake_renderer

DAY = "2026-06-30"  # local day 2026-06-29T16:00Z .. 2026-06-30T16:00Z; the service's clock is T0 + 10 min


def admin(authorization: Annotated[str | None, Header()] = None) -> None:
    if authorization != AUTH["Authorization"]:
        raise HTTPException(401, "admin only")


@pytest.fixture
def api(service: CollectorService) -> TestClient:
    app = FastAPI()
    app.include_router(reports_router(service, admin, maker=fake_maker, renderer=fake_renderer))
    return TestClient(app)


def test_a_product_is_made_on_demand_archived_and_listed(api: TestClient, service: CollectorService) -> None:
    feed(service, "readings", batch(seq=1, n=4, start=T0 - timedelta(hours=12)))
    assert api.get("/api/reports").json() == {"reports": []}
    got = api.get(f"/api/reports/daily/{DAY}?format=xlsx")
    assert got.status_code == 200
    assert got.content == "xlsx:zh:水质日预警:2026-06-30:4".encode()
    assert got.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert got.headers["content-disposition"] == 'attachment; filename="qingliu-daily-2026-06-30.xlsx"'
    [entry] = api.get("/api/reports").json()["reports"]
    assert entry["kind"] == "daily" and entry["period"] == DAY and entry["partial"] is False
    assert entry["title_zh"] == "水质日预警" and entry["figures"] == {"readings": 4, "ratio": 0.125}
    assert entry["made_at"] == entry["cutoff"] == "2026-07-01T00:10:00Z"
    assert entry["completeness"] == 0.5
    assert entry["links"]["docx"] == f"/api/reports/daily/{DAY}?format=docx"

    # Later readings do not change what is served: the archived making is.
    feed(service, "readings", batch(seq=2, n=2, start=T0 - timedelta(hours=11)))
    page = api.get(f"/api/reports/daily/{DAY}?lang=en")
    assert page.content == b"html:en:Daily water-quality warning:2026-06-30:4"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-disposition"] == 'inline; filename="qingliu-daily-2026-06-30-en.html"'
    document = api.get(f"/api/reports/daily/{DAY}?format=json")
    assert document.headers["content-disposition"] == 'inline; filename="qingliu-daily-2026-06-30.json"'
    assert loads(document.text)["figures"]["readings"] == 4
    assert service.store.report("daily", DAY) is not None


def test_a_running_period_is_made_but_not_archived(api: TestClient, service: CollectorService) -> None:
    running = api.get("/api/reports/monthly/2026-07?format=json")
    assert running.status_code == 200 and loads(running.text)["partial"] is True
    assert service.store.reports() == []


def test_an_admin_remakes_a_product_and_hears_about_late_data(
    api: TestClient, service: CollectorService, clock: list
) -> None:
    assert api.post(f"/api/reports/daily/{DAY}").status_code == 401
    first = api.post(f"/api/reports/daily/{DAY}", headers=AUTH)
    assert first.status_code == 200
    assert first.json()["same"] is None and first.json()["note"] is None and first.json()["archived"] >= 1
    again = api.post(f"/api/reports/daily/{DAY}", headers=AUTH).json()
    assert again["same"] is True and again["note"]["en"] == "Same figures as made at 2026-07-01 08:10."
    clock[0] = T0 + timedelta(hours=1)
    feed(service, "readings", batch(seq=1, n=2, start=T0 - timedelta(hours=10)))  # late for the 30th
    late = api.post(f"/api/reports/daily/{DAY}", headers=AUTH).json()
    assert late["same"] is False and late["note"]["en"].startswith(
        "Late data: after the making of 2026-07-01 08:10"
    )
    assert "2 readings (河西村 2)" in late["note"]["en"]
    assert service.store.report_history("daily", DAY)[0].id == late["archived"]
    listed = api.get("/api/reports?kind=daily").json()["reports"]
    assert len(listed) == 1 and listed[0]["figures"]["readings"] == 2


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/reports/daily/2026-06", 422, "a daily period is YYYY-MM-DD"),
        ("/api/reports/daily/2026-02-30", 422, "no such daily period"),
        ("/api/reports/weekly/2026-W54", 422, "no such weekly period"),
        ("/api/reports/monthly/2026-13", 422, "no such monthly period"),
        ("/api/reports/flood/1999", 422, "the year must lie in 2000..2199"),
        ("/api/reports/flood/2026-07", 422, "a flood period is YYYY"),
        ("/api/reports/hourly/2026", 422, "daily"),
        ("/api/reports/daily/yesterday", 422, "pattern"),
        ("/api/reports/daily/2026-06-30?format=pdf", 422, "html"),
        ("/api/reports/daily/2026-06-30?lang=fr", 422, "zh"),
        ("/api/reports?limit=0", 422, "greater than or equal to 1"),
        ("/api/reports?kind=yearly", 422, "daily"),
        (
            "/api/reports/daily/2027-01-01",
            404,
            "no daily product for 2027-01-01: daily 2027-01-01 has not started",
        ),
    ],
)
def test_bad_inputs_are_422_or_404_with_a_message(api: TestClient, path: str, status: int, says: str) -> None:
    got = api.get(path)
    assert got.status_code == status, got.text
    assert says in got.text


def test_the_app_serves_the_archive_and_counts_a_bad_period(service: CollectorService) -> None:
    """Registered in the real app: the list, the 422 of a malformed period (counted as a rejected request)."""
    client = TestClient(create_app(service))
    assert client.get("/api/reports").json() == {"reports": []}
    bad = client.get("/api/reports/weekly/2026-07-01")
    assert bad.status_code == 422 and "a weekly period is YYYY-Www" in bad.json()["detail"]
    assert service.api_rejected["invalid_request"] == 1
    assert client.post(f"/api/reports/daily/{DAY}").status_code == 401


def test_a_remake_through_the_app_is_audited(service: CollectorService) -> None:
    """A remade product may change figures already sent on: the audit log says who remade what, and whether
    its figures changed."""
    feed(service, "readings", batch(seq=1, n=4, start=T0 - timedelta(hours=12)))
    client = TestClient(create_app(service), headers=AUTH)
    assert client.post(f"/api/reports/daily/{DAY}").status_code == 200
    assert client.post(f"/api/reports/daily/{DAY}").json()["same"] is True
    entries = client.get("/api/audit?action=report.remake").json()["entries"]
    assert [(e["action"], e["who"], e["role"], e["target"]) for e in entries] == [
        ("report.remake", "admin-token", "admin", f"daily/{DAY}"),
        ("report.remake", "admin-token", "admin", f"daily/{DAY}"),
    ]
    # Newest first: the second making equalled the first; the first had nothing archived to compare with.
    assert [e["detail"]["same"] for e in entries] == [True, None]


def test_the_real_products_in_every_format_through_the_app(service: CollectorService) -> None:
    """The real daily warning, made on demand over the real app, archived, read back in each format."""
    import docx
    import openpyxl

    feed(service, "readings", batch(seq=1, n=4, param="w21003", value=0.9, start=T0 - timedelta(hours=12)))
    client = TestClient(create_app(service))
    document = client.get(f"/api/reports/daily/{DAY}?format=json")
    assert document.status_code == 200, document.text
    body = loads(document.text)
    assert (body["kind"], body["period"], body["partial"]) == ("daily", DAY, False)
    [entry] = client.get("/api/reports").json()["reports"]
    assert entry["period"] == DAY and entry["made_at"] == "2026-07-01T00:10:00Z"
    sheet = client.get(f"/api/reports/daily/{DAY}?format=xlsx")
    assert sheet.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(sheet.content))
    assert workbook.sheetnames  # one sheet per table
    word = client.get(f"/api/reports/daily/{DAY}?format=docx&lang=en")
    assert word.headers["content-disposition"] == f'attachment; filename="qingliu-daily-{DAY}-en.docx"'
    paragraphs = [p.text for p in docx.Document(io.BytesIO(word.content)).paragraphs]
    assert any("Daily water-quality warning" in p for p in paragraphs)
    page = client.get(f"/api/reports/daily/{DAY}")
    assert page.headers["content-type"] == "text/html; charset=utf-8" and "<html" in page.text.lower()


def test_an_archived_document_that_no_longer_reads_is_made_again(
    api: TestClient, service: CollectorService
) -> None:
    service.store.save_report(
        ReportRecord("daily", DAY, T0, T0, None, False, "old", "{}", '{"format": 0, "kind": "daily"}')
    )
    got = api.get(f"/api/reports/daily/{DAY}?format=json")
    assert got.status_code == 200 and loads(got.text)["format"] == 1
    assert service.store.report("daily", DAY).digest != "old"  # type: ignore[union-attr]
