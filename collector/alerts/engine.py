"""A pure alert rule engine: observations in (reading, status, time tick), alert transitions out.

No clock of its own: time comes from the observations (a reading's sample time, a status's ``at``) and from
``tick(now)``. Its whole memory is ``EngineState`` (pydantic), so the I/O side can persist it between runs.
Readings should be fed in arrival order; sequence rules (fault flag, exceedance, sudden rise) skip a reading
older than the newest already seen for its parameter, so a backfill replay cannot re-open old alerts.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from operator import itemgetter
from typing import Any, TypeVar

from collector.alerts.config import (
    INCIDENT_RULES,
    AlertsConfig,
    BacklogRule,
    CalibrationRule,
    ClockSkewRule,
    ControllerRule,
    DeviceDownRule,
    DroppedRule,
    ExceedanceRule,
    FaultFlagRule,
    IncidentRule,
    OfflineRule,
    RuleBase,
    Site,
    StaleRule,
    SuddenRiseRule,
)
from collector.alerts.model import (
    SEVERITY_RANK,
    Alert,
    AlertStatus,
    Counter,
    EngineState,
    IncidentMemo,
    ParamMemo,
    StationMemo,
    Transition,
    TransitionKind,
    alert_key,
)
from collector.assessment.classes import WaterClass
from collector.assessment.classify import classify, exceedance_multiple
from collector.assessment.limits import item_limits
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


def _target_band(param: str, site: Site) -> tuple[float, float]:
    """The values that meet the limit of the site's target class for ``param`` (see ``_Plan.target_band``)."""
    item = item_limits(param, site.water_type)
    if item is None:
        return math.inf, -math.inf  # empty: always classify
    bound = item.limits[int(site.target_class) - 1]
    if item.direction == "range":
        assert isinstance(bound, tuple)
        return bound
    assert isinstance(bound, float)
    return (-math.inf, bound) if item.direction == "max" else (bound, math.inf)


_time = itemgetter(0)  # the sample time of a history entry (datetime, value)
_position = itemgetter(0)  # the batch position a transition is tagged with

R = TypeVar("R", bound=RuleBase)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the reading rules need for one (station, param), worked out once per config: the rules that can
    judge this parameter at this station, each with its alert key."""

    memo_key: str
    site: Site
    calibration: tuple[tuple[CalibrationRule, str], ...]
    fault: tuple[tuple[FaultFlagRule, str], ...]
    judged: bool  # the parameter has a class limit for the site's water type (exceedance is judged)
    # A value in [low, high] meets the target class's own limit, so its class is the target or better: good
    # without classifying. Outside it, ``classify`` decides (it also allows a rounding tolerance at the limit).
    target_band: tuple[float, float]
    exceedance: tuple[tuple[ExceedanceRule, str], ...]
    rise: tuple[tuple[SuddenRiseRule, str, timedelta, float, float], ...]  # + min span, max gap s, limit
    keep: timedelta  # how far back the rise rules look


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
        # Derived from the (frozen) config only, never from the state: rebuilt when ``config`` is replaced.
        self._cached_for: AlertsConfig | None = None
        self._rule_cache: dict[tuple[type[RuleBase], str], list[Any]] = {}
        self._plans: dict[tuple[str, str], _Plan] = {}
        # Bad checks on active alerts whose texts are not built yet (see _bad); empty between calls.
        self._pending: dict[str, Callable[[], Check]] = {}

    # ----- persistence -------------------------------------------------------------------------------------
    def dump(self) -> str:
        return self.state.model_dump_json()

    @classmethod
    def load(cls, config: AlertsConfig, text: str | bytes) -> AlertEngine:
        return cls(config, EngineState.model_validate_json(text))

    def active(self) -> list[Alert]:
        """Open and acknowledged alerts, oldest first."""
        return sorted(self.state.active.values(), key=lambda a: (a.opened_at, a.id))

    def _fresh_cache(self) -> None:
        if self._cached_for is not self.config:
            self._cached_for = self.config
            self._rule_cache.clear()
            self._plans.clear()

    def _rules(self, kind: type[R], station: str) -> list[R]:
        self._fresh_cache()
        found = self._rule_cache.get((kind, station))
        if found is None:
            found = [r for r in self.config.rules if isinstance(r, kind) and r.applies_to(station)]
            self._rule_cache[(kind, station)] = found
        return found

    def _plan(self, station: str, param: str) -> _Plan:
        plan = self._plans.get((station, param))
        if plan is not None and self._cached_for is self.config:
            return plan
        site = self.config.site(station)

        def key(rule: RuleBase) -> str:
            return alert_key(station, rule.id, param)

        rise = [r for r in self._rules(SuddenRiseRule, station) if param in r.rates_per_hour]
        judged = is_evaluated(param, site.water_type)
        plan = _Plan(
            memo_key=f"{station}|{param}",
            site=site,
            calibration=tuple(
                (r, key(r)) for r in self._rules(CalibrationRule, station) if param in r.max_age_s
            ),
            fault=tuple(
                (r, key(r))
                for r in self._rules(FaultFlagRule, station)
                if r.params is None or param in r.params
            ),
            judged=judged,
            target_band=_target_band(param, site) if judged else (math.inf, -math.inf),
            exceedance=tuple(
                (r, key(r))
                for r in self._rules(ExceedanceRule, station)
                if r.params is None or param in r.params
            ),
            rise=tuple(
                (r, key(r), timedelta(seconds=r.min_span_s), r.max_gap_s, r.rates_per_hour[param])
                for r in rise
            ),
            keep=timedelta(seconds=max((r.max_gap_s for r in rise), default=0.0)),
        )
        self._plans[(station, param)] = plan
        return plan

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
        """The transitions of feeding ``readings`` one by one, in that order, computed a parameter at a time:
        parameters share no memory, so each one's readings go through with its memo held in locals."""
        batch = readings if isinstance(readings, list | tuple) else list(readings)
        groups: dict[str, list[int]] = {}
        for i, reading in enumerate(batch):
            group = groups.get(reading.param)
            if group is None:
                groups[reading.param] = [i]
            else:
                group.append(i)
        tagged: list[tuple[int, Transition]] = []
        sources = 0
        for param, indices in groups.items():
            before = len(tagged)
            self._on_param(station, param, batch, indices, tagged)
            sources += len(tagged) > before
        if sources > 1:  # back to the order of the readings (stable: a reading's own order is kept)
            tagged.sort(key=_position)
        return [transition for _, transition in tagged]

    def on_reading(self, station: str, reading: Reading) -> list[Transition]:
        return self.on_readings(station, (reading,))

    def _on_param(
        self,
        station: str,
        param: str,
        batch: Sequence[Reading],
        indices: list[int],
        out: list[tuple[int, Transition]],
    ) -> None:
        """Readings ``batch[i] for i in indices`` (all of ``param``), in order; transitions go to ``out``."""
        plan = self._plan(station, param)
        memo = self.state.params.get(plan.memo_key)
        if memo is None:
            memo = self.state.params[plan.memo_key] = ParamMemo()
        first_seen, last_t = memo.first_seen, memo.last_t
        last_calibration, last_exceedance_t = memo.last_calibration, memo.last_exceedance_t
        history = memo.history
        site = plan.site
        try:
            for i in indices:
                reading = batch[i]
                t = reading.t
                newer = last_t is None or t > last_t
                if first_seen is None or t < first_seen:
                    first_seen = t
                if newer:
                    last_t = t
                flag = reading.flag
                if flag is Flag.CALIBRATION:
                    if last_calibration is None or t > last_calibration:
                        last_calibration = t
                    for cal, key in plan.calibration:
                        self._good(cal, station, param, key, t, i, out)
                # Sequence rules judge only a reading newer than any seen: a backfill cannot re-open alerts.
                if not newer:
                    continue
                valid = flag in VALID_FLAGS
                for rule, key in plan.fault:
                    if flag in rule.flags:
                        build = partial(self._fault_check, rule, station, reading)
                        self._bad(rule, key, t, None, build, i, out)
                    elif valid:
                        self._good(rule, station, param, key, t, i, out)
                value = reading.value
                if not valid or value is None:
                    continue
                if plan.judged:
                    if plan.exceedance:
                        low, high = plan.target_band  # within it: the target class or better
                        water_class = (
                            site.target_class
                            if low <= value <= high
                            else classify(param, value, site.water_type)
                        )
                        assert water_class is not None  # judged: the parameter has class limits
                        for exc, key in plan.exceedance:
                            if water_class <= site.target_class:
                                self._good(exc, station, param, key, t, i, out)
                            else:
                                build = partial(
                                    self._exceedance_check, exc, station, reading, value, water_class, site
                                )
                                severity = (
                                    Severity.CRITICAL if water_class is WaterClass.WORSE_THAN_V else None
                                )
                                self._bad(exc, key, t, severity, build, i, out)
                    last_exceedance_t = t
                if plan.rise:
                    self._sudden_rise(station, plan, reading, value, history, i, out)
        finally:  # written back once per parameter, and only what changed (pydantic attributes are slow)
            self._flush()
            if first_seen is not memo.first_seen:
                memo.first_seen = first_seen
            if last_t is not memo.last_t:
                memo.last_t = last_t
            if last_calibration is not memo.last_calibration:
                memo.last_calibration = last_calibration
            if last_exceedance_t is not memo.last_exceedance_t:
                memo.last_exceedance_t = last_exceedance_t

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

    def on_incident(
        self, station: str, kind: str, at: datetime, n: int = 1, detail: dict[str, Any] | None = None
    ) -> list[Transition]:
        """``n`` incidents of ``kind`` (dead_letters, revisions, inbox_write) at ``station`` at ``at``."""
        rule_type = INCIDENT_RULES[kind]
        key = f"{station}|{kind}"
        memo = self.state.incidents.get(key)
        if memo is None:
            memo = self.state.incidents[key] = IncidentMemo(first_at=at, last_at=at)
        elif at > memo.last_at:
            memo.last_at = at
        memo.count += n
        for name, value in (detail or {}).items():
            if isinstance(value, int) and isinstance(memo.detail.get(name), int):
                memo.detail[name] += value  # counts by reason add up
            else:
                memo.detail[name] = value
        return self._apply_all(
            [self._incident_check(rule, station, kind, memo) for rule in self._rules(rule_type, station)]
        )

    def tick(self, now: datetime) -> list[Transition]:
        checks: list[Check] = []
        for station, memo in self.state.stations.items():
            checks += self._offline(station, now, memo)
        for key, pmemo in self.state.params.items():
            station, param = key.split("|", 1)
            checks += self._stale(station, param, pmemo, now)
            checks += self._calibration(station, param, pmemo, now)
        quiet: list[str] = []
        for key, imemo in self.state.incidents.items():
            station, kind = key.split("|", 1)
            rules = self._rules(INCIDENT_RULES[kind], station)
            if all((now - imemo.last_at).total_seconds() >= r.quiet_s for r in rules):
                quiet.append(key)
            checks += [
                Check(rule, station, "", False, now)
                for rule in rules
                if (now - imemo.last_at).total_seconds() >= rule.quiet_s
            ]
        transitions = self._apply_all(checks)
        for key in quiet:  # resolved (or never opened): the next incident starts a new count
            del self.state.incidents[key]
        return transitions

    def _incident_check(self, rule: IncidentRule, station: str, kind: str, memo: IncidentMemo) -> Check:
        label, n = self._label(station), memo.count
        if kind == "dead_letters":
            reasons = ", ".join(f"{r} {c}" for r, c in sorted(memo.detail.items()) if isinstance(c, int))
            texts = (
                "站点消息被隔离",
                "Messages quarantined",
                f"{label} 有 {n} 条消息无法校验或入库，已隔离（{reasons}）",
                f"{label}: {n} message(s) could not be validated or stored and were quarantined ({reasons})",
            )
        elif kind == "revisions":
            texts = (
                "同一时刻数据出现不同值",
                "Readings revised",
                f"{label} 有 {n} 条已入库数据以不同的值或标识再次到达（保留首值，另存修订）",
                f"{label}: {n} stored reading(s) arrived again with another value or flag "
                "(the first is kept, the new one saved as a revision)",
            )
        else:
            texts = (
                "采集中心收件箱写入失败",
                "Collector inbox cannot be written",
                f"采集中心收件箱写入失败 {n} 次（磁盘满或 I/O 错误），消息暂不确认",
                f"The collector's inbox failed {n} write(s) (disk full or I/O error): messages stay "
                "unacknowledged",
            )
        return Check(
            rule,
            station,
            "",
            True,
            memo.last_at,
            value=float(n),
            title_zh=texts[0],
            title_en=texts[1],
            message_zh=texts[2],
            message_en=texts[3],
            detail={"count": n, "since": memo.first_at.isoformat(), **memo.detail},
        )

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

    def _count_bad(self, key: str, at: datetime, counter: Counter | None = None) -> None:
        if counter is None:
            counter = self.state.counters.get(key)
            if counter is None:
                counter = self.state.counters[key] = Counter()
        # Only what changes is set: pydantic attribute writes are slow, and this runs per reading.
        if counter.good:
            counter.good = 0
        if counter.good_since is not None:
            counter.good_since = None
        counter.bad += 1
        if counter.bad_since is None:
            counter.bad_since = at

    @staticmethod
    def _update(alert: Alert, check: Check) -> None:
        """An active alert takes a new bad check's value and texts."""
        if check.at > alert.last_bad_at:
            alert.last_bad_at = check.at
        alert.value = check.value
        alert.message_zh, alert.message_en = check.message_zh, check.message_en
        alert.detail.update(check.detail)

    def _close(self, alert: Alert, at: datetime) -> Transition:
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = at
        del self.state.active[alert.key]
        return Transition(kind=TransitionKind.RESOLVED, at=at, alert=alert.model_copy(deep=True))

    def _apply(self, check: Check, key: str | None = None) -> Transition | None:
        rule = check.rule
        if key is None:
            key = alert_key(check.station, rule.id, check.subject)
        alert = self.state.active.get(key)
        at = check.at
        if not check.bad and alert is None:
            self.state.counters.pop(key, None)  # nothing to clear: keep the state small
            return None
        counter = self.state.counters.get(key)
        if counter is None:
            counter = self.state.counters[key] = Counter()
        if not check.bad:
            assert alert is not None
            # Only what changes is set: pydantic attribute writes are slow, and this runs per reading.
            if counter.bad:
                counter.bad = 0
            if counter.bad_since is not None:
                counter.bad_since = None
            counter.good += 1
            if counter.good_since is None:
                counter.good_since = at
            if (
                counter.good >= rule.clear_after
                and (at - counter.good_since).total_seconds() >= rule.clear_after_s
            ):
                self.state.counters.pop(key, None)
                return self._close(alert, at)
            return None
        self._count_bad(key, at, counter)
        severity = check.severity or rule.severity
        if alert is not None:
            self._update(alert, check)
            if SEVERITY_RANK[severity] > SEVERITY_RANK[alert.severity]:
                alert.severity = severity
                alert.title_zh, alert.title_en = check.title_zh, check.title_en
                return Transition(kind=TransitionKind.ESCALATED, at=at, alert=alert.model_copy(deep=True))
            return None
        assert counter.bad_since is not None  # set by _count_bad
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
    def _good(
        self,
        rule: RuleBase,
        station: str,
        param: str,
        key: str,
        at: datetime,
        i: int,
        out: list[tuple[int, Transition]],
    ) -> None:
        """A good verdict on a parameter; nothing to build unless an alert or a debounce count is held."""
        if key not in self.state.active:
            self.state.counters.pop(key, None)  # what _apply does for a good check without an alert
            return
        self._flush(key)  # the alert may close: its snapshot carries the last bad texts
        transition = self._apply(Check(rule, station, param, False, at, param=param), key)
        if transition is not None:
            out.append((i, transition))

    def _bad(
        self,
        rule: RuleBase,
        key: str,
        at: datetime,
        severity: Severity | None,
        build: Callable[[], Check],
        i: int,
        out: list[tuple[int, Transition]],
    ) -> None:
        """A bad verdict on a parameter, its check made by ``build``. An active alert that does not escalate only
        takes the newest value and texts, so those are built once: at the end of the parameter's readings or
        before its next good verdict (every bad check of a rule sets the same fields and detail keys)."""
        alert = self.state.active.get(key)
        if alert is not None and SEVERITY_RANK[severity or rule.severity] <= SEVERITY_RANK[alert.severity]:
            self._count_bad(key, at)
            self._pending[key] = build
            return
        self._pending.pop(key, None)  # this check sets every field the pending one would
        transition = self._apply(build(), key)
        if transition is not None:
            out.append((i, transition))

    def _flush(self, key: str | None = None) -> None:
        """Build the deferred texts of ``key`` (of every key when None) into its active alert."""
        if key is None:
            pending = list(self._pending.items())
            self._pending.clear()
        elif key in self._pending:
            pending = [(key, self._pending.pop(key))]
        else:
            return
        for held, build in pending:
            self._update(self.state.active[held], build())

    def _fault_check(self, rule: FaultFlagRule, station: str, reading: Reading) -> Check:
        zh, en, _ = _name(reading.param)
        fzh, fen = FLAG_NAMES[reading.flag]
        return Check(
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

    def _exceedance_check(
        self,
        rule: ExceedanceRule,
        station: str,
        reading: Reading,
        value: float,
        water_class: WaterClass,
        site: Site,
    ) -> Check:
        zh, en, unit = _name(reading.param)
        multiple = exceedance_multiple(reading.param, value, site.water_type, against=site.target_class)
        beyond_v = water_class is WaterClass.WORSE_THAN_V
        times_zh = f"，超标 {multiple:.2f} 倍" if multiple is not None else ""
        times_en = f", {multiple:.2f} times over the limit" if multiple is not None else ""
        return Check(
            rule,
            station,
            reading.param,
            True,
            reading.t,
            param=reading.param,
            value=value,
            severity=Severity.CRITICAL if beyond_v else None,
            title_zh=f"{zh}超标（{water_class.label_zh}）",
            title_en=f"{en} exceeds target ({water_class.label_en})",
            message_zh=(
                f"{self._label(station)} {zh} {_value(reading.param, value)} {unit}，{water_class.label_zh}，"
                f"目标{site.target_class.label_zh}{times_zh}"
            ),
            message_en=(
                f"{self._label(station)} {en} {_value(reading.param, value)} {unit}: {water_class.label_en}, "
                f"target {site.target_class.label_en}{times_en}"
            ),
            detail={
                "class": water_class.roman,
                "target": site.target_class.roman,
                "multiple": multiple,
            },
        )

    def _rise_check(
        self,
        rule: SuddenRiseRule,
        station: str,
        param: str,
        t: datetime,
        value: float,
        reference: tuple[datetime, float],
        rate: float,
        limit: float,
    ) -> Check:
        zh, en, unit = _name(param)
        return Check(
            rule,
            station,
            param,
            True,
            t,
            param=param,
            value=value,
            title_zh=f"{zh}突升",
            title_en=f"{en} sudden rise",
            message_zh=(
                f"{self._label(station)} {zh} 由 {_value(param, reference[1])} 升至 {_value(param, value)} {unit}，"
                f"每小时 {rate:.3g}（阈值 {limit:g}）"
            ),
            message_en=(
                f"{self._label(station)} {en} rose from {_value(param, reference[1])} to {_value(param, value)} {unit}: "
                f"{rate:.3g} per hour (threshold {limit:g})"
            ),
            detail={"rate_per_hour": rate, "from": reference[1], "from_t": reference[0].isoformat()},
        )

    def _sudden_rise(
        self,
        station: str,
        plan: _Plan,
        reading: Reading,
        value: float,
        history: list[tuple[datetime, float]],
        i: int,
        out: list[tuple[int, Transition]],
    ) -> None:
        t, param = reading.t, reading.param
        # History is in time order (only newer valid values are appended): bisect, never scan it all.
        cut = t - plan.keep
        if history and history[0][0] < cut:
            del history[: bisect.bisect_left(history, cut, key=_time)]
        for rule, key, min_span, max_gap_s, limit in plan.rise:
            # The newest value at least min_span_s old (and strictly older than t), if not beyond max_gap_s.
            j = bisect.bisect_right(history, t - min_span, key=_time) - 1
            while j >= 0 and history[j][0] >= t:
                j -= 1
            if j < 0:
                continue
            reference = history[j]
            span = (t - reference[0]).total_seconds()
            if span > max_gap_s:
                continue
            rate = (value - reference[1]) / (span / 3600.0)
            if rate <= limit:
                self._good(rule, station, param, key, t, i, out)
                continue
            build = partial(self._rise_check, rule, station, param, t, value, reference, rate, limit)
            self._bad(rule, key, t, None, build, i, out)
        history.append((t, value))
        if len(history) > MAX_HISTORY:
            del history[:-MAX_HISTORY]

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
