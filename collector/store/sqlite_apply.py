"""``apply`` on SQLite: many messages in one transaction, every reading of every batch in one ``executemany``.

Identities decide what is new (collector/store/base.py): ``INSERT OR IGNORE`` and the connection's change
count say how many rows went in. A stored reading identity arriving with another value or flag is kept as a
revision, never written over; readings outside the time window go to ``suspect_readings``, never to
``readings`` or ``latest``. Runs inside the store's transaction; the store updates its in-memory latest values
after the commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from collector.store import records
from collector.store.base import ApplyResult, Received, value_key
from collector.store.dialect import SQLITE
from collector.store.readback import ReadBack
from collector.timestamps import to_us
from protocols.flags import Flag
from protocols.messages import Reading, ReadingBatch

_FLAG_TEXT = {flag: flag.value for flag in Flag}  # Enum.value is a slow property; this runs per reading

Newest = dict[tuple[str, str], tuple[Reading, int]]  # (station, param) → newest reading of the call, received
MESSAGES_PER_INSERT = 500  # rows of one multi-row insert (6 parameters each, well under SQLite's 32766)


def apply(
    db: sqlite3.Connection, read_back: ReadBack, items: Sequence[Received]
) -> tuple[ApplyResult, Newest]:
    """Write ``items``; the counts, and the newest reading per (station, param) for the in-memory latest."""
    result = ApplyResult()
    batches: list[tuple[Any, ...]] = []  # the message record of every readings batch: one insert per call
    rows: list[tuple[Any, ...]] = []  # every reading of every batch: one executemany per call
    suspects: list[tuple[Any, ...]] = []  # readings outside the time window
    newest: Newest = {}
    newest_t: dict[tuple[str, str], int] = {}  # the sample time of each of ``newest``, in µs
    for item in items:
        message, received = item.message, to_us(item.received_at)
        if isinstance(message, ReadingBatch):
            batches.append(
                (
                    message.station,
                    message.seq,
                    message.lane.value,
                    to_us(message.sent_at),
                    received,
                    len(message.readings),
                )
            )
            _queue_readings(message, received, rows, newest, newest_t, item.suspect, suspects)
        else:
            records.apply_message(db, SQLITE, read_back, message, received, result)
    if batches:
        _insert_messages(db, batches, result)
    if rows:
        _insert_readings(db, rows, newest, result)
    if suspects:
        before = db.total_changes
        db.executemany("INSERT OR IGNORE INTO suspect_readings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", suspects)
        inserted = db.total_changes - before
        result.suspect_inserted += inserted
        result.suspect_duplicate += len(suspects) - inserted
    return result, newest


def _insert(db: sqlite3.Connection, sql: str, args: Sequence[Any]) -> int:
    """1 when the row went in, 0 when its identity was already held."""
    before = db.total_changes
    db.execute(sql, args)
    return 1 if db.total_changes > before else 0


def _insert_messages(db: sqlite3.Connection, batches: list[tuple[Any, ...]], result: ApplyResult) -> None:
    """The message records, a few hundred per statement; ``RETURNING`` names those that went in (a
    (station, seq) already held, or twice in the call, is a duplicate: the first stays)."""
    for start in range(0, len(batches), MESSAGES_PER_INSERT):
        chunk = batches[start : start + MESSAGES_PER_INSERT]
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
        new = db.execute(
            f"INSERT OR IGNORE INTO messages VALUES {values} RETURNING station, seq",
            [arg for row in chunk for arg in row],
        ).fetchall()
        result.messages_inserted += len(new)
        result.messages_duplicate += len(chunk) - len(new)
        result.new_batches.update((station, seq) for station, seq in new)


def _insert_readings(
    db: sqlite3.Connection, rows: list[tuple[Any, ...]], newest: Newest, result: ApplyResult
) -> None:
    # Readings are deduplicated on their own identity: a resend carries old readings under a new seq.
    before = db.total_changes
    db.executemany("INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    inserted = db.total_changes - before
    result.readings_inserted += inserted
    result.readings_duplicate += len(rows) - inserted
    if inserted < len(rows):  # only then can a row differ from the one stored
        _keep_revisions(db, rows, result)
    # The latest value per parameter is kept in its own small table so the dashboard never scans history: one
    # row per (station, param) of this call, the newest; a newer t wins over the table.
    db.executemany(
        "INSERT INTO latest VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station, param) DO UPDATE SET"
        " t = excluded.t, value = excluded.value, flag = excluded.flag, device = excluded.device,"
        " received_at = excluded.received_at WHERE excluded.t > latest.t",
        [
            (station, param, to_us(r.t), r.value, _FLAG_TEXT[r.flag], r.device, received)
            for (station, param), (r, received) in newest.items()
        ],
    )


def _keep_revisions(db: sqlite3.Connection, rows: list[tuple[Any, ...]], result: ApplyResult) -> None:
    """Rows whose identity is stored with another value or flag go to ``reading_revisions`` (the stored value
    stays as it is); an identical re-send is a plain duplicate."""
    revised: list[tuple[Any, ...]] = []
    for station, param, t, value, flag, _device, seq, received in rows:
        held = db.execute(
            "SELECT value, flag FROM readings WHERE station = ? AND param = ? AND t = ?", (station, param, t)
        ).fetchone()
        if held is not None and (held[0] != value or held[1] != flag):
            revised.append((station, param, t, value_key(value), flag, value, seq, received))
    for row in revised:
        if _insert(db, "INSERT OR IGNORE INTO reading_revisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row):
            result.readings_revised += 1
            result.revisions[row[0]] = result.revisions.get(row[0], 0) + 1


def _queue_readings(
    batch: ReadingBatch,
    received: int,
    rows: list[tuple[Any, ...]],
    newest: Newest,
    newest_t: dict[tuple[str, str], int],
    suspect: Mapping[int, str],
    suspects: list[tuple[Any, ...]],
) -> None:
    """Queue the batch's readings in ``rows`` and its newest values in ``newest``; readings outside the time
    window (``suspect``) in ``suspects``, never in ``newest``."""
    station, seq = batch.station, batch.seq
    flag_text = _FLAG_TEXT
    if suspect:
        for i, r in enumerate(batch.readings):
            reason = suspect.get(i)
            if reason is not None:
                suspects.append(
                    (
                        station,
                        r.param,
                        to_us(r.t),
                        r.value,
                        flag_text[r.flag],
                        r.device,
                        seq,
                        received,
                        reason,
                    )
                )
        readings = [r for i, r in enumerate(batch.readings) if i not in suspect]
    else:
        readings = batch.readings
    add = rows.append
    for r in readings:
        param, t = r.param, to_us(r.t)
        add((station, param, t, r.value, flag_text[r.flag], r.device, seq, received))
        key = (station, param)
        held = newest_t.get(key)
        if held is None or t > held:  # the first of equal times wins, as in the table
            newest_t[key] = t
            newest[key] = (r, received)
