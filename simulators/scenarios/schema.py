"""Scenario files: timed steps on the simulated clock, validated by pydantic with errors that name the field.

A scenario is TOML::

    name = "winter_icing"
    description = "..."
    stations = ["hexicun", "chuanhutun"]   # default: all eight; a step's station "*" means these
    speed = 60.0                            # suggested clock speed (the CLI's --speed wins)

    [[steps]]                # times are sim minutes after the scenario starts
    at_min = 0
    action = "water"         # water | state | fault | stuck | override | drift | mains | sample_water
    station = "*"            #   | pump | door | plume | clear
    param = "w01010"
    level = 0.1              # water: exactly one of offset / factor / level
    ramp_min = 120
    hold_min = 480           # optional: then ramp back over back_min
    back_min = 240

    [[network_drops]]        # for the test harness: when the station's uplink should be cut
    station = "*"
    at_min = 180
    duration_min = 60
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from protocols import catalogue
from protocols.errors import ConfigError
from protocols.sections import RIVERS, SECTIONS
from protocols.tomldoc import builtin_names, load_builtin_or_file, parse_toml_model
from simulators.analysers.base import DeviceState
from simulators.analysers.controller import SIGNALS
from simulators.analysers.environment import WATER_PARAMS
from simulators.modbus.faults import FaultPlan

DEVICES = ("probe", "nh3n", "codmn", "tp", "tn", "cod", "controller")
DEVICE_GROUPS = ("analysers", "all")  # analysers: all but the controller


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_station(value: str) -> str:
    if value != "*" and value not in SECTIONS:
        raise ValueError(f"unknown station {value!r}; use '*' or one of {', '.join(SECTIONS)}")
    return value


def _check_device(value: str) -> str:
    if value not in DEVICES + DEVICE_GROUPS:
        raise ValueError(f"unknown device {value!r}; one of {', '.join(DEVICES + DEVICE_GROUPS)}")
    return value


class _Step(_Strict):
    at_min: float = Field(ge=0)
    station: str = "*"
    note: str = ""

    _station = field_validator("station")(_check_station)


class _Timed(_Step):
    duration_min: float | None = Field(default=None, gt=0)  # None: until changed again


class _DeviceStep(_Timed):
    device: str

    _device = field_validator("device")(_check_device)


class WaterStep(_Step):
    action: Literal["water"]
    param: str
    offset: float | None = None
    factor: float | None = Field(default=None, ge=0)
    level: float | None = None
    ramp_min: float = Field(default=0.0, ge=0)
    hold_min: float | None = Field(default=None, ge=0)
    back_min: float = Field(default=0.0, ge=0)

    @field_validator("param")
    @classmethod
    def _water_param(cls, value: str) -> str:
        if value not in WATER_PARAMS:
            raise ValueError(f"{value!r} is not a river parameter; one of {', '.join(WATER_PARAMS)}")
        return value

    @model_validator(mode="after")
    def _one_amount(self) -> WaterStep:
        given = [k for k in ("offset", "factor", "level") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a water step needs exactly one of 'offset', 'factor' or 'level'")
        return self


class StateStep(_DeviceStep):
    action: Literal["state"]
    state: DeviceState


class FaultStep(_DeviceStep):
    action: Literal["fault"]
    plan: str  # a FaultPlan spec: none | no_answer | late:S | exception[:CODE] | crc_error | garbage [@P]

    @field_validator("plan")
    @classmethod
    def _valid_plan(cls, value: str) -> str:
        try:
            FaultPlan.parse(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


class StuckStep(_DeviceStep):
    action: Literal["stuck"]


def _check_value_key(value: str) -> str:
    if not catalogue.is_known(value) and value not in SIGNALS:
        raise ValueError(f"{value!r} is neither a parameter code nor a controller signal")
    return value


class OverrideStep(_DeviceStep):
    action: Literal["override"]
    param: str
    value: float

    _param = field_validator("param")(_check_value_key)


class DriftStep(_DeviceStep):
    action: Literal["drift"]  # the analyser reads ``offset`` too high (negative: too low)
    param: str
    offset: float

    _param = field_validator("param")(_check_value_key)


class MainsStep(_Timed):
    action: Literal["mains"]
    on: bool
    drain_pct_per_h: float | None = Field(default=None, gt=0)  # UPS drain while on battery


class SampleWaterStep(_Timed):
    action: Literal["sample_water"]
    present: bool


class PumpStep(_Timed):
    action: Literal["pump"]
    running: bool


class DoorStep(_Timed):
    action: Literal["door"]
    open: bool


class ClearStep(_Step):
    action: Literal["clear"]  # river back to nature, every device normal, no faults, mains on


class PlumeStep(_Step):
    """A pollution plume travelling down a river: expands to one water step per station, in river order."""

    action: Literal["plume"]
    river: str
    from_station: str | None = None  # default: the river's first station
    offsets: dict[str, float] = Field(min_length=1)  # added at the first station (mg/L)
    travel_min: float | list[float] = Field(default=120.0)  # per reach; a list gives each reach
    attenuation: float = Field(default=0.7, gt=0, le=1)  # dilution per reach
    ramp_min: float = Field(default=60.0, ge=0)
    hold_min: float = Field(default=180.0, ge=0)
    back_min: float = Field(default=180.0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> PlumeStep:
        if self.river not in RIVERS:
            raise ValueError(f"unknown river {self.river!r}; one of {', '.join(RIVERS)}")
        stations = RIVERS[self.river].stations
        if self.from_station is not None and self.from_station not in stations:
            raise ValueError(f"{self.from_station!r} is not on the {self.river} ({', '.join(stations)})")
        for param in self.offsets:
            if param not in WATER_PARAMS:
                raise ValueError(f"offsets: {param!r} is not a river parameter")
        reaches = len(self.reach_stations()) - 1
        if isinstance(self.travel_min, list) and len(self.travel_min) != reaches:
            raise ValueError(
                f"travel_min lists {len(self.travel_min)} reach(es); the plume crosses {reaches}"
            )
        travel = self.travel_min if isinstance(self.travel_min, list) else [self.travel_min]
        if any(t < 0 for t in travel):
            raise ValueError("travel_min must not be negative")
        return self

    def reach_stations(self) -> tuple[str, ...]:
        stations = RIVERS[self.river].stations
        start = stations.index(self.from_station) if self.from_station else 0
        return stations[start:]

    def expand(self) -> list[WaterStep]:
        steps: list[WaterStep] = []
        at = self.at_min
        for i, station in enumerate(self.reach_stations()):
            if i > 0:
                at += self.travel_min[i - 1] if isinstance(self.travel_min, list) else self.travel_min
            for param, amount in self.offsets.items():
                steps.append(
                    WaterStep(
                        action="water",
                        at_min=at,
                        station=station,
                        param=param,
                        offset=amount * self.attenuation**i,
                        ramp_min=self.ramp_min,
                        hold_min=self.hold_min,
                        back_min=self.back_min,
                        note=f"plume on the {self.river}, reach {i}",
                    )
                )
        return steps


Step = Annotated[
    WaterStep
    | StateStep
    | FaultStep
    | StuckStep
    | OverrideStep
    | DriftStep
    | MainsStep
    | SampleWaterStep
    | PumpStep
    | DoorStep
    | ClearStep
    | PlumeStep,
    Field(discriminator="action"),
]


class NetworkDrop(_Strict):
    station: str = "*"
    at_min: float = Field(ge=0)
    duration_min: float = Field(gt=0)

    _station = field_validator("station")(_check_station)


class Scenario(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    stations: list[str] = Field(default_factory=lambda: list(SECTIONS))
    speed: float | None = Field(default=None, gt=0)
    steps: list[Step] = Field(default_factory=list)
    network_drops: list[NetworkDrop] = Field(default_factory=list)

    @field_validator("stations")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for station in value:
            if station not in SECTIONS:
                raise ValueError(f"unknown station {station!r}; one of {', '.join(SECTIONS)}")
        return value

    def expanded_steps(self) -> list[Step]:
        """Plumes unrolled into per-station water steps, sorted by time (stable)."""
        out: list[Step] = []
        for step in self.steps:
            out.extend(step.expand() if isinstance(step, PlumeStep) else [step])
        return sorted(out, key=lambda s: s.at_min)

    def targets(self, station: str) -> list[str]:
        return list(self.stations) if station == "*" else [station]


def _drop_step_tag(loc: list[str]) -> list[str]:
    """Drop the discriminator tag pydantic inserts ("steps.2.fault.plan" → "steps.2.plan")."""
    if len(loc) >= 3 and loc[0] == "steps":
        return [p for i, p in enumerate(loc) if not (i == 2 and p in _ACTIONS)]
    return loc


def parse_scenario(text: str, *, source: str = "<scenario>") -> Scenario:
    return parse_toml_model(Scenario, text, source=source, what="scenario", loc_filter=_drop_step_tag)


_ACTIONS = (
    "water",
    "state",
    "fault",
    "stuck",
    "override",
    "drift",
    "mains",
    "sample_water",
    "pump",
    "door",
    "clear",
    "plume",
)


def builtin_scenarios() -> list[str]:
    return builtin_names(__package__)


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a scenario file by path."""
    text, source = load_builtin_or_file(__package__, name_or_path, what="scenario")
    return parse_scenario(text, source=source)
