"""Alert records, their transitions, and the engine's serialisable state."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from collector.alerts.rise_history import History, RiseHistory
from collector.wire_types import UtcDatetime
from protocols.messages import Severity

SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class TransitionKind(StrEnum):
    OPENED = "opened"
    ESCALATED = "escalated"  # severity rose while the alert stayed active
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(BaseModel):
    """One alert. Key (station, rule, subject): at most one is active (open or acknowledged) per key.
    ``subject`` is the parameter code, device name or controller condition; "" for the station itself."""

    model_config = ConfigDict(extra="forbid")

    id: str
    station: str
    rule: str
    rule_type: str
    subject: str = ""
    param: str | None = None
    severity: Severity
    status: AlertStatus = AlertStatus.OPEN
    opened_at: UtcDatetime
    last_bad_at: UtcDatetime
    acknowledged_at: UtcDatetime | None = None
    acknowledged_by: str | None = None
    resolved_at: UtcDatetime | None = None
    value: float | None = None
    title_zh: str
    title_en: str
    message_zh: str
    message_en: str
    detail: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return alert_key(self.station, self.rule, self.subject)


def alert_key(station: str, rule: str, subject: str) -> str:
    return f"{station}|{rule}|{subject}"


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: TransitionKind
    at: UtcDatetime
    alert: Alert  # a snapshot after the transition


# The two memories written per reading are plain dataclasses (validated and serialised as part of
# ``EngineState`` all the same): a pydantic model's attribute write costs a Python call, this runs per reading.
@dataclass(slots=True)
class Counter:
    """Debounce / hysteresis memory of one key."""

    bad: int = 0
    good: int = 0
    bad_since: UtcDatetime | None = None
    good_since: UtcDatetime | None = None


class StationMemo(BaseModel):
    last_heard: UtcDatetime | None = None
    offline_since: UtcDatetime | None = None
    backlog: int | None = None
    dropped: int | None = None
    no_water: bool = False  # the controller last said: no sample water (ice or a dry river)


@dataclass(slots=True)
class ParamMemo:
    first_seen: UtcDatetime | None = None
    last_t: UtcDatetime | None = None  # newest sample time seen, any flag
    last_calibration: UtcDatetime | None = None  # newest C-flagged sample time
    last_exceedance_t: UtcDatetime | None = None  # newest valid value judged for exceedance
    history: History = field(default_factory=RiseHistory)  # valid values for the rise rule (compact)


class IncidentMemo(BaseModel):
    """Incidents of one kind at one station (quarantined messages, revisions, inbox write errors)."""

    first_at: UtcDatetime
    last_at: UtcDatetime
    count: int = 0
    detail: dict[str, Any] = Field(default_factory=dict)


class EngineState(BaseModel):
    """Everything the engine remembers; ``model_dump_json()`` / ``model_validate_json()`` to persist."""

    v: int = 1
    active: dict[str, Alert] = Field(default_factory=dict)  # key → open or acknowledged alert
    counters: dict[str, Counter] = Field(default_factory=dict)
    stations: dict[str, StationMemo] = Field(default_factory=dict)
    params: dict[str, ParamMemo] = Field(default_factory=dict)  # "station|param" → memo
    incidents: dict[str, IncidentMemo] = Field(default_factory=dict)  # "station|kind" → memo
