"""A parameter's recent valid values for the sudden-rise rule, kept compact.

The rule looks back ``max_gap_s`` (5 h by default) for every parameter it watches at every station, so the
history is the engine's largest state: at 1,000 stations reporting each minute, ~900,000 entries. As a list of
``(datetime, float)`` tuples an entry cost ~130 bytes (tuple, datetime, float), and a 30-minute soak showed the
collector's live Python objects growing by 0.3 MB/min as the five-hour windows filled (issue 19). Here an entry
is two machine numbers, 16 bytes: the sample time in whole microseconds since the epoch (exact: readings
carry microseconds) and the value. Kept in time order, so it is bisected.

It persists as before: a list of ``[time, value]`` pairs in the engine's state (``History``).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, TypeAdapter

from collector.timestamps import from_us, to_us
from collector.wire_types import UtcDatetime


class RiseHistory:
    """Sample times (µs since the epoch) and values, oldest first."""

    __slots__ = ("times", "values")

    def __init__(self, entries: Iterable[tuple[datetime, float]] = ()) -> None:
        self.times = array("q")
        self.values = array("d")
        for t, value in entries:
            self.append(to_us(t), value)

    def __len__(self) -> int:
        return len(self.times)

    def __getitem__(self, i: int) -> tuple[datetime, float]:
        return from_us(self.times[i]), self.values[i]

    def entries(self) -> list[tuple[datetime, float]]:
        return [(from_us(us), value) for us, value in zip(self.times, self.values, strict=True)]

    def append(self, us: int, value: float) -> None:
        self.times.append(us)
        self.values.append(value)

    def drop_before(self, us: int) -> None:
        """Forget the entries older than ``us``."""
        if self.times and self.times[0] < us:
            k = bisect.bisect_left(self.times, us)
            del self.times[:k]
            del self.values[:k]

    def keep_last(self, n: int) -> None:
        if len(self.times) > n:
            del self.times[:-n]
            del self.values[:-n]

    def newest_at_or_before(self, us: int, before: int) -> int:
        """The index of the newest entry at or before ``us`` and strictly before ``before``; -1 for none."""
        j = bisect.bisect_right(self.times, us) - 1
        while j >= 0 and self.times[j] >= before:
            j -= 1
        return j

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RiseHistory) and self.times == other.times and self.values == other.values

    def __repr__(self) -> str:
        return f"RiseHistory({self.entries()!r})"


_ENTRIES: TypeAdapter[list[tuple[UtcDatetime, float]]] = TypeAdapter(list[tuple[UtcDatetime, float]])


def _load(value: Any) -> RiseHistory:
    if isinstance(value, RiseHistory):
        return value
    return RiseHistory(_ENTRIES.validate_python(value))


def _dump(history: RiseHistory) -> list[tuple[datetime, float]]:
    return history.entries()


# The state's field type: validated from and serialised to the list of pairs the state has always held.
History = Annotated[
    RiseHistory, PlainValidator(_load), PlainSerializer(_dump, return_type=list[tuple[datetime, float]])
]
