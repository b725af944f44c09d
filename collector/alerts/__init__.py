"""Alert rules and the pure alert engine (observations in, transitions out).

``engine`` is the state machine, ``registry`` the rule types it feeds (one module per group under ``rules/``,
registered on import), ``texts`` every bilingual title and message, ``config`` the ``[alerts]`` section.
"""

from collector.alerts.check import Check
from collector.alerts.config import AlertsConfig, Rule, RuleBase, Site, default_rules
from collector.alerts.engine import AlertEngine
from collector.alerts.model import Alert, AlertStatus, EngineState, Transition, TransitionKind, alert_key
from collector.alerts.rule import IncidentRule
from collector.alerts.rules import (
    BacklogRule,
    CalibrationRule,
    ClockSkewRule,
    ControllerRule,
    DeadLettersRule,
    DeviceDownRule,
    DroppedRule,
    ExceedanceRule,
    FaultFlagRule,
    InboxWriteRule,
    OfflineRule,
    RevisionsRule,
    StaleRule,
    SuddenRiseRule,
)

__all__ = [
    "Alert",
    "AlertEngine",
    "AlertStatus",
    "AlertsConfig",
    "BacklogRule",
    "CalibrationRule",
    "Check",
    "ClockSkewRule",
    "ControllerRule",
    "DeadLettersRule",
    "DeviceDownRule",
    "DroppedRule",
    "EngineState",
    "ExceedanceRule",
    "FaultFlagRule",
    "InboxWriteRule",
    "IncidentRule",
    "OfflineRule",
    "RevisionsRule",
    "Rule",
    "RuleBase",
    "Site",
    "StaleRule",
    "SuddenRiseRule",
    "Transition",
    "TransitionKind",
    "alert_key",
    "default_rules",
]
