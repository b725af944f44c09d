"""The collector process: store, inbox, receiver, applier, station tracker and the API, wired together.

MQTT → receiver (a child process: cheap checks, raw payloads committed to the inbox, then acknowledged;
collector/receiver.py) → inbox (collector/inbox.py) → applier (a thread here: validation, one store
transaction per batch, then tracker, alerts and the live stream; collector/ingest.py). The main process has its
own publish-only MQTT connection for commands and alert notifications.

``CollectorService(config)`` builds everything; ``start()`` starts the applier, the state ticker, the
receiver and the publishing connection; ``stop()`` undoes it in order (the receiver commits and acknowledges
what it holds, the applier applies what the inbox holds, then everything closes). ``serve()`` runs uvicorn in
this process until SIGINT/SIGTERM. ``receiver="thread"`` runs the receiver in this process instead (tests).
"""

from __future__ import annotations

import logging
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from collector.alerts import AlertEngine, AlertsConfig, Site
from collector.alerts.config import COLLECTOR_STATION
from collector.alerts.model import SEVERITY_RANK, Alert, AlertStatus
from collector.alerts.model import Transition as AlertTransition
from collector.api import health, views
from collector.config import CollectorConfig, StationConfig
from collector.controller_history import ControllerHistory, Excluded
from collector.gaps import GapPlanner, GapSettings, missing_windows, producing_windows
from collector.inbox import Inbox
from collector.ingest import Applier, TimeWindow, utcnow
from collector.live import LiveHub
from collector.metrics import Family, IngestCounters, receiver_families
from collector.mqtt_client import CollectorMqtt
from collector.notify.sender import Notifier, specs_from_config
from collector.receiver import Receiver, ReceiverProcess, ReceiverSettings
from collector.stations import StationTracker, Thresholds
from collector.store import open_store
from collector.store.base import ApplyResult, DeadLetter, Received, Store, to_us
from protocols import messages, topics
from protocols.errors import CommandError
from protocols.flags import VALID_FLAGS
from protocols.messages import (
    Command,
    CommandKind,
    CommandReply,
    Event,
    Lane,
    ReadingBatch,
    Severity,
    StationState,
    Status,
)

log = logging.getLogger("qingliu.collector")

ALERT_STATE_KEY = "alert_engine"
ALERT_SAVE_EVERY_S = 10.0
CONTROLLER_STATE_KEY = "controller_history"
GAPS_STATE_KEY = "gap_requests"
WATER_TEMP = "w01010"
ICE_LOOKBACK = timedelta(hours=6)
VALID_FLAG_CODES = frozenset(str(f) for f in VALID_FLAGS)
# What parsing a stored memory (blob) may raise when it no longer reads back (ValidationError is a ValueError).
UNREADABLE = (ValueError, TypeError, KeyError, RecursionError)


class CollectorService:
    def __init__(
        self,
        config: CollectorConfig,
        *,
        store: Store | None = None,
        clock: Callable[[], datetime] = utcnow,
        tick_s: float = 1.0,
        drain_s: float = 5.0,
        receiver: Literal["process", "thread"] = "process",
    ) -> None:
        self.config = config
        self.clock = clock
        self.tick_s = tick_s
        self.drain_s = drain_s  # at stop, how long the receiver and the applier may take to finish
        self.receiver_mode = receiver
        self.store: Store = store if store is not None else open_store(config.store.url)
        self.inbox = Inbox(config.inbox_path, owner=True)
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
        self._inbox_errors_seen = 0  # inbox write errors already given to the alert engine
        self.receiver: Receiver | None = None  # in this process (receiver="thread", or start(mqtt=False))
        self.receiver_process: ReceiverProcess | None = None  # the child process (receiver="process")
        self.mqtt: CollectorMqtt | None = None  # publish-only: commands and alert notifications
        self.live = LiveHub()  # StationSummary updates for the dashboard's event stream
        self._alert_lock = threading.Lock()  # the engine is fed by the writer, the ticker and the API
        self.alert_engine = self._load_alert_engine()
        self.api_rejected: Counter[str] = Counter()  # refused API requests by reason (e.g. ack_unknown_alert)
        self.controller = self._load_controller_history()
        gaps = config.gaps
        self._gap_lock = threading.Lock()  # the planner is fed by the writer (replies) and the ticker
        self.gaps = self._load_gaps(
            GapSettings(
                grace_s=gaps.grace_s,
                reply_timeout_s=gaps.reply_timeout_s,
                max_outstanding=gaps.max_outstanding,
                max_attempts=gaps.max_attempts,
                max_seq_span=gaps.max_seq_span,
                max_seq_jump=gaps.max_seq_jump,
                max_window_s=gaps.max_window_s,
            )
        )
        self.notifier = Notifier(specs_from_config(config.notify), publish=self._publish_alert)
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

    def _load_alert_engine(self) -> AlertEngine:
        sites = {
            s.id: Site(name_zh=s.name_zh, water_type=s.water_type, target_class=s.target_class)
            for s in self.config.stations
        }
        rules = self.config.alerts.rules
        alerts_config = AlertsConfig(sites=sites) if rules is None else AlertsConfig(rules=rules, sites=sites)
        saved = self.store.load_blob(ALERT_STATE_KEY)
        if saved:
            try:
                return AlertEngine.load(alerts_config, saved)
            except UNREADABLE as exc:  # an older or damaged memory: start afresh, the alerts table stays
                log.warning("alert engine memory not restored: %s", exc)
        return AlertEngine(alerts_config)

    def _save_alert_engine(self) -> None:
        with self._alert_lock:
            text = self.alert_engine.dump()
        self.store.save_blob(ALERT_STATE_KEY, text)

    def _alert_transitions(self, transitions: list[AlertTransition]) -> None:
        """Persist and announce what the alert engine changed."""
        if not transitions:
            return
        self.store.save_alerts([t.alert for t in transitions])
        self.notifier.submit(transitions)  # queued for the notification workers: never blocks
        for t in transitions:
            log.info("alert %s %s: %s %s", t.kind.value, t.alert.id, t.alert.station, t.alert.title_en)
            if self.live.subscriber_count:
                self.live.publish("alert", views.alert(t.alert, self.site(t.alert.station)))
        # open_alerts / worst severity are part of the summary: the dashboard's counts follow every change.
        self._publish_live({t.alert.station for t in transitions})

    def alert_summary(self, station: str) -> views.AlertSummary:
        with self._alert_lock:
            active = [a for a in self.alert_engine.active() if a.station == station]
        # "open" is what nobody has acknowledged yet: an ack takes the alert out of the count (and the ring).
        unseen = [a for a in active if a.status is AlertStatus.OPEN]
        if not unseen:
            return views.AlertSummary(active_alerts=len(active))
        worst = max(unseen, key=lambda a: SEVERITY_RANK[a.severity]).severity
        return views.AlertSummary(len(unseen), worst.value, len(active))

    def acknowledge_alert(self, alert_id: str, by: str, note: str = "") -> Alert | None:
        """The acknowledged alert; None when it is not active (unknown or already resolved)."""
        with self._alert_lock:
            try:
                transition = self.alert_engine.acknowledge(alert_id, self.clock(), by)
            except KeyError:
                return None
            if transition is not None and note:  # kept with the alert, shown in its history
                for acked in (transition.alert, self.alert_engine.state.active[transition.alert.key]):
                    acked.detail["ack_note"] = note
            current = next((a for a in self.alert_engine.active() if a.id == alert_id), None)
        if transition is not None:
            self._alert_transitions([transition])
        return current

    def start(self, *, mqtt: bool = True) -> None:
        """``mqtt`` False: no broker at all; the receiver runs in this process, fed through
        ``receiver.handle`` (tests)."""
        self.started_at = self.clock()
        self._stop.clear()
        self.notifier.start()
        self.applier.start()  # first what earlier runs committed to the inbox and did not apply
        self.tick()
        self._ticker = threading.Thread(target=self._tick_loop, name="collector-ticker", daemon=True)
        self._ticker.start()
        if mqtt and self.receiver_mode == "process":
            self.receiver_process = ReceiverProcess(self._receiver_settings(), self.inbox)
            self.receiver_process.start()
        else:
            self.receiver = Receiver(
                self.inbox,
                self.config.mqtt if mqtt else None,
                known_stations=self.known_stations,
                batch_max=self.config.inbox.batch_max,
                max_bytes=self.config.inbox.max_bytes,
                clock_us=lambda: to_us(self.clock()),
            )
            self.receiver.start()
        if mqtt:
            self.mqtt = CollectorMqtt(self.config.mqtt, None)
            self.mqtt.start()

    def _receiver_settings(self) -> ReceiverSettings:
        return ReceiverSettings(
            mqtt=self.config.mqtt,
            inbox=str(self.inbox.path.resolve()),
            known_stations=None if self.known_stations is None else sorted(self.known_stations),
            batch_max=self.config.inbox.batch_max,
            max_bytes=self.config.inbox.max_bytes,
            log_level=self.config.log_level,
        )

    def stop(self) -> None:
        self._stop.set()
        # The receiver commits and acknowledges what it took, then disconnects; the applier applies what the
        # inbox holds (for up to drain_s; the rest waits in the inbox for the next start).
        if self.receiver_process is not None:
            self.receiver_process.stop(timeout=self.drain_s + 5)
        if self.receiver is not None:
            self.receiver.stop(timeout=self.drain_s)
        self.applier.stop(drain_s=self.drain_s)
        if self._ticker is not None:
            self._ticker.join(5)
            self._ticker = None
        self.notifier.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        self._save_alert_engine()
        self._save_memories()
        self.store.close()
        self.inbox.close()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once everything received so far is applied (the in-process receiver idle, the inbox empty)."""
        deadline = time.monotonic() + timeout
        if self.receiver is not None and not self.receiver.wait_idle(timeout):
            return False
        return self.applier.wait_idle(max(0.0, deadline - time.monotonic()))

    def serve(self, *, host: str | None = None, port: int | None = None) -> None:
        """Run the API with uvicorn in this process until SIGINT/SIGTERM, with ingest running alongside."""
        import uvicorn

        from collector.api import create_app

        app = create_app(self)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host or self.config.api.host,
                port=port or self.config.api.port,
                log_level="warning",
                lifespan="on",
            )
        )

        # uvicorn captures SIGINT/SIGTERM while it runs and re-raises them to the previous handlers when it
        # returns: make those handlers ours so that the signal ends in a clean stop(), not a kill.
        def _on_signal(signum: int, frame: object) -> None:
            server.should_exit = True
            if self.receiver_process is not None:  # it may have had the signal too: no restart now
                self.receiver_process.request_stop()

        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.start()
        try:
            server.run()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- state -----------------------------------------------------------------------------------------------

    @property
    def mqtt_connected(self) -> bool:
        """The receiving side's connection (the one that ingests)."""
        if self.receiver_process is not None:
            return self.receiver_process.connected
        return self.receiver is not None and self.receiver.connected

    def wait_connected(self, timeout: float) -> bool:
        """Wait for the receiving side's connection (tests)."""
        if self.receiver_process is not None:
            return self.receiver_process.wait_connected(timeout)
        return self.receiver is not None and self.receiver.wait_connected(timeout)

    def receiver_status(self) -> dict[str, Any]:
        """The receiving side and its inbox, for /healthz and /api/stats."""
        proc = self.receiver_process
        running = proc.alive if proc is not None else self.receiver is not None
        return {
            "mode": "process" if proc is not None else "thread",
            "running": running,
            "connected": self.mqtt_connected,
            "pid": proc.pid if proc is not None else None,
            "restarts": proc.restarts if proc is not None else 0,
            "inbox_depth": self.inbox.depth(),
            "inbox_oldest_age_s": round(self.inbox.oldest_age_s(), 3),
        }

    def receiver_write_status(self) -> dict[str, Any]:
        """The receiver's inbox write failures: {"errors": n, "failing": bool, "last_error": text}."""
        if self.receiver_process is not None:
            return self.receiver_process.write_status()
        if self.receiver is not None:
            return self.receiver.write_status()
        return {"errors": 0, "failing": False, "last_error": ""}

    # -- quarantine ------------------------------------------------------------------------------------------

    def dead_letters(
        self, *, station: str | None = None, reason: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Quarantined messages, most recently seen first (for /api/dead-letters)."""
        return [
            {
                "id": d.id,
                "station": d.station,
                "topic": d.topic,
                "reason": d.reason,
                "error": d.error,
                "first_seen": views.iso(d.first_seen),
                "last_seen": views.iso(d.last_seen),
                "count": d.count,
                "size": len(d.payload),
                "preview": d.payload[:800].decode("utf-8", errors="replace")[:200],
            }
            for d in self.store.dead_letters(station=station, reason=reason, limit=limit)
        ]

    def dead_letter_counts(self) -> dict[str, int]:
        """Every message ever quarantined, by reason (persisted in the store)."""
        return self.store.dead_letter_counts()

    def reapply_dead_letters(self, ids: list[int] | None = None) -> dict[str, int]:
        """Run dead letters (``ids``, or all) through the normal path again, e.g. after an upgrade: those that
        now store leave the quarantine. {"reapplied": n, "still_failing": m}."""
        return self.applier.reapply(ids)

    # -- health ----------------------------------------------------------------------------------------------

    def health_report(self) -> tuple[bool, dict[str, Any]]:
        """The /healthz body and whether all is well; ``reasons`` says what is not, in words."""
        cfg = self.config.ingest
        store_ok = self.store.ping()
        mqtt_ok = self.mqtt_connected
        receiver = self.receiver_status()
        writes = self.receiver_write_status()
        applier = self.applier.status()
        reasons: list[str] = []
        if not store_ok:
            reasons.append("the store does not answer")
        if not mqtt_ok:
            reasons.append("the receiver is not connected to the broker")
        if applier["state"] == "retrying":
            reasons.append(f"the store is down, the applier is retrying: {applier['last_error']}")
        elif applier["state"] == "stopped" and self.started_at is not None and not self._stop.is_set():
            reasons.append("the applier is not running")
        elif receiver["inbox_depth"] and applier["since_progress_s"] > cfg.stall_s:
            reasons.append(
                f"the applier has made no progress for {applier['since_progress_s']:.0f} s "
                f"with {receiver['inbox_depth']} messages waiting"
            )
        if receiver["inbox_oldest_age_s"] > cfg.max_inbox_age_s:
            reasons.append(
                f"the inbox's oldest message is {receiver['inbox_oldest_age_s']:.0f} s old "
                f"(limit {cfg.max_inbox_age_s:g} s)"
            )
        if writes["failing"]:
            reasons.append(f"the receiver cannot commit to its inbox: {writes['last_error']}")
        ok = not reasons
        body: dict[str, Any] = {
            "ok": ok,
            "store": "ok" if store_ok else "error",
            "mqtt": "connected" if mqtt_ok else "disconnected",
            "receiver": "up" if receiver["running"] else "down",
            "receiver_restarts": receiver["restarts"],
            "inbox_depth": receiver["inbox_depth"],
            "inbox_oldest_age_s": receiver["inbox_oldest_age_s"],
            "applier": applier["state"],
            "reasons": reasons,
            "dead_letters": sum(self.dead_letter_counts().values()) if store_ok else None,
            "inbox_write_errors": writes["errors"],
        }
        return ok, body

    def _committed(self, items: Sequence[Received], result: ApplyResult) -> None:
        for item in items:
            message = item.message
            if isinstance(message, Status):
                self.tracker.on_status(message, item.received_at)
            elif isinstance(message, ReadingBatch):
                # A reading outside the time window is kept apart: it never makes the station look current.
                times = [r.t for i, r in enumerate(message.readings) if i not in item.suspect]
                self.tracker.on_message(message.station, item.received_at, max(times) if times else None)
            elif isinstance(message, Event | CommandReply):
                self.tracker.on_message(message.station, item.received_at)
            if isinstance(message, Status):
                self.controller.on_status(message)
            elif isinstance(message, CommandReply):
                with self._gap_lock:
                    self.gaps.on_reply(message.id, message.ok, message.result)
        alert_changes: list[AlertTransition] = []
        with self._alert_lock:
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
                        alert_changes += self.alert_engine.on_readings(message.station, readings)
                elif isinstance(message, Status):
                    alert_changes += self.alert_engine.on_status(message)
            if result.revisions:
                now = self.clock()
                for station, n in sorted(result.revisions.items()):
                    alert_changes += self.alert_engine.on_incident(station, "revisions", now, n)
        self._alert_transitions(alert_changes)
        self.tick()
        self._publish_live({item.message.station for item in items})

    def _quarantined(self, dead: Sequence[DeadLetter]) -> None:
        """Messages the applier quarantined: a dead_letters alert for each station that sent them."""
        by_station: dict[str, Counter[str]] = {}
        for letter in dead:
            if letter.station is not None:
                by_station.setdefault(letter.station, Counter())[letter.reason] += 1
        if not by_station:
            return
        now = self.clock()
        changes: list[AlertTransition] = []
        with self._alert_lock:
            for station, reasons in sorted(by_station.items()):
                changes += self.alert_engine.on_incident(
                    station, "dead_letters", now, sum(reasons.values()), dict(reasons)
                )
        self._alert_transitions(changes)

    def _check_inbox_writes(self) -> None:
        """New inbox write errors of the receiver raise the collector-level inbox_write alert."""
        total = self.receiver_write_status()["errors"]
        if total < self._inbox_errors_seen:  # a restarted receiver counts afresh
            self._inbox_errors_seen = 0
        new = total - self._inbox_errors_seen
        if new <= 0:
            return
        self._inbox_errors_seen = total
        with self._alert_lock:
            changes = self.alert_engine.on_incident(COLLECTOR_STATION, "inbox_write", self.clock(), new)
        self._alert_transitions(changes)

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
        last_save = time.monotonic()
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
                with self._alert_lock:
                    changes = self.alert_engine.tick(self.clock())
                self._alert_transitions(changes)
                if time.monotonic() - last_save >= ALERT_SAVE_EVERY_S:
                    self._save_alert_engine()
                    self._save_memories()
                    last_save = time.monotonic()
            except Exception:
                log.exception("station state tick failed")

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
        return views.station_summary(
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

    # -- commands --------------------------------------------------------------------------------------------

    def send_command(self, station: str, kind: CommandKind, args: dict[str, Any]) -> Command:
        """Store and publish a command (QoS 1, waiting for PUBACK); CommandError when it cannot be sent."""
        if self.mqtt is None or not self.mqtt.connected:
            raise CommandError("not connected to the broker", reason="not_connected")
        command = Command(
            station=station,
            id=secrets.token_hex(8),
            kind=kind,
            issued_at=self.clock().astimezone(UTC),
            args=args,
        )
        self.store.save_command(command)
        if not self.mqtt.publish(topics.topic(station, "cmd"), messages.encode(command), qos=1):
            raise CommandError("the broker did not acknowledge the command", reason="not_acknowledged")
        return command

    # -- gaps, notifications, controller history -------------------------------------------------------------

    def _publish_alert(self, topic: str, payload: bytes, qos: int, timeout: float) -> bool:
        """The notifier's MQTT target: the alert topic on the collector's own connection."""
        mqtt = self.mqtt
        if mqtt is None or not mqtt.connected:
            return False
        return mqtt.publish(topic, payload, qos=qos, timeout=timeout)

    def _load_gaps(self, settings: GapSettings) -> GapPlanner:
        saved = self.store.load_blob(GAPS_STATE_KEY)
        if saved:
            try:
                return GapPlanner.load(saved, settings)
            except UNREADABLE as exc:  # damaged: start afresh, never fail the start
                log.warning("re-send request memory not restored: %s", exc)
        return GapPlanner(settings)

    def _save_memories(self) -> None:
        """Controller history and re-send requests, kept across restarts."""
        self.store.save_blob(CONTROLLER_STATE_KEY, self.controller.dump())
        with self._gap_lock:
            text = self.gaps.dump()
        self.store.save_blob(GAPS_STATE_KEY, text)

    def _load_controller_history(self) -> ControllerHistory:
        saved = self.store.load_blob(CONTROLLER_STATE_KEY)
        if saved:
            try:
                return ControllerHistory.load(saved)
            except UNREADABLE as exc:  # damaged: start afresh, never fail the start
                log.warning("controller history not restored: %s", exc)
        return ControllerHistory()

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

    def check_gaps(self, *, samples: bool = True) -> int:
        """Ask stations to re-send lost messages and (with ``samples``) missing expected samples; how many
        commands went out."""
        if not self.config.gaps.enabled:
            return 0
        now = self.clock()
        sent = 0
        for station in self.station_ids():
            summary = self.store.seq_summary(station)
            with self._gap_lock:
                holes = self.gaps.seq_holes(station, summary.missing)
                asks = self.gaps.plan(station, "seq", holes, now)
            if samples and self.config.gaps.samples:
                windows = self._sample_holes(station, now)
                with self._gap_lock:
                    asks += self.gaps.plan(station, "time", windows, now)
                    lookback = now - timedelta(seconds=self.config.gaps.lookback_s)
                    self.gaps.prune(station, "time", to_us(lookback))
            for ask in asks:
                try:
                    command = self.send_command(station, CommandKind.RESEND, ask.args)
                except CommandError as exc:
                    log.warning("station %s: re-send request %s not sent: %s", station, ask.args, exc)
                    with self._gap_lock:
                        self.gaps.send_failed(ask)
                    continue
                log.info("station %s: asked to re-send %s (command %s)", station, ask.args, command.id)
                with self._gap_lock:
                    self.gaps.sent(ask, command.id, now)
                sent += 1
        return sent

    def _sample_holes(self, station: str, now: datetime) -> list[tuple[int, int]]:
        """Windows (µs) of expected samples missing where the station was producing and has since delivered
        everything older (its backlog drained past them)."""
        record = self.tracker.get(station)
        site = self.site(station)
        if record is None or record.status is None or site is None:
            return []
        status = record.status
        drained = status.at if status.backlog == 0 else status.oldest_unsent
        if drained is None:
            return []
        cfg = self.config.gaps
        end = min(now - timedelta(seconds=cfg.grace_s), drained)
        start = now - timedelta(seconds=cfg.lookback_s)
        plan = health.schedules(site, self.config.schedule)
        if not plan or end <= start:
            return []
        times = {
            code: [
                r.t for r in self.store.readings(station, param=code, start=start, end=end, limit=1_000_000)
            ]
            for code in plan
        }
        pad = 2 * min(s.nominal_interval_s for s in plan.values())
        initial, changes = self.store.transitions_between(station, start, end)
        online: list[tuple[datetime, datetime]] = []
        since = start if initial is not None and initial.new is not StationState.OFFLINE else None
        for change in changes:
            if change.new is StationState.OFFLINE and since is not None:
                online.append((since, change.at))
                since = None
            elif change.new is not StationState.OFFLINE and since is None:
                since = change.at
        if since is not None:
            online.append((since, end))
        producing = producing_windows(online, [t for ts in times.values() for t in ts], pad)
        excluded = [(e.start, e.end) for e in self.excluded_periods(station, start, end)]
        return missing_windows(plan, start, end, times, producing, excluded)

    def gap_requests(self, station: str) -> list[dict[str, Any]]:
        """The re-send requests made for ``station`` (for /api/stations/{id}/gaps)."""
        with self._gap_lock:
            return self.gaps.snapshot(station)

    def recovered_seqs(self, station: str) -> list[tuple[int, int]]:
        """Seq ranges of ``station`` whose re-send was answered in full (for /api/stations/{id}/gaps)."""
        with self._gap_lock:
            return self.gaps.recovered(station)

    def count_rejected(self, reason: str) -> None:
        with self._gap_lock:
            self.api_rejected[reason] += 1

    def metric_families(self, receiver: dict[str, Any] | None = None) -> list[Family]:
        """What the receiver, gaps, notifications, alerts, the controller history and the API add to
        /metrics. ``receiver``: a ``receiver_status()`` the caller already has (the inbox is counted once)."""
        status = receiver if receiver is not None else self.receiver_status()
        families = receiver_families(
            self.inbox.counters(),
            restarts=status["restarts"],
            running=status["running"],
            inbox_depth=status["inbox_depth"],
            inbox_oldest_age_s=status["inbox_oldest_age_s"],
            inbox_bytes=self.inbox.size_bytes(),
        )
        with self._alert_lock:
            active = self.alert_engine.active()
        open_by = Counter(a.severity.value for a in active)
        with self._gap_lock:
            families += self.gaps.metric_families()
            rejected = dict(self.api_rejected)
        families += self.notifier.metric_families()
        families.append(
            (
                "qingliu_collector_alerts_open",
                "gauge",
                "Active (open or acknowledged) alerts by severity.",
                [({"severity": s.value}, open_by.get(s.value, 0)) for s in Severity],
            )
        )
        families.append(
            (
                "qingliu_collector_api_rejected_total",
                "counter",
                "API requests refused, by reason (e.g. ack_unknown_alert).",
                [({"reason": r}, n) for r, n in sorted(rejected.items())],
            )
        )
        families.append(
            (
                "qingliu_collector_dead_letters_total",
                "counter",
                "Messages quarantined (not validated or refused by the store), by reason; persisted.",
                [({"reason": r}, n) for r, n in sorted(self.dead_letter_counts().items())],
            )
        )
        writes = self.receiver_write_status()
        families.append(
            (
                "qingliu_collector_inbox_write_errors_total",
                "counter",
                "Inbox commits of the receiver that failed (disk full, I/O error; nothing acknowledged).",
                [({}, int(writes["errors"]))],
            )
        )
        families.append(
            (
                "qingliu_collector_inbox_write_failing",
                "gauge",
                "1 while the receiver's inbox commits fail.",
                [({}, 1 if writes["failing"] else 0)],
            )
        )
        applier = self.applier.status()
        families.append(
            (
                "qingliu_collector_applier_retrying",
                "gauge",
                "1 while the store is down and the applier retries.",
                [({}, 1 if applier["state"] == "retrying" else 0)],
            )
        )
        families.append(
            (
                "qingliu_collector_store_unreadable_rows",
                "gauge",
                "Stored rows skipped on read-back because they no longer validate, by table.",
                [({"table": t}, n) for t, n in sorted(self.store.unreadable().items())],
            )
        )
        families.append(
            (
                "qingliu_collector_controller_stale_statuses_total",
                "counter",
                "Statuses older than one already seen, kept out of the controller history.",
                [({}, self.controller.counters["stale_statuses"])],
            )
        )
        return families
