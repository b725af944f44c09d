"""A pure alert engine: observations in (readings, statuses, incidents, time ticks), alert transitions out.

It is the state machine every rule shares: a rule type (``collector.alerts.registry``) turns observations into
``Check`` verdicts, and the engine debounces them (``open_after`` bad checks over ``open_after_s``), opens one
alert per key (station, rule, subject), escalates, takes acknowledgements, and resolves with hysteresis
(``clear_after`` good checks over ``clear_after_s``). It names no rule type.

No clock of its own: time comes from the observations (a reading's sample time, a status's ``at``) and from
``tick(now)``. Its whole memory is ``EngineState`` (pydantic), so the I/O side can persist it between runs
(``dump`` / ``load``). Readings should be fed in arrival order; sequence rules skip a reading older than the
newest already seen for its parameter, so a backfill replay cannot re-open old alerts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from collector.alerts import registry
from collector.alerts.check import Check, ReadingStep
from collector.alerts.config import AlertsConfig
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
from collector.alerts.registry import RuleType
from collector.alerts.rule import IncidentRule, RuleBase
from collector.names import station_en
from protocols.messages import Reading, Severity, Status

__all__ = ["AlertEngine", "Check"]

_position = itemgetter(0)  # the batch position a transition is tagged with


class AlertEngine:
    def __init__(self, config: AlertsConfig | None = None, state: EngineState | None = None) -> None:
        self.config = config or AlertsConfig()
        self.state = state or EngineState()
        # Derived from the (frozen) config and the registry only, never from the state: rebuilt when either
        # is replaced.
        self._cached_config: AlertsConfig | None = None
        self._cached_hooks: registry.Hooks | None = None
        self._rule_cache: dict[tuple[str, str], list[Any]] = {}
        self._plans: dict[tuple[str, str], tuple[str, tuple[ReadingStep, ...]]] = {}
        # Bad checks on active alerts whose texts are not built yet (see bad); empty between calls.
        self._pending: dict[str, Callable[[], Check]] = {}
        self._tagged: list[tuple[int, Transition]] = []  # the transitions of the batch being judged

    # ----- persistence ------------------------------------------------------------------------------------
    def dump(self) -> str:
        return self.state.model_dump_json()

    @classmethod
    def load(cls, config: AlertsConfig, text: str | bytes) -> AlertEngine:
        return cls(config, EngineState.model_validate_json(text))

    def active(self) -> list[Alert]:
        """Open and acknowledged alerts, oldest first."""
        return sorted(self.state.active.values(), key=lambda a: (a.opened_at, a.id))

    # ----- what the rules see (collector.alerts.check.Context) --------------------------------------------
    def label(self, station: str) -> str:
        """How messages name a station: its section's Chinese name where configured, else its id."""
        site = self.config.sites.get(station)
        return site.name_zh if site is not None and site.name_zh else station

    def labels(self, station: str) -> dict[str, str]:
        """The station's name for both parts of a text: ``label`` (Chinese) and ``label_en`` (English)."""
        return {"label": self.label(station), "label_en": station_en(station)}

    def _hooks(self) -> registry.Hooks:
        """The registry's hooks; the caches derived from the config and the registry are dropped when either
        was replaced."""
        hooks = registry.current
        if self._cached_config is not self.config or self._cached_hooks is not hooks:
            self._cached_config, self._cached_hooks = self.config, hooks
            self._rule_cache.clear()
            self._plans.clear()
        return hooks

    def _rules(self, entry: RuleType, station: str) -> list[Any]:
        """The enabled rules of ``entry``'s type that apply to ``station`` (call ``_hooks`` first)."""
        found = self._rule_cache.get((entry.name, station))
        if found is None:
            found = [
                r
                for r in self.config.rules
                if getattr(r, "type", None) == entry.name and r.applies_to(station)
            ]
            self._rule_cache[(entry.name, station)] = found
        return found

    def _plan(self, station: str, param: str) -> tuple[str, tuple[ReadingStep, ...]]:
        """The memo key and the reading steps of (station, param), made once per config by the registered
        reading hooks."""
        plan = self._plans.get((station, param))
        if (
            plan is None
            or self._cached_config is not self.config
            or self._cached_hooks is not registry.current
        ):
            steps = []
            for entry, hook in self._hooks().reading:
                step = hook(self, self._rules(entry, station), station, param)
                if step is not None:
                    steps.append(step)
            plan = self._plans[(station, param)] = (f"{station}|{param}", tuple(steps))
        return plan

    # ----- observations -----------------------------------------------------------------------------------
    def observe(self, observation: tuple[str, Reading] | Status | datetime) -> list[Transition]:
        if isinstance(observation, Status):
            return self.on_status(observation)
        if isinstance(observation, datetime):
            return self.tick(observation)
        station, reading = observation
        return self.on_reading(station, reading)

    def on_readings(self, station: str, readings: Iterable[Reading]) -> list[Transition]:
        """The transitions of feeding ``readings`` one by one, in that order, computed a parameter and a rule
        type at a time (parameters share no memory, nor do rules): each verdict is tagged with its reading's
        position, and a stable sort on it gives back the one-by-one order."""
        batch = readings if isinstance(readings, list | tuple) else list(readings)
        groups: dict[str, list[int]] = {}
        for i, reading in enumerate(batch):
            group = groups.get(reading.param)
            if group is None:
                groups[reading.param] = [i]
            else:
                group.append(i)
        self._hooks()  # once per call: the plans below are current for this config and registry
        tagged = self._tagged = []
        try:
            for param, indices in groups.items():
                self._on_param(station, param, batch, indices)
        finally:
            self._tagged = []
        if len(tagged) > 1:  # back to the order of the readings (stable: a reading's own order is kept)
            tagged.sort(key=_position)
        return [transition for _, transition in tagged]

    def on_reading(self, station: str, reading: Reading) -> list[Transition]:
        return self.on_readings(station, (reading,))

    def _on_param(self, station: str, param: str, batch: Sequence[Reading], indices: list[int]) -> None:
        """Readings ``batch[i] for i in indices`` (all of ``param``, in order) through the plan's steps
        (``_hooks`` called first)."""
        plan = self._plans.get((station, param))
        memo_key, steps = plan if plan is not None else self._plan(station, param)
        memo = self.state.params.get(memo_key)
        if memo is None:
            memo = self.state.params[memo_key] = ParamMemo()
        first_seen, last_t = memo.first_seen, memo.last_t
        newer = []  # the positions of readings later than any seen before them
        for i in indices:
            t = batch[i].t
            if first_seen is None or t < first_seen:
                first_seen = t
            if last_t is None or t > last_t:
                last_t = t
                newer.append(i)
        # Written once per parameter, and only what changed (pydantic attributes are slow).
        if first_seen is not memo.first_seen:
            memo.first_seen = first_seen
        if last_t is not memo.last_t:
            memo.last_t = last_t
        try:
            for step in steps:
                step(memo, batch, indices, newer)
        finally:
            if self._pending:
                self._flush()

    def on_status(self, status: Status) -> list[Transition]:
        hooks = self._hooks()
        memo = self.state.stations.setdefault(status.station, StationMemo())
        checks: list[Check] = []
        for entry, hook in hooks.status:
            checks += hook(self, self._rules(entry, status.station), status, memo)
        return self._apply_all(checks)

    def on_incident(
        self, station: str, kind: str, at: datetime, n: int = 1, detail: dict[str, Any] | None = None
    ) -> list[Transition]:
        """``n`` incidents of ``kind`` (an incident rule type: dead_letters, revisions, inbox_write) at
        ``station`` at ``at``."""
        entry = registry.get(kind)
        if entry is None or entry.incident is None:
            raise KeyError(f"not an incident kind: {kind!r}")
        self._hooks()
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
        check = entry.incident
        return self._apply_all([check(self, rule, station, memo) for rule in self._rules(entry, station)])

    def tick(self, now: datetime) -> list[Transition]:
        hooks = self._hooks()
        checks: list[Check] = []
        for station, memo in self.state.stations.items():
            for entry, hook in hooks.station_tick:
                checks += hook(self, self._rules(entry, station), station, memo, now)
        for key, pmemo in self.state.params.items():
            station, param = key.split("|", 1)
            for entry, per_param in hooks.param_tick:
                checks += per_param(self, self._rules(entry, station), station, param, pmemo, now)
        quiet: list[str] = []
        for key, imemo in self.state.incidents.items():
            station, kind = key.split("|", 1)
            incident = registry.get(kind)
            rules = (
                [r for r in self._rules(incident, station) if isinstance(r, IncidentRule)] if incident else []
            )
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

    # ----- operator actions -------------------------------------------------------------------------------
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

    # ----- debounce and hysteresis ------------------------------------------------------------------------
    def _apply_all(self, checks: list[Check]) -> list[Transition]:
        return [transition for check in checks if (transition := self._apply(check)) is not None]

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

    # ----- verdicts of reading rules (collector.alerts.check.Verdicts) ------------------------------------
    def good(self, rule: RuleBase, station: str, param: str, key: str, at: datetime, i: int) -> None:
        """A good verdict on a parameter; nothing to build unless an alert or a debounce count is held."""
        if key not in self.state.active:
            self.state.counters.pop(key, None)  # what _apply does for a good check without an alert
            return
        self._flush(key)  # the alert may close: its snapshot carries the last bad texts
        transition = self._apply(Check(rule, station, param, False, at, param=param), key)
        if transition is not None:
            self._tagged.append((i, transition))

    def bad(
        self,
        rule: RuleBase,
        key: str,
        at: datetime,
        severity: Severity | None,
        build: Callable[[], Check],
        i: int,
    ) -> None:
        """A bad verdict on a parameter, its check made by ``build``. An active alert that does not escalate
        only takes the newest value and texts, so those are built once: at the end of the parameter's readings
        or before its next good verdict (every bad check of a rule sets the same fields and detail keys)."""
        alert = self.state.active.get(key)
        if alert is not None and SEVERITY_RANK[severity or rule.severity] <= SEVERITY_RANK[alert.severity]:
            self._count_bad(key, at)
            self._pending[key] = build
            return
        self._pending.pop(key, None)  # this check sets every field the pending one would
        transition = self._apply(build(), key)
        if transition is not None:
            self._tagged.append((i, transition))

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
