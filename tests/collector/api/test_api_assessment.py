"""The assessment endpoints over a real CollectorService whose SQLite store holds the hand-computed month
(tests/collector/assessment/fixture_month.py): the figures worked out by hand, as JSON numbers, and bad input
answered 422/404, never 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.api import create_app
from collector.service import CollectorService
from tests.collector.assessment import fixture_month as fx
from tests.collector.assessment_replay import NOW, fill, fixture_config, frozen_status


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    svc = CollectorService(fixture_config(tmp_path), clock=lambda: NOW)
    svc.start(mqtt=False)
    fill(svc.store)
    svc.controller.on_status(frozen_status())  # as the service-level replay: hexicun frozen all March
    try:
        yield TestClient(create_app(svc))
    finally:
        svc.stop()


def get(client: TestClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.text
    return response.json()


def test_sections_lists_the_registry(client: TestClient) -> None:
    body = get(client, "/api/sections")
    assert len(body["sections"]) == 21
    assert sum(s["level"] == "national" for s in body["sections"]) == 14
    hexicun = next(s for s in body["sections"] if s["id"] == "hexicun")
    assert hexicun["name_zh"] == "河西村" and hexicun["target"] == "III" and hexicun["station"] == "hexicun"
    hutuo = next(r for r in body["rivers"] if r["id"] == "hutuo")
    assert hutuo["sections"][:2] == ["bifengcun", "xiaruyue"]  # upstream → downstream


def test_a_section_over_the_month_as_json(client: TestClient) -> None:
    body = get(client, f"/api/sections/boshuicun/assessment?period=month&ref={fx.MONTH}")
    assert body["period"] == {
        "kind": "month",
        "ref": "2026-03",
        "from": "2026-02-28T16:00:00Z",
        "to": "2026-03-31T16:00:00Z",
        "partial": False,
    }
    s = body["section"]
    assert (s["id"], s["name_zh"], s["name_en"], s["level"], s["county"]) == (
        "boshuicun",
        "泊水村",
        s["name_en"],
        "provincial",
        "代县",
    )
    assert (s["class"], s["target"], s["meets_target"], s["status"]) == ("V", "III", False, "judged")
    assert s["items"][fx.TP] == {
        "name_zh": "总磷",
        "name_en": s["items"][fx.TP]["name_en"],
        "unit": "mg/L",
        "mean": 0.4,
        "evaluated": True,
        "class": "V",
        "meets_target": False,
        "multiple_iii": 1.0,
        "multiple_target": 1.0,
        "n_valid": 2,
        "n_expected": 31,
        "completeness": 0.065,
        "source": "automatic",
        "not_measured": None,
    }
    assert s["items"][fx.CODMN]["multiple_iii"] == 0.42 and s["items"][fx.NH3N]["mean"] == 1.7
    assert s["items"][fx.TN]["class"] is None and s["items"][fx.TN]["evaluated"] is False
    assert [(m["param"], m["multiple_iii"]) for m in s["main_pollutants"]] == [
        (code, float(multiple))
        for code, multiple in fx.EXPECTED["boshuicun"]["main_pollutants"]  # type: ignore[union-attr]
    ]
    assert s["main_pollutants_zh"].startswith("总磷（1.00）")
    assert s["cwqi"]["value"] == 6.48 and s["cwqi"]["items"] == sorted(fx.CWQI_ITEMS)
    assert s["completeness"] == 0.07 and s["not_measured"] is None and s["colour"] == "#ff7f0e"


def test_rounded_figures_are_numbers_with_their_rounding(client: TestClient) -> None:
    text = client.get(f"/api/sections/bifengcun/assessment?ref={fx.MONTH}").text
    assert '"mean":7.48' in text and '"mean":1.0' in text  # DO 7.475 → 7.48, NH3-N 1.0005 → 1.000
    nanzhuang = get(client, f"/api/sections/nanzhuang/assessment?month={fx.MONTH}")["section"]
    assert nanzhuang["class"] == "劣V" and nanzhuang["items"][fx.CODMN]["multiple_iii"] == 1.67
    assert nanzhuang["items"][fx.DO]["source"] == "manual" and nanzhuang["completeness"] is None
    hexicun = get(client, f"/api/sections/hexicun/assessment?ref={fx.MONTH}")["section"]
    assert (hexicun["status"], hexicun["class"], hexicun["not_measured"], hexicun["cwqi"]) == (
        "not_measured",
        None,
        "ice",
        None,
    )


def test_all_sections_with_counts_and_river_grades(client: TestClient) -> None:
    body = get(client, f"/api/assessment?period=month&ref={fx.MONTH}")
    assert len(body["sections"]) == 21
    by_id = {s["id"]: s for s in body["sections"]}
    for sid, want in fx.EXPECTED.items():
        assert by_id[sid]["class"] == want["class"], sid
        cwqi = by_id[sid]["cwqi"]
        assert (cwqi["value"] if cwqi else None) == (float(want["cwqi"]) if want["cwqi"] else None), sid  # type: ignore[arg-type]
    assert by_id["fanwangsi"]["status"] == "no_data"  # nothing imported for it
    # The whole registry: the other sections have no data and take no part in the shares.
    national, provincial, every = (body["counts"][k] for k in ("national", "provincial", "all"))
    assert (national["sections"], national["classed"], national["percent_i_to_iii"]) == (14, 2, 50.0)
    assert (provincial["sections"], provincial["classed"], provincial["percent_worse_than_v"]) == (7, 3, 33.3)
    assert (every["sections"], every["classed"], every["i_to_iii"], every["worse_than_v"]) == (21, 5, 2, 2)
    hutuo = next(r for r in body["rivers"] if r["id"] == "hutuo")
    assert hutuo["grade"]["grade"] == "heavy" and hutuo["grade"]["percent_i_to_iii"] == 40.0


def test_cwqi_and_its_change(client: TestClient) -> None:
    body = get(client, f"/api/assessment/cwqi?period=month&ref={fx.MONTH}")
    assert body["last_year_period"]["ref"] == fx.LAST_YEAR_MONTH
    assert body["items"] == sorted(fx.CWQI_ITEMS)
    assert body["city"]["cwqi"] == float(fx.CITY_CWQI)
    assert [(r["rank"], r["county"], r["value"]) for r in body["county_ranking"]] == [
        (rank, county, float(v)) for rank, county, v in fx.COUNTY_RANKING
    ]
    assert [(r["rank"], r["section"], r["value"]) for r in body["section_delta_ranking"]] == [
        (rank, sid, float(v)) for rank, sid, v in fx.DELTA_RANKING
    ]


def test_flood_season_ranking(client: TestClient) -> None:
    body = get(client, f"/api/assessment/flood?year={fx.FLOOD_YEAR}")
    assert body["period"]["partial"] is False
    ranking = [
        (r["rank"], r["section"], r["param"], r["value"], r["at"], r["ratio"]) for r in body["ranking"]
    ]
    assert ranking == [
        (1, "boshuicun", fx.TP, 0.45, "2025-08-05T00:00:00Z", 2.2),
        (2, "jiehepucun", fx.NH3N, 0.65, "2025-09-30T15:00:00Z", 0.6),
    ]


def test_neighbours_over_a_window(client: TestClient) -> None:
    body = get(client, "/api/sections/boshuicun/neighbours?from=2026-02-28T16:00:00Z&to=2026-03-31T16:00:00Z")
    assert body["section"]["class"] == "V"
    assert [(s["id"], s["class"]) for s in body["upstream"]] == [
        ("daixianqiao", None),
        ("xiaruyue", "III"),
        ("bifengcun", "III"),
    ]
    assert [s["id"] for s in body["downstream"]][:1] == ["jiehepucun"]
    assert body["downstream"][0]["class"] == "劣V"


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("/api/assessment?period=month&ref=2026-13", 422, "month must be 1"),
        ("/api/assessment?period=month&ref=2026-05", 422, "not started"),
        ("/api/assessment?period=custom", 422, "custom period needs"),
        ("/api/assessment?period=custom&ref=2020-01-01..2026-01-01", 422, "at most"),
        ("/api/assessment?period=fortnight", 422, ""),
        ("/api/assessment?period=year&ref=1999", 422, "on or after"),
        ("/api/assessment/cwqi?period=week&ref=2026-W99", 422, "no week 99"),
        ("/api/assessment/flood?year=1999", 422, ""),
        ("/api/assessment/flood?year=2026", 422, "not started"),
        ("/api/sections/nowhere/assessment", 404, "unknown section"),
        (
            "/api/sections/boshuicun/neighbours?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
            422,
            "before",
        ),
        (
            "/api/sections/boshuicun/neighbours?from=2020-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
            422,
            "at most",
        ),
    ],
)
def test_bad_input_is_refused_plainly(client: TestClient, url: str, status: int, says: str) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text
    assert says in response.text


def test_the_current_month_is_the_default_and_assessed_so_far(client: TestClient) -> None:
    body = get(client, "/api/assessment")
    assert body["period"]["ref"] == "2026-04" and body["period"]["partial"] is True
    assert body["period"]["to"] == "2026-04-15T00:00:00Z"
