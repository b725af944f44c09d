"""What every alert rule's config shares: the ``RuleBase`` model (id, scope, severity, debounce,
hysteresis) and the field types rule models use. Each rule type subclasses it in its own module under
``rules/`` with a ``type`` literal, the key it is registered under (``collector.alerts.registry``).

Debounce and hysteresis: an alert opens after ``open_after`` consecutive bad checks spanning at least
``open_after_s`` seconds, and resolves after ``clear_after`` consecutive good checks spanning at least
``clear_after_s`` seconds.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from protocols import catalogue
from protocols.messages import Severity
from protocols.topics import is_station_id


def _param(value: str) -> str:
    if not catalogue.is_known(value):
        raise ValueError(f"unknown parameter code {value!r}")
    return value


ParamCode = Annotated[str, BeforeValidator(lambda v: _param(v) if isinstance(v, str) else v)]

# Nutrient analysers report every 4 h; the probe's five parameters every few minutes (STANDARDS.md §2).
NUTRIENTS = ("w01019", "w21003", "w21011", "w21001")
PROBE = ("w01010", "w01001", "w01009", "w01014", "w01003")

COLLECTOR_STATION = "_collector"  # the alert key of collector-level alerts (not a valid station id)


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleBase(ConfigModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    enabled: bool = True
    stations: list[str] | None = None  # None: every station
    severity: Severity = Severity.WARNING
    open_after: int = Field(default=1, ge=1)
    open_after_s: float = Field(default=0.0, ge=0)
    clear_after: int = Field(default=1, ge=1)
    clear_after_s: float = Field(default=0.0, ge=0)

    @field_validator("stations")
    @classmethod
    def _stations(cls, value: list[str] | None) -> list[str] | None:
        for station in value or []:
            if not is_station_id(station):
                raise ValueError(f"not a station id: {station!r}")
        return value

    def applies_to(self, station: str) -> bool:
        return self.enabled and (self.stations is None or station in self.stations)


class IncidentRule(RuleBase):
    """Opens on the first incident of its kind at a station; resolves after ``quiet_s`` without another
    (checked on each tick). The incident kind is the rule type."""

    quiet_s: float = Field(default=3600.0, gt=0)
