"""The archive of the bureau's products, the same on both engines: every making of a product is kept (a
history), the latest one of a (kind, period) is what is served; and what arrived late for a period.

A row holds the product's document as JSON text (collector/reports/document.py ``dumps``: Decimal digits
exact), its headline figures and the digest of its figures (``figures_digest``), so that re-making a period
can say whether its figures changed. Its tables are in each engine's schema module (sqlite_schema.py,
postgres_schema.py); the queries are written once here, given the engine's ``Dialect``.

``arrivals`` answers "did late data arrive?": readings and revisions whose ``received_at``, and manual results
whose ``imported_at``, lie after an earlier making's cut-off while their sample time lies inside the period.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # base.py imports the row types from here, and dialect.py imports base.py
    from collector.store.dialect import Dialect, Query

COLUMNS = "id, kind, period, made_at, cutoff, completeness, partial, digest, figures"


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """One making of a product, to archive."""

    kind: str
    period: str
    made_at: datetime
    cutoff: datetime
    completeness: Decimal | None
    partial: bool
    digest: str
    figures: str  # the headline figures as JSON text (numbers with their exact digits)
    document: str  # the document's JSON text


@dataclass(frozen=True, slots=True)
class StoredReport:
    """An archived making; ``document`` is "" where a list left it out."""

    id: int
    kind: str
    period: str
    made_at: datetime
    cutoff: datetime
    completeness: Decimal | None
    partial: bool
    digest: str
    figures: dict[str, Any]
    document: str = ""


@dataclass(frozen=True, slots=True)
class Arrivals:
    """What arrived after a cut-off for sample times inside a period: per station (readings, revisions) and
    per section (manual results), how many."""

    readings: dict[str, int] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)
    manual_results: dict[str, int] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.readings or self.revisions or self.manual_results)


def save_report(db: Any, d: Dialect, record: ReportRecord) -> int:
    """Insert one making; its row id."""
    completeness = format(record.completeness, "f") if record.completeness is not None else None
    row = db.execute(
        "INSERT INTO reports (kind, period, made_at, cutoff, completeness, partial, digest, figures, document)"
        f" VALUES ({d.marks(9)}) RETURNING id",
        (
            record.kind,
            record.period,
            d.time(record.made_at),
            d.time(record.cutoff),
            completeness,
            bool(record.partial),
            record.digest,
            record.figures,
            record.document,
        ),
    ).fetchone()
    return int(row[0])


def _stored(d: Dialect, row: Sequence[Any], document: str = "") -> StoredReport:
    rid, kind, period, made_at, cutoff, completeness, partial, digest, figures = row
    return StoredReport(
        id=int(rid),
        kind=str(kind),
        period=str(period),
        made_at=d.when(made_at),
        cutoff=d.when(cutoff),
        completeness=Decimal(str(completeness)) if completeness is not None else None,
        partial=bool(partial),
        digest=str(digest),
        figures=json.loads(str(figures), parse_float=Decimal),
        document=document,
    )


def report(query: Query, d: Dialect, kind: str, period: str) -> StoredReport | None:
    """The latest making of ``kind``/``period``, with its document."""
    rows = query(
        f"SELECT {COLUMNS}, document FROM reports WHERE kind = {d.mark} AND period = {d.mark}"
        " ORDER BY id DESC LIMIT 1",
        (kind, period),
    )
    return _stored(d, rows[0][:-1], str(rows[0][-1])) if rows else None


def reports(query: Query, d: Dialect, kind: str | None, limit: int) -> list[StoredReport]:
    """The latest making of each period (of ``kind``, or of every kind), newest period first; no documents."""
    where, args = d.where(("kind =", kind))
    rows = query(
        f"SELECT {COLUMNS} FROM reports WHERE id IN"
        f" (SELECT MAX(id) FROM reports WHERE 1 = 1{where} GROUP BY kind, period)"
        f" ORDER BY period DESC, kind LIMIT {d.mark}",
        [*args, limit],
    )
    return [_stored(d, row) for row in rows]


def history(query: Query, d: Dialect, kind: str, period: str, limit: int) -> list[StoredReport]:
    """Every making of ``kind``/``period``, newest first; no documents."""
    rows = query(
        f"SELECT {COLUMNS} FROM reports WHERE kind = {d.mark} AND period = {d.mark}"
        f" ORDER BY id DESC LIMIT {d.mark}",
        (kind, period, limit),
    )
    return [_stored(d, row) for row in rows]


def arrivals(
    query: Query, d: Dialect, stations: Sequence[str], start: datetime, end: datetime, since: datetime
) -> Arrivals:
    """Rows received after ``since`` whose sample time lies in [start, end). Readings are counted per station
    along the (station, t) index; the manual results table is small."""
    window = (d.time(start), d.time(end), d.time(since))

    def per(table: str, key: str, received: str, keys: Sequence[str] | None) -> dict[str, int]:
        sql = (
            f"SELECT {key}, COUNT(*) FROM {table} WHERE t >= {d.mark} AND t < {d.mark}"
            f" AND {received} > {d.mark}"
        )
        args: list[Any] = list(window)
        if keys is not None:
            if not keys:
                return {}
            sql += f" AND {key} IN ({d.marks(len(keys))})"
            args += list(keys)
        return {str(k): int(n) for k, n in query(sql + f" GROUP BY {key} ORDER BY {key}", args)}

    return Arrivals(
        readings=per("readings", "station", "received_at", stations),
        revisions=per("reading_revisions", "station", "received_at", stations),
        manual_results=per("manual_results", "section", "imported_at", None),
    )


__all__ = [
    "Arrivals",
    "ReportRecord",
    "StoredReport",
    "arrivals",
    "history",
    "report",
    "reports",
    "save_report",
]
