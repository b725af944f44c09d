"""The collector process: store, inbox, receiver, applier, station tracker, alerts and re-send requests, wired.

MQTT → receiver (a child process: cheap checks, raw payloads committed to the inbox, then acknowledged;
collector/receiver.py) → inbox (collector/inbox.py) → applier (a thread here: validation, one store
transaction per batch, then tracker, alerts and the live stream; collector/ingest.py). The main process has its
own publish-only MQTT connection for commands and alert notifications.

``CollectorService(config)`` wires the parts it is given (store, inbox, notifier, publisher; the others built
from the config by collector/parts.py); ``start()`` starts the applier, the state ticker, the receiver and the
publishing connection; ``stop()`` undoes it in order (the receiver commits and acknowledges what it holds, the
applier applies what the inbox holds, then everything closes). ``receiver="thread"`` runs the receiver in this
process instead (tests). The HTTP layer (collector/api/) reads the service; the service knows nothing of it:
the CLI (collector/cli.py) runs both.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from prometheus_client.registry import CollectorRegistry

from collector import exposition, memtrim, summaries
from collector.alerting import AlertDesk, alerts_config
from collector.alerts import AlertEngine
from collector.alerts.model import Alert
from collector.alerts.model import Transition as AlertTransition
from collector.commands import CommandSender
from collector.config import CollectorConfig, StationConfig
from collector.controller_history import ICE_LOOKBACK, WATER_TEMP, ControllerHistory, Excluded
from collector.gap_check import GapChecker
from collector.healthz import health_report
from collector.hj212.metrics import Hj212Collector
from collector.hj212.process import Hj212Process
from collector.hj212.server import Hj212Server
from collector.inbox import Inbox
from collector.ingest import Applier, TimeWindow, utcnow
from collector.live import LiveHub
from collector.memories import CONTROLLER_STATE_KEY, SAVE_EVERY_S, restore
from collector.metrics import IngestCounters
from collector.parts import NotifierFactory, Publisher, PublisherFactory, default_parts
from collector.receiver import Receiver
from collector.receiving import ReceivingSide
from collector.reports.scheduler import ReportScheduler
from collector.retention import RetentionJob
from collector.sourcing import SourceFinder
from collector.stations import StationTracker, Thresholds
from collector.store.base import ApplyResult, DeadLetter, Received, Store
from collector.supervising import Supervisor
from collector.timestamps import to_us
from protocols.flags import VALID_FLAGS
from protocols.logfiles import sibling
from protocols.messages import Command, CommandKind, CommandReply, Event, ReadingBatch, Status

log = logging.getLogger("qingliu.collector")

VALID_FLAG_CODES = frozenset(str(f) for f in VALID_FLAGS)
CHECKPOINT_EVERY_S = 300.0  # the store's WAL truncated this often (SqliteStore.checkpoint)
# Free heap given back this often (collector/memtrim.py): every 5 min left a saw-tooth 30 MB high.
TRIM_EVERY_S = 60.0


class CollectorService:
    def __init__(
        self,
        config: CollectorConfig,
        *,
        store: Store | None = None,
        inbox: Inbox | None = None,
        notifier: NotifierFactory | None = None,
        publisher: PublisherFactory | None = None,
        clock: Callable[[], datetime] = utcnow,
        tick_s: float = 1.0,
        drain_s: float = 5.0,
        receiver: Literal["process", "thread"] = "process",
        hj212_server: Literal["process", "thread"] = "process",
    ) -> None:
        parts = default_parts(config, store=store, inbox=inbox, notifier=notifier, publisher=publisher)
        self.config = config
        self.clock = clock
        self.tick_s = tick_s
        self.drain_s = drain_s  # at stop, how long the receiver and the applier may take to finish
        self.store: Store = parts.store
        self.inbox = parts.inbox
        self._make_publisher = parts.publisher
        self._publisher_given = publisher is not None  # a fake one is made even by start(mqtt=False)
        self.counters = IngestCounters()
        state = config.state
        self.tracker = StationTracker(
            Thresholds(
                state.offline_after_heartbeats,
                state.clock_offset_max_s,
                state.default_heartbeat_s,
                state.backlog_degraded_above,
            )
        )
        self.stations: dict[str, StationConfig] = {s.id: s for s in config.stations}
        self.known_stations = None if config.accept_unknown_stations else frozenset(self.stations)
        ingest = config.ingest
        self.counters.seed_errors(self.store.dead_letter_counts())  # quarantine totals survive restarts
        self.applier = Applier(
            self.store,
            self.inbox,
            self.counters,
            known_stations=self.known_stations,
            batch_max=config.store.batch_max,
            retry_max_s=ingest.retry_max_s,
            window=TimeWindow(
                earliest=datetime.combine(ingest.earliest, datetime.min.time(), tzinfo=UTC),
                max_ahead=timedelta(seconds=ingest.max_ahead_s),
            ),
            on_committed=self._committed,
            on_quarantined=self._quarantined,
            clock=clock,
        )
        self.receiving = ReceivingSide(
            config, self.inbox, self.known_stations, lambda: to_us(clock()), receiver
        )
        self.mqtt: Publisher | None = None  # publish-only: commands and alert notifications
        self.live = LiveHub()  # StationSummary updates for the dashboard's event stream
        self.notifier = parts.notifier(self._publish_alert)
        self.alerts = AlertDesk(
            alerts_config(config),
            self.store,
            self.notifier,
            self._announce_alerts,
            Supervisor.from_config(config, self.store),
            SourceFinder.from_config(config, self.store),
        )
        self._rejected_lock = threading.Lock()
        self.api_rejected: Counter[str] = Counter()  # refused API requests by reason (e.g. ack_unknown_alert)
        self.controller = restore(
            self.store,
            CONTROLLER_STATE_KEY,
            ControllerHistory.load,
            ControllerHistory,
            "controller history",
        )
        # Existing data loggers over HJ 212 TCP (collector/hj212/): their frames go through the same inbox, and
        # commands for the stations they report for go to them.
        self.hj212 = self._hj212_server(hj212_server) if config.hj212.enabled else None
        self.commands = CommandSender(self.store, lambda: self.mqtt, clock, loggers=self.hj212)
        self.gaps = GapChecker(
            config,
            self.store,
            record=self.tracker.get,
            site=self.site,
            excluded=self.excluded_periods,
            send=self.send_command,
        )
        # The bureau's products on schedule, in a thread of their own that reads through its own store connection
        # unless a store was handed in (collector/reports/scheduler.py): making one never holds the ingest path.
        self.reports = (
            ReportScheduler(
                config,
                store=store,
                store_url=config.store.url,
                clock=clock,
                announce=getattr(self.notifier, "announce", None),
                excluded=self.excluded_periods,
            )
            if config.reports.enabled
            else None
        )
        retention = config.retention
        # Old raw readings into hourly aggregates, in a thread of its own, a batch at a time (collector/retention.py).
        self.retention = (
            RetentionJob(
                self.store,
                retention.raw_days,
                batch_hours=retention.batch_hours,
                pause_s=retention.pause_s,
                every_s=retention.every_s,
                clock=clock,
            )
            if retention.raw_days
            else None
        )
        self.metrics: CollectorRegistry = self._metrics_registry()
        self._stop = threading.Event()
        self._tick_lock = threading.Lock()  # transitions are computed and written in one order
        self._ticker: threading.Thread | None = None
        self.started_at: datetime | None = None
        self._restore()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def _restore(self) -> None:
        statuses = self.store.statuses()
        last = self.store.last_transitions()
        for station in self.stations:
            self.tracker.add(station)
        for station in set(self.stations) | (set(statuses) if self.config.accept_unknown_stations else set()):
            stored = statuses.get(station)
            self.tracker.restore(
                station,
                status=stored.status if stored else None,
                status_received_at=stored.received_at if stored else None,
                last_reading_at=self.store.last_reading_at(station),
                last=last.get(station),
            )

    def _metrics_registry(self) -> CollectorRegistry:
        """What /metrics shows, read from the live state at each scrape (collector/exposition.py)."""
        return exposition.registry(
            [
                exposition.StationsCollector(self.tracker.count_by_state),
                exposition.IngestCollector(self.counters),
                exposition.ReceiverCollector(
                    self.receiver_status,
                    self.receiver_write_status,
                    self.inbox.counters,
                    self.inbox.size_bytes,
                ),
                exposition.ResendCollector(self.gaps.metric_state),
                exposition.NotificationsCollector(self.notifier),
                exposition.AlertsCollector(self.alerts.active),
                exposition.ApiCollector(self._rejected_counts),
                exposition.StoreCollector(
                    self.dead_letter_counts,
                    self.store.unreadable,
                    self.applier.status,
                    lambda: self.controller.counters["stale_statuses"],
                ),
                *([Hj212Collector(self.hj212)] if self.hj212 is not None else []),
            ]
        )

    def start(self, *, mqtt: bool = True) -> None:
        """``mqtt`` False: no broker at all; the receiver runs in this process, fed through
        ``receiver.handle``, and there is no publisher unless one was handed in (tests)."""
        self.started_at = self.clock()
        self._stop.clear()
        self.notifier.start()
        self.applier.start()  # first what earlier runs committed to the inbox and did not apply
        if self.reports is not None:
            self.reports.start()  # catches up a run missed while stopped
        if self.retention is not None:
            self.retention.start()
        self.tick()
        self._ticker = threading.Thread(target=self._tick_loop, name="collector-ticker", daemon=True)
        self._ticker.start()
        self.receiving.start(mqtt=mqtt)
        if self.hj212 is not None:
            self.hj212.start()
        if mqtt or self._publisher_given:
            self.mqtt = self._make_publisher(self.config.mqtt)
            self.mqtt.start()

    def request_stop(self) -> None:
        """A signal arrived (the children may have had it too): no restart of the receiver or the HJ 212 server
        now; stop() follows."""
        self.receiving.request_stop()
        if self.hj212 is not None:
            self.hj212.request_stop()

    def _hj212_server(self, mode: Literal["process", "thread"]) -> Hj212Server | Hj212Process:
        """The HJ 212 server in a process of its own (collector/hj212/child.py says why), or in this one: tests
        whose service runs on a clock of their own, which a child process cannot share."""
        if mode == "thread":
            return Hj212Server(self.config.hj212, self.inbox.path, clock=self.clock)
        if self.clock is not utcnow:
            raise ValueError(
                "the HJ 212 server's process keeps the real clock: with a clock of your own, "
                "pass hj212_server='thread'"
            )
        return Hj212Process(
            self.config.hj212,
            self.inbox.path,
            log_level=self.config.log_level,
            log_file=sibling(self.config.log, "hj212"),
            drain_s=self.drain_s,
        )

    def stop(self) -> None:
        self._stop.set()
        if self.reports is not None:
            self.reports.stop()  # after the product being made, if any
        if self.retention is not None:
            self.retention.stop()
        # The receiver commits and acknowledges what it took, then disconnects; the applier applies what the
        # inbox holds (for up to drain_s; the rest waits in the inbox for the next start).
        if self.hj212 is not None:
            self.hj212.stop(self.drain_s)
        self.receiving.stop(self.drain_s)
        self.applier.stop(drain_s=self.drain_s)
        if self._ticker is not None:
            self._ticker.join(5)
            self._ticker = None
        self.notifier.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        self.alerts.save()
        self._save_memories()
        self.store.close()
        self.inbox.close()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once everything received so far is applied (the in-process receiver idle, the inbox empty)."""
        deadline = time.monotonic() + timeout
        if not self.receiving.wait_idle(timeout):
            return False
        if self.hj212 is not None and not self.hj212.wait_idle(timeout):
            return False
        return self.applier.wait_idle(max(0.0, deadline - time.monotonic()))

    def _save_memories(self) -> None:
        """Controller history and re-send requests, kept across restarts."""
        self.store.save_blob(CONTROLLER_STATE_KEY, self.controller.dump())
        self.gaps.save()

    # -- state -----------------------------------------------------------------------------------------------

    @property
    def receiver(self) -> Receiver | None:
        """The receiver in this process (receiver="thread", or start(mqtt=False)); tests feed it."""
        return self.receiving.thread

    @property
    def mqtt_connected(self) -> bool:
        """The receiving side's connection (the one that ingests)."""
        return self.receiving.connected

    def wait_connected(self, timeout: float) -> bool:
        """Wait for the receiving side's connection (tests)."""
        return self.receiving.wait_connected(timeout)

    def receiver_status(self) -> dict[str, Any]:
        """The receiving side and its inbox, for /healthz and /api/stats."""
        return self.receiving.status()

    def receiver_write_status(self) -> dict[str, Any]:
        """The receiver's inbox write failures: {"errors": n, "failing": bool, "last_error": text}."""
        return self.receiving.write_status()

    def health_report(self) -> tuple[bool, dict[str, Any]]:
        """The /healthz body and whether all is well; ``reasons`` says what is not, in words."""
        store_ok = self.store.ping()
        return health_report(
            self.config.ingest,
            store_ok=store_ok,
            mqtt_ok=self.mqtt_connected,
            receiver=self.receiver_status(),
            writes=self.receiver_write_status(),
            applier=self.applier.status(),
            running=self.started_at is not None and not self._stop.is_set(),
            dead_letters=sum(self.dead_letter_counts().values()) if store_ok else None,
            hj212=None
            if self.hj212 is None
            else {"running": self.hj212.running, "restarts": self.hj212.restarts},
        )

    # -- quarantine ------------------------------------------------------------------------------------------

    def dead_letters(
        self, *, station: str | None = None, reason: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Quarantined messages, most recently seen first (for /api/dead-letters)."""
        found = self.store.dead_letters(station=station, reason=reason, limit=limit)
        return [summaries.dead_letter(d) for d in found]

    def dead_letter_counts(self) -> dict[str, int]:
        """Every message ever quarantined, by reason (persisted in the store)."""
        return self.store.dead_letter_counts()

    def reapply_dead_letters(self, ids: list[int] | None = None) -> dict[str, int]:
        """Run dead letters (``ids``, or all) through the normal path again, e.g. after an upgrade: those that
        now store leave the quarantine. {"reapplied": n, "still_failing": m}."""
        return self.applier.reapply(ids)

    # -- what the applier and the ticker set off -------------------------------------------------------------

    def _committed(self, items: Sequence[Received], result: ApplyResult) -> None:
        for item in items:
            message = item.message
            if isinstance(message, Status):
                self.tracker.on_status(message, item.received_at)
                self.controller.on_status(message)
            elif isinstance(message, ReadingBatch):
                # A reading outside the time window is kept apart: it never makes the station look current.
                times = [r.t for i, r in enumerate(message.readings) if i not in item.suspect]
                self.tracker.on_message(message.station, item.received_at, max(times) if times else None)
            elif isinstance(message, Event | CommandReply):
                self.tracker.on_message(message.station, item.received_at)
                if isinstance(message, CommandReply):
                    self.gaps.on_reply(message)
        self.alerts.on_committed(items, result, self.clock())
        self.tick()
        self._publish_live({item.message.station for item in items})

    def _quarantined(self, dead: Sequence[DeadLetter]) -> None:
        self.alerts.on_quarantined(dead, self.clock())

    def _check_inbox_writes(self) -> None:
        """New inbox write errors of the receiver raise the collector-level inbox_write alert."""
        self.alerts.on_inbox_errors(int(self.receiver_write_status()["errors"]), self.clock())

    def _announce_alerts(self, transitions: Sequence[AlertTransition]) -> None:
        if self.live.subscriber_count:
            for t in transitions:
                self.live.publish("alert", summaries.alert(t.alert, self.site(t.alert.station)))
        # open_alerts / worst severity are part of the summary: the dashboard's counts follow every change.
        self._publish_live({t.alert.station for t in transitions})

    def _publish_live(self, stations: set[str]) -> None:
        if not self.live.subscriber_count:
            return
        for station in sorted(stations):
            summary = self.summary(station)
            if summary is not None:
                self.live.publish("station", summary)

    def tick(self) -> None:
        with self._tick_lock:
            changes = self.tracker.tick(self.clock())
            if not changes:
                return
            for change in changes:
                if change.old is not None:
                    log.info(
                        "station %s: %s → %s (%s)",
                        change.station,
                        change.old.value,
                        change.new.value,
                        "; ".join(change.reasons) or "ok",
                    )
            self.store.add_transitions(changes)
        self._publish_live({change.station for change in changes})

    def _tick_loop(self) -> None:
        last_save = last_checkpoint = last_trim = time.monotonic()
        last_gaps = last_samples = time.monotonic()
        while not self._stop.wait(self.tick_s):
            if time.monotonic() - last_gaps >= self.config.gaps.check_every_s:
                last_gaps = time.monotonic()
                samples = last_gaps - last_samples >= self.config.gaps.samples_every_s
                if samples:
                    last_samples = last_gaps
                try:
                    self.check_gaps(samples=samples)
                except Exception:
                    log.exception("gap check failed")
            try:
                self.tick()
                self._check_inbox_writes()
                self.alerts.tick(self.clock())
                if time.monotonic() - last_save >= SAVE_EVERY_S:
                    self.alerts.save()
                    self._save_memories()
                    last_save = time.monotonic()
                if time.monotonic() - last_trim >= TRIM_EVERY_S:
                    memtrim.trim()  # the heap the API's large answers left free, back to the system
                    last_trim = time.monotonic()
                if time.monotonic() - last_checkpoint >= CHECKPOINT_EVERY_S:
                    self.store.checkpoint()  # the WAL of the last minutes' writes: cut back to nothing
                    last_checkpoint = time.monotonic()
            except Exception:
                log.exception("station state tick failed")

    # -- stations and alerts, as the API and the live stream show them ---------------------------------------

    def site(self, station_id: str) -> StationConfig | None:
        """The configured site, or a bare one for an accepted unknown station; None when not known at all."""
        config = self.stations.get(station_id)
        if config is None and self.is_known(station_id):
            config = StationConfig(id=station_id, name_zh=station_id)
        return config

    def summary(self, station_id: str) -> dict[str, Any] | None:
        """The API's StationSummary of one station (None when unknown)."""
        config = self.site(station_id)
        if config is None:
            return None
        return summaries.station_summary(
            config,
            self.tracker.get(station_id),
            self.store.latest(station_id),
            self.clock(),
            self.alert_summary(station_id),
        )

    def station_ids(self) -> list[str]:
        ids = list(self.stations)
        if self.config.accept_unknown_stations:
            ids += sorted(set(self.tracker.all()) - set(ids))
        return ids

    def is_known(self, station: str) -> bool:
        return station in self.stations or (
            self.config.accept_unknown_stations and self.tracker.get(station) is not None
        )

    @property
    def alert_engine(self) -> AlertEngine:
        return self.alerts.engine

    def alert_summary(self, station: str) -> summaries.AlertSummary:
        return self.alerts.summary(station)

    def acknowledge_alert(self, alert_id: str, by: str, note: str = "") -> Alert | None:
        """The acknowledged alert; None when it is not active (unknown or already resolved)."""
        return self.alerts.acknowledge(alert_id, self.clock(), by, note)

    def count_rejected(self, reason: str) -> None:
        with self._rejected_lock:
            self.api_rejected[reason] += 1

    def _rejected_counts(self) -> dict[str, int]:
        with self._rejected_lock:
            return dict(self.api_rejected)

    # -- commands, re-send requests, controller history ------------------------------------------------------

    def send_command(self, station: str, kind: CommandKind, args: dict[str, Any]) -> Command:
        """Store and publish a command (QoS 1, waiting for PUBACK); CommandError when it cannot be sent."""
        return self.commands.send(station, kind, args)

    def _publish_alert(self, topic: str, payload: bytes, qos: int, timeout: float) -> bool:
        """The notifier's MQTT target: the alert topic on the collector's own connection."""
        mqtt = self.mqtt
        if mqtt is None or not mqtt.connected:
            return False
        return mqtt.publish(topic, payload, qos=qos, timeout=timeout)

    def check_gaps(self, *, samples: bool = True) -> int:
        """Ask stations to re-send lost messages and (with ``samples``) missing expected samples; how many
        commands went out."""
        return self.gaps.check(self.station_ids(), self.clock(), samples=samples)

    def gap_requests(self, station: str) -> list[dict[str, Any]]:
        """The re-send requests made for ``station`` (for /api/stations/{id}/gaps)."""
        return self.gaps.requests(station)

    def recovered_seqs(self, station: str) -> list[tuple[int, int]]:
        """Seq ranges of ``station`` whose re-send was answered in full (for /api/stations/{id}/gaps)."""
        return self.gaps.recovered(station)

    def excluded_periods(self, station: str, start: datetime, end: datetime) -> list[Excluded]:
        """Ice / no-water periods of ``station`` in [start, end) (collector/controller_history.py)."""
        periods = self.controller.no_water_periods(station, start, end)
        if not periods:
            return []
        temps = [
            (r.t, r.value)
            for r in self.store.readings(
                station, param=WATER_TEMP, start=periods[0][0] - ICE_LOOKBACK, end=end, limit=1_000_000
            )
            if r.value is not None and r.flag in VALID_FLAG_CODES
        ]
        return self.controller.excluded(station, start, end, temps, self.config.ice.max_water_temp_c)
