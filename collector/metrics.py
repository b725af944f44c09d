"""Ingest counters and their Prometheus text rendering (exposition format 0.0.4, no client library needed)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.store.base import ApplyResult
from protocols.messages import StationState


@dataclass
class IngestCounters:
    """Thread-safe counters of the applier (collector/ingest.py): what it validated and applied to the store.

    The receiving process's own counters (accepted, refused, inbox commits, acknowledgements) live in the
    inbox (collector/inbox.py) and are rendered by ``receiver_families``."""

    received: Counter[str] = field(default_factory=Counter)  # valid messages by type
    # Quarantined messages by reason (seeded from the store's persisted dead-letter totals at start).
    payload_errors: Counter[str] = field(default_factory=Counter)
    suspect: Counter[str] = field(default_factory=Counter)  # readings outside the time window, by reason
    stored: ApplyResult = field(default_factory=ApplyResult)
    commits: int = 0
    commit_errors: int = 0
    last_commit_at: datetime | None = None
    ingest_lag_s: float | None = None  # commit time − sent_at of the newest live batch in the last commit
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count_received(self, kind: str) -> None:
        with self._lock:
            self.received[kind] += 1

    def count_error(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.payload_errors[reason] += n

    def seed_errors(self, totals: dict[str, int]) -> None:
        """Start from the persisted totals (the store's dead-letter counts), so a restart does not reset them."""
        with self._lock:
            self.payload_errors = Counter(totals)

    def count_suspect(self, reason: str) -> None:
        with self._lock:
            self.suspect[reason] += 1

    def count_commit(self, result: ApplyResult, at: datetime, lag_s: float | None) -> None:
        with self._lock:
            self.stored.add(result)
            self.commits += 1
            self.last_commit_at = at
            if lag_s is not None:
                self.ingest_lag_s = lag_s

    def count_commit_error(self) -> None:
        with self._lock:
            self.commit_errors += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            stored = self.stored
            return {
                "received": dict(self.received),
                "payload_errors": dict(self.payload_errors),
                "suspect_readings": dict(self.suspect),
                "suspect_inserted": stored.suspect_inserted,
                "readings_revised": stored.readings_revised,
                "readings_inserted": stored.readings_inserted,
                "readings_duplicate": stored.readings_duplicate,
                "messages_inserted": stored.messages_inserted,
                "messages_duplicate": stored.messages_duplicate,
                "events_inserted": stored.events_inserted,
                "events_duplicate": stored.events_duplicate,
                "replies_inserted": stored.replies_inserted,
                "replies_duplicate": stored.replies_duplicate,
                "statuses_saved": stored.statuses_saved,
                "statuses_stale": stored.statuses_stale,
                "commits": self.commits,
                "commit_errors": self.commit_errors,
                "ingest_lag_s": self.ingest_lag_s,
                "last_commit_at": self.last_commit_at,
            }


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


# (name, type, help, [(labels, value)]): metric families other parts of the collector add to the page
Family = tuple[str, str, str, list[tuple[dict[str, str], float]]]


def render(
    counters: IngestCounters,
    states: dict[StationState, int],
    *,
    mqtt_connected: bool,
    queue_depth: int,
    extra: Sequence[Family] = (),
) -> str:
    """The /metrics page."""
    snap = counters.snapshot()
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            number = str(value) if isinstance(value, int) else repr(float(value))
            lines.append(f"{name}{{{label_text}}} {number}" if label_text else f"{name} {number}")

    metric(
        "qingliu_collector_stations_online",
        "gauge",
        "Stations online or degraded (heard recently).",
        [({}, states.get(StationState.ONLINE, 0) + states.get(StationState.DEGRADED, 0))],
    )
    metric(
        "qingliu_collector_stations",
        "gauge",
        "Stations by state.",
        [({"state": s.value}, states.get(s, 0)) for s in StationState],
    )
    metric(
        "qingliu_collector_readings_ingested_total",
        "counter",
        "Readings stored (first arrival).",
        [({}, int(snap["readings_inserted"]))],
    )
    metric(
        "qingliu_collector_readings_duplicate_total",
        "counter",
        "Readings that were already stored.",
        [({}, int(snap["readings_duplicate"]))],
    )
    metric(
        "qingliu_collector_messages_duplicate_total",
        "counter",
        "Readings batches whose seq was stored.",
        [({}, int(snap["messages_duplicate"]))],
    )
    received: dict[str, int] = snap["received"]
    metric(
        "qingliu_collector_messages_received_total",
        "counter",
        "Valid messages received, by type.",
        [({"type": k}, v) for k, v in sorted(received.items())],
    )
    errors: dict[str, int] = snap["payload_errors"]
    metric(
        "qingliu_collector_payload_errors_total",
        "counter",
        "Payloads quarantined by the main process (refused by validation or by the store), by reason; kept "
        "across restarts (the receiving process's cheap refusals: qingliu_collector_receiver_rejected_total).",
        [({"reason": k}, v) for k, v in sorted(errors.items())],
    )
    suspect: dict[str, int] = snap["suspect_readings"]
    metric(
        "qingliu_collector_suspect_readings_total",
        "counter",
        "Readings received with a sample time outside the collector's window, kept apart, by reason.",
        [({"reason": k}, v) for k, v in sorted(suspect.items())],
    )
    metric(
        "qingliu_collector_reading_revisions_total",
        "counter",
        "Readings whose identity was stored with another value or flag: kept as revisions.",
        [({}, int(snap["readings_revised"]))],
    )
    metric(
        "qingliu_collector_commits_total",
        "counter",
        "Store transactions committed (by the applier).",
        [({}, int(snap["commits"]))],
    )
    metric(
        "qingliu_collector_commit_errors_total",
        "counter",
        "Store transactions that failed.",
        [({}, int(snap["commit_errors"]))],
    )
    lag = snap["ingest_lag_s"]
    metric(
        "qingliu_collector_ingest_lag_seconds",
        "gauge",
        "Commit time minus sent_at of the newest live batch in the last commit.",
        [({}, float(lag))] if lag is not None else [],
    )
    metric(
        "qingliu_collector_ingest_queue_depth",
        "gauge",
        "Messages in the inbox, acknowledged to the broker and not yet applied to the store.",
        [({}, queue_depth)],
    )
    metric(
        "qingliu_collector_mqtt_connected",
        "gauge",
        "1 when the receiving process is connected to the broker.",
        [({}, 1 if mqtt_connected else 0)],
    )
    for family in extra:
        metric(*family)
    return "\n".join(lines) + "\n"


def receiver_families(
    counters: dict[str, int],
    *,
    restarts: int,
    running: bool,
    inbox_depth: int,
    inbox_oldest_age_s: float,
    inbox_bytes: int,
) -> list[Family]:
    """The receiving process and its inbox on /metrics. ``counters``: the inbox's counters table (kept across
    restarts of the collector, like the inbox itself)."""
    rejected = sorted(
        (k.removeprefix("rejected:"), v) for k, v in counters.items() if k.startswith("rejected:")
    )

    def total(name: str) -> list[tuple[dict[str, str], float]]:
        return [({}, counters.get(name, 0))]

    return [
        (
            "qingliu_collector_receiver_up",
            "gauge",
            "1 when the receiving process runs.",
            [({}, 1 if running else 0)],
        ),
        (
            "qingliu_collector_receiver_restarts_total",
            "counter",
            "Times the receiving process died and was started again.",
            [({}, restarts)],
        ),
        (
            "qingliu_collector_receiver_accepted_total",
            "counter",
            "Messages committed to the inbox.",
            total("accepted"),
        ),
        (
            "qingliu_collector_receiver_rejected_total",
            "counter",
            "Messages refused by the receiving process's cheap checks (acknowledged, not stored), by reason.",
            [({"reason": r}, n) for r, n in rejected],
        ),
        (
            "qingliu_collector_receiver_commits_total",
            "counter",
            "Inbox transactions committed.",
            total("commits"),
        ),
        (
            "qingliu_collector_receiver_commit_errors_total",
            "counter",
            "Inbox transactions that failed (retried; nothing acknowledged).",
            total("commit_errors"),
        ),
        (
            "qingliu_collector_receiver_acks_total",
            "counter",
            "Acknowledgements sent after the inbox commit.",
            total("acks"),
        ),
        (
            "qingliu_collector_receiver_acks_skipped_total",
            "counter",
            "Acknowledgements not sent: the connection the message came on was lost (the broker redelivers).",
            total("acks_skipped"),
        ),
        (
            "qingliu_collector_receiver_quota_pauses_total",
            "counter",
            "Times the inbox reached inbox.max_bytes and the receiver stopped acknowledging.",
            total("quota_pauses"),
        ),
        (
            "qingliu_collector_inbox_depth",
            "gauge",
            "Messages in the inbox, not yet applied.",
            [({}, inbox_depth)],
        ),
        (
            "qingliu_collector_inbox_oldest_age_seconds",
            "gauge",
            "Age of the oldest message in the inbox (0 when empty).",
            [({}, inbox_oldest_age_s)],
        ),
        ("qingliu_collector_inbox_bytes", "gauge", "Inbox file and WAL size on disk.", [({}, inbox_bytes)]),
    ]
