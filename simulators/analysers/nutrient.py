"""Wet-chemistry analysers (NH3-N, CODMn, TP, TN, COD): a measurement cycle of tens of minutes per slot.

At each schedule slot the analyser draws a sample and starts its chemistry; the result appears when the cycle
ends and is held, with its result time (the sample time, i.e. the slot), until the next one. In calibration the
cycle measures the check standard instead (flag C); in maintenance, fault, stopped or with no sample water it
produces nothing and keeps showing the last result. Results depend only on the slot time and the seed, so they
do not change with how often the device is read.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from protocols import catalogue
from protocols.flags import Flag
from simulators.analysers import noise
from simulators.analysers.base import AnalyserModel, DeviceState, Reading, Result
from simulators.analysers.environment import CST, RiverWater

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When cycles start: at local (Beijing) hours ``slot_hours``, or every ``every_min`` minutes if set."""

    slot_hours: tuple[int, ...] = (0, 4, 8, 12, 16, 20)
    every_min: float | None = None
    cycle_min: float | None = None  # measurement duration; default 30 min, or half of every_min

    def __post_init__(self) -> None:
        if self.every_min is not None and not self.every_min > 0:
            raise ValueError(f"every_min must be > 0, got {self.every_min}")
        if not self.slot_hours and self.every_min is None:
            raise ValueError("a schedule needs slot hours or every_min")
        if any(not 0 <= h <= 23 for h in self.slot_hours):
            raise ValueError(f"slot hours must be 0-23, got {self.slot_hours}")
        if self.cycle_min is not None and not 0 < self.cycle_min <= self.period_s / 60.0:
            raise ValueError(
                f"cycle_min must be > 0 and no longer than the time between slots, got {self.cycle_min}"
            )

    @classmethod
    def every(cls, minutes: float, cycle_min: float | None = None) -> Schedule:
        return cls(slot_hours=(), every_min=minutes, cycle_min=cycle_min)

    @property
    def duration(self) -> timedelta:
        if self.cycle_min is not None:
            return timedelta(minutes=self.cycle_min)
        if self.every_min is not None:
            return timedelta(minutes=min(30.0, self.every_min / 2.0))
        return timedelta(minutes=30.0)

    @property
    def period_s(self) -> float:
        """The longest time between two slots."""
        if self.every_min is not None:
            return self.every_min * 60.0
        hours = sorted(set(self.slot_hours))
        gaps = [b - a for a, b in itertools.pairwise(hours)] + [hours[0] + 24 - hours[-1]]
        return max(gaps) * 3600.0

    def slots(self, after: datetime, until: datetime) -> list[datetime]:
        """Slot starts s with after < s <= until, in order (UTC)."""
        if until <= after:
            return []
        if self.every_min is not None:
            step = self.every_min * 60.0
            first = math.floor((after - _EPOCH).total_seconds() / step) + 1
            last = math.floor((until - _EPOCH).total_seconds() / step)
            return [_EPOCH + timedelta(seconds=i * step) for i in range(first, last + 1)]
        out: list[datetime] = []
        day = after.astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
        while day <= until:
            for hour in sorted(set(self.slot_hours)):
                slot = day.replace(hour=hour).astimezone(UTC)
                if after < slot <= until:
                    out.append(slot)
            day += timedelta(days=1)
        return out


# Concentration of the daily check standard per parameter (mg/L): a mid-range solution.
CHECK_STANDARDS: dict[str, float] = {
    "w21003": 1.0,
    "w01019": 5.0,
    "w21011": 0.2,
    "w21001": 2.0,
    "w01018": 20.0,
}


@dataclass
class NutrientAnalyser(AnalyserModel):
    param: str = "w21003"
    water: RiverWater = field(default_factory=lambda: RiverWater("bench"))
    schedule: Schedule = field(default_factory=Schedule)
    seed: int = 0
    range_max: float | None = None  # measurement upper limit; default from the catalogue
    rel_noise: float = 0.03  # repeatability of the chemistry
    last: Result | None = None
    on_result: Callable[[Result], None] | None = field(default=None, repr=False)  # e.g. the journal
    _cursor: datetime | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.range_max is None:
            self.range_max = catalogue.get(self.param).range_max

    def _measure(self, slot: datetime, state: DeviceState) -> Result:
        g = noise.gauss(self.seed, f"{self.water.station}:{self.name}:{self.param}", slot.timestamp())
        if state == DeviceState.CALIBRATION:
            value = CHECK_STANDARDS.get(self.param, 1.0) * (1.0 + 0.01 * g)
            return Result(self.param, slot, value, Flag.CALIBRATION)
        if self.stuck and self.last is not None:
            value = self.last.value  # keeps cycling, keeps repeating itself
        else:
            measured = self.water.value(self.param, slot) * (1.0 + self.rel_noise * g)
            value = self.reported(self.param, measured)
        over = self.range_max is not None and value > self.range_max
        return Result(self.param, slot, value, Flag.OVER_RANGE if over else Flag.NORMAL)

    def update(self, now: datetime) -> list[Result]:
        """Finish every cycle that ended by ``now``; returns the new results, oldest first.

        The state at the time of the call applies to cycles that ended since the previous call, so callers
        tick the model before changing its state (the scenario runner does).
        """
        duration = self.schedule.duration
        if self._cursor is None:
            # Switched on mid-run: the last completed cycle is already on display.
            self._cursor = now - duration - timedelta(seconds=self.schedule.period_s)
        results: list[Result] = []
        state = self.effective_state()
        for slot in self.schedule.slots(self._cursor, now - duration):
            if state in (DeviceState.NORMAL, DeviceState.CALIBRATION):
                self.last = self._measure(slot, state)
                results.append(self.last)
                if self.on_result is not None:
                    self.on_result(self.last)
            self._cursor = slot
        return results

    def measuring(self, now: datetime) -> bool:
        duration = self.schedule.duration
        return bool(self.schedule.slots(now - duration, now))

    def read(self, now: datetime) -> Reading:
        self.update(now)
        state = self.effective_state()
        alarms: set[Flag] = set()
        if state == DeviceState.FAULT:
            alarms.add(Flag.FAULT)
        if self.last is not None and self.last.flag == Flag.OVER_RANGE:
            alarms.add(Flag.OVER_RANGE)
        working = state in (DeviceState.NORMAL, DeviceState.CALIBRATION)
        return Reading(
            values={self.param: None if self.last is None else self.last.value},
            state=state,
            measuring=working and self.measuring(now),
            result_time=None if self.last is None else self.last.result_time,
            alarms=frozenset(alarms),
        )
