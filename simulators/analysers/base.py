"""What every simulated analyser shares: operating states, the scenario hooks, and what a read returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from protocols.flags import Flag


class DeviceState(StrEnum):
    NORMAL = "normal"
    CALIBRATION = "calibration"
    MAINTENANCE = "maintenance"
    FAULT = "fault"
    STOPPED = "stopped"
    NO_WATER = "no_water"


# The flag an agent should give a value read in each state (STANDARDS.md §5/§7).
STATE_FLAGS: dict[DeviceState, Flag] = {
    DeviceState.NORMAL: Flag.NORMAL,
    DeviceState.CALIBRATION: Flag.CALIBRATION,
    DeviceState.MAINTENANCE: Flag.MAINTENANCE,
    DeviceState.FAULT: Flag.FAULT,
    DeviceState.STOPPED: Flag.STOPPED,
    DeviceState.NO_WATER: Flag.STOPPED,
}


class SampleSupply(Protocol):
    """The station around an analyser: is it powered, and does sample water reach it?"""

    def powered(self) -> bool: ...

    def sample_water(self) -> bool: ...


class AlwaysSupplied:
    """A supply that never fails (a bench analyser; unit tests)."""

    def powered(self) -> bool:
        return True

    def sample_water(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Reading:
    """What the device shows at one moment: values by parameter code or signal name (None = no result)."""

    values: dict[str, float | None]
    state: DeviceState
    measuring: bool = False
    result_time: datetime | None = None
    alarms: frozenset[Flag] = frozenset()


@dataclass(frozen=True, slots=True)
class Result:
    """One new result of a wet-chemistry analyser, as the simulator produced it."""

    param: str
    result_time: datetime
    value: float
    flag: Flag


@dataclass
class AnalyserModel:
    """Base of the models: a commanded state plus the hooks scenarios use.

    ``offsets`` are analyser drift added to what it measures; ``overrides`` replace a value outright; ``stuck``
    freezes the reported values (the analyser keeps running but repeats itself).
    """

    name: str
    supply: SampleSupply = field(default_factory=AlwaysSupplied)
    state: DeviceState = DeviceState.NORMAL
    stuck: bool = False
    offsets: dict[str, float] = field(default_factory=dict)
    overrides: dict[str, float] = field(default_factory=dict)

    def set_state(self, state: DeviceState | str) -> None:
        self.state = DeviceState(state)

    def effective_state(self) -> DeviceState:
        """The commanded state, unless the station takes the analyser out (no power, no sample water)."""
        if not self.supply.powered():
            return DeviceState.STOPPED
        if self.state == DeviceState.NORMAL and not self.supply.sample_water():
            return DeviceState.NO_WATER
        return self.state

    def reported(self, param: str, measured: float) -> float:
        if param in self.overrides:
            return self.overrides[param]
        return measured + self.offsets.get(param, 0.0)

    def read(self, now: datetime) -> Reading:
        raise NotImplementedError
