"""``apply`` on PostgreSQL: many messages in one transaction, every reading of every batch in one ``INSERT ...
SELECT FROM unnest(...) ON CONFLICT DO NOTHING``, whose row count is the number of new readings.

Identities decide what is new (collector/store/base.py). A stored reading identity arriving with another value
or flag is kept as a revision, never written over; readings outside the time window go to
``suspect_readings``, never to ``readings`` or ``latest``. Runs inside the store's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.store import records
from collector.store.base import ApplyResult, Received, utc, value_key
from collector.store.dialect import POSTGRES
from collector.store.readback import ReadBack
from protocols.flags import Flag
from protocols.messages import Reading, ReadingBatch

_FLAG_TEXT = {flag: flag.value for flag in Flag}  # Enum.value is a slow property; this runs per reading

Newest = dict[
    tuple[str, str], tuple[Reading, datetime]
]  # (station, param) → newest reading of the call, received


@dataclass(slots=True)
class _Rows:
    """Readings as columns, for one ``unnest`` insert."""

    station: list[str] = field(default_factory=list)
    param: list[str] = field(default_factory=list)
    t: list[datetime] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    flag: list[str] = field(default_factory=list)
    device: list[str | None] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    received: list[datetime] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)  # suspect readings only

    def add(self, station: str, r: Reading, seq: int, received: datetime) -> None:
        self.station.append(station)
        self.param.append(r.param)
        self.t.append(r.t)
        self.value.append(r.value)
        self.flag.append(_FLAG_TEXT[r.flag])
        self.device.append(r.device)
        self.seq.append(seq)
        self.received.append(received)

    def columns(self) -> tuple[list[Any], ...]:
        """The readings columns in table order, for ``_UNNEST_READINGS``."""
        return (self.station, self.param, self.t, self.value, self.flag, self.device, self.seq, self.received)


_UNNEST_READINGS = (
    "unnest(%s::text[], %s::text[], %s::timestamptz[], %s::float8[], %s::text[], %s::text[], %s::bigint[],"
    " %s::timestamptz[])"
)


def apply(db: Any, read_back: ReadBack, items: Sequence[Received]) -> ApplyResult:
    result = ApplyResult()
    readings = _Rows()  # every reading of every batch: one INSERT per call
    suspects = _Rows()  # readings outside the time window
    newest: Newest = {}
    for item in items:
        message, received = item.message, utc(item.received_at)
        if isinstance(message, ReadingBatch):
            _apply_batch(db, message, received, result, readings, newest, item.suspect, suspects)
        else:
            records.apply_message(db, POSTGRES, read_back, message, received, result)
    if readings.station:
        _insert_readings(db, readings, newest, result)
    if suspects.station:
        cur = db.execute(
            "INSERT INTO suspect_readings SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[],"
            " %s::float8[], %s::text[], %s::text[], %s::bigint[], %s::timestamptz[], %s::text[])"
            " ON CONFLICT DO NOTHING",
            (*suspects.columns(), suspects.reason),
        )
        result.suspect_inserted += cur.rowcount
        result.suspect_duplicate += len(suspects.station) - cur.rowcount
    return result


def _apply_batch(
    db: Any,
    batch: ReadingBatch,
    received: datetime,
    result: ApplyResult,
    readings: _Rows,
    newest: Newest,
    suspect: Mapping[int, str],
    suspects: _Rows,
) -> None:
    """Store the message record now; queue its readings and newest values for ``_insert_readings``; readings
    outside the time window (``suspect``) in ``suspects``, never in ``newest``."""
    cur = db.execute(
        "INSERT INTO messages VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (batch.station, batch.seq, batch.lane.value, batch.sent_at, received, len(batch.readings)),
    )
    if cur.rowcount:
        result.messages_inserted += 1
        result.new_batches.add((batch.station, batch.seq))
    else:
        result.messages_duplicate += 1
    station, seq = batch.station, batch.seq
    if suspect:
        for i, r in enumerate(batch.readings):
            reason = suspect.get(i)
            if reason is not None:
                suspects.add(station, r, seq, received)
                suspects.reason.append(reason)
        kept = [r for i, r in enumerate(batch.readings) if i not in suspect]
    else:
        kept = batch.readings
    for r in kept:
        readings.add(station, r, seq, received)
        key = (station, r.param)
        held = newest.get(key)
        if held is None or r.t > held[0].t:  # the first of equal times wins, as in the table
            newest[key] = (r, received)


def _insert_readings(db: Any, rows: _Rows, newest: Newest, result: ApplyResult) -> None:
    # Readings are deduplicated on their own identity too: a resend carries old readings under a new seq.
    cur = db.execute(
        f"INSERT INTO readings SELECT * FROM {_UNNEST_READINGS} ON CONFLICT DO NOTHING", rows.columns()
    )
    result.readings_inserted += cur.rowcount
    result.readings_duplicate += len(rows.station) - cur.rowcount
    if cur.rowcount < len(rows.station):  # only then can a row differ from the one stored
        _keep_revisions(db, rows, result)
    # The latest value per parameter, one row per (station, param) of this call (an upsert may not touch a row
    # twice); the newer t wins over the table's.
    latest = [(station, param, r, received) for (station, param), (r, received) in newest.items()]
    if not latest:
        return
    db.execute(
        "INSERT INTO latest SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::float8[],"
        " %s::text[], %s::text[], %s::timestamptz[]) ON CONFLICT (station, param) DO UPDATE SET"
        " t = excluded.t, value = excluded.value, flag = excluded.flag, device = excluded.device,"
        " received_at = excluded.received_at WHERE excluded.t > latest.t",
        (
            [x[0] for x in latest],
            [x[1] for x in latest],
            [x[2].t for x in latest],
            [x[2].value for x in latest],
            [_FLAG_TEXT[x[2].flag] for x in latest],
            [x[2].device for x in latest],
            [x[3] for x in latest],
        ),
    )


def _keep_revisions(db: Any, rows: _Rows, result: ApplyResult) -> None:
    """Rows whose identity is stored with another value or flag go to ``reading_revisions`` (the stored value
    stays as it is); an identical re-send is a plain duplicate."""
    revised = db.execute(
        f"SELECT x.station, x.param, x.t, x.value, x.flag, x.seq, x.received FROM {_UNNEST_READINGS}"
        " AS x (station, param, t, value, flag, device, seq, received) JOIN readings r"
        " ON r.station = x.station AND r.param = x.param AND r.t = x.t"
        " WHERE r.value IS DISTINCT FROM x.value OR r.flag <> x.flag",
        rows.columns(),
    ).fetchall()
    for station, param, t, value, flag, seq, received in revised:
        cur = db.execute(
            "INSERT INTO reading_revisions VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (station, param, t, value_key(value), flag, value, seq, received),
        )
        if cur.rowcount:
            result.readings_revised += 1
            result.revisions[station] = result.revisions.get(station, 0) + 1
