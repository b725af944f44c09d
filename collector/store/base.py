"""The store seam: what the collector keeps, as a Protocol that SQLite and PostgreSQL implement.

Identities decide idempotence (invariant 3): a reading is (station, param, t), a message (station, seq), an
event (station, id), a command and its reply (station, id). Writing the same thing twice stores it once and is
counted as a duplicate. ``apply`` writes many messages in one transaction; when it returns they are committed,
and only then may the MQTT messages be acknowledged.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from collector.alerts.model import Alert
from collector.store.auth_rows import AuthRows
from collector.store.manual_rows import ManualRow, StoredManualResult
from collector.store.report_rows import Arrivals, ReportRecord, StoredReport
from collector.store.stats import DailyMean, ItemStats
from protocols.messages import Command, CommandReply, Event, ReadingBatch, StationState, Status

if TYPE_CHECKING:
    from collector.store.series import ReadingBucket

Storable = ReadingBatch | Status | Event | CommandReply

NO_SUSPECTS: Mapping[int, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Received:
    """One validated message and when the collector received it (UTC).

    ``suspect``: for a readings batch, the positions of readings whose sample time is outside the receiver's
    time window (``collector.ingest.time_suspects``), with the reason. The store keeps those in ``suspect_readings``,
    never in ``readings`` or ``latest``."""

    message: Storable
    received_at: datetime
    suspect: Mapping[int, str] = field(default_factory=lambda: NO_SUSPECTS)


@dataclass(slots=True)
class ApplyResult:
    readings_inserted: int = 0
    readings_duplicate: int = 0
    messages_inserted: int = 0
    messages_duplicate: int = 0  # a readings batch whose (station, seq) was already stored
    events_inserted: int = 0
    events_duplicate: int = 0
    replies_inserted: int = 0
    replies_duplicate: int = 0
    statuses_saved: int = 0
    statuses_stale: int = 0  # older than the status already held
    suspect_inserted: int = 0  # readings outside the time window, kept apart (first arrival)
    suspect_duplicate: int = 0
    readings_revised: int = 0  # a stored identity arrived with another value or flag: kept as a revision
    # (station, seq) of the readings batches stored for the first time by this call; not accumulated by add()
    new_batches: set[tuple[str, int]] = field(default_factory=set)
    # station → new revisions stored by this call; not accumulated by add()
    revisions: dict[str, int] = field(default_factory=dict)

    def add(self, other: ApplyResult) -> None:
        """Add ``other``'s counts (not its per-call sets: a running total must not grow with them)."""
        for name in self.__slots__:
            if name not in ("new_batches", "revisions"):
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def merge(self, other: ApplyResult) -> None:
        """Add ``other``'s counts and its per-call sets (the results of one batch applied in parts)."""
        self.add(other)
        self.new_batches |= other.new_batches
        for station, n in other.revisions.items():
            self.revisions[station] = self.revisions.get(station, 0) + n


@dataclass(frozen=True, slots=True)
class StoredReading:
    station: str
    param: str
    t: datetime
    value: float | None
    flag: str
    device: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class ValidRange:
    """One item's valid values (flag N or T, with a value) in a time range: how many, the lowest and the highest,
    each with the first time it was seen."""

    n: int
    low: float
    low_t: datetime
    high: float
    high_t: datetime


@dataclass(frozen=True, slots=True)
class StoredStatus:
    status: Status
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Transition:
    station: str
    at: datetime
    old: StationState | None
    new: StationState
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredCommand:
    command: Command
    reply: CommandReply | None = None
    reply_received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event: Event
    received_at: datetime


@dataclass(frozen=True, slots=True)
class SeqSummary:
    """Received sequence numbers of one station as closed ranges, and the holes between them."""

    ranges: list[tuple[int, int]] = field(default_factory=list)
    missing: list[tuple[int, int]] = field(default_factory=list)

    @property
    def missing_count(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.missing)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An inbox message that could not be stored, to keep in quarantine (collector/ingest.py)."""

    topic: str
    payload: bytes
    station: str | None  # from the topic, when it parses
    reason: str  # short code: a PayloadError reason, "invalid" or "store_rejected"
    error: str
    seen_at: datetime  # when the receiver received it

    @property
    def digest(self) -> str:
        return dead_letter_digest(self.topic, self.payload)


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    id: int
    station: str | None
    topic: str
    payload: bytes
    reason: str
    error: str
    first_seen: datetime
    last_seen: datetime
    count: int


@dataclass(frozen=True, slots=True)
class SuspectReading:
    """A reading kept apart because its sample time is outside the receiver's time window."""

    station: str
    param: str
    t: datetime
    value: float | None
    flag: str
    seq: int | None
    received_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Revision:
    """A later value or flag for a reading identity already stored (the first stays in ``readings``)."""

    station: str
    param: str
    t: datetime
    value: float | None
    flag: str
    seq: int | None
    received_at: datetime


MAX_ERROR_CHARS = 2000


def dead_letter_digest(topic: str, payload: bytes) -> str:
    """A dead letter's identity: a redelivered poison message bumps the count of its row."""
    return hashlib.sha256(topic.encode("utf-8", "replace") + b"\0" + payload).hexdigest()


def clean_text(value: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``value`` as text any store can hold: no lone surrogates, no NUL, at most ``limit`` characters."""
    text = value[:limit].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")
    return text[:limit]


def value_key(value: float | None) -> str:
    """A revision's value as part of its identity (exact; NULL-safe)."""
    return "null" if value is None else float(value).hex()


class Store(Protocol):
    def apply(self, items: Sequence[Received]) -> ApplyResult:
        """Write every item in one transaction; committed when this returns (raises if not)."""

    def readings(
        self,
        station: str,
        *,
        param: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
        newest: bool = False,
    ) -> list[StoredReading]:
        """Readings of ``station`` with ``start <= t < end``, oldest first, at most ``limit``: the first
        ``limit`` of the range, or with ``newest`` the last ``limit``."""

    def reading_marks(
        self, station: str, start: datetime, end: datetime
    ) -> dict[str, list[tuple[int, bool]]]:
        """Each parameter's readings of ``[start, end)`` as (sample time in µs, flag N or T), in no order: what
        capture rates count (collector/health/capture.py), without an object per reading."""

    def device_owners(self, station: str, start: datetime, end: datetime) -> dict[str, str]:
        """Each parameter's device over ``[start, end)``: the one that reported most of its readings (of
        equals, the one heard first)."""

    def latest_valid(self, station: str, start: datetime, end: datetime) -> dict[str, StoredReading]:
        """Each parameter's newest valid reading (flag N or T, with a value) of ``[start, end)``."""

    def flag_counts(self, station: str, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
        """Per parameter, how many readings of ``[start, end)`` carry each flag."""

    def valid_ranges(
        self, station: str, params: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, ValidRange]:
        """Each of ``params``' valid values of ``[start, end)`` as a ValidRange (absent: no valid value), read in
        the store (an outfall's judgement runs at every opening of an exceedance downstream)."""

    def reading_buckets(
        self, station: str, param: str, start: datetime, end: datetime, points: int
    ) -> tuple[int | None, list[StoredReading] | list[ReadingBucket]]:
        """A chart's series of ``[start, end)``: the readings themselves (width None) when there are at most
        ``points``, else buckets of the narrowest width (seconds) that gives at most ``points``
        (collector/store/series.py), both oldest first."""

    def latest(self, station: str) -> dict[str, StoredReading]:
        """The most recent reading (by sample time) of each parameter of ``station``."""

    def last_reading_at(self, station: str) -> datetime | None: ...

    def statuses(self) -> dict[str, StoredStatus]:
        """The latest status of every station that has sent one."""

    def add_transitions(self, transitions: Sequence[Transition]) -> None: ...

    def transitions(self, station: str, *, limit: int = 50) -> list[Transition]:
        """Most recent first."""

    def transitions_between(
        self, station: str, start: datetime, end: datetime
    ) -> tuple[Transition | None, list[Transition]]:
        """The last transition at or before ``start`` (the state then) and those in (start, end), in order."""

    def last_transitions(self) -> dict[str, Transition]:
        """The latest transition of each station (to restore state on start)."""

    def save_command(self, command: Command) -> None: ...

    def command(self, station: str, command_id: str) -> StoredCommand | None: ...

    def events(self, station: str, *, limit: int = 50) -> list[StoredEvent]:
        """Most recent first."""

    def seq_summary(self, station: str) -> SeqSummary: ...

    def save_alerts(self, alerts: Sequence[Alert]) -> None:
        """Insert or update alerts by id (each snapshot replaces the previous one)."""

    def alerts(
        self,
        *,
        state: str | None = None,
        station: str | None = None,
        severity: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Newest first; ``state`` open, acknowledged, resolved or active (open or acknowledged)."""

    def alert(self, alert_id: str) -> Alert | None: ...

    def save_blob(self, key: str, text: str) -> None:
        """Keep a small document (e.g. the alert engine's memory) under ``key``."""

    def load_blob(self, key: str) -> str | None: ...

    # -- quarantine, suspects, revisions ---------------------------------------------------------------------

    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep ``letters`` (a known one, by digest, bumps its count and last_seen) and add them to the
        persisted totals per reason; how many new rows. One transaction."""

    def dead_letters(
        self,
        *,
        station: str | None = None,
        reason: str | None = None,
        ids: Sequence[int] | None = None,
        limit: int = 100,
    ) -> list[StoredDeadLetter]:
        """Newest (last_seen) first."""

    def remove_dead_letters(self, ids: Sequence[int]) -> int: ...

    def dead_letter_counts(self) -> dict[str, int]:
        """Every message ever quarantined, by reason (persisted: re-applying does not lower it)."""

    def suspect_readings(self, station: str, *, limit: int = 100) -> list[SuspectReading]:
        """Newest (t) first."""

    def revisions(self, station: str, *, limit: int = 100) -> list[Revision]:
        """Newest (received) first."""

    # -- assessment: manual results and period aggregates ----------------------------------------------------

    def save_manual_results(
        self, rows: Sequence[ManualRow], *, imported_at: datetime | None = None
    ) -> tuple[int, int, int]:
        """Keep manual results by (section, param, t) in one transaction: (inserted, unchanged, changed).
        The same value and flag again is unchanged (re-importing a file changes nothing); another value or flag
        replaces the held row, which is kept in ``manual_result_history``. A key given twice is a ValueError."""

    def manual_results(
        self, section: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[StoredManualResult]:
        """Manual results of ``section`` with ``start <= t < end``, by time then parameter."""

    def period_stats(
        self, stations: Sequence[str], start: datetime, end: datetime, *, max_time: bool = True
    ) -> dict[tuple[str, str], ItemStats]:
        """Per (station, param): counts, sum, min and max of the valid (N, T) readings in [start, end) and, with
        ``max_time``, when the maximum occurred (a second pass: only the flood ranking needs it); computed by the
        engine. Pairs without a reading in the range are absent."""

    def manual_period_stats(
        self, sections: Sequence[str], start: datetime, end: datetime, *, max_time: bool = True
    ) -> dict[tuple[str, str], ItemStats]:
        """``period_stats`` over manual results, per (section, param)."""

    def daily_means(
        self, station: str, param: str, start: datetime, end: datetime, tz: str = "Asia/Shanghai"
    ) -> list[DailyMean]:
        """Mean of the valid values per local calendar day of ``tz`` (days without readings absent)."""

    def hourly_sums(
        self, station: str, start: datetime, end: datetime
    ) -> dict[str, dict[int, tuple[int, float]]]:
        """Per parameter and UTC hour (whole hours since the epoch), (count, sum) of the valid values of
        [start, end), retired hours included (collector/store/retention_rows.py); hours without one absent."""

    # -- people, sessions, API tokens and the audit log (collector/auth/) --------------------------------------

    def auth(self) -> AuthRows:
        """The users, sessions, API tokens and append-only audit log kept in this store (auth_rows.py)."""

    # -- the products' archive (collector/reports/) ----------------------------------------------------------

    def save_report(self, record: ReportRecord) -> int:
        """Archive one making of a product (every making is kept); its id."""

    def report(self, kind: str, period: str) -> StoredReport | None:
        """The latest making of ``kind``/``period``, with its document; None when none was archived."""

    def reports(self, *, kind: str | None = None, limit: int = 100) -> list[StoredReport]:
        """The latest making of each archived period (of ``kind``), newest period first, without documents."""

    def report_history(self, kind: str, period: str, *, limit: int = 100) -> list[StoredReport]:
        """Every making of ``kind``/``period``, newest first, without documents."""

    def arrivals(self, stations: Sequence[str], start: datetime, end: datetime, since: datetime) -> Arrivals:
        """What was received (readings, revisions of ``stations``) or imported (manual results) after ``since``
        for sample times in [start, end): late data for a product made at ``since``."""

    def unreadable(self) -> dict[str, int]:
        """Stored rows skipped on read-back because they no longer validate, by table."""

    def counts(self) -> dict[str, int]:
        """Row counts per table, for /api/stats."""

    def ping(self) -> bool:
        """True when the store answers a trivial query."""

    def checkpoint(self) -> bool:
        """Cut the write-ahead log back in a quiet moment (SQLite); False when it could not be done now."""

    def retention_stations(self) -> list[str]:
        """Every station with readings ever stored."""

    def oldest_raw(self, station: str) -> datetime | None:
        """The time of the station's oldest raw reading (None: none)."""

    def retire_raw(self, station: str, start: datetime, end: datetime) -> int:
        """Move the station's raw readings in [start, end) into hourly aggregates; how many went."""

    def prepare_partitions(self, now: datetime) -> list[str]:
        """The time partitions of ``now``'s month and the next made when missing (PostgreSQL); those made."""

    def retirable_partitions(self, until: datetime) -> list[str]:
        """The time partitions whose whole range is before ``until``, oldest first ([]: the engine has none)."""

    def retire_partition(self, name: str) -> int:
        """Move a whole time partition's readings into hourly aggregates and drop it; how many went."""

    def close(self) -> None: ...


def supersedes(new: Status, old: Status | None) -> bool:
    """Whether status ``new`` replaces ``old`` as the station's current status. Pure.

    Newer ``at`` wins. The will (state offline) is composed when the agent connects, so its ``at`` is older
    than that run's heartbeats, yet it ends that run: it wins unless the held status comes from a later run
    (``old.started_at`` after the will was written), as when the broker publishes an old connection's will
    after a restarted agent took over.
    """
    if old is None or new.at >= old.at:
        return True
    if new.state is StationState.OFFLINE:
        return old.started_at is None or new.at >= old.started_at
    return False


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value is taken to be UTC already (the store only holds UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def seq_ranges(seqs: Sequence[int]) -> SeqSummary:
    """Group sorted distinct sequence numbers into ranges and list the holes. Pure."""
    ranges: list[tuple[int, int]] = []
    for seq in seqs:
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        elif not ranges or seq > ranges[-1][1]:
            ranges.append((seq, seq))
    return summary_from_ranges(ranges)


def summary_from_ranges(ranges: Sequence[tuple[int, int]]) -> SeqSummary:
    """The holes between sorted, disjoint, closed ranges of received sequence numbers."""
    ordered = list(ranges)
    missing = [(a[1] + 1, b[0] - 1) for a, b in itertools.pairwise(ordered) if b[0] > a[1] + 1]
    return SeqSummary(ranges=ordered, missing=missing)
