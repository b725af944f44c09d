"""A rule on the HJ 212 platforms a station reports to (``Status.uplinks``, agent/hj212up): ``hj212_backlog``,
a target's undelivered readings beyond ``max_backlog`` (one alert per target: the subject is its name);
resolved when the backlog is back to ``clear_backlog`` or below. Stations without targets send no ``uplinks``
and are never judged."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from collector.alerts import texts
from collector.alerts.check import Check, Context
from collector.alerts.model import StationMemo
from collector.alerts.registry import register
from collector.alerts.rule import RuleBase
from protocols.messages import Status


class Hj212BacklogRule(RuleBase):
    type: Literal["hj212_backlog"] = "hj212_backlog"
    max_backlog: int = Field(default=10_000, ge=0)
    clear_backlog: int = Field(default=1_000, ge=0)

    @model_validator(mode="after")
    def _band(self) -> Hj212BacklogRule:
        if self.clear_backlog > self.max_backlog:
            raise ValueError("clear_backlog must not exceed max_backlog")
        return self


texts.define(
    "hj212_backlog",
    texts.Texts(
        "上报平台 {target} 积压",
        "Platform {target}: backlog",
        "{label} 向平台 {target} 待报数据 {backlog} 条（阈值 {limit}），{connected_zh}",
        "{label_en} has {backlog} readings not yet delivered to platform {target} (limit {limit}), {connected_en}",
    ),
)


def hj212_backlog(
    ctx: Context, rules: list[Hj212BacklogRule], status: Status, memo: StationMemo
) -> list[Check]:
    out = []
    for name, target in (status.uplinks or {}).items():
        for rule in rules:
            if target.backlog > rule.max_backlog:
                said = texts.render(
                    "hj212_backlog",
                    **ctx.labels(status.station),
                    target=name,
                    backlog=target.backlog,
                    limit=rule.max_backlog,
                    connected_zh="连接正常" if target.connected else "未连接",
                    connected_en="connected" if target.connected else "not connected",
                )
                detail = {
                    "target": name,
                    "backlog": target.backlog,
                    "connected": target.connected,
                    "oldest_unsent": target.oldest_unsent.isoformat() if target.oldest_unsent else None,
                }
                value = float(target.backlog)
                out.append(
                    Check(rule, status.station, name, True, status.at, *said, value=value, detail=detail)
                )
            elif target.backlog <= rule.clear_backlog:
                out.append(Check(rule, status.station, name, False, status.at))
    return out


register(Hj212BacklogRule, status=hj212_backlog, defaults=[Hj212BacklogRule(id="hj212_backlog")])
