"""Station-controller conditions that raise events when they start and when they clear. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from protocols.messages import Severity


@dataclass(frozen=True)
class Condition:
    signal: str
    value: float
    key: str
    message: str
    severity: Severity


CONDITIONS: tuple[Condition, ...] = (
    Condition("water_present", 0, "no_water", "no sample water (ice or dry intake)", Severity.WARNING),
    Condition("mains_power", 0, "mains_lost", "mains power lost", Severity.CRITICAL),
    Condition("on_battery", 1, "on_battery", "station running on battery", Severity.WARNING),
    Condition("door_open", 1, "door_open", "station door open", Severity.WARNING),
    Condition("sampling_state", 3, "sampling_no_water", "sampling system reports no water", Severity.WARNING),
)


@dataclass(frozen=True)
class Change:
    condition: Condition
    active: bool


class ControllerWatch:
    """Edge detector over controller signals; the first sight of an inactive condition is not news."""

    def __init__(self, conditions: tuple[Condition, ...] = CONDITIONS) -> None:
        self.conditions = conditions
        self._active: dict[str, bool] = {}

    def update(self, signals: Mapping[str, float]) -> list[Change]:
        changes = []
        for cond in self.conditions:
            if cond.signal not in signals:
                continue
            active = signals[cond.signal] == cond.value
            before = self._active.get(cond.key)
            self._active[cond.key] = active
            if before is None and not active:
                continue
            if before != active:
                changes.append(Change(cond, active))
        return changes
