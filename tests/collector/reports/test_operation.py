"""Station operation (collector/reports/operation.py) and the synthetic-history note (synthetic.py) on a real
store, SQLite and PostgreSQL: one local day of pH expected hourly, every figure worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from collector.assessing import Assessor
from collector.config import ScheduleConfig, StationConfig
from collector.controller_history import Excluded
from collector.reports.document import Emphasis
from collector.reports.operation import operation_table, ranked, station_operations
from collector.reports.synthetic import NOTE, synthetic_note
from collector.sections import load_sections
from collector.store.base import Received, Store, Transition
from protocols.flags import Flag
from protocols.messages import Reading, ReadingBatch, StationState

PH = "w01001"
DAY = datetime(2026, 11, 1, 16, tzinfo=UTC)  # 2 November 00:00 in Asia/Shanghai
END = DAY + timedelta(days=1)
SCHEDULE = ScheduleConfig(every_s={PH: 3600.0}, slot_params=[])
SITES = [StationConfig(id=s, expected_params=[PH]) for s in ("hexicun", "boshuicun", "bifengcun")]


def hour(n: float) -> datetime:
    return DAY + timedelta(hours=n)


def put(store: Store, station: str, readings: Sequence[Reading], seq: int = 1) -> None:
    batch = ReadingBatch(station=station, seq=seq, lane="live", sent_at=END, readings=list(readings))
    store.apply([Received(batch, END)])


def ice(station: str, start: datetime, end: datetime) -> list[Excluded]:
    """bifengcun's intake frozen 00:00–06:00 local on the day."""
    if station != "bifengcun":
        return []
    a, b = max(start, hour(0)), min(end, hour(6))
    return [Excluded(a, b, "ice")] if a < b else []


def fill(store: Store) -> Assessor:
    # hexicun: readings at 00:00 … 19:00 (20 of 24 slots), two of them flagged D (analyser fault).
    put(
        store,
        "hexicun",
        [
            Reading(param=PH, t=hour(h), value=7.5, flag=Flag.FAULT if h in (3, 4) else Flag.NORMAL)
            for h in range(20)
        ],
    )
    # boshuicun: all 24, valid; no state ever stored.
    put(store, "boshuicun", [Reading(param=PH, t=hour(h), value=7.5) for h in range(24)])
    # bifengcun: frozen until 06:00, then 18 valid readings.
    put(store, "bifengcun", [Reading(param=PH, t=hour(h), value=7.5) for h in range(6, 24)])
    store.add_transitions(
        [
            Transition("hexicun", hour(-1), None, StationState.ONLINE),  # before the day: its state at 00:00
            Transition("hexicun", hour(12), StationState.ONLINE, StationState.OFFLINE),
            Transition("hexicun", hour(18), StationState.OFFLINE, StationState.DEGRADED),
            Transition("bifengcun", hour(0), None, StationState.ONLINE),
        ]
    )
    return Assessor(
        store, load_sections(), schedule=SCHEDULE, stations=SITES, excluded=ice, clock=lambda: END
    )


def test_uptime_capture_and_valid_rate_per_station(store: Store) -> None:
    assessor = fill(store)
    rows = {r.station: r for r in station_operations(store, assessor, SITES, DAY, END, 0.9)}
    hexicun = rows["hexicun"]
    # online 00–12, offline 12–18, degraded 18–24: up 18 h of 24 = 0.750; slots 24, received 20 (0.833),
    # valid 18 (0.750): below 90 %.
    assert (hexicun.uptime, hexicun.capture, hexicun.valid) == (
        Decimal("0.750"),
        Decimal("0.833"),
        Decimal("0.750"),
    )
    assert (hexicun.expected, hexicun.received, hexicun.valid_count, hexicun.excluded) == (24, 20, 18, 0)
    assert hexicun.low and hexicun.name_zh == "河西村" and hexicun.county == "静乐"
    # boshuicun: no state known all day → no uptime figure (not 0 %); 24 of 24.
    boshuicun = rows["boshuicun"]
    assert boshuicun.uptime is None and (boshuicun.capture, boshuicun.valid) == (Decimal("1.000"),) * 2
    assert not boshuicun.low
    # bifengcun: the six frozen slots are neither expected nor missing: 18 of 18; online all day.
    bifengcun = rows["bifengcun"]
    assert (bifengcun.expected, bifengcun.excluded, bifengcun.capture) == (18, 6, Decimal("1.000"))
    assert bifengcun.uptime == Decimal("1.000") and not bifengcun.low


def test_the_table_ranks_and_highlights_low_stations(store: Store) -> None:
    assessor = fill(store)
    rows = station_operations(store, assessor, SITES, DAY, END, 0.9)
    assert [r.station for r in ranked(rows)] == [
        "bifengcun",
        "boshuicun",
        "hexicun",
    ]  # valid 1, 1 (uptime), 0.75
    table = operation_table(rows, 0.9, rank=True)
    assert [r["station"] for r in table.records()] == ["bifengcun", "boshuicun", "hexicun"]
    assert [r["rank"] for r in table.records()] == [1, 2, 3]
    assert table.emphasis == (None, None, Emphasis.WARN)
    assert table.note is not None and "90" in table.note.zh
    plain = operation_table(rows, 0.95)
    assert plain.columns[0].key == "station" and plain.rows[0][0] == "hexicun"


def test_synthetic_history_is_noted(store: Store) -> None:
    put(store, "hexicun", [Reading(param=PH, t=hour(h), value=7.5, device="synthetic") for h in range(3)])
    put(store, "hexicun", [Reading(param=PH, t=hour(h), value=7.5, device="probe") for h in range(30, 33)], 2)
    assert synthetic_note(store, DAY, END) == NOTE
    assert synthetic_note(store, hour(24), hour(48)) is None  # live data only
    assert synthetic_note(store, hour(1), hour(48), ["boshuicun"]) is None  # not that station
    assert synthetic_note(store, hour(1), hour(48), ["hexicun"]) == NOTE  # spans the end of the history
