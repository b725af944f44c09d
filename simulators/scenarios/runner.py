"""Apply a scenario's steps to a fleet at their times on the simulated clock.

Steps become timed actions (a step with ``duration_min`` also gets its undo). On each ``tick(now)`` every due
action is applied in time order, and before each one the target station is advanced to the action's time, so a
cycle that ended before a state change is judged by the state it ran in. Stations that the scenario names but
the fleet does not run are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from simulators.analysers.base import AnalyserModel, DeviceState
from simulators.analysers.environment import AdjustKind, Adjustment
from simulators.fleet import ANALYSER_NAMES, DEVICE_NAMES, Station
from simulators.scenarios.schema import (
    ClearStep,
    DoorStep,
    DriftStep,
    FaultStep,
    MainsStep,
    OverrideStep,
    PumpStep,
    SampleWaterStep,
    Scenario,
    StateStep,
    Step,
    StuckStep,
    WaterStep,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TimedAction:
    at: datetime
    order: int
    station: str
    describe: str
    apply: Callable[[Station], None]


def _devices(device: str) -> tuple[str, ...]:
    if device == "all":
        return DEVICE_NAMES
    if device == "analysers":
        return ANALYSER_NAMES
    return (device,)


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


class ScenarioRunner:
    def __init__(self, scenario: Scenario, stations: Mapping[str, Station], begin: datetime) -> None:
        self.scenario = scenario
        self.stations = stations
        self.begin = begin
        self.applied: list[tuple[datetime, str, str]] = []  # (time, station, description)
        actions: list[TimedAction] = []
        for step in scenario.expanded_steps():
            for station in scenario.targets(step.station):
                if station in stations:
                    actions.extend(self._actions(step, station, len(actions)))
        self._pending = sorted(actions, key=lambda a: (a.at, a.order))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def network_drops(self) -> list[dict[str, Any]]:
        """The scenario's uplink cuts as absolute sim times, for the harness that owns the network."""
        out = []
        for drop in self.scenario.network_drops:
            for station in self.scenario.targets(drop.station):
                start = self.begin + _minutes(drop.at_min)
                out.append({"station": station, "start": start, "end": start + _minutes(drop.duration_min)})
        return out

    def tick(self, now: datetime) -> list[str]:
        """Apply every action due by ``now``; returns their descriptions."""
        done: list[str] = []
        while self._pending and self._pending[0].at <= now:
            action = self._pending.pop(0)
            station = self.stations[action.station]
            station.tick(action.at)
            action.apply(station)
            station.tick(action.at)  # power and faults follow at once
            self.applied.append((action.at, action.station, action.describe))
            done.append(f"{action.station}: {action.describe}")
            log.info(
                "scenario %s: %s at %s: %s",
                self.scenario.name,
                action.station,
                action.at.isoformat(),
                action.describe,
            )
        return done

    # --- steps → actions ---------------------------------------------------------------------------------
    def _actions(self, step: Step, station: str, order: int) -> list[TimedAction]:
        at = self.begin + _minutes(step.at_min)
        duration: float | None = getattr(step, "duration_min", None)
        end = None if duration is None else self.begin + _minutes(step.at_min + duration)

        def one(when: datetime, describe: str, fn: Callable[[Station], None], k: int = 0) -> TimedAction:
            return TimedAction(when, order + k, station, describe, fn)

        out: list[TimedAction] = []
        if isinstance(step, WaterStep):
            out.append(
                one(
                    at,
                    f"water {step.param} {self._amount(step)}",
                    lambda s: s.water.adjust(step.param, self._adjustment(step, at)),
                )
            )
        elif isinstance(step, StateStep):
            out.append(
                one(
                    at, f"{step.device} → {step.state}", lambda s: self._set_state(s, step.device, step.state)
                )
            )
            if end:
                out.append(
                    one(
                        end,
                        f"{step.device} → normal",
                        lambda s: self._set_state(s, step.device, DeviceState.NORMAL),
                        1,
                    )
                )
        elif isinstance(step, FaultStep):
            out.append(
                one(
                    at,
                    f"{step.device} Modbus fault {step.plan}",
                    lambda s: self._set_fault(s, step.device, step.plan),
                )
            )
            if end:
                out.append(
                    one(
                        end,
                        f"{step.device} Modbus fault cleared",
                        lambda s: self._set_fault(s, step.device, "none"),
                        1,
                    )
                )
        elif isinstance(step, StuckStep):
            out.append(one(at, f"{step.device} stuck", lambda s: self._each(s, step.device, "stuck", True)))
            if end:
                out.append(
                    one(
                        end, f"{step.device} unstuck", lambda s: self._each(s, step.device, "stuck", False), 1
                    )
                )
        elif isinstance(step, OverrideStep | DriftStep):
            attr = "overrides" if isinstance(step, OverrideStep) else "offsets"
            amount = step.value if isinstance(step, OverrideStep) else step.offset
            out.append(
                one(
                    at,
                    f"{step.device} {step.action} {step.param} {amount:g}",
                    lambda s: self._hook(s, step.device, attr, step.param, amount),
                )
            )
            if end:
                out.append(
                    one(
                        end,
                        f"{step.device} {step.action} {step.param} removed",
                        lambda s: self._hook(s, step.device, attr, step.param, None),
                        1,
                    )
                )
        elif isinstance(step, MainsStep):
            out.append(
                one(
                    at,
                    f"mains {'on' if step.on else 'off'}",
                    lambda s: self._mains(s, step.on, step.drain_pct_per_h),
                )
            )
            if end:
                out.append(
                    one(
                        end,
                        f"mains {'off' if step.on else 'on'}",
                        lambda s: self._mains(s, not step.on, None),
                        1,
                    )
                )
        elif isinstance(step, SampleWaterStep):
            out.append(
                one(
                    at,
                    f"sample water {'present' if step.present else 'gone'}",
                    lambda s: setattr(s.water, "present", step.present),
                )
            )
            if end:
                out.append(
                    one(
                        end,
                        "sample water restored",
                        lambda s: setattr(s.water, "present", not step.present),
                        1,
                    )
                )
        elif isinstance(step, PumpStep):
            out.append(
                one(
                    at,
                    f"pump {'on' if step.running else 'off'}",
                    lambda s: setattr(s.controller, "pump_enabled", step.running),
                )
            )
            if end:
                out.append(
                    one(
                        end,
                        "pump restored",
                        lambda s: setattr(s.controller, "pump_enabled", not step.running),
                        1,
                    )
                )
        elif isinstance(step, DoorStep):
            out.append(
                one(
                    at,
                    f"door {'open' if step.open else 'closed'}",
                    lambda s: setattr(s.controller, "door_open", step.open),
                )
            )
            if end:
                out.append(
                    one(end, "door restored", lambda s: setattr(s.controller, "door_open", not step.open), 1)
                )
        elif isinstance(step, ClearStep):
            out.append(one(at, "clear: river and devices back to normal", self._clear))
        return out

    @staticmethod
    def _amount(step: WaterStep) -> str:
        if step.offset is not None:
            return f"offset {step.offset:+g}"
        if step.factor is not None:
            return f"× {step.factor:g}"
        return f"→ {step.level:g}"

    @staticmethod
    def _adjustment(step: WaterStep, at: datetime) -> Adjustment:
        kind: AdjustKind
        if step.offset is not None:
            kind, amount = "offset", step.offset
        elif step.factor is not None:
            kind, amount = "factor", step.factor
        else:
            kind, amount = "level", float(step.level or 0.0)
        hold_until = None if step.hold_min is None else at + _minutes(step.ramp_min + step.hold_min)
        return Adjustment(
            kind, amount, at, ramp_s=step.ramp_min * 60.0, hold_until=hold_until, back_s=step.back_min * 60.0
        )

    @staticmethod
    def _models(station: Station, device: str) -> list[AnalyserModel]:
        return [station.models[name] for name in _devices(device)]

    def _set_state(self, station: Station, device: str, state: DeviceState) -> None:
        for model in self._models(station, device):
            model.set_state(state)

    def _each(self, station: Station, device: str, attr: str, value: Any) -> None:
        for model in self._models(station, device):
            setattr(model, attr, value)

    def _hook(self, station: Station, device: str, attr: str, param: str, value: float | None) -> None:
        for model in self._models(station, device):
            table: dict[str, float] = getattr(model, attr)
            if value is None:
                table.pop(param, None)
            else:
                table[param] = value

    @staticmethod
    def _set_fault(station: Station, device: str, plan: str) -> None:
        for name in _devices(device):
            station.device(name).set_fault(plan)

    @staticmethod
    def _mains(station: Station, on: bool, drain: float | None) -> None:
        station.controller.mains = on
        if drain is not None:
            station.controller.drain_pct_per_h = drain

    @staticmethod
    def _clear(station: Station) -> None:
        station.water.clear()
        station.water.present = True
        station.controller.mains = True
        station.controller.pump_enabled = True
        station.controller.door_open = False
        for name, model in station.models.items():
            model.set_state(DeviceState.NORMAL)
            model.stuck = False
            model.offsets.clear()
            model.overrides.clear()
            station.device(name).set_fault("none")
