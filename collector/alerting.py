"""The collector's side of the alert engine: the pure engine (collector/alerts/) behind one lock, fed from
what the applier committed or quarantined, the receiver's inbox write errors and the clock; each change it
makes is stored, queued for notification and announced on the live stream.

The engine is fed by the applier thread, the ticker and the API at once: every call into it holds ``lock``,
and the resulting transitions are handled after the lock is released (storing and announcing may be slow).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from collector.alerts import AlertEngine, AlertsConfig, Site
from collector.alerts.config import COLLECTOR_STATION, Discharge
from collector.alerts.model import Alert
from collector.alerts.model import Transition as AlertTransition
from collector.config import CollectorConfig
from collector.memories import ALERT_STATE_KEY, restore
from collector.notify.sender import Notifier
from collector.sourcing import SourceFinder
from collector.sourcing import attach as attach_sources
from collector.store.base import ApplyResult, DeadLetter, Received, Store
from collector.summaries import AlertSummary, alert_summary
from collector.supervising import KEY as SUPERVISION
from collector.supervising import Supervisor
from protocols.messages import Lane, ReadingBatch, Status

log = logging.getLogger("qingliu.collector")

# Told of every batch of transitions once stored and queued (the service announces them on the live stream).
Announce = Callable[[Sequence[AlertTransition]], None]


def alerts_config(config: CollectorConfig) -> AlertsConfig:
    """The [alerts] rules (or the defaults) and the sites they judge."""
    sites = {
        s.id: Site(name_zh=s.name_zh, water_type=s.water_type, target_class=s.target_class)
        for s in config.stations
    }
    outfalls = outfall_discharges(config)
    rules = config.alerts.rules
    if rules is None:
        return AlertsConfig(sites=sites, outfalls=outfalls)
    return AlertsConfig(rules=rules, sites=sites, outfalls=outfalls)


def outfall_discharges(config: CollectorConfig) -> dict[str, Discharge]:
    """The outfalls that report (sites of kind "outfall") with their discharge limits from the registry."""
    reporting = [s.id for s in config.stations if s.kind == "outfall"]
    if not reporting:
        return {}
    registry = config.outfall_registry()
    found = {}
    for outfall_id in reporting:
        outfall = registry.get(outfall_id)
        if outfall is not None:
            limits = {code: (limit.min, limit.max) for code, limit in outfall.limits.items()}
            found[outfall_id] = Discharge(
                name_zh=outfall.name_zh, name_en=outfall.name_en, standard=outfall.standard, limits=limits
            )
    return found


class AlertDesk:
    def __init__(
        self,
        config: AlertsConfig,
        store: Store,
        notifier: Notifier,
        announce: Announce,
        supervisor: Supervisor | None = None,
        sources: SourceFinder | None = None,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.announce = announce
        self.supervisor = supervisor  # flood-season judgement of exceedances (collector/supervising.py)
        self.sources = sources  # the outfalls upstream of an exceedance (collector/sourcing.py)
        self.lock = threading.Lock()
        self.engine = restore(
            store,
            ALERT_STATE_KEY,
            lambda text: AlertEngine.load(config, text),
            lambda: AlertEngine(config),
            "alert engine memory",
        )
        self._inbox_errors_seen = 0  # inbox write errors already given to the engine

    def save(self) -> None:
        with self.lock:
            text = self.engine.dump()
        self.store.save_blob(ALERT_STATE_KEY, text)

    def apply(self, transitions: Sequence[AlertTransition]) -> None:
        """Persist and announce what the alert engine changed."""
        if not transitions:
            return
        if self.supervisor is not None:
            self._supervise(transitions)
        if self.sources is not None:
            self._trace(transitions)
        self.store.save_alerts([t.alert for t in transitions])
        self.notifier.submit(transitions)  # queued for the notification workers: never blocks
        for t in transitions:
            log.info("alert %s %s: %s %s", t.kind.value, t.alert.id, t.alert.station, t.alert.title_en)
        self.announce(transitions)

    def _supervise(self, transitions: Sequence[AlertTransition]) -> None:
        """Attach the flood-season judgement (read from the store outside the lock) to the transitions'
        snapshots and to the engine's active alerts, so that later snapshots keep it."""
        assert self.supervisor is not None
        judged = self.supervisor.supervise(transitions)
        if not judged:
            return
        with self.lock:
            for t in transitions:
                degree = judged.get(t.alert.id)
                if degree is None:
                    continue
                t.alert.detail[SUPERVISION] = degree
                held = self.engine.state.active.get(t.alert.key)
                if held is not None and held.id == t.alert.id:
                    held.detail[SUPERVISION] = degree

    def _trace(self, transitions: Sequence[AlertTransition]) -> None:
        """Name the outfalls upstream (read from the store outside the lock) in the transitions' snapshots and
        in the engine's active alerts."""
        assert self.sources is not None
        found = self.sources.find(transitions)
        if not found:
            return
        with self.lock:
            for t in transitions:
                judged = found.get(t.alert.id)
                if judged is None:
                    continue
                attach_sources(t.alert, *judged)
                held = self.engine.state.active.get(t.alert.key)
                if held is not None and held.id == t.alert.id:
                    attach_sources(held, *judged)

    def active(self) -> list[Alert]:
        with self.lock:
            return self.engine.active()

    def summary(self, station: str) -> AlertSummary:
        return alert_summary(self.active(), station)

    def acknowledge(self, alert_id: str, now: datetime, by: str, note: str = "") -> Alert | None:
        """The acknowledged alert; None when it is not active (unknown or already resolved)."""
        with self.lock:
            try:
                transition = self.engine.acknowledge(alert_id, now, by)
            except KeyError:
                return None
            if transition is not None and note:  # kept with the alert, shown in its history
                for acked in (transition.alert, self.engine.state.active[transition.alert.key]):
                    acked.detail["ack_note"] = note
            current = next((a for a in self.engine.active() if a.id == alert_id), None)
        if transition is not None:
            self.apply([transition])
        return current

    def tick(self, now: datetime) -> None:
        with self.lock:
            changes = self.engine.tick(now)
        self.apply(changes)

    def on_committed(self, items: Sequence[Received], result: ApplyResult, now: datetime) -> None:
        changes: list[AlertTransition] = []
        with self.lock:
            for item in items:
                message = item.message
                # Alert rules count readings: feed each batch once (a QoS 1 redelivery is not new evidence),
                # and not re-sent history (a resend repeats readings already judged).
                if (
                    isinstance(message, ReadingBatch)
                    and (message.station, message.seq) in result.new_batches
                    and message.lane is not Lane.RESEND
                ):
                    readings = message.readings
                    if item.suspect:  # never feeds nor closes an alert
                        readings = [r for i, r in enumerate(readings) if i not in item.suspect]
                    if readings:
                        changes += self.engine.on_readings(message.station, readings)
                elif isinstance(message, Status):
                    changes += self.engine.on_status(message)
            for station, n in sorted(result.revisions.items()):
                changes += self.engine.on_incident(station, "revisions", now, n)
        self.apply(changes)

    def on_quarantined(self, dead: Sequence[DeadLetter], now: datetime) -> None:
        """Messages the applier quarantined: a dead_letters alert for each station that sent them."""
        by_station: dict[str, Counter[str]] = {}
        for letter in dead:
            if letter.station is not None:
                by_station.setdefault(letter.station, Counter())[letter.reason] += 1
        if not by_station:
            return
        changes: list[AlertTransition] = []
        with self.lock:
            for station, reasons in sorted(by_station.items()):
                changes += self.engine.on_incident(
                    station, "dead_letters", now, sum(reasons.values()), dict(reasons)
                )
        self.apply(changes)

    def on_inbox_errors(self, total: int, now: datetime) -> None:
        """The receiver's inbox write errors so far: new ones raise the collector-level inbox_write alert."""
        if total < self._inbox_errors_seen:  # a restarted receiver counts afresh
            self._inbox_errors_seen = 0
        new = total - self._inbox_errors_seen
        if new <= 0:
            return
        self._inbox_errors_seen = total
        with self.lock:
            changes = self.engine.on_incident(COLLECTOR_STATION, "inbox_write", now, new)
        self.apply(changes)
