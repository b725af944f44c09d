"""What a simulated HJ 212 data logger measures and keeps: its sources, its local store, its period rows.

No sockets here (``simulators/hj212_logger.py`` does the talking). A source gives, for one moment, every item's
real-time value and flag, read from the same analyser models as the Modbus simulators:

* ``StationSource``: a surface-water station (ST 21) of the city plan — the fleet's station model (probe, four
  nutrient analysers, COD, controller), so scenarios apply to it as they do to the Modbus stations.
* ``OutfallSource``: an outfall monitor (ST 32) — COD, NH3-N, TP, TN analysers on an hourly cycle, a pH probe and
  a flow meter, on effluent rather than river water.

The store keeps every real-time sample (2011) and the period rows made from them — minute (2051, every
``minute_interval_min``), hourly (2061), daily (2031, local days) — so that the logger answers history requests
from what it actually produced.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from protocols import hj212
from protocols.flags import Flag
from simulators.analysers import noise
from simulators.analysers.base import STATE_FLAGS, AnalyserModel, DeviceState
from simulators.analysers.controller import StationController
from simulators.analysers.environment import COD, CODMN, NH3N, PH, TN, TP, RiverWater, WaterBaseline
from simulators.analysers.nutrient import NutrientAnalyser, Schedule
from simulators.analysers.probe import ProbeModel
from simulators.clock import Clock
from simulators.fleet import Station, build_station

FLOW = "w00000"  # effluent flow, L/s
OUTFALL_PARAMS: tuple[str, ...] = (COD, NH3N, TP, TN, PH, FLOW)
ZONE = ZoneInfo(hj212.DEFAULT_ZONE)

# Row: (item code, value or None for a flag-only item, flag letter)
Row = tuple[str, float | None, Flag]


class Source(Protocol):
    st: str
    water: RiverWater
    station: Station  # what scenarios act on

    def sample(self, at: datetime) -> list[Row]:
        """Every item's value and flag at ``at`` (true time, UTC), in a fixed order."""
        ...


def _nutrient_row(model: NutrientAnalyser, at: datetime) -> Row | None:
    model.update(at)
    state = model.effective_state()
    if model.last is None:
        return None
    flag = model.last.flag if state in (DeviceState.NORMAL, DeviceState.CALIBRATION) else STATE_FLAGS[state]
    return (model.param, model.last.value, flag)


class StationSource:
    """A surface-water station of the city plan (ST 21), on the fleet's own station model."""

    st = hj212.ST_SURFACE_WATER

    def __init__(
        self, station_id: str, clock: Clock, *, seed: int = 0, schedule: Schedule | None = None
    ) -> None:
        self.station: Station = build_station(station_id, clock, seed=seed, schedule=schedule)
        self.water = self.station.water

    def sample(self, at: datetime) -> list[Row]:
        self.station.tick(at)
        rows: list[Row] = []
        for model in self.station.models.values():
            if isinstance(model, ProbeModel):
                reading = model.read(at)
                flag = STATE_FLAGS[reading.state]
                rows.extend((code, value, flag) for code, value in reading.values.items())
            elif isinstance(model, NutrientAnalyser):
                row = _nutrient_row(model, at)
                if row is not None:
                    rows.append(row)
        return rows


# Effluent of a small treated-wastewater outfall (mg/L; pH; COD follows CODMn × 3.4): illustrative levels that sit
# below a typical permit (COD 50, NH3-N 5/8, TP 0.5, TN 15) and that a plume scenario's factors push over.
OUTFALL_BASELINE = WaterBaseline(
    temp_offset=6.0,
    ph=7.6,
    do_saturation=0.6,
    conductivity=1400.0,
    turbidity=8.0,
    codmn=9.0,
    nh3n=2.4,
    tp=0.32,
    tn=9.5,
)


@dataclass
class OutfallSource:
    """An outfall monitor (ST 32): COD, NH3-N, TP, TN analysers, a pH probe and a flow meter.

    Built as a fleet ``Station`` (the same device names, a controller) so that scenarios apply to it as to a
    station: a plume step for the station it follows raises its effluent.
    """

    name: str
    seed: int = 0
    schedule: Schedule = field(default_factory=lambda: Schedule.every(60.0))
    baseline: WaterBaseline = OUTFALL_BASELINE
    base_flow: float = 35.0  # L/s
    st: str = "32"
    water: RiverWater = field(init=False)
    station: Station = field(init=False)

    def __post_init__(self) -> None:
        self.water = RiverWater(self.name, self.baseline, seed=self.seed)
        controller = StationController("controller", water=self.water, schedule=self.schedule, seed=self.seed)
        models: dict[str, AnalyserModel] = {
            device: NutrientAnalyser(
                device,
                supply=controller,
                param=param,
                water=self.water,
                schedule=self.schedule,
                seed=self.seed,
            )
            for device, param in (("cod", COD), ("nh3n", NH3N), ("tp", TP), ("tn", TN), ("codmn", CODMN))
        }
        models["probe"] = ProbeModel("probe", supply=controller, water=self.water, seed=self.seed)
        models["controller"] = controller
        self.station = Station(self.name, self.water, controller, models)

    def flow(self, at: datetime) -> float:
        """Discharge follows the working day: low at night, a plateau from 08 to 20 h local, some noise."""
        hour = at.astimezone(ZONE).hour + at.minute / 60.0
        day = 0.55 + 0.45 * (1.0 - math.cos(2 * math.pi * (hour - 2.0) / 24.0)) / 2.0
        wobble = 1.0 + 0.08 * noise.smooth(self.seed, f"{self.name}:flow", at.timestamp(), 1800)
        return self.base_flow * day * wobble

    def sample(self, at: datetime) -> list[Row]:
        self.station.tick(at)
        rows: list[Row] = []
        for device in ("cod", "nh3n", "tp", "tn"):
            model = self.station.models[device]
            assert isinstance(model, NutrientAnalyser)
            row = _nutrient_row(model, at)
            if row is not None:
                rows.append(row)
        reading = self.station.models["probe"].read(at)
        rows.append((PH, reading.values.get(PH), STATE_FLAGS[reading.state]))
        rows.append((FLOW, self.flow(at), Flag.NORMAL))
        return rows


# --- periods and rows -----------------------------------------------------------------------------------


def minute_start(minutes: int) -> Callable[[datetime], datetime]:
    def start(at: datetime) -> datetime:
        local = at.astimezone(ZONE)
        return local.replace(minute=local.minute - local.minute % minutes, second=0, microsecond=0)

    return start


def hour_start(at: datetime) -> datetime:
    return at.astimezone(ZONE).replace(minute=0, second=0, microsecond=0)


def day_start(at: datetime) -> datetime:
    return at.astimezone(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class PeriodRow:
    """One item over one period: Avg/Min/Max of the real-time values in it (Cou for flow: m³)."""

    code: str
    avg: float | None
    low: float | None
    high: float | None
    flag: Flag
    cou: float | None = None


def _worst_flag(flags: Iterable[Flag]) -> Flag:
    """N if every sample was N, else the most frequent other flag (ties: the first seen)."""
    others = Counter(f for f in flags if f != Flag.NORMAL)
    return others.most_common(1)[0][0] if others else Flag.NORMAL


def summarise(samples: list[list[Row]], seconds: float) -> list[PeriodRow]:
    """The period rows of ``samples`` (each one real-time sample's rows), item order as first seen."""
    values: dict[str, list[float]] = {}
    flags: dict[str, list[Flag]] = {}
    for rows in samples:
        for code, value, flag in rows:
            flags.setdefault(code, []).append(flag)
            values.setdefault(code, [])
            if value is not None:
                values[code].append(value)
    out: list[PeriodRow] = []
    for code, seen in values.items():
        avg = sum(seen) / len(seen) if seen else None
        cou = avg * seconds / 1000.0 if code == FLOW and avg is not None else None  # L/s over the period → m³
        out.append(
            PeriodRow(
                code, avg, min(seen, default=None), max(seen, default=None), _worst_flag(flags[code]), cou
            )
        )
    return out


def period_params(rows: Iterable[PeriodRow]) -> dict[str, dict[str, str]]:
    """CP fields of period rows: code-Avg/Min/Max[/Cou], code-Flag (a flag only when no value)."""
    params: dict[str, dict[str, str]] = {}
    for row in rows:
        fields: dict[str, str] = {}
        if row.avg is not None and row.low is not None and row.high is not None:
            fields.update(
                Avg=hj212.format_value(row.avg),
                Min=hj212.format_value(row.low),
                Max=hj212.format_value(row.high),
            )
        if row.cou is not None:
            fields["Cou"] = hj212.format_value(row.cou)
        fields["Flag"] = row.flag.value
        params[row.code] = fields
    return params


@dataclass(frozen=True, slots=True)
class PeriodKind:
    cn: str
    start: Callable[[datetime], datetime]
    length: Callable[[datetime], timedelta]


def period_kinds(minute_interval_min: int) -> tuple[PeriodKind, ...]:
    step = timedelta(minutes=minute_interval_min)
    return (
        PeriodKind(hj212.CN_MINUTE, minute_start(minute_interval_min), lambda _: step),
        PeriodKind(hj212.CN_HOURLY, hour_start, lambda _: timedelta(hours=1)),
        PeriodKind(hj212.CN_DAILY, day_start, lambda _: timedelta(days=1)),
    )


@dataclass
class LoggerStore:
    """The logger's local history: real-time samples by their stamped time, and closed period rows per CN."""

    realtime: dict[datetime, list[Row]] = field(default_factory=dict)
    periods: dict[str, dict[datetime, list[PeriodRow]]] = field(default_factory=dict)
    keep: timedelta = timedelta(days=40)  # a logger keeps weeks of history, not forever

    def add_sample(self, stamped: datetime, rows: list[Row]) -> None:
        at = stamped.astimezone(UTC)
        self.realtime[at] = rows
        oldest = next(iter(self.realtime))
        if oldest < at - self.keep - timedelta(days=1):  # prune a day at a time, not on every sample
            cut = at - self.keep
            self.realtime = {t: r for t, r in self.realtime.items() if t >= cut}
            for cn, table in self.periods.items():
                self.periods[cn] = {t: r for t, r in table.items() if t >= cut}

    def close_period(self, kind: PeriodKind, start: datetime) -> list[PeriodRow]:
        """Summarise the samples of the period that starts at ``start`` and keep the rows (none: no samples)."""
        begin = start.astimezone(UTC)
        end = begin + kind.length(start)
        samples = [rows for at, rows in self.realtime.items() if begin <= at < end]
        rows = summarise(samples, (end - begin).total_seconds()) if samples else []
        if rows:
            self.periods.setdefault(kind.cn, {})[begin] = rows
        return rows

    def samples(self, begin: datetime, end: datetime) -> list[tuple[datetime, list[Row]]]:
        """Real-time samples stamped in [begin, end], oldest first."""
        lo, hi = begin.astimezone(UTC), end.astimezone(UTC)
        return [(at, rows) for at, rows in sorted(self.realtime.items()) if lo <= at <= hi]

    def period_rows(self, cn: str, begin: datetime, end: datetime) -> list[tuple[datetime, list[PeriodRow]]]:
        """Closed period rows of ``cn`` (2051, 2061, 2031) starting in [begin, end], oldest first."""
        lo, hi = begin.astimezone(UTC), end.astimezone(UTC)
        return [(at, rows) for at, rows in sorted(self.periods.get(cn, {}).items()) if lo <= at <= hi]
