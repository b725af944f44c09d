"""The station controller (站房 PLC): pump, sample flow, water, enclosure climate, mains and UPS battery.

It is also the analysers' ``SampleSupply``: with no mains and a flat battery the station is dark; with the pump
stopped or no water at the intake, no sample reaches the analysers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from simulators.analysers import noise
from simulators.analysers.base import AnalyserModel, DeviceState, Reading
from simulators.analysers.environment import RiverWater, air_temperature
from simulators.analysers.nutrient import Schedule

SIGNALS: tuple[str, ...] = (
    "pump_running",
    "sample_flow",
    "water_present",
    "water_level",
    "enclosure_temp",
    "mains_power",
    "on_battery",
    "battery_pct",
    "door_open",
    "sampling_state",
)

SAMPLING_IDLE, SAMPLING_ACTIVE, SAMPLING_FLUSHING, SAMPLING_NO_WATER = 0, 1, 2, 3


@dataclass
class StationController(AnalyserModel):
    water: RiverWater = field(default_factory=lambda: RiverWater("bench"))
    schedule: Schedule = field(default_factory=Schedule)
    seed: int = 0
    mains: bool = True
    pump_enabled: bool = True
    door_open: bool = False
    battery_pct: float = 100.0
    drain_pct_per_h: float = 25.0  # UPS drain with the whole station on it: about 4 h
    charge_pct_per_h: float = 20.0
    setpoint_c: float = 20.0  # enclosure heating / air conditioning
    enclosure_c: float | None = None
    _last_update: datetime | None = field(default=None, repr=False)

    # --- SampleSupply -------------------------------------------------------------------------------------
    def powered(self) -> bool:
        return self.mains or self.battery_pct > 0.0

    def sample_water(self) -> bool:
        return self.pump_running()

    def pump_running(self) -> bool:
        return (
            self.powered()
            and self.pump_enabled
            and self.water.present
            and self.state not in (DeviceState.STOPPED, DeviceState.FAULT, DeviceState.MAINTENANCE)
        )

    # --- dynamics ----------------------------------------------------------------------------------------
    def update(self, now: datetime) -> None:
        """Integrate battery and enclosure temperature since the last call."""
        if self._last_update is None or now <= self._last_update:
            self._last_update = self._last_update or now
            if self.enclosure_c is None:
                self.enclosure_c = self.setpoint_c
            return
        dt_h = (now - self._last_update).total_seconds() / 3600.0
        self._last_update = now
        if self.mains:
            self.battery_pct = min(100.0, self.battery_pct + self.charge_pct_per_h * dt_h)
        else:
            self.battery_pct = max(0.0, self.battery_pct - self.drain_pct_per_h * dt_h)
        # Climate control needs mains; without it the hut relaxes to the outdoor air (time constant 3 h).
        target = self.setpoint_c if self.mains else air_temperature(now, self.seed)
        current = self.setpoint_c if self.enclosure_c is None else self.enclosure_c
        self.enclosure_c = target + (current - target) * math.exp(-dt_h / (0.3 if self.mains else 3.0))

    def sampling_state(self, now: datetime) -> int:
        if not self.pump_running():
            return SAMPLING_IDLE if self.water.present else SAMPLING_NO_WATER
        duration = self.schedule.duration
        fill = duration / 3
        if self.schedule.slots(now - fill, now):
            return SAMPLING_ACTIVE
        if self.schedule.slots(now - duration - fill, now - duration):
            return SAMPLING_FLUSHING
        return SAMPLING_IDLE

    def read(self, now: datetime) -> Reading:
        self.update(now)
        running = self.pump_running()
        ts = now.timestamp()
        flow = (
            3.5 * (1.0 + 0.03 * noise.gauss(self.seed, f"{self.water.station}:flow", ts)) if running else 0.0
        )
        enclosure = (self.setpoint_c if self.enclosure_c is None else self.enclosure_c) + 0.1 * noise.gauss(
            self.seed, f"{self.water.station}:encl", ts, 10.0
        )
        values: dict[str, float | None] = {
            "pump_running": float(running),
            "sample_flow": flow,
            "water_present": float(self.water.present),
            "water_level": self.water.level_m(now),
            "enclosure_temp": enclosure,
            "mains_power": float(self.mains),
            "on_battery": float(not self.mains and self.powered()),
            "battery_pct": float(round(self.battery_pct)),
            "door_open": float(self.door_open),
            "sampling_state": float(self.sampling_state(now)),
        }
        values = {k: (None if v is None else self.reported(k, v)) for k, v in values.items()}
        return Reading(values=values, state=self.effective_state())

    def effective_state(self) -> DeviceState:
        return self.state if self.powered() else DeviceState.STOPPED
