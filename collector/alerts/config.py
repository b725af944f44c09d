"""The ``[alerts]`` configuration: the rule set and the sites (water type, target class, name) it judges
against. Validated by pydantic (negative durations, unknown codes, unknown rule types → clear errors).

A rule is validated as the model registered for its ``type`` (``collector.alerts.registry``); the rule models
themselves live with their checks under ``collector/alerts/rules/``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator, model_validator

from collector.alerts.registry import Rule, default_rules
from collector.alerts.rule import COLLECTOR_STATION, NUTRIENTS, PROBE, ConfigModel, ParamCode, RuleBase
from collector.assessment.classes import WaterClass, parse_class
from collector.assessment.limits import WaterType
from protocols.topics import is_station_id

__all__ = [
    "COLLECTOR_STATION",
    "NUTRIENTS",
    "PROBE",
    "AlertsConfig",
    "Discharge",
    "ParamCode",
    "Rule",
    "RuleBase",
    "Site",
    "default_rules",
]

TargetClass = Annotated[
    WaterClass, BeforeValidator(lambda v: parse_class(v) if isinstance(v, str | int) else v)
]


class Site(ConfigModel):
    name_zh: str = ""  # the section's name, used in alert messages
    water_type: WaterType = WaterType.RIVER
    target_class: TargetClass = WaterClass.III

    @field_validator("target_class")
    @classmethod
    def _target(cls, value: WaterClass) -> WaterClass:
        if value is WaterClass.WORSE_THAN_V:
            raise ValueError("a target class must be I–V")
        return value


class Discharge(ConfigModel):
    """An outfall as the ``outfall_limit`` rule judges it (collector/outfalls.py): name, the source of its
    limits, and per item the allowed (min, max), either None where the limit has no such side."""

    name_zh: str = ""
    name_en: str = ""
    standard: str = ""
    limits: dict[ParamCode, tuple[float | None, float | None]] = Field(default_factory=dict)


class AlertsConfig(ConfigModel):
    rules: list[Rule] = Field(default_factory=default_rules)
    sites: dict[str, Site] = Field(default_factory=dict)  # station → water type and target class
    # Outfalls by the id their readings are stored under: judged against discharge limits, not GB 3838.
    outfalls: dict[str, Discharge] = Field(default_factory=dict)
    default_site: Site = Site()

    @model_validator(mode="after")
    def _unique(self) -> AlertsConfig:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(duplicates)}")
        for station in self.sites:
            if not is_station_id(station):
                raise ValueError(f"sites: not a station id: {station!r}")
        return self

    def site(self, station: str) -> Site:
        return self.sites.get(station, self.default_site)
