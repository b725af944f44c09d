"""The five-parameter probe: reads the river continuously, with a little sensor noise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from simulators.analysers import noise
from simulators.analysers.base import AnalyserModel, DeviceState, Reading
from simulators.analysers.environment import COND, DO, PH, TEMP, TURB, RiverWater, do_saturation

PROBE_PARAMS: tuple[str, ...] = (TEMP, PH, DO, COND, TURB)

# Sensor noise (one standard deviation): absolute for temperature and pH, relative for the rest.
_ABS_NOISE = {TEMP: 0.02, PH: 0.01}
_REL_NOISE = {DO: 0.005, COND: 0.003, TURB: 0.02}


@dataclass
class ProbeModel(AnalyserModel):
    water: RiverWater = field(default_factory=lambda: RiverWater("bench"))
    seed: int = 0
    _frozen: dict[str, float | None] | None = field(default=None, repr=False)
    _last: dict[str, float | None] = field(default_factory=dict, repr=False)

    def _measure(self, param: str, now: datetime) -> float:
        true = self.water.value(param, now)
        g = noise.gauss(self.seed, f"{self.water.station}:{self.name}:{param}", now.timestamp())
        if param in _ABS_NOISE:
            return true + _ABS_NOISE[param] * g
        return true * (1.0 + _REL_NOISE[param] * g)

    def read(self, now: datetime) -> Reading:
        state = self.effective_state()
        values: dict[str, float | None]
        if state == DeviceState.STOPPED and self._last:
            values = dict(self._last)  # a stopped transmitter keeps showing its last values
        elif state == DeviceState.NO_WATER:
            # The flow cell has drained: the electrodes sit in air.
            temp = self._measure(TEMP, now)
            values = {TEMP: temp, PH: self._last.get(PH, 7.0), DO: do_saturation(temp), COND: 1.5, TURB: 0.1}
        else:
            values = {p: self._measure(p, now) for p in PROBE_PARAMS}
            if state == DeviceState.FAULT:
                values[TURB] = None  # a failed optical sensor sends the missing-value sentinel
        if self.stuck:
            if self._frozen is None:
                self._frozen = dict(self._last or values)
            values = dict(self._frozen)
        else:
            self._frozen = None
        if state != DeviceState.STOPPED:
            self._last = values
        values = {p: (None if v is None else self.reported(p, v)) for p, v in values.items()}
        return Reading(values=values, state=state)
