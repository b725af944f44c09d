"""/metrics with prometheus_client: custom collectors that read the live state at each scrape (the applier's
counters, station states, the receiver and its inbox, re-send requests, notifications, alerts, the store's
dead letters...) and yield metric families; nothing is copied into client-library metrics in between.

Each collector takes only the readers it needs (callables or a counters object), so it knows nothing of the
service; the service registers them in its own registry (``registry``), and the API renders it with
``render``. Metric names, types, labels and help texts are those dashboards have used since the hand-written
exposition; tests/collector/test_metrics_exposition.py holds the list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from collector.alerts.model import Alert
from collector.metrics import IngestCounters
from collector.notify.sender import Notifier
from protocols.messages import Severity, StationState

# The text format the hand-written page declared (generate_latest writes this format).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Samples = Iterable[tuple[Sequence[str], float]]  # label values (in the family's label order), value


def counter(name: str, doc: str, samples: Samples = (), labels: Sequence[str] = ()) -> Metric:
    family = CounterMetricFamily(name, doc, labels=list(labels))
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def gauge(name: str, doc: str, samples: Samples = (), labels: Sequence[str] = ()) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def by_label(counts: Mapping[str, float]) -> Samples:
    """One sample per key, sorted, for a family with one label."""
    return [((key,), value) for key, value in sorted(counts.items())]


def registry(collectors: Iterable[Collector]) -> CollectorRegistry:
    """A registry of its own (not the process-wide default): each service, and each test's, has one."""
    out = CollectorRegistry(auto_describe=False)
    for c in collectors:
        out.register(c)
    return out


def render(source: CollectorRegistry) -> bytes:
    return generate_latest(source)


class StationsCollector(Collector):
    def __init__(self, count_by_state: Callable[[], Mapping[StationState, int]]) -> None:
        self.count_by_state = count_by_state

    def collect(self) -> Iterator[Metric]:
        states = self.count_by_state()
        yield gauge(
            "qingliu_collector_stations_online",
            "Stations online or degraded (heard recently).",
            [((), states.get(StationState.ONLINE, 0) + states.get(StationState.DEGRADED, 0))],
        )
        yield gauge(
            "qingliu_collector_stations",
            "Stations by state.",
            [((s.value,), states.get(s, 0)) for s in StationState],
            ["state"],
        )


class IngestCollector(Collector):
    """What the applier validated and applied to the store (collector/ingest.py)."""

    def __init__(self, counters: IngestCounters) -> None:
        self.counters = counters

    def collect(self) -> Iterator[Metric]:
        snap = self.counters.snapshot()
        yield counter(
            "qingliu_collector_readings_ingested_total",
            "Readings stored (first arrival).",
            [((), snap["readings_inserted"])],
        )
        yield counter(
            "qingliu_collector_readings_duplicate_total",
            "Readings that were already stored.",
            [((), snap["readings_duplicate"])],
        )
        yield counter(
            "qingliu_collector_messages_duplicate_total",
            "Readings batches whose seq was stored.",
            [((), snap["messages_duplicate"])],
        )
        yield counter(
            "qingliu_collector_messages_received_total",
            "Valid messages received, by type.",
            by_label(snap["received"]),
            ["type"],
        )
        yield counter(
            "qingliu_collector_payload_errors_total",
            "Payloads quarantined by the main process (refused by validation or by the store), by reason; "
            "kept across restarts (the receiving process's cheap refusals: "
            "qingliu_collector_receiver_rejected_total).",
            by_label(snap["payload_errors"]),
            ["reason"],
        )
        yield counter(
            "qingliu_collector_suspect_readings_total",
            "Readings received with a sample time outside the collector's window, kept apart, by reason.",
            by_label(snap["suspect_readings"]),
            ["reason"],
        )
        yield counter(
            "qingliu_collector_reading_revisions_total",
            "Readings whose identity was stored with another value or flag: kept as revisions.",
            [((), snap["readings_revised"])],
        )
        yield counter(
            "qingliu_collector_commits_total",
            "Store transactions committed (by the applier).",
            [((), snap["commits"])],
        )
        yield counter(
            "qingliu_collector_commit_errors_total",
            "Store transactions that failed.",
            [((), snap["commit_errors"])],
        )
        lag = snap["ingest_lag_s"]
        yield gauge(
            "qingliu_collector_ingest_lag_seconds",
            "Commit time minus sent_at of the newest live batch in the last commit.",
            [((), lag)] if lag is not None else [],
        )


class ReceiverCollector(Collector):
    """The receiving process and its inbox. ``status`` and ``writes``: the service's receiver_status() and
    receiver_write_status(), read once per scrape (the inbox is counted once for both depth metrics);
    ``inbox_counters``: the inbox's counters table, kept across restarts like the inbox itself."""

    def __init__(
        self,
        status: Callable[[], Mapping[str, Any]],
        writes: Callable[[], Mapping[str, Any]],
        inbox_counters: Callable[[], Mapping[str, int]],
        inbox_bytes: Callable[[], int],
    ) -> None:
        self.status = status
        self.writes = writes
        self.inbox_counters = inbox_counters
        self.inbox_bytes = inbox_bytes

    def collect(self) -> Iterator[Metric]:
        status = self.status()
        counts = self.inbox_counters()
        rejected = {k.removeprefix("rejected:"): v for k, v in counts.items() if k.startswith("rejected:")}

        def total(name: str) -> Samples:
            return [((), counts.get(name, 0))]

        yield gauge(
            "qingliu_collector_ingest_queue_depth",
            "Messages in the inbox, acknowledged to the broker and not yet applied to the store.",
            [((), status["inbox_depth"])],
        )
        yield gauge(
            "qingliu_collector_mqtt_connected",
            "1 when the receiving process is connected to the broker.",
            [((), 1 if status["connected"] else 0)],
        )
        yield gauge(
            "qingliu_collector_receiver_up",
            "1 when the receiving process runs.",
            [((), 1 if status["running"] else 0)],
        )
        yield counter(
            "qingliu_collector_receiver_restarts_total",
            "Times the receiving process died and was started again.",
            [((), status["restarts"])],
        )
        yield counter(
            "qingliu_collector_receiver_accepted_total", "Messages committed to the inbox.", total("accepted")
        )
        yield counter(
            "qingliu_collector_receiver_rejected_total",
            "Messages refused by the receiving process's cheap checks (acknowledged, not stored), by reason.",
            by_label(rejected),
            ["reason"],
        )
        yield counter(
            "qingliu_collector_receiver_commits_total", "Inbox transactions committed.", total("commits")
        )
        yield counter(
            "qingliu_collector_receiver_commit_errors_total",
            "Inbox transactions that failed (retried; nothing acknowledged).",
            total("commit_errors"),
        )
        yield counter(
            "qingliu_collector_receiver_acks_total",
            "Acknowledgements sent after the inbox commit.",
            total("acks"),
        )
        yield counter(
            "qingliu_collector_receiver_acks_skipped_total",
            "Acknowledgements not sent: the connection the message came on was lost (the broker redelivers).",
            total("acks_skipped"),
        )
        yield counter(
            "qingliu_collector_receiver_quota_pauses_total",
            "Times the inbox reached inbox.max_bytes and the receiver stopped acknowledging.",
            total("quota_pauses"),
        )
        yield gauge(
            "qingliu_collector_inbox_depth",
            "Messages in the inbox, not yet applied.",
            [((), status["inbox_depth"])],
        )
        yield gauge(
            "qingliu_collector_inbox_oldest_age_seconds",
            "Age of the oldest message in the inbox (0 when empty).",
            [((), status["inbox_oldest_age_s"])],
        )
        yield gauge(
            "qingliu_collector_inbox_bytes", "Inbox file and WAL size on disk.", [((), self.inbox_bytes())]
        )
        writes = self.writes()
        yield counter(
            "qingliu_collector_inbox_write_errors_total",
            "Inbox commits of the receiver that failed (disk full, I/O error; nothing acknowledged).",
            [((), writes["errors"])],
        )
        yield gauge(
            "qingliu_collector_inbox_write_failing",
            "1 while the receiver's inbox commits fail.",
            [((), 1 if writes["failing"] else 0)],
        )


class ResendCollector(Collector):
    """Re-send requests for gaps (collector/gap_check.py): ``state`` gives the planner's counters and how many
    requests wait for their reply, read together."""

    EVENTS = ("replies_ok", "replies_refused", "timeouts", "given_up", "send_errors", "implausible")

    def __init__(self, state: Callable[[], tuple[Counter[str], int]]) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        counts, outstanding = self.state()
        yield counter(
            "qingliu_collector_resend_requests_total",
            "Re-send commands sent for gaps, by kind (seq: lost messages; time: missing samples).",
            [((k,), counts[f"sent_{k}"]) for k in ("seq", "time")],
            ["kind"],
        )
        yield counter(
            "qingliu_collector_resend_events_total",
            "What happened to re-send requests; implausible: seq holes too wide to ask (bad input).",
            [((e,), counts[e]) for e in self.EVENTS],
            ["event"],
        )
        yield gauge(
            "qingliu_collector_resend_outstanding",
            "Re-send commands waiting for their reply.",
            [((), outstanding)],
        )


class NotificationsCollector(Collector):
    """Alert notifications per target (collector/notify/sender.py)."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def collect(self) -> Iterator[Metric]:
        notifier = self.notifier
        yield counter(
            "qingliu_collector_notifications_total",
            "Notification deliveries by target and outcome (ok, retry, failed, dropped, error).",
            [((n, o), v) for (n, o), v in sorted(notifier.snapshot().items())],
            ["target", "outcome"],
        )
        yield counter(
            "qingliu_collector_notification_failures_total",
            "Failed notification attempts by target (retried or final).",
            by_label(notifier.failures()),
            ["target"],
        )
        yield gauge(
            "qingliu_collector_notification_queue_depth",
            "Notifications waiting (or being delivered) per target.",
            [((w.spec.name,), w.depth) for w in notifier.workers],
            ["target"],
        )


class AlertsCollector(Collector):
    def __init__(self, active: Callable[[], Sequence[Alert]]) -> None:
        self.active = active

    def collect(self) -> Iterator[Metric]:
        open_by = Counter(a.severity.value for a in self.active())
        yield gauge(
            "qingliu_collector_alerts_open",
            "Active (open or acknowledged) alerts by severity.",
            [((s.value,), open_by.get(s.value, 0)) for s in Severity],
            ["severity"],
        )


class ApiCollector(Collector):
    def __init__(self, rejected: Callable[[], Mapping[str, int]]) -> None:
        self.rejected = rejected

    def collect(self) -> Iterator[Metric]:
        yield counter(
            "qingliu_collector_api_rejected_total",
            "API requests refused, by reason (e.g. ack_unknown_alert).",
            by_label(self.rejected()),
            ["reason"],
        )


class StoreCollector(Collector):
    """The store's side: dead letters (persisted totals), rows that no longer read back, the applier's
    retrying and its waits for the receiver, and statuses the controller history kept out."""

    def __init__(
        self,
        dead_letter_counts: Callable[[], Mapping[str, int]],
        unreadable: Callable[[], Mapping[str, int]],
        applier_status: Callable[[], Mapping[str, Any]],
        stale_statuses: Callable[[], int],
    ) -> None:
        self.dead_letter_counts = dead_letter_counts
        self.unreadable = unreadable
        self.applier_status = applier_status
        self.stale_statuses = stale_statuses

    def collect(self) -> Iterator[Metric]:
        applier = self.applier_status()
        yield counter(
            "qingliu_collector_dead_letters_total",
            "Messages quarantined (not validated or refused by the store), by reason; persisted.",
            by_label(self.dead_letter_counts()),
            ["reason"],
        )
        yield gauge(
            "qingliu_collector_applier_retrying",
            "1 while the store is down and the applier retries.",
            [((), 1 if applier["state"] == "retrying" else 0)],
        )
        yield counter(
            "qingliu_collector_applier_gave_way_seconds_total",
            "Seconds the applier waited for the receiver during bursts (acknowledging comes first), since start.",
            [((), float(applier.get("gave_way_s", 0.0)))],
        )
        yield gauge(
            "qingliu_collector_store_unreadable_rows",
            "Stored rows skipped on read-back because they no longer validate, by table.",
            by_label(self.unreadable()),
            ["table"],
        )
        yield counter(
            "qingliu_collector_controller_stale_statuses_total",
            "Statuses older than one already seen, kept out of the controller history.",
            [((), self.stale_statuses())],
        )
