"""A notification target as the sender sees it: where it is, what kind of receiver it is, which alerts it
wants. Built from ``collector.config.NotifyTarget`` (``specs_from_config``) without the pydantic model, so the
sender and the kinds stay testable on their own."""

from __future__ import annotations

from dataclasses import dataclass

from collector.alerts.model import SEVERITY_RANK, Transition
from protocols.messages import Severity


@dataclass(frozen=True, slots=True)
class TargetSpec:
    name: str
    kind: str  # a registered notifier kind: webhook | wecom | dingtalk | mqtt | ...
    url: str = ""
    secret: str = ""
    min_severity: Severity = Severity.INFO
    stations: frozenset[str] | None = None
    timeout_s: float = 10.0

    def wants(self, transition: Transition) -> bool:
        alert = transition.alert
        if SEVERITY_RANK[alert.severity] < SEVERITY_RANK[self.min_severity]:
            return False
        return self.stations is None or alert.station in self.stations
