"""Rules on what a station reports about itself in its status: ``backlog`` (unsent readings growing),
``dropped`` (readings dropped to the disk quota), ``clock_skew`` and ``controller`` (no sample water, mains
power lost)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from collector.alerts import texts
from collector.alerts.check import Check, Context
from collector.alerts.model import StationMemo
from collector.alerts.registry import register
from collector.alerts.rule import RuleBase
from protocols.messages import Severity, Status

# The controller signals an alert's detail carries.
CONTROLLER_DETAIL = ("water_present", "sampling_state", "mains_power", "on_battery", "battery_pct")


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


def backlog(ctx: Context, rules: list[BacklogRule], status: Status, memo: StationMemo) -> list[Check]:
    previous, memo.backlog = memo.backlog, status.backlog
    if previous is None:
        return []
    out = []
    for rule in rules:
        if status.backlog > rule.min_backlog and status.backlog > previous:
            said = texts.render("backlog", **ctx.labels(status.station), backlog=status.backlog)
            value, detail = float(status.backlog), {"backlog": status.backlog}
            out.append(Check(rule, status.station, "", True, status.at, *said, value=value, detail=detail))
        elif status.backlog <= rule.min_backlog or status.backlog < previous:
            out.append(Check(rule, status.station, "", False, status.at))
    return out


def dropped(ctx: Context, rules: list[DroppedRule], status: Status, memo: StationMemo) -> list[Check]:
    previous, memo.dropped = memo.dropped, status.dropped
    if previous is None:
        return []  # the first count is a baseline: when those drops happened is unknown
    out = []
    for rule in rules:
        if status.dropped > previous:
            lost = status.dropped - previous
            said = texts.render("dropped", **ctx.labels(status.station), lost=lost, total=status.dropped)
            detail = {"dropped_total": status.dropped}
            out.append(
                Check(rule, status.station, "", True, status.at, *said, value=float(lost), detail=detail)
            )
        else:
            out.append(Check(rule, status.station, "", False, status.at))
    return out


def clock_skew(ctx: Context, rules: list[ClockSkewRule], status: Status, memo: StationMemo) -> list[Check]:
    offset = status.clock_offset_s
    if offset is None:
        return []
    out = []
    for rule in rules:
        limit = rule.max_offset_s
        if abs(offset) > limit:
            said = texts.render("clock_skew", **ctx.labels(status.station), offset=offset, limit=limit)
            out.append(Check(rule, status.station, "", True, status.at, *said, value=offset))
        elif abs(offset) <= rule.clear_offset_s:
            out.append(Check(rule, status.station, "", False, status.at))
    return out


def _number(value: float | bool | str | None) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def controller(ctx: Context, rules: list[ControllerRule], status: Status, memo: StationMemo) -> list[Check]:
    signals = {name: _number(value) for name, value in status.controller.items()}
    if "water_present" in signals or "sampling_state" in signals:
        # Remembered for the stale rule: no water stops every analyser at once.
        memo.no_water = signals.get("water_present") == 0 or signals.get("sampling_state") == 3
    out = []
    for rule in rules:
        if rule.condition == "no_water":
            known = signals.get("water_present") is not None or signals.get("sampling_state") is not None
            bad = signals.get("water_present") == 0 or signals.get("sampling_state") == 3
        else:
            known = signals.get("mains_power") is not None or signals.get("on_battery") is not None
            bad = signals.get("mains_power") == 0 or signals.get("on_battery") == 1
        if not known:
            continue
        said = texts.render(f"controller.{rule.condition}", **ctx.labels(status.station))
        detail = {k: v for k, v in status.controller.items() if k in CONTROLLER_DETAIL}
        out.append(Check(rule, status.station, rule.condition, bad, status.at, *said, detail=detail))
    return out


register(BacklogRule, status=backlog, defaults=[BacklogRule(id="backlog")])
register(DroppedRule, status=dropped, defaults=[DroppedRule(id="dropped")])
register(ClockSkewRule, status=clock_skew, defaults=[ClockSkewRule(id="clock_skew")])
register(
    ControllerRule,
    status=controller,
    defaults=[
        ControllerRule(id="no_water", condition="no_water"),
        ControllerRule(id="mains_lost", condition="mains_lost"),
    ],
)
