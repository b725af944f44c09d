"""The engines' spelling of the queries they share (collector/store/dialect.py, alert_rows.py): pure, no engine."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from collector.store.alert_rows import alerts_query
from collector.store.dialect import POSTGRES, SQLITE
from protocols.messages import Status, encode
from tests.collector.factories import status


def test_where_keeps_only_the_given_conditions_in_order() -> None:
    assert SQLITE.where(("a =", 1), ("b >=", None), ("c <", 0)) == (" AND a = ? AND c < ?", [1, 0])
    assert POSTGRES.where(("a =", "x")) == (" AND a = %s", ["x"])
    assert SQLITE.where(("a =", None)) == ("", [])


def test_insert_if_new_is_each_engines_insert_that_keeps_a_held_identity() -> None:
    assert SQLITE.insert_if_new("events", 3) == "INSERT OR IGNORE INTO events VALUES (?, ?, ?)"
    assert (
        POSTGRES.insert_if_new("replies", 2) == "INSERT INTO replies VALUES (%s, %s) ON CONFLICT DO NOTHING"
    )


def test_times_round_trip_exactly_in_utc() -> None:
    t = datetime(2026, 7, 1, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert SQLITE.time(t) == 1_782_864_000_123_456
    for d in (SQLITE, POSTGRES):
        back = d.when(d.time(t))
        assert back == t and back.utcoffset() == timedelta(0)


def test_bodies_read_back_from_json_text_or_from_a_document() -> None:
    sent = status()
    assert SQLITE.model(Status, encode(sent).decode()) == sent
    assert POSTGRES.model(Status, json.loads(encode(sent))) == sent
    with pytest.raises(ValueError):
        SQLITE.model(Status, '{"station": "hexicun"}')
    assert SQLITE.strings(json.dumps(["a", "b"])) == ("a", "b") == POSTGRES.strings(["a", "b"])


@pytest.mark.parametrize(
    ("state", "where", "args"),
    [
        (None, "", []),
        ("active", " AND status IN ('open', 'acknowledged')", []),
        ("open", " AND status = ?", ["open"]),
    ],
)
def test_alerts_query_filters_then_pages(state: str | None, where: str, args: list[object]) -> None:
    sql, got = alerts_query(SQLITE, state=state, station="hexicun", severity=None, limit=5)
    assert (
        sql
        == f"SELECT body FROM alerts WHERE 1 = 1{where} AND station = ? ORDER BY opened_at DESC, id LIMIT ?"
    )
    assert got == [*args, "hexicun", 5]
