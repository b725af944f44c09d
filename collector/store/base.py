"""The store seam: what the collector keeps, as a Protocol that SQLite (now) and PostgreSQL (later) implement.

Identities decide idempotence (invariant 3): a reading is (station, param, t), a message (station, seq), an
event (station, id), a command and its reply (station, id). Writing the same thing twice stores it once and is
counted as a duplicate. ``apply`` writes many messages in one transaction; when it returns they are committed,
and only then may the MQTT messages be acknowledged.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from collector.alerts.model import Alert
from protocols.messages import Command, CommandReply, Event, ReadingBatch, StationState, Status

Storable = ReadingBatch | Status | Event | CommandReply


@dataclass(frozen=True, slots=True)
class Received:
    """One validated message and when the collector received it (UTC)."""

    message: Storable
    received_at: datetime


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
    # (station, seq) of the readings batches stored for the first time by this call; not accumulated by add()
    new_batches: set[tuple[str, int]] = field(default_factory=set)

    def add(self, other: ApplyResult) -> None:
        for name in self.__slots__:
            if name != "new_batches":
                setattr(self, name, getattr(self, name) + getattr(other, name))


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

    def counts(self) -> dict[str, int]:
        """Row counts per table, for /api/stats."""

    def ping(self) -> bool:
        """True when the store answers a trivial query."""

    def close(self) -> None: ...


def alerts_query(
    *, state: str | None, station: str | None, severity: str | None, limit: int, mark: str
) -> tuple[str, list[Any]]:
    """The alert-list query for either store; ``mark`` is the driver's placeholder ("?" or "%s")."""
    sql = "SELECT body FROM alerts WHERE 1 = 1"
    args: list[Any] = []
    if state == "active":
        sql += " AND status IN ('open', 'acknowledged')"
    elif state is not None:
        sql += f" AND status = {mark}"
        args.append(state)
    if station is not None:
        sql += f" AND station = {mark}"
        args.append(station)
    if severity is not None:
        sql += f" AND severity = {mark}"
        args.append(severity)
    sql += f" ORDER BY opened_at DESC, id LIMIT {mark}"
    args.append(limit)
    return sql, args


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    """Integer microseconds since the epoch, UTC — how the stores, the inbox and the gap planner keep time.
    Aware datetimes subtract across zones exactly; a naive one is taken to be UTC (as ``utc`` does)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _ONE_US


def from_us(value: int) -> datetime:
    """The inverse of ``to_us``, exact to the microsecond (no float on the way)."""
    return datetime.fromtimestamp(value // 1_000_000, tz=UTC).replace(microsecond=value % 1_000_000)


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


def to_json_dict(value: Any) -> Any:
    """A JSON-friendly copy of pydantic model data (datetimes become UTC ISO strings)."""
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: to_json_dict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_dict(v) for v in value]
    return value
