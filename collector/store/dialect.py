"""How each engine spells what the two stores share: placeholders, times, stored bodies, insert-if-new.

Both stores keep the same tables and identities; SQLite keeps times as integer µs and bodies as JSON text,
PostgreSQL as ``timestamptz`` and ``jsonb``. A ``Dialect`` carries those differences, so that a query both
engines run alike is written once (records.py, alert_rows.py, quarantine_rows.py) and handed the engine's
dialect. Pure: no connection here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from pydantic import BaseModel

from collector.store.base import utc
from collector.timestamps import from_us, to_us

# pydantic models (alerts) or msgspec structs (the wire messages, protocols/messages.py)
M = TypeVar("M", bound=BaseModel | msgspec.Struct)

# The store's fetch under its lock: (sql, args) → rows. Shared reads take it, so they parse outside the lock.
Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class Dialect:
    mark: str  # the driver's placeholder
    time: Callable[[datetime], Any]  # a datetime as the engine keeps it
    when: Callable[[Any], datetime]  # a stored time back as an aware UTC datetime
    json_text: bool  # bodies are JSON text (SQLite), not documents the driver already parsed (jsonb)
    insert_new: str  # an insert that skips a row whose identity is held: {table}, {marks}
    for_update: str  # what locks a row read before it is written ("": SQLite's write lock covers it)
    bucket: str = ""  # the bucket index of a reading's t for a width of {width} µs (series.py)
    hour_start: str = ""  # the time at which UTC hour {hour} (whole hours since the epoch) begins
    us: str = ""  # a reading's t as integer µs since the epoch

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def insert_if_new(self, table: str, n: int) -> str:
        """``INSERT`` of ``n`` values into ``table`` that leaves a held identity as it is."""
        return self.insert_new.format(table=table, marks=self.marks(n))

    def where(self, *conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
        """`` AND <condition> <mark>`` for each (condition, value) whose value is given, and those values."""
        given = [(condition, value) for condition, value in conditions if value is not None]
        return "".join(f" AND {condition} {self.mark}" for condition, _ in given), [v for _, v in given]

    def model(self, cls: type[M], body: Any) -> M:
        """A stored body read back by its model (raises a ValueError when it no longer validates)."""
        if issubclass(cls, msgspec.Struct):
            found: M = msgspec.json.decode(body, type=cls) if self.json_text else msgspec.convert(body, cls)
            return found
        return cls.model_validate_json(body) if self.json_text else cls.model_validate(body)

    def strings(self, stored: Any) -> tuple[str, ...]:
        """A stored JSON list of strings (a transition's reasons)."""
        return tuple(json.loads(str(stored))) if self.json_text else tuple(stored)


def _from_us(value: Any) -> datetime:
    return from_us(int(value))


# INSERT OR IGNORE, not ON CONFLICT DO NOTHING: it is what SQLite has always run here (it also skips a row
# that breaks NOT NULL, which a validated message never does).
SQLITE = Dialect(
    "?",
    to_us,
    _from_us,
    True,
    "INSERT OR IGNORE INTO {table} VALUES ({marks})",
    "",
    "(t / {width})",
    "({hour}) * 3600000000",
    "t",
)
POSTGRES = Dialect(
    "%s",
    utc,
    utc,
    False,
    "INSERT INTO {table} VALUES ({marks}) ON CONFLICT DO NOTHING",
    " FOR UPDATE",
    "floor(extract(epoch from t) * 1000000 / {width})::bigint",
    "to_timestamp(({hour}) * 3600)",
    "(extract(epoch from t) * 1000000)::bigint",
)
