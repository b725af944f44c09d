"""The river at one station: what an ideal instrument would measure at any moment.

Values follow the season and the day of a northern-China river (Shanxi, 38-39° N, about 1000 m): water near 0 °C
in January and 22-25 °C in July, afternoon peaks of temperature and pH, dissolved oxygen following saturation (so
it falls as the water warms), conductivity and turbidity drifting over days, nutrients higher in the flood season
(runoff: turbidity, TP, CODMn) or in winter (low flow, slow nitrification: NH3-N, TN). Scenarios bend it with
timed adjustments (offset, factor, or a blend towards a level), each ramped in and optionally out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal

from simulators.analysers import noise

CST = timezone(timedelta(hours=8), "CST")  # China has one zone and no daylight saving

TEMP, PH, DO, COND, TURB = "w01010", "w01001", "w01009", "w01014", "w01003"
CODMN, COD, NH3N, TP, TN = "w01019", "w01018", "w21003", "w21011", "w21001"
WATER_PARAMS: tuple[str, ...] = (TEMP, PH, DO, COND, TURB, CODMN, COD, NH3N, TP, TN)

AdjustKind = Literal["offset", "factor", "level"]


@dataclass(frozen=True, slots=True)
class WaterBaseline:
    """Typical levels of one section; the season and the day move values around these."""

    temp_offset: float = 0.0  # °C against the regional seasonal curve
    ph: float = 8.1
    do_saturation: float = 0.95  # DO as a fraction of saturation
    conductivity: float = 700.0  # μS/cm
    turbidity: float = 12.0  # NTU, outside the flood season
    codmn: float = 3.0  # mg/L
    nh3n: float = 0.40
    tp: float = 0.10
    tn: float = 3.0
    cod_per_codmn: float = 3.4  # COD follows the permanganate index
    level_m: float = 1.2  # river stage at the intake


@dataclass(slots=True)
class Adjustment:
    """A timed change of one parameter. Its weight rises 0→1 over ``ramp_s``, holds, then falls over ``back_s``."""

    kind: AdjustKind
    amount: float
    start: datetime
    ramp_s: float = 0.0
    hold_until: datetime | None = None  # None: holds until cleared
    back_s: float = 0.0

    def weight(self, t: datetime) -> float:
        if t < self.start:
            return 0.0
        up = 1.0 if self.ramp_s <= 0 else min(1.0, (t - self.start).total_seconds() / self.ramp_s)
        if self.hold_until is None or t <= self.hold_until:
            return up
        if self.back_s <= 0:
            return 0.0
        return up * max(0.0, 1.0 - (t - self.hold_until).total_seconds() / self.back_s)

    def finished(self, t: datetime) -> bool:
        return self.hold_until is not None and t >= self.hold_until + timedelta(seconds=self.back_s)

    def apply(self, value: float, t: datetime) -> float:
        w = self.weight(t)
        if w == 0.0:
            return value
        if self.kind == "offset":
            return value + w * self.amount
        if self.kind == "factor":
            return value * (1.0 + w * (self.amount - 1.0))
        return (1.0 - w) * value + w * self.amount  # level


def _season(t: datetime) -> tuple[float, float, float]:
    """(coldness, summerness, flood bump) for the local date, each in [0, 1]."""
    local = t.astimezone(CST)
    doy = local.timetuple().tm_yday + local.hour / 24.0
    phase = 2 * math.pi * (doy - 15.0) / 365.25
    coldness = max(0.0, math.cos(phase))
    summerness = (1.0 - math.cos(phase)) / 2.0
    flood = math.exp(-(((doy - 213.0) / 30.0) ** 2))  # 汛期 peaks about 1 August
    return coldness, summerness, flood


def _daily(t: datetime, peak_hour: float = 15.0) -> float:
    local = t.astimezone(CST)
    hour = local.hour + local.minute / 60.0 + local.second / 3600.0
    return math.cos(2 * math.pi * (hour - peak_hour) / 24.0)


def do_saturation(temp_c: float) -> float:
    """Oxygen solubility in fresh water (mg/L) at ``temp_c``, sea level (APHA polynomial fit)."""
    t = max(temp_c, 0.0)
    return 14.62 - 0.3898 * t + 0.006969 * t * t - 0.00005897 * t * t * t


def air_temperature(t: datetime, seed: int = 0) -> float:
    """Outdoor air near the station (°C): -9 °C January mean, 24 °C July, ±6 °C by day."""
    _, summer, _ = _season(t)
    ts = t.timestamp()
    return -9.0 + 33.0 * summer + 6.0 * _daily(t) + 3.0 * noise.smooth(seed, "air", ts, 2 * 86400)


@dataclass
class RiverWater:
    station: str
    baseline: WaterBaseline = field(default_factory=WaterBaseline)
    seed: int = 0
    present: bool = True  # sample water reaches the intake (False: frozen solid or dry)
    adjustments: dict[str, list[Adjustment]] = field(default_factory=dict)

    def _key(self, name: str) -> str:
        return f"{self.station}:{name}"

    def natural(self, param: str, t: datetime) -> float:
        """The value without scenario adjustments."""
        b = self.baseline
        cold, summer, flood = _season(t)
        ts = t.timestamp()
        if param == TEMP:
            seasonal = 0.6 + 23.0 * summer + b.temp_offset
            swing = (0.4 + 1.6 * summer) * _daily(t)
            weather = 1.2 * summer * noise.smooth(self.seed, self._key("temp"), ts, 3 * 86400)
            return max(0.05, seasonal + swing + weather)  # liquid water under ice stays just above 0 °C
        if param == PH:
            return (
                b.ph
                + 0.15 * (0.3 + summer) * _daily(t)
                + 0.08 * noise.smooth(self.seed, self._key("ph"), ts, 2 * 86400)
            )
        if param == DO:
            temp = self.value(TEMP, t)
            # Photosynthesis adds a small afternoon rise; solubility, falling as the water warms, dominates.
            ratio = (
                b.do_saturation
                + 0.015 * summer * _daily(t)
                + 0.03 * noise.smooth(self.seed, self._key("do"), ts, 86400)
            )
            return do_saturation(temp) * ratio
        if param == COND:
            return b.conductivity * (
                1.0
                + 0.10 * cold
                - 0.10 * flood
                + 0.08 * noise.smooth(self.seed, self._key("cond"), ts, 5 * 86400)
                + 0.02 * noise.smooth(self.seed, self._key("cond1"), ts, 86400)
            )
        if param == TURB:
            return (
                b.turbidity
                * (1.0 + 2.0 * flood)
                * math.exp(0.35 * noise.smooth(self.seed, self._key("turb"), ts, 2 * 86400))
            )
        if param == CODMN:
            return (
                b.codmn
                * (1.0 + 0.25 * flood)
                * (1.0 + 0.10 * noise.smooth(self.seed, self._key("codmn"), ts, 3 * 86400))
            )
        if param == COD:
            return (
                self.value(CODMN, t)
                * b.cod_per_codmn
                * (1.0 + 0.05 * noise.smooth(self.seed, self._key("cod"), ts, 86400))
            )
        if param == NH3N:
            return (
                b.nh3n
                * (1.0 + 0.4 * cold)
                * (1.0 + 0.15 * noise.smooth(self.seed, self._key("nh3n"), ts, 2 * 86400))
            )
        if param == TP:
            return (
                b.tp
                * (1.0 + 0.6 * flood)
                * (1.0 + 0.15 * noise.smooth(self.seed, self._key("tp"), ts, 2 * 86400))
            )
        if param == TN:
            return (
                b.tn
                * (1.0 + 0.2 * cold)
                * (1.0 + 0.10 * noise.smooth(self.seed, self._key("tn"), ts, 3 * 86400))
            )
        raise KeyError(f"the river model has no parameter {param!r}")

    def value(self, param: str, t: datetime) -> float:
        value = self.natural(param, t)
        for adjustment in self.adjustments.get(param, ()):
            value = adjustment.apply(value, t)
        return value

    def level_m(self, t: datetime) -> float:
        _, _, flood = _season(t)
        return self.baseline.level_m * (1.0 + 0.8 * flood) + 0.1 * noise.smooth(
            self.seed, self._key("level"), t.timestamp(), 86400
        )

    def adjust(self, param: str, adjustment: Adjustment) -> None:
        if param not in WATER_PARAMS:
            raise KeyError(f"the river model has no parameter {param!r}")
        self.adjustments.setdefault(param, []).append(adjustment)

    def clear(self, param: str | None = None) -> None:
        if param is None:
            self.adjustments.clear()
        else:
            self.adjustments.pop(param, None)

    def prune(self, t: datetime) -> None:
        """Forget adjustments that have fully run out (keeps evaluation cheap on long runs)."""
        for param, items in list(self.adjustments.items()):
            kept = [a for a in items if not a.finished(t)]
            if kept:
                self.adjustments[param] = kept
            else:
                del self.adjustments[param]
