"""Station operation over a report's period: uptime, data capture and valid-data rate per station
(STANDARDS.md §7), computed as the API's station health computes them (collector/health/station.py) from the
stored readings, state transitions and ice / no-water periods.

``operation_row`` is pure (figures in, one row out); ``read_operation`` reads the store for one station (one
readings query, one transitions query) and ``station_operations`` does it for every configured station.
Rates are fractions rounded to 3 places (GB/T 8170, as completeness), so 0.968 prints as 96.8 %.

Uptime is the share of the period the station was online or degraded; time before its first known state
counts as down, as on the dashboard, but a station with no known state at all in the period (no status ever
stored: e.g. a history imported in bulk) has no uptime figure rather than 0 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from collector.assessing import Assessor
from collector.assessment.rounding import ratio
from collector.config import ScheduleConfig, StationConfig
from collector.health.schedule import schedules
from collector.health.station import StationFigures, station_figures_from_marks
from collector.reports.document import Cell, Column, ColumnKind, Emphasis, Table, Text
from collector.store.base import Store

RATE_PLACES = 3  # a fraction: 0.968 is 96.8 %


@dataclass(frozen=True, slots=True)
class StationOperation:
    station: str
    name_zh: str  # the section it measures, else the station's own name, else its id
    county: str
    uptime: Decimal | None  # None: no state known in the period
    capture: Decimal | None  # received ÷ expected slots; None: nothing expected
    valid: Decimal | None  # valid (N/T) ÷ expected slots
    expected: int
    received: int
    valid_count: int
    excluded: int  # slots in ice / no-water periods: neither expected nor missing
    low: bool  # a rate below the threshold (capture or valid rate; uptime too)


def _rate(part: float | int, whole: float | int) -> Decimal | None:
    return ratio(part, whole, RATE_PLACES) if whole else None


def operation_row(
    site: StationConfig, figures: StationFigures, threshold: float, *, name_zh: str = "", county: str = ""
) -> StationOperation:
    """One station's row from its figures; ``low`` when any rate is below ``threshold``."""
    up = figures.uptime
    known = up.range_s - up.unknown_s
    uptime = _rate(up.online_s + up.degraded_s, up.range_s) if up.range_s > 0 and known > 0 else None
    total = figures.total
    capture = _rate(total.received, total.expected)
    valid = _rate(total.valid, total.expected)
    bar = Decimal(repr(threshold))
    low = any(r is not None and r < bar for r in (uptime, capture, valid))
    return StationOperation(
        station=site.id,
        name_zh=name_zh or site.name_zh or site.id,
        county=county or site.county,
        uptime=uptime,
        capture=capture,
        valid=valid,
        expected=total.expected,
        received=total.received,
        valid_count=total.valid,
        excluded=total.excluded,
        low=low,
    )


def read_operation(
    store: Store,
    assessor: Assessor,
    site: StationConfig,
    schedule: ScheduleConfig,
    start: datetime,
    end: datetime,
) -> StationFigures:
    """The figures of ``site`` over [start, end), counted from the store's marks, not an object per reading: a
    month of one-minute data is 432,000 readings a station."""
    marks = store.reading_marks(site.id, start, end)
    initial, transitions = store.transitions_between(site.id, start, end)
    windows = [(e.start, e.end) for e in assessor.exclusions(site.id, start, end)]
    return station_figures_from_marks(
        schedules(site, schedule),
        start,
        end,
        marks,
        [(t.at, t.new) for t in transitions],
        initial.new if initial is not None else None,
        windows,
    )


def station_operations(
    store: Store,
    assessor: Assessor,
    stations: Sequence[StationConfig],
    start: datetime,
    end: datetime,
    threshold: float,
) -> list[StationOperation]:
    """A row per configured station (in the order given), named after the section it measures."""
    out = []
    for site in stations:
        section = assessor.registry.for_station(site.id)
        figures = read_operation(store, assessor, site, assessor.schedule, start, end)
        out.append(
            operation_row(
                site,
                figures,
                threshold,
                name_zh=section.name_zh if section else "",
                county=section.county if section else "",
            )
        )
    return out


def ranked(rows: Sequence[StationOperation]) -> list[StationOperation]:
    """Best run first: by valid-data rate, then capture, then uptime (a missing figure last), then id."""

    def key(r: StationOperation) -> tuple[Decimal, Decimal, Decimal, str]:
        low = Decimal(-1)
        return (
            -(r.valid if r.valid is not None else low),
            -(r.capture if r.capture is not None else low),
            -(r.uptime if r.uptime is not None else low),
            r.station,
        )

    return sorted(rows, key=key)


COLUMNS = (
    Column("station", "站点", "Station"),
    Column("section", "断面", "Section"),
    Column("county", "区县", "County"),
    Column("uptime", "在线率", "Uptime", ColumnKind.PERCENT, "%", 1),
    Column("capture", "数据获取率", "Data capture", ColumnKind.PERCENT, "%", 1),
    Column("valid", "有效数据率", "Valid-data rate", ColumnKind.PERCENT, "%", 1),
    Column("expected", "应获取数", "Expected", ColumnKind.NUMBER),
    Column("received", "实获取数", "Received", ColumnKind.NUMBER),
    Column("valid_count", "有效数", "Valid", ColumnKind.NUMBER),
    Column("excluded", "结冰/断流时段数", "Ice / no-water slots", ColumnKind.NUMBER),
)


def operation_table(
    rows: Sequence[StationOperation],
    threshold: float,
    *,
    key: str = "operation",
    title_zh: str = "站点运行情况",
    title_en: str = "Station operation",
    rank: bool = False,
) -> Table:
    """The station-operation table: a row per station (ranked when ``rank``: a first column 排名), rows below
    ``threshold`` marked WARN."""
    pct = f"{Decimal(repr(threshold)) * 100:g}"
    columns: tuple[Column, ...] = COLUMNS
    if rank:
        columns = (Column("rank", "排名", "Rank", ColumnKind.NUMBER), *COLUMNS)
        rows = ranked(rows)
    body: list[tuple[Cell, ...]] = []
    for i, r in enumerate(rows, start=1):
        cells: tuple[Cell, ...] = (r.station, r.name_zh, r.county, r.uptime, r.capture, r.valid)
        cells += (r.expected, r.received, r.valid_count, r.excluded)
        body.append((i, *cells) if rank else cells)
    return Table(
        key,
        title_zh,
        title_en,
        columns,
        tuple(body),
        tuple(Emphasis.WARN if r.low else None for r in rows),
        Text(
            f"在线率、数据获取率或有效数据率低于{pct}%的站点以警示色标出；结冰/断流时段不计入应获取数。",
            f"Stations with uptime, data capture or valid-data rate below {pct} % are highlighted; "
            "slots in ice / no-water periods are not expected.",
        ),
    )


__all__ = [
    "COLUMNS",
    "RATE_PLACES",
    "StationOperation",
    "operation_row",
    "operation_table",
    "ranked",
    "read_operation",
    "station_operations",
]
