"""The built-in alert rule types, one module per group; importing a module registers its types.

The order of these imports is the order the engine calls the types' hooks in (and of the default rule set).
A new rule type is a new module here and one import line.
"""

from collector.alerts.rules import connectivity, quality, station, ingest, outfall, uplink  # noqa: I001 (hook order)
from collector.alerts.rules.connectivity import DeviceDownRule, OfflineRule, StaleRule
from collector.alerts.rules.ingest import DeadLettersRule, InboxWriteRule, RevisionsRule
from collector.alerts.rules.outfall import OutfallLimitRule
from collector.alerts.rules.quality import CalibrationRule, ExceedanceRule, FaultFlagRule, SuddenRiseRule
from collector.alerts.rules.station import BacklogRule, ClockSkewRule, ControllerRule, DroppedRule
from collector.alerts.rules.uplink import Hj212BacklogRule

__all__ = [
    "BacklogRule",
    "CalibrationRule",
    "ClockSkewRule",
    "ControllerRule",
    "DeadLettersRule",
    "DeviceDownRule",
    "DroppedRule",
    "ExceedanceRule",
    "FaultFlagRule",
    "Hj212BacklogRule",
    "InboxWriteRule",
    "OfflineRule",
    "OutfallLimitRule",
    "RevisionsRule",
    "StaleRule",
    "SuddenRiseRule",
    "connectivity",
    "ingest",
    "outfall",
    "quality",
    "station",
    "uplink",
]
