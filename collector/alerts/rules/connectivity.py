"""Rules on whether a station and its analysers are heard: ``offline`` (station offline or silent),
``device_down`` (an analyser reported down) and ``stale`` (no new value of a parameter for too long)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, PositiveFloat

from collector.alerts import texts
from collector.alerts.check import Check, Context
from collector.alerts.model import ParamMemo, StationMemo
from collector.alerts.registry import register
from collector.alerts.rule import NUTRIENTS, PROBE, ParamCode, RuleBase
from protocols.flags import FLAG_NAMES, Flag
from protocols.messages import Severity, StationState, Status


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


def offline(
    ctx: Context, rules: list[OfflineRule], station: str, memo: StationMemo, now: datetime
) -> list[Check]:
    out = []
    for rule in rules:
        since = memo.offline_since
        silent = memo.last_heard is not None and (now - memo.last_heard).total_seconds() > rule.after_s
        if since is not None and (now - since).total_seconds() >= rule.after_s:
            reason = "offline.offline"
        elif silent:
            since, reason = memo.last_heard, "offline.silent"
        else:
            if since is None and not silent:
                out.append(Check(rule, station, "", False, now))
            continue
        assert since is not None
        span = (now - since).total_seconds()
        (reason_zh, reason_en), (span_zh, span_en) = texts.phrase(reason), texts.duration(span)
        said = texts.render(
            "offline",
            **ctx.labels(station),
            reason_zh=reason_zh,
            reason_en=reason_en,
            span_zh=span_zh,
            span_en=span_en,
        )
        out.append(
            Check(rule, station, "", True, now, *said, value=span, detail={"since": since.isoformat()})
        )
    return out


def offline_status(ctx: Context, rules: list[OfflineRule], status: Status, memo: StationMemo) -> list[Check]:
    """Every status is heard; an offline one starts (or continues) the offline period."""
    at = status.at
    if memo.last_heard is None or at > memo.last_heard:
        memo.last_heard = at
    if status.state is StationState.OFFLINE:
        memo.offline_since = memo.offline_since or at
    else:
        memo.offline_since = None
    return offline(ctx, rules, status.station, memo, at)


def devices(ctx: Context, rules: list[DeviceDownRule], status: Status, memo: StationMemo) -> list[Check]:
    out = []
    for rule in rules:
        for name, device in status.devices.items():
            if device.up and device.flag not in rule.flags:
                out.append(Check(rule, status.station, name, False, status.at))
                continue
            flag_zh, flag_en = (
                FLAG_NAMES[device.flag]
                if device.flag in rule.flags
                else texts.phrase("device_down.not_responding")
            )
            error_zh, error_en = (
                texts.phrase("device_down.error", error=device.error) if device.error else ("", "")
            )
            said = texts.render(
                "device_down",
                **ctx.labels(status.station),
                device=name,
                flag_zh=flag_zh,
                flag_en=flag_en,
                error_zh=error_zh,
                error_en=error_en,
            )
            detail = {"device": name, "flag": device.flag.value, "failures": device.failures}
            out.append(Check(rule, status.station, name, True, status.at, *said, detail=detail))
    return out


def stale(
    ctx: Context, rules: list[StaleRule], station: str, param: str, memo: ParamMemo, now: datetime
) -> list[Check]:
    if memo.last_t is None:
        return []
    station_memo = ctx.state.stations.get(station)
    no_water = station_memo is not None and station_memo.no_water
    out = []
    for rule in rules:
        if rule.params is not None and param not in rule.params:
            continue
        if no_water and rule.quiet_when_no_water:
            continue
        every = rule.interval(param)
        limit = rule.factor * every
        age = (now - memo.last_t).total_seconds()
        if age <= limit:
            out.append(Check(rule, station, param, False, now, param=param))
            continue
        (age_zh, age_en), (every_zh, every_en) = texts.duration(age), texts.duration(every)
        said = texts.render(
            "stale",
            **ctx.labels(station),
            **texts.names(param),
            age_zh=age_zh,
            age_en=age_en,
            every_zh=every_zh,
            every_en=every_en,
        )
        detail = {"last_t": memo.last_t.isoformat()}
        out.append(Check(rule, station, param, True, now, *said, param=param, value=age, detail=detail))
    return out


register(OfflineRule, status=offline_status, station_tick=offline, defaults=[OfflineRule(id="offline")])
register(DeviceDownRule, status=devices, defaults=[DeviceDownRule(id="device_down")])
register(StaleRule, param_tick=stale, defaults=[StaleRule(id="stale")])
