"""Calendar periods in Asia/Shanghai as half-open UTC ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from collector.assessment import FloodSeason, PeriodKind, parse_period, previous, running, same_last_year

CST = timezone(timedelta(hours=8))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kind", "ref", "label", "start", "end"),
    [
        # Local midnight in Shanghai is 16:00 UTC the day before.
        ("day", "2026-07-15", "2026-07-15", utc(2026, 7, 14, 16), utc(2026, 7, 15, 16)),
        ("week", "2026-W27", "2026-W27", utc(2026, 6, 28, 16), utc(2026, 7, 5, 16)),  # Mon 29 Jun – Sun 5 Jul
        (
            "week",
            "2026-w01",
            "2026-W01",
            utc(2025, 12, 28, 16),
            utc(2026, 1, 4, 16),
        ),  # ISO week 1 starts in 2025
        ("week", "2026-W53", "2026-W53", utc(2026, 12, 27, 16), utc(2027, 1, 3, 16)),  # 2026 has 53 weeks
        ("month", "2026-07", "2026-07", utc(2026, 6, 30, 16), utc(2026, 7, 31, 16)),
        ("month", "2026-12", "2026-12", utc(2026, 11, 30, 16), utc(2026, 12, 31, 16)),
        ("quarter", "2026-Q3", "2026-Q3", utc(2026, 6, 30, 16), utc(2026, 9, 30, 16)),
        ("quarter", "2026-q4", "2026-Q4", utc(2026, 9, 30, 16), utc(2026, 12, 31, 16)),
        ("year", "2026", "2026", utc(2025, 12, 31, 16), utc(2026, 12, 31, 16)),
        ("flood", "2026", "2026", utc(2026, 6, 30, 16), utc(2026, 9, 30, 16)),
        (
            "custom",
            "2026-07-01..2026-07-15",
            "2026-07-01..2026-07-15",
            utc(2026, 6, 30, 16),
            utc(2026, 7, 15, 16),
        ),
        (
            "custom",
            " 2026-07-01..2026-07-01 ",
            "2026-07-01..2026-07-01",
            utc(2026, 6, 30, 16),
            utc(2026, 7, 1, 16),
        ),
    ],
)
def test_parse(kind: str, ref: str, label: str, start: datetime, end: datetime) -> None:
    p = parse_period(kind, ref)
    assert (p.kind, p.label, p.start, p.end, p.partial) == (PeriodKind(kind), label, start, end, False)


def test_bounds_are_half_open_in_local_time() -> None:
    p = parse_period("month", "2026-07")
    assert p.contains(datetime(2026, 7, 1, 0, 0, tzinfo=CST))
    assert not p.contains(datetime(2026, 6, 30, 23, 59, 59, tzinfo=CST))
    assert p.contains(datetime(2026, 7, 31, 23, 59, 59, tzinfo=CST))
    assert not p.contains(datetime(2026, 8, 1, 0, 0, tzinfo=CST))
    assert (p.first_day, p.last_day) == (date(2026, 7, 1), date(2026, 7, 31))
    assert p.duration == timedelta(days=31)
    with pytest.raises(ValueError, match="time zone"):
        p.contains(datetime(2026, 7, 2))


def test_flood_season_from_config() -> None:
    p = parse_period("flood", "2026", FloodSeason(6, 9))
    assert (p.first_day, p.last_day) == (date(2026, 6, 1), date(2026, 9, 30))
    across = parse_period("flood", "2026", FloodSeason(11, 2))
    assert (across.first_day, across.last_day) == (date(2026, 11, 1), date(2027, 2, 28))
    assert previous(p).first_day == date(2025, 6, 1) and previous(p).last_day == date(2025, 9, 30)


@pytest.mark.parametrize(
    ("kind", "ref", "before", "last_year"),
    [
        ("day", "2026-03-01", "2026-02-28", "2025-03-01"),
        ("day", "2028-02-29", "2028-02-28", "2027-02-28"),  # no 29 February in 2027
        ("week", "2026-W01", "2025-W52", "2025-W01"),
        ("week", "2027-W01", "2026-W53", "2026-W01"),
        ("week", "2026-W53", "2026-W52", "2025-W52"),  # 2025 has no week 53
        ("month", "2026-01", "2025-12", "2025-01"),
        ("quarter", "2026-Q1", "2025-Q4", "2025-Q1"),
        ("year", "2026", "2025", "2025"),
        ("flood", "2026", "2025", "2025"),
        ("custom", "2026-07-01..2026-07-15", "2026-06-16..2026-06-30", "2025-07-01..2025-07-15"),
    ],
)
def test_previous_and_same_last_year(kind: str, ref: str, before: str, last_year: str) -> None:
    p = parse_period(kind, ref)
    assert previous(p) == parse_period(kind, before)
    assert same_last_year(p) == parse_period(kind, last_year)


def test_running_month_so_far() -> None:
    p = parse_period("month", "2026-07")
    now = datetime(2026, 7, 10, 9, 30, tzinfo=CST)
    so_far = running(p, now)
    assert so_far.partial and so_far.start == p.start and so_far.end == now.astimezone(UTC)
    assert so_far.label == "2026-07" and so_far.duration == timedelta(days=9, hours=9, minutes=30)
    assert running(p, datetime(2026, 8, 2, tzinfo=CST)) == p
    with pytest.raises(ValueError, match="not started"):
        running(p, datetime(2026, 6, 30, 12, tzinfo=CST))
    with pytest.raises(ValueError, match="running period"):
        previous(so_far)
    with pytest.raises(ValueError, match="time zone"):
        running(p, datetime(2026, 7, 10))


@pytest.mark.parametrize(
    ("kind", "ref", "message"),
    [
        ("day", "2026-7-15", "written like '2026-07-15'"),
        ("day", "2026-02-30", "not a calendar date"),
        ("week", "2026-27", "written like '2026-W27'"),
        ("week", "2025-W53", "no week 53"),
        ("week", "2026-W00", "no week 0"),
        ("month", "2026-13", "month must be 1–12"),
        ("month", "2026-00", "month must be 1–12"),
        ("quarter", "2026-Q5", "quarter must be 1–4"),
        ("year", "26", "written like '2026'"),
        ("year", "0000", "year must be 1 or later"),
        ("year", "9999", "bad year period"),
        ("flood", "2026-07", "written like '2026'"),
        ("custom", "2026-07-15..2026-07-01", "ends before it starts"),
        ("custom", "2026-07-01", "written like '2026-07-01..2026-07-15'"),
        ("fortnight", "2026-07", "period kind must be one of day, week"),
    ],
)
def test_bad_refs(kind: str, ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(kind, ref)
