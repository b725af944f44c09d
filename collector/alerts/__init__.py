"""Alert rules and the pure alert engine (observations in, transitions out)."""

from collector.alerts.config import (
    AlertsConfig,
    BacklogRule,
    CalibrationRule,
    ClockSkewRule,
    ControllerRule,
    DeviceDownRule,
    DroppedRule,
    ExceedanceRule,
    FaultFlagRule,
    OfflineRule,
    Rule,
    RuleBase,
    Site,
    StaleRule,
    SuddenRiseRule,
    default_rules,
)
from collector.alerts.engine import AlertEngine, Check
from collector.alerts.model import Alert, AlertStatus, EngineState, Transition, TransitionKind, alert_key

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
    "DeviceDownRule",
    "DroppedRule",
    "EngineState",
    "ExceedanceRule",
    "FaultFlagRule",
    "OfflineRule",
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
