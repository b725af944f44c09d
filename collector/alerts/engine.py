"""A pure alert rule engine: observations in (reading, status, time tick), alert transitions out.

No clock of its own: time comes from the observations (a reading's sample time, a status's ``at``) and from
``tick(now)``. Its whole memory is ``EngineState`` (pydantic), so the I/O side can persist it between runs.
Readings should be fed in arrival order; sequence rules (fault flag, exceedance, sudden rise) skip a reading
older than the newest already seen for its parameter, so a backfill replay cannot re-open old alerts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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
    RuleBase,
    StaleRule,
    SuddenRiseRule,
)
from collector.alerts.model import (
    SEVERITY_RANK,
    Alert,
    AlertStatus,
    Counter,
    EngineState,
    ParamMemo,
    StationMemo,
    Transition,
    TransitionKind,
    alert_key,
)
from collector.assessment.classes import WaterClass
from collector.assessment.classify import classify, exceedance_multiple
from collector.assessment.section import is_evaluated
from protocols import catalogue
from protocols.flags import FLAG_NAMES, VALID_FLAGS, Flag
from protocols.messages import Reading, Severity, StationState, Status

MAX_HISTORY = 2000


@dataclass(slots=True)
class Check:
    """One rule's verdict on one key at one moment."""

    rule: RuleBase
    station: str
    subject: str
    bad: bool
    at: datetime
    title_zh: str = ""
    title_en: str = ""
    message_zh: str = ""
    message_en: str = ""
    param: str | None = None
    severity: Severity | None = None
    value: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def _name(param: str) -> tuple[str, str, str]:
    entry = catalogue.get(param)
    return entry.name_zh, entry.name_en, entry.unit


def _value(param: str, value: float | None) -> str:
    """A value as the bulletin prints it: the catalogue's decimals for that parameter."""
    if value is None:
        return "—"
    return f"{value:.{catalogue.get(param).decimals}f}"


def _duration_zh(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 60:.0f} 分钟"


def _duration_en(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"


def _time(entry: tuple[datetime, float]) -> datetime:
    return entry[0]


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


class AlertEngine:
    def __init__(self, config: AlertsConfig | None = None, state: EngineState | None = None) -> None:
        self.config = config or AlertsConfig()
        self.state = state or EngineState()

    # ----- persistence -------------------------------------------------------------------------------------
    def dump(self) -> str:
        return self.state.model_dump_json()

    @classmethod
    def load(cls, config: AlertsConfig, text: str | bytes) -> AlertEngine:
        return cls(config, EngineState.model_validate_json(text))

    def active(self) -> list[Alert]:
        """Open and acknowledged alerts, oldest first."""
        return sorted(self.state.active.values(), key=lambda a: (a.opened_at, a.id))

    def _rules(self, kind: type[RuleBase], station: str) -> list[Any]:
        return [r for r in self.config.rules if isinstance(r, kind) and r.applies_to(station)]

    def _label(self, station: str) -> str:
        """How messages name a station: its section's Chinese name where configured, else its id."""
        site = self.config.sites.get(station)
        return site.name_zh if site is not None and site.name_zh else station

    # ----- observations ------------------------------------------------------------------------------------
    def observe(self, observation: tuple[str, Reading] | Status | datetime) -> list[Transition]:
        if isinstance(observation, Status):
            return self.on_status(observation)
        if isinstance(observation, datetime):
            return self.tick(observation)
        station, reading = observation
        return self.on_reading(station, reading)

    def on_readings(self, station: str, readings: Iterable[Reading]) -> list[Transition]:
        out: list[Transition] = []
        for reading in readings:
            out += self.on_reading(station, reading)
        return out

    def on_reading(self, station: str, reading: Reading) -> list[Transition]:
        memo = self.state.params.setdefault(f"{station}|{reading.param}", ParamMemo())
        t = reading.t
        newer = memo.last_t is None or t > memo.last_t
        if memo.first_seen is None or t < memo.first_seen:
            memo.first_seen = t
        if newer:
            memo.last_t = t
        checks: list[Check] = []
        if reading.flag is Flag.CALIBRATION:
            if memo.last_calibration is None or t > memo.last_calibration:
                memo.last_calibration = t
            for cal in self._rules(CalibrationRule, station):
                if reading.param in cal.max_age_s:
                    checks.append(Check(cal, station, reading.param, False, t, param=reading.param))
        if newer:
            checks += self._fault_flag(station, reading)
            checks += self._exceedance(station, reading, memo)
            checks += self._sudden_rise(station, reading, memo)
        return self._apply_all(checks)

    def on_status(self, status: Status) -> list[Transition]:
        station, at = status.station, status.at
        memo = self.state.stations.setdefault(station, StationMemo())
        if memo.last_heard is None or at > memo.last_heard:
            memo.last_heard = at
        if status.state is StationState.OFFLINE:
            memo.offline_since = memo.offline_since or at
        else:
            memo.offline_since = None
        signals = {name: _number(value) for name, value in status.controller.items()}
        if "water_present" in signals or "sampling_state" in signals:
            memo.no_water = signals.get("water_present") == 0 or signals.get("sampling_state") == 3
        checks = self._offline(station, at, memo)
        checks += self._devices(status)
        checks += self._backlog(status, memo)
        checks += self._dropped(status, memo)
        checks += self._clock(status)
        checks += self._controller(status)
        return self._apply_all(checks)

    def tick(self, now: datetime) -> list[Transition]:
        checks: list[Check] = []
        for station, memo in self.state.stations.items():
            checks += self._offline(station, now, memo)
        for key, pmemo in self.state.params.items():
            station, param = key.split("|", 1)
            checks += self._stale(station, param, pmemo, now)
            checks += self._calibration(station, param, pmemo, now)
        return self._apply_all(checks)

    # ----- operator actions --------------------------------------------------------------------------------
    def _find(self, alert_id: str) -> Alert:
        for alert in self.state.active.values():
            if alert.id == alert_id:
                return alert
        raise KeyError(f"no active alert with id {alert_id!r}")

    def acknowledge(self, alert_id: str, at: datetime, by: str = "") -> Transition | None:
        """Mark an active alert seen; None when it already was (a repeated request is harmless)."""
        alert = self._find(alert_id)
        if alert.status is AlertStatus.ACKNOWLEDGED:
            return None
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = at
        alert.acknowledged_by = by or None
        return Transition(kind=TransitionKind.ACKNOWLEDGED, at=at, alert=alert.model_copy(deep=True))

    def resolve(self, alert_id: str, at: datetime, by: str = "") -> Transition:
        """Close an alert by hand; it opens again if its condition persists (counters start afresh)."""
        alert = self._find(alert_id)
        if by:
            alert.detail["resolved_by"] = by
        self.state.counters.pop(alert.key, None)
        return self._close(alert, at)

    # ----- debounce and hysteresis -------------------------------------------------------------------------
    def _apply_all(self, checks: list[Check]) -> list[Transition]:
        out: list[Transition] = []
        for check in checks:
            transition = self._apply(check)
            if transition is not None:
                out.append(transition)
        return out

    def _close(self, alert: Alert, at: datetime) -> Transition:
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = at
        del self.state.active[alert.key]
        return Transition(kind=TransitionKind.RESOLVED, at=at, alert=alert.model_copy(deep=True))

    def _apply(self, check: Check) -> Transition | None:
        rule = check.rule
        key = alert_key(check.station, rule.id, check.subject)
        counter = self.state.counters.setdefault(key, Counter())
        alert = self.state.active.get(key)
        at = check.at
        if not check.bad:
            if alert is None:
                self.state.counters.pop(key, None)  # nothing to clear: keep the state small
                return None
            counter.bad, counter.bad_since = 0, None
            counter.good += 1
            counter.good_since = counter.good_since or at
            if (
                counter.good >= rule.clear_after
                and (at - counter.good_since).total_seconds() >= rule.clear_after_s
            ):
                self.state.counters.pop(key, None)
                return self._close(alert, at)
            return None
        counter.good, counter.good_since = 0, None
        counter.bad += 1
        counter.bad_since = counter.bad_since or at
        severity = check.severity or rule.severity
        if alert is not None:
            alert.last_bad_at = max(alert.last_bad_at, at)
            alert.value = check.value
            alert.message_zh, alert.message_en = check.message_zh, check.message_en
            alert.detail.update(check.detail)
            if SEVERITY_RANK[severity] > SEVERITY_RANK[alert.severity]:
                alert.severity = severity
                alert.title_zh, alert.title_en = check.title_zh, check.title_en
                return Transition(kind=TransitionKind.ESCALATED, at=at, alert=alert.model_copy(deep=True))
            return None
        if counter.bad < rule.open_after or (at - counter.bad_since).total_seconds() < rule.open_after_s:
            return None
        alert = Alert(
            id=f"{key}|{at.strftime('%Y%m%dT%H%M%SZ')}",
            station=check.station,
            rule=rule.id,
            rule_type=getattr(rule, "type", ""),
            subject=check.subject,
            param=check.param,
            severity=severity,
            opened_at=at,
            last_bad_at=at,
            value=check.value,
            title_zh=check.title_zh,
            title_en=check.title_en,
            message_zh=check.message_zh,
            message_en=check.message_en,
            detail=dict(check.detail),
        )
        self.state.active[key] = alert
        return Transition(kind=TransitionKind.OPENED, at=at, alert=alert.model_copy(deep=True))

    # ----- rules over readings -----------------------------------------------------------------------------
    def _fault_flag(self, station: str, reading: Reading) -> list[Check]:
        out = []
        for rule in self._rules(FaultFlagRule, station):
            if rule.params is not None and reading.param not in rule.params:
                continue
            zh, en, _ = _name(reading.param)
            if reading.flag in rule.flags:
                fzh, fen = FLAG_NAMES[reading.flag]
                out.append(
                    Check(
                        rule,
                        station,
                        reading.param,
                        True,
                        reading.t,
                        param=reading.param,
                        title_zh=f"{zh}分析仪{fzh}",
                        title_en=f"{en} analyser: {fen}",
                        message_zh=f"{self._label(station)} {zh}数据标识为 {reading.flag.value}（{fzh}）",
                        message_en=f"{self._label(station)} {en} values flagged {reading.flag.value} ({fen})",
                        detail={"flag": reading.flag.value, "device": reading.device},
                    )
                )
            elif reading.flag in VALID_FLAGS:
                out.append(Check(rule, station, reading.param, False, reading.t, param=reading.param))
        return out

    def _exceedance(self, station: str, reading: Reading, memo: ParamMemo) -> list[Check]:
        if reading.flag not in VALID_FLAGS or reading.value is None:
            return []
        site = self.config.site(station)
        if not is_evaluated(reading.param, site.water_type):
            return []
        water_class = classify(reading.param, reading.value, site.water_type)
        if water_class is None:
            return []
        out = []
        for rule in self._rules(ExceedanceRule, station):
            if rule.params is not None and reading.param not in rule.params:
                continue
            if water_class <= site.target_class:
                out.append(Check(rule, station, reading.param, False, reading.t, param=reading.param))
                continue
            zh, en, unit = _name(reading.param)
            multiple = exceedance_multiple(
                reading.param, reading.value, site.water_type, against=site.target_class
            )
            beyond_v = water_class is WaterClass.WORSE_THAN_V
            times_zh = f"，超标 {multiple:.2f} 倍" if multiple is not None else ""
            times_en = f", {multiple:.2f} times over the limit" if multiple is not None else ""
            out.append(
                Check(
                    rule,
                    station,
                    reading.param,
                    True,
                    reading.t,
                    param=reading.param,
                    value=reading.value,
                    severity=Severity.CRITICAL if beyond_v else None,
                    title_zh=f"{zh}超标（{water_class.label_zh}）",
                    title_en=f"{en} exceeds target ({water_class.label_en})",
                    message_zh=(
                        f"{self._label(station)} {zh} {_value(reading.param, reading.value)} {unit}，{water_class.label_zh}，"
                        f"目标{site.target_class.label_zh}{times_zh}"
                    ),
                    message_en=(
                        f"{self._label(station)} {en} {_value(reading.param, reading.value)} {unit}: {water_class.label_en}, "
                        f"target {site.target_class.label_en}{times_en}"
                    ),
                    detail={
                        "class": water_class.roman,
                        "target": site.target_class.roman,
                        "multiple": multiple,
                    },
                )
            )
        memo.last_exceedance_t = reading.t
        return out

    def _sudden_rise(self, station: str, reading: Reading, memo: ParamMemo) -> list[Check]:
        if reading.flag not in VALID_FLAGS or reading.value is None:
            return []
        rules = [r for r in self._rules(SuddenRiseRule, station) if reading.param in r.rates_per_hour]
        if not rules:
            return []
        t, value = reading.t, reading.value
        keep = max(r.max_gap_s for r in rules)
        # History is in time order (only newer valid values are appended): bisect, never scan it all.
        history = memo.history
        del history[: bisect.bisect_left(history, t - timedelta(seconds=keep), key=_time)]
        out = []
        for rule in rules:
            # The newest value at least min_span_s old (and strictly older than t), if not beyond max_gap_s.
            j = bisect.bisect_right(history, t - timedelta(seconds=rule.min_span_s), key=_time) - 1
            while j >= 0 and history[j][0] >= t:
                j -= 1
            if j < 0 or (t - history[j][0]).total_seconds() > rule.max_gap_s:
                continue
            reference = history[j]
            hours = (t - reference[0]).total_seconds() / 3600.0
            rate = (value - reference[1]) / hours
            limit = rule.rates_per_hour[reading.param]
            if rate <= limit:
                out.append(Check(rule, station, reading.param, False, t, param=reading.param))
                continue
            zh, en, unit = _name(reading.param)
            out.append(
                Check(
                    rule,
                    station,
                    reading.param,
                    True,
                    t,
                    param=reading.param,
                    value=value,
                    title_zh=f"{zh}突升",
                    title_en=f"{en} sudden rise",
                    message_zh=(
                        f"{self._label(station)} {zh} 由 {_value(reading.param, reference[1])} 升至 {_value(reading.param, value)} {unit}，"
                        f"每小时 {rate:.3g}（阈值 {limit:g}）"
                    ),
                    message_en=(
                        f"{self._label(station)} {en} rose from {_value(reading.param, reference[1])} to {_value(reading.param, value)} {unit}: "
                        f"{rate:.3g} per hour (threshold {limit:g})"
                    ),
                    detail={"rate_per_hour": rate, "from": reference[1], "from_t": reference[0].isoformat()},
                )
            )
        memo.history.append((t, value))
        del memo.history[:-MAX_HISTORY]
        return out

    # ----- rules over statuses -----------------------------------------------------------------------------
    def _offline(self, station: str, now: datetime, memo: StationMemo) -> list[Check]:
        out = []
        for rule in self._rules(OfflineRule, station):
            since = memo.offline_since
            silent = memo.last_heard is not None and (now - memo.last_heard).total_seconds() > rule.after_s
            if since is not None and (now - since).total_seconds() >= rule.after_s:
                reason_zh, reason_en = "离线", "offline"
            elif silent:
                since, reason_zh, reason_en = memo.last_heard, "无消息", "silent"
            else:
                if since is None and not silent:
                    out.append(Check(rule, station, "", False, now))
                continue
            assert since is not None
            span = (now - since).total_seconds()
            out.append(
                Check(
                    rule,
                    station,
                    "",
                    True,
                    now,
                    value=span,
                    title_zh="站点离线",
                    title_en="Station offline",
                    message_zh=f"{self._label(station)} {reason_zh}已 {_duration_zh(span)}",
                    message_en=f"{self._label(station)} {reason_en} for {_duration_en(span)}",
                    detail={"since": since.isoformat()},
                )
            )
        return out

    def _devices(self, status: Status) -> list[Check]:
        out = []
        for rule in self._rules(DeviceDownRule, status.station):
            for name, device in status.devices.items():
                if device.up and device.flag not in rule.flags:
                    out.append(Check(rule, status.station, name, False, status.at))
                    continue
                fzh, fen = (
                    FLAG_NAMES[device.flag] if device.flag in rule.flags else ("通讯中断", "not responding")
                )
                out.append(
                    Check(
                        rule,
                        status.station,
                        name,
                        True,
                        status.at,
                        title_zh=f"设备 {name} {fzh}",
                        title_en=f"Device {name}: {fen}",
                        message_zh=f"{self._label(status.station)} 设备 {name} {fzh}"
                        + (f"：{device.error}" if device.error else ""),
                        message_en=f"{self._label(status.station)} device {name}: {fen}"
                        + (f": {device.error}" if device.error else ""),
                        detail={"device": name, "flag": device.flag.value, "failures": device.failures},
                    )
                )
        return out

    def _backlog(self, status: Status, memo: StationMemo) -> list[Check]:
        previous, memo.backlog = memo.backlog, status.backlog
        if previous is None:
            return []
        out = []
        for rule in self._rules(BacklogRule, status.station):
            if status.backlog > rule.min_backlog and status.backlog > previous:
                out.append(
                    Check(
                        rule,
                        status.station,
                        "",
                        True,
                        status.at,
                        value=float(status.backlog),
                        title_zh="待发数据积压增长",
                        title_en="Unsent backlog growing",
                        message_zh=f"{self._label(status.station)} 待发数据 {status.backlog} 条，仍在增长",
                        message_en=f"{self._label(status.station)} has {status.backlog} unsent readings and rising",
                        detail={"backlog": status.backlog},
                    )
                )
            elif status.backlog <= rule.min_backlog or status.backlog < previous:
                out.append(Check(rule, status.station, "", False, status.at))
        return out

    def _dropped(self, status: Status, memo: StationMemo) -> list[Check]:
        previous, memo.dropped = memo.dropped, status.dropped
        if previous is None:
            return []  # the first count is a baseline: when those drops happened is unknown
        out = []
        for rule in self._rules(DroppedRule, status.station):
            if status.dropped > previous:
                lost = status.dropped - previous
                out.append(
                    Check(
                        rule,
                        status.station,
                        "",
                        True,
                        status.at,
                        value=float(lost),
                        title_zh="站端数据被丢弃",
                        title_en="Readings dropped at the station",
                        message_zh=f"{self._label(status.station)} 因磁盘配额丢弃 {lost} 条数据（累计 {status.dropped}）",
                        message_en=f"{self._label(status.station)} dropped {lost} readings to its disk quota "
                        f"({status.dropped} in all)",
                        detail={"dropped_total": status.dropped},
                    )
                )
            else:
                out.append(Check(rule, status.station, "", False, status.at))
        return out

    def _clock(self, status: Status) -> list[Check]:
        offset = status.clock_offset_s
        if offset is None:
            return []
        out = []
        for rule in self._rules(ClockSkewRule, status.station):
            limit = rule.max_offset_s
            if abs(offset) > limit:
                out.append(
                    Check(
                        rule,
                        status.station,
                        "",
                        True,
                        status.at,
                        value=offset,
                        title_zh="站点时钟偏差",
                        title_en="Station clock skew",
                        message_zh=f"{self._label(status.station)} 时钟偏差 {offset:+.1f} 秒（阈值 {limit:g} 秒）",
                        message_en=f"{self._label(status.station)} clock off by {offset:+.1f} s (threshold {limit:g} s)",
                    )
                )
            elif abs(offset) <= rule.clear_offset_s:
                out.append(Check(rule, status.station, "", False, status.at))
        return out

    def _controller(self, status: Status) -> list[Check]:
        signals = {name: _number(value) for name, value in status.controller.items()}
        out = []
        for rule in self._rules(ControllerRule, status.station):
            if rule.condition == "no_water":
                known = signals.get("water_present") is not None or signals.get("sampling_state") is not None
                bad = signals.get("water_present") == 0 or signals.get("sampling_state") == 3
                texts = (
                    "站房无水（结冰/断流）",
                    "No sample water (ice or dry river)",
                    f"{self._label(status.station)} 采水无水，可能结冰或断流",
                    f"{self._label(status.station)} has no sample water: ice or a dry river",
                )
            else:
                known = signals.get("mains_power") is not None or signals.get("on_battery") is not None
                bad = signals.get("mains_power") == 0 or signals.get("on_battery") == 1
                texts = (
                    "站房市电中断",
                    "Mains power lost",
                    f"{self._label(status.station)} 市电中断，由电池供电",
                    f"{self._label(status.station)} lost mains power and runs on battery",
                )
            if not known:
                continue
            out.append(
                Check(
                    rule,
                    status.station,
                    rule.condition,
                    bad,
                    status.at,
                    title_zh=texts[0],
                    title_en=texts[1],
                    message_zh=texts[2],
                    message_en=texts[3],
                    detail={
                        k: v
                        for k, v in status.controller.items()
                        if k
                        in ("water_present", "sampling_state", "mains_power", "on_battery", "battery_pct")
                    },
                )
            )
        return out

    # ----- rules over time ---------------------------------------------------------------------------------
    def _stale(self, station: str, param: str, memo: ParamMemo, now: datetime) -> list[Check]:
        if memo.last_t is None:
            return []
        station_memo = self.state.stations.get(station)
        no_water = station_memo is not None and station_memo.no_water
        out = []
        for rule in self._rules(StaleRule, station):
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
            zh, en, _ = _name(param)
            out.append(
                Check(
                    rule,
                    station,
                    param,
                    True,
                    now,
                    param=param,
                    value=age,
                    title_zh=f"{zh}数据中断",
                    title_en=f"{en} data stale",
                    message_zh=f"{self._label(station)} {zh} {_duration_zh(age)}无新数据（应每 {_duration_zh(every)}）",
                    message_en=f"{self._label(station)} {en}: no new value for {_duration_en(age)} "
                    f"(expected every {_duration_en(every)})",
                    detail={"last_t": memo.last_t.isoformat()},
                )
            )
        return out

    def _calibration(self, station: str, param: str, memo: ParamMemo, now: datetime) -> list[Check]:
        reference = memo.last_calibration or memo.first_seen
        if reference is None:
            return []
        out = []
        for rule in self._rules(CalibrationRule, station):
            if param not in rule.max_age_s:
                continue
            age = (now - reference).total_seconds()
            if age <= rule.max_age_s[param]:
                continue  # only a C-flagged value clears an overdue calibration
            zh, en, _ = _name(param)
            out.append(
                Check(
                    rule,
                    station,
                    param,
                    True,
                    now,
                    param=param,
                    value=age,
                    title_zh=f"{zh}校准逾期",
                    title_en=f"{en} calibration overdue",
                    message_zh=f"{self._label(station)} {zh} 已 {_duration_zh(age)} 未校准/核查",
                    message_en=f"{self._label(station)} {en}: no calibration or check for {_duration_en(age)}",
                    detail={
                        "last_calibration": memo.last_calibration.isoformat()
                        if memo.last_calibration
                        else None
                    },
                )
            )
        return out
