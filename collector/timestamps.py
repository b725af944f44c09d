"""Times as integer microseconds since the epoch, UTC: how the stores, the inbox, the gap planner and the alert
engine's rise history keep them (exact, no float on the way). A leaf module: the store's base and the alert
model both import it, and neither may import the other's side of that pair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    """Integer microseconds since the epoch, UTC. Aware datetimes subtract across zones exactly; a naive one is
    taken to be UTC (as ``utc`` does)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // ONE_US


def from_us(value: int) -> datetime:
    """The inverse of ``to_us``, exact to the microsecond (no float on the way)."""
    return datetime.fromtimestamp(value // 1_000_000, tz=UTC).replace(microsecond=value % 1_000_000)
