"""Alert rule configuration: pydantic models, validated (negative durations, unknown codes → clear errors).

Every rule shares the debounce / hysteresis fields of ``RuleBase``:
an alert opens after ``open_after`` consecutive bad checks spanning at least ``open_after_s`` seconds, and
resolves after ``clear_after`` consecutive good checks spanning at least ``clear_after_s`` seconds.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveFloat,
    field_validator,
    model_validator,
)

from collector.assessment.classes import WaterClass, parse_class
from collector.assessment.limits import WaterType
from protocols import catalogue
from protocols.flags import Flag
from protocols.messages import Severity
from protocols.topics import is_station_id


def _param(value: str) -> str:
    if not catalogue.is_known(value):
        raise ValueError(f"unknown parameter code {value!r}")
    return value


ParamCode = Annotated[str, BeforeValidator(lambda v: _param(v) if isinstance(v, str) else v)]
TargetClass = Annotated[
    WaterClass, BeforeValidator(lambda v: parse_class(v) if isinstance(v, str | int) else v)
]

# Nutrient analysers report every 4 h; the probe's five parameters every few minutes (STANDARDS.md §2).
NUTRIENTS = ("w01019", "w21003", "w21011", "w21001")
PROBE = ("w01010", "w01001", "w01009", "w01014", "w01003")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleBase(_Model):
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


class OfflineRule(RuleBase):
    """Station offline (its will / an offline status) or silent for longer than ``after_s``."""

    type: Literal["offline"] = "offline"
    severity: Severity = Severity.CRITICAL
    after_s: float = Field(default=600.0, ge=0)


class DeviceDownRule(RuleBase):
    """An analyser reported down in the station status (communication lost or fault flag D / B)."""

    type: Literal["device_down"] = "device_down"
    open_after_s: float = Field(default=300.0, ge=0)
    flags: frozenset[Flag] = frozenset({Flag.FAULT, Flag.COMM_FAILED})


class FaultFlagRule(RuleBase):
    """Readings of a parameter arrive flagged D (fault) or B (communication failed)."""

    type: Literal["fault_flag"] = "fault_flag"
    params: list[ParamCode] | None = None
    flags: frozenset[Flag] = frozenset({Flag.FAULT, Flag.COMM_FAILED})
    open_after: int = Field(default=2, ge=1)


def _default_intervals() -> dict[str, float]:
    return {**dict.fromkeys(PROBE, 300.0), **dict.fromkeys(NUTRIENTS, 4 * 3600.0), "w01018": 4 * 3600.0}


class StaleRule(RuleBase):
    """No new value of a parameter for ``factor`` × its schedule interval (checked on each tick)."""

    type: Literal["stale"] = "stale"
    factor: float = Field(default=3.0, gt=0)
    intervals_s: dict[ParamCode, PositiveFloat] = Field(default_factory=_default_intervals)
    default_interval_s: float = Field(default=3600.0, gt=0)
    params: list[ParamCode] | None = None
    # Ice or a dry river stops every analyser at once: the no-water alert says it, not one stale alert each.
    quiet_when_no_water: bool = True

    def interval(self, param: str) -> float:
        return self.intervals_s.get(param, self.default_interval_s)


class ExceedanceRule(RuleBase):
    """Valid values worse than the site's target class, ``open_after`` in a row; critical beyond class V."""

    type: Literal["exceedance"] = "exceedance"
    params: list[ParamCode] | None = None
    open_after: int = Field(default=2, ge=1)
    clear_after: int = Field(default=3, ge=1)


def _default_rates() -> dict[str, float]:
    # Per-hour rises that mark a plume rather than drift (config; tune per river).
    return {
        "w21003": 0.5,
        "w21011": 0.1,
        "w01019": 2.0,
        "w21001": 1.0,
        "w01018": 10.0,
        "w01014": 200.0,
        "w01003": 500.0,
    }


class SuddenRiseRule(RuleBase):
    """A valid value rose faster than ``rates_per_hour[param]`` since the newest valid value at least
    ``min_span_s`` and at most ``max_gap_s`` older (a pollution plume)."""

    type: Literal["sudden_rise"] = "sudden_rise"
    rates_per_hour: dict[ParamCode, PositiveFloat] = Field(default_factory=_default_rates)
    min_span_s: float = Field(default=600.0, ge=0)
    max_gap_s: float = Field(default=5 * 3600.0, gt=0)
    clear_after: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _span(self) -> SuddenRiseRule:
        if self.min_span_s >= self.max_gap_s:
            raise ValueError("min_span_s must be shorter than max_gap_s")
        return self


class BacklogRule(RuleBase):
    """The station's unsent backlog above ``min_backlog`` and growing for ``open_after`` statuses in a row."""

    type: Literal["backlog"] = "backlog"
    min_backlog: int = Field(default=100, ge=0)
    open_after: int = Field(default=3, ge=1)


class DroppedRule(RuleBase):
    """The station dropped readings (its disk quota); resolves after ``clear_after_s`` without new drops."""

    type: Literal["dropped"] = "dropped"
    severity: Severity = Severity.CRITICAL
    clear_after_s: float = Field(default=3600.0, ge=0)


class ClockSkewRule(RuleBase):
    """|station clock − reference| above ``max_offset_s``; resolves below ``clear_offset_s`` (hysteresis)."""

    type: Literal["clock_skew"] = "clock_skew"
    max_offset_s: float = Field(default=60.0, gt=0)
    clear_offset_s: float = Field(default=30.0, ge=0)

    @model_validator(mode="after")
    def _band(self) -> ClockSkewRule:
        if self.clear_offset_s > self.max_offset_s:
            raise ValueError("clear_offset_s must not exceed max_offset_s")
        return self


class ControllerRule(RuleBase):
    """Station controller signals: ``no_water`` (water_present 0 or sampling_state 3: ice or a dry river)
    or ``mains_lost`` (mains_power 0 or on_battery 1)."""

    type: Literal["controller"] = "controller"
    condition: Literal["no_water", "mains_lost"]
    open_after_s: float = Field(default=60.0, ge=0)


class IncidentRule(RuleBase):
    """Opens on the first incident of its kind at a station; resolves after ``quiet_s`` without another
    (checked on each tick)."""

    quiet_s: float = Field(default=3600.0, gt=0)


class DeadLettersRule(IncidentRule):
    """A station's messages were quarantined: the collector could not validate or store them."""

    type: Literal["dead_letters"] = "dead_letters"


class RevisionsRule(IncidentRule):
    """A station re-sent readings already stored with another value or flag (an analyser clock set back):
    the first value is kept and the new one saved as a revision."""

    type: Literal["revisions"] = "revisions"


class InboxWriteRule(IncidentRule):
    """The collector's receiver cannot write its inbox (disk full, I/O error): nothing is acknowledged, the
    broker keeps the messages. A collector-level alert (station ``_collector``)."""

    type: Literal["inbox_write"] = "inbox_write"
    severity: Severity = Severity.CRITICAL
    quiet_s: float = Field(default=300.0, gt=0)


INCIDENT_RULES: dict[str, type[IncidentRule]] = {
    "dead_letters": DeadLettersRule,
    "revisions": RevisionsRule,
    "inbox_write": InboxWriteRule,
}
COLLECTOR_STATION = "_collector"  # the alert key of collector-level alerts (not a valid station id)


def _default_calibration() -> dict[str, float]:
    # Nutrient analysers run a standard-solution check every 24 h; the probe a weekly check (STANDARDS.md §7).
    return {
        **dict.fromkeys(NUTRIENTS, 48 * 3600.0),
        "w01018": 48 * 3600.0,
        **dict.fromkeys(("w01001", "w01009", "w01014", "w01003"), 8 * 86400.0),
    }


class CalibrationRule(RuleBase):
    """No C-flagged value of a parameter for longer than ``max_age_s[param]`` (checked on each tick)."""

    type: Literal["calibration_overdue"] = "calibration_overdue"
    max_age_s: dict[ParamCode, PositiveFloat] = Field(default_factory=_default_calibration)


Rule = Annotated[
    OfflineRule
    | DeviceDownRule
    | FaultFlagRule
    | StaleRule
    | ExceedanceRule
    | SuddenRiseRule
    | BacklogRule
    | DroppedRule
    | ClockSkewRule
    | ControllerRule
    | CalibrationRule
    | DeadLettersRule
    | RevisionsRule
    | InboxWriteRule,
    Field(discriminator="type"),
]


class Site(_Model):
    name_zh: str = ""  # the section's name, used in alert messages
    water_type: WaterType = WaterType.RIVER
    target_class: TargetClass = WaterClass.III

    @field_validator("target_class")
    @classmethod
    def _target(cls, value: WaterClass) -> WaterClass:
        if value is WaterClass.WORSE_THAN_V:
            raise ValueError("a target class must be I–V")
        return value


def default_rules() -> list[Rule]:
    return [
        OfflineRule(id="offline"),
        DeviceDownRule(id="device_down"),
        FaultFlagRule(id="fault_flag"),
        StaleRule(id="stale"),
        ExceedanceRule(id="exceedance"),
        SuddenRiseRule(id="sudden_rise"),
        BacklogRule(id="backlog"),
        DroppedRule(id="dropped"),
        ClockSkewRule(id="clock_skew"),
        ControllerRule(id="no_water", condition="no_water"),
        ControllerRule(id="mains_lost", condition="mains_lost"),
        CalibrationRule(id="calibration_overdue"),
        DeadLettersRule(id="dead_letters"),
        RevisionsRule(id="revisions"),
        InboxWriteRule(id="inbox_write"),
    ]


class AlertsConfig(_Model):
    rules: list[Rule] = Field(default_factory=default_rules)
    sites: dict[str, Site] = Field(default_factory=dict)  # station → water type and target class
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
