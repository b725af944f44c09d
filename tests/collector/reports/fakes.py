"""A small product and renderer for the tests of what makes, archives, schedules and serves products: the
product counts the valid readings of each configured station in its period (so late data change it), the
renderer writes a recognisable text per format."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from collector.assessment.periods import ZONE
from collector.reports.context import ReportContext
from collector.reports.document import (
    Column,
    ColumnKind,
    Part,
    Report,
    ReportKind,
    Table,
    Text,
    dumps,
    to_json,
)


def span(kind: ReportKind, ref: str) -> tuple[date, date]:
    """First and last local day of ``ref`` (the fakes' own parser: enough for the tests)."""
    if kind is ReportKind.DAILY:
        day = date.fromisoformat(ref)
        return day, day
    if kind is ReportKind.WEEKLY:
        year, week = ref.split("-W")
        first = date.fromisocalendar(int(year), int(week), 1)
        return first, first + timedelta(days=6)
    if kind is ReportKind.MONTHLY:
        y, m = (int(x) for x in ref.split("-"))
        first = date(y, m, 1)
        after = date(y + (m == 12), m % 12 + 1, 1)
        return first, after - timedelta(days=1)
    return date(int(ref), 7, 1), date(int(ref), 9, 30)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=ZONE).astimezone(UTC)


MADE: list[tuple[ReportKind, str]] = []  # every (kind, ref) the fake maker made, in order


def fake_maker(ctx: ReportContext, kind: ReportKind, ref: str) -> Report:
    try:
        first, last = span(kind, ref)
    except (ValueError, IndexError):
        raise ValueError(f"bad period {ref!r} for {kind.value}") from None
    start, end = midnight(first), midnight(last + timedelta(days=1))
    now = ctx.now()
    if start > now:
        raise ValueError(f"{kind.value} {ref} has not started")
    MADE.append((kind, ref))
    rows = []
    for station in ctx.stations:
        found = ctx.store.readings(station.id, start=start, end=min(end, now), limit=1_000_000)
        rows.append((station.name_zh, len(found)))
    total = sum(n for _, n in rows)
    return Report(
        kind=kind,
        period=ref,
        first_day=first,
        last_day=last,
        issuer_zh=ctx.settings.issuer_zh,
        issuer_en=ctx.settings.issuer_en,
        issued=now.astimezone(ZONE).date(),
        made_at=now,
        cutoff=now,
        completeness=Decimal("0.5"),
        summary=(Text(f"共 {total} 条", f"{total} readings"),),
        parts=(
            Part(
                "counts",
                "计数",
                "Counts",
                tables=(
                    Table(
                        "readings",
                        "读数",
                        "Readings",
                        (Column("section", "断面", "Section"), Column("n", "条数", "n", ColumnKind.NUMBER)),
                        tuple(rows),
                    ),
                ),
            ),
        ),
        partial=end > now,
        push=Text(f"日预警 {ref}：共 {total} 条", f"Daily warning {ref}: {total} readings")
        if kind is ReportKind.DAILY
        else None,
        figures={"readings": total, "ratio": Decimal("0.125")},
    )


def fake_renderer(report: Report, fmt: str, lang: str) -> bytes:
    if fmt == "json":
        return dumps(to_json(report)).encode()
    title = report.title_zh if lang == "zh" else report.title_en
    return f"{fmt}:{lang}:{title}:{report.period}:{report.figures['readings']}".encode()
