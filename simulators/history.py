"""A clearly marked synthetic history of the eight stations, for the demo and the reports. Pure: no I/O.

From the simulators' own river model (simulators/analysers/environment.py with the sections' baselines) this
makes N calendar months of readings ending at a given time:

- hourly physical items (w01010 temperature, w01001 pH, w01009 DO, w01014 conductivity, w01003 turbidity);
- 4-hourly nutrients at 0/4/8/12/16/20 h local (w01019 CODMn, w21003 NH3-N, w21011 TP, w21001 TN, w01018 COD);
- seasons from the model (cold January water, warm July, winter NH3-N rise, flood-season runoff);
- winter icing at the Fen (hexicun, chuanhutun) and Hutuo (bifengcun, boshuicun, jiehepucun) stations: no
  readings at all from 8 January 00:00 to 29 January 00:00 local (three weeks, the intake frozen);
- flood-season spikes: at every station three runoff events a year, one each in July, August and September
  (day chosen by the seed), each lasting ``SPIKE_DAYS`` days with TP ×3, NH3-N ×2.5 and CODMn ×1.8 at the peak;
- jiehepucun drifting over its class III target from the month before the last on (ramped in over the week
  before its 1st): NH3-N gains up to +0.6 mg/L, so that the last full month's mean and the last 30 days' are
  above 1.0 mg/L.

Every reading carries device ``"synthetic"``: history is never mistaken for measurements. Batches use lane
backfill and seqs from ``HISTORY_SEQ_BASE`` (10**12), far beyond any live agent's. Deterministic for a seed.

The thirteen sections without a station get one manual result set a month (15th, 10:00 local) as CSV text in the
format ``qingliu collector import-manual`` reads.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from protocols import catalogue
from protocols.messages import Lane, Reading, ReadingBatch
from protocols.sections import RIVERS, SECTIONS
from protocols.seqspace import HISTORY_SEQ_BASE
from simulators.analysers.baselines import BASELINES
from simulators.analysers.environment import (
    COD,
    CODMN,
    COND,
    CST,
    DO,
    NH3N,
    PH,
    TEMP,
    TN,
    TP,
    TURB,
    RiverWater,
    WaterBaseline,
)

DEVICE = "synthetic"
BATCH_SIZE = 500
DEFAULT_MONTHS = 13

HOURLY: tuple[str, ...] = (TEMP, PH, DO, COND, TURB)
NUTRIENTS: tuple[str, ...] = (CODMN, NH3N, TP, TN, COD)
NUTRIENT_EVERY_H = 4

ICED_STATIONS: frozenset[str] = frozenset(RIVERS["fen"].stations + RIVERS["hutuo"].stations)
ICE_FIRST_DAY, ICE_END_DAY = 8, 29  # January, local dates: [8 Jan 00:00, 29 Jan 00:00)

SPIKE_DAYS = 3
SPIKE_FACTORS: dict[str, float] = {TP: 3.0, NH3N: 2.5, CODMN: 1.8}

DRIFT_STATION = "jiehepucun"
DRIFT_PARAM = NH3N
DRIFT_RAMP_DAYS = 7
DRIFT_OFFSET = 0.6  # mg/L at full weight: a class IV month from a class III baseline

# The thirteen sections sampled by hand (collector/sections.toml, those without a station; a test checks).
MANUAL_SECTIONS: tuple[str, ...] = (
    "fanwangsi",
    "guanhekou",
    "chenjiaying",
    "qileng",
    "xiaruyue",
    "daixianqiao",
    "dingxiangqiao",
    "nanzhuang",
    "pingshangqiao",
    "dulicun",
    "qiaoergou",
    "leimingsi",
    "yumiao",
)
MANUAL_PARAMS: tuple[str, ...] = (PH, DO, CODMN, COD, NH3N, TP)
MANUAL_DAY, MANUAL_HOUR = 15, 10
MANUAL_HEADER = ("断面", "采样时间", "监测项目", "监测值", "单位", "标识")

DECIMALS: dict[str, int] = {TEMP: 2, PH: 2, DO: 2, COND: 1, TURB: 1, CODMN: 2, COD: 1, NH3N: 3, TP: 3, TN: 2}


@dataclass(frozen=True, slots=True)
class History:
    batches: list[ReadingBatch]
    manual_csv: str
    start: datetime  # UTC, first hour (inclusive)
    end: datetime  # UTC, exclusive

    @property
    def reading_count(self) -> int:
        return sum(len(b.readings) for b in self.batches)


def months_before(end: datetime, months: int) -> datetime:
    """``end`` moved back ``months`` calendar months in local time (the day clamped to the month's length)."""
    local = end.astimezone(CST)
    index = local.year * 12 + local.month - 1 - months
    year, month = divmod(index, 12)
    day = min(local.day, _month_days(year, month + 1))
    return local.replace(year=year, month=month + 1, day=day).astimezone(UTC)


def _month_days(year: int, month: int) -> int:
    nxt = datetime(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def iced(station: str, t: datetime) -> bool:
    local = t.astimezone(CST)
    return station in ICED_STATIONS and local.month == 1 and ICE_FIRST_DAY <= local.day < ICE_END_DAY


def spike_starts(station: str, year: int, seed: int) -> list[datetime]:
    """The flood events of ``station`` in ``year``: one each in July, August and September (local)."""
    rng = random.Random(f"{seed}|{station}|flood|{year}")
    return [datetime(year, month, rng.randint(3, 24), rng.randint(0, 23), tzinfo=CST) for month in (7, 8, 9)]


def _spike_weight(t: datetime, starts: list[datetime]) -> float:
    span = SPIKE_DAYS * 86400.0
    for start in starts:
        x = (t - start).total_seconds() / span
        if 0.0 <= x < 1.0:
            return math.sin(math.pi * x)  # rises to the peak mid-event and back
    return 0.0


def drift_start(end: datetime) -> datetime:
    """When the drift begins: a ramp's length before the 1st of the month before ``end`` (local), so that it is
    at full weight through that whole month and the last full month's bulletin shows the section off target,
    whatever day of the month the history ends on (and so through the last 30 days too)."""
    first = end.astimezone(CST).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = (first - timedelta(days=1)).replace(day=1)
    return previous.astimezone(UTC) - timedelta(days=DRIFT_RAMP_DAYS)


class _Model:
    """One station's synthetic river: the environment model bent by spikes and the drift."""

    def __init__(self, station: str, seed: int, end: datetime) -> None:
        self.station = station
        self.water = RiverWater(station, BASELINES.get(station, WaterBaseline()), seed=seed)
        self.seed = seed
        self._starts: dict[int, list[datetime]] = {}
        self.drift_start = drift_start(end) if station == DRIFT_STATION else None

    def value(self, param: str, t: datetime) -> float:
        value = self.water.value(param, t)
        factor = SPIKE_FACTORS.get(param)
        if factor is not None:
            year = t.astimezone(CST).year
            starts = self._starts.get(year)
            if starts is None:
                starts = self._starts[year] = spike_starts(self.station, year, self.seed)
            w = _spike_weight(t, starts)
            if w:
                value *= 1.0 + w * (factor - 1.0)
        if param == DRIFT_PARAM and self.drift_start is not None and t >= self.drift_start:
            ramp = min(1.0, (t - self.drift_start).total_seconds() / (DRIFT_RAMP_DAYS * 86400.0))
            value += ramp * DRIFT_OFFSET
        return round(value, DECIMALS[param])


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    t = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if t < start:
        t += timedelta(hours=1)
    while t < end:
        yield t
        t += timedelta(hours=1)


def station_readings(station: str, start: datetime, end: datetime, seed: int) -> Iterator[Reading]:
    model = _Model(station, seed, end)
    for t in _hours(start, end):
        if iced(station, t):
            continue
        params = HOURLY + NUTRIENTS if t.astimezone(CST).hour % NUTRIENT_EVERY_H == 0 else HOURLY
        for param in params:
            yield Reading(param=param, t=t, value=model.value(param, t), device=DEVICE)


def station_batches(station: str, start: datetime, end: datetime, seed: int) -> Iterator[ReadingBatch]:
    seq = HISTORY_SEQ_BASE
    chunk: list[Reading] = []
    for reading in station_readings(station, start, end, seed):
        chunk.append(reading)
        if len(chunk) == BATCH_SIZE:
            yield _batch(station, seq, chunk)
            seq, chunk = seq + 1, []
    if chunk:
        yield _batch(station, seq, chunk)


def _batch(station: str, seq: int, readings: list[Reading]) -> ReadingBatch:
    return ReadingBatch(
        station=station, seq=seq, lane=Lane.BACKFILL, sent_at=readings[-1].t, readings=readings
    )


def manual_csv(start: datetime, end: datetime, seed: int) -> str:
    """One result set a month per hand-sampled section, sampled on the 15th at 10:00 local within [start, end)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANUAL_HEADER)
    local = start.astimezone(CST)
    year, month = local.year, local.month
    while True:
        sampled = datetime(year, month, MANUAL_DAY, MANUAL_HOUR, tzinfo=CST)
        if sampled >= end:
            break
        if sampled >= start:
            for section in MANUAL_SECTIONS:
                model = _Model(section, seed, end)  # the default baseline: a typical class II-III river
                for param in MANUAL_PARAMS:
                    value = model.value(param, sampled)
                    writer.writerow(
                        [section, f"{sampled:%Y-%m-%d %H:%M}", param, value, catalogue.get(param).unit, "N"]
                    )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return buffer.getvalue()


def generate(
    end: datetime, months: int = DEFAULT_MONTHS, seed: int = 0, stations: tuple[str, ...] | None = None
) -> History:
    """``months`` calendar months of history ending at ``end`` (exclusive), every station's batches in turn."""
    if end.tzinfo is None:
        raise ValueError("end must carry a time zone")
    if months < 1:
        raise ValueError("months must be at least 1")
    end = end.astimezone(UTC)
    start = months_before(end, months)
    batches = [b for s in stations or tuple(SECTIONS) for b in station_batches(s, start, end, seed)]
    return History(batches, manual_csv(start, end, seed), start, end)
