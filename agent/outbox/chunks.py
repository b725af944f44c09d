"""Chunks: readings stored as the exact JSON text the wire message carries, and the rows that hold them.

A poll's readings are encoded once, when they are stored (``protocols.messages.encode_fragment``); a chunk
holds up to a message's worth, so that draining a backlog moves whole rows into messages without building
or parsing a reading. This module holds the pure part (encoding within the batch limits, grouping rows into
messages, time text) and the row-level statements that insert, merge and delete chunks inside a caller's
transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.outbox.schema import BODY_JOIN, CHUNK_COLUMNS
from protocols.messages import Lane, Reading, decode_fragment, encode_fragment

ENVELOPE_BYTES = 256  # room kept in a batch for the message envelope around the readings
INLINE_BODY_BYTES = 2048  # a new chunk's body up to this stays in its chunks row (a poll: a few hundred)

# A chunk row as selected for batching: id, n, size, body, acquired_at, t_min, t_max.
ChunkRow = tuple[int, int, int, str, int, str, str]
# A chunk ready to insert: n, size, t_min, t_max, body.
NewChunk = tuple[int, int, str, str, str]


@dataclass(frozen=True)
class Batch:
    """A message's worth of readings as wire JSON (``encode_fragment`` text); ``seq`` was assigned in the
    transaction that bound them. ``protocols.messages.batch_payload`` makes the message from it."""

    seq: int
    lane: Lane
    body: str
    count: int

    def readings(self) -> list[Reading]:
        """The readings, decoded (for tools and tests: the publisher sends ``body`` as it is)."""
        return decode_fragment(self.body)


def iso_utc(value: datetime) -> str:
    """Fixed-width UTC ISO 8601, so that text order is time order."""
    # isoformat with its timespec (fixed width, "+00:00" cut) rather than strftime: half the time, once or
    # twice per poll's commit.
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_iso(value: str) -> datetime:
    # fromisoformat (C) rather than strptime: this runs for every reading of every batch, and strptime
    # was the largest cost of draining a backlog. ``iso_utc`` always writes the fixed-width form.
    if not value.endswith("Z"):
        raise ValueError(f"not a stored UTC time: {value!r}")
    return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)


# ----------------------------------------------------------------- pure: encoding and grouping


def encode_chunks(readings: Sequence[Reading], max_n: int, max_bytes: int) -> list[NewChunk]:
    """``readings`` encoded once, split into chunks of at most ``max_n`` readings and ``max_bytes``, in order."""
    if len(readings) <= max_n:  # a poll: one chunk, unless its bytes need more
        group = readings if isinstance(readings, list) else list(readings)
        body = encode_fragment(group)
        size = len(body) if body.isascii() else len(body.encode("utf-8"))
        if size <= max_bytes:
            return [new_chunk(group, body, size)]
    out: list[NewChunk] = []
    for start in range(0, len(readings), max_n):
        group = list(readings[start : start + max_n])
        body = encode_fragment(group)
        size = len(body) if body.isascii() else len(body.encode("utf-8"))
        if size <= max_bytes:
            out.append(new_chunk(group, body, size))
            continue
        # Too many bytes for one message: pack reading by reading (rare: long device names).
        part: list[Reading] = []
        texts: list[str] = []
        used = 0
        for reading in group:
            text = encode_fragment([reading])
            cost = len(text.encode("utf-8")) + (1 if texts else 0)
            if texts and used + cost > max_bytes:
                body = ",".join(texts)
                out.append(new_chunk(part, body, used))
                part, texts, used = [], [], 0
                cost -= 1
            part.append(reading)
            texts.append(text)
            used += cost
        if texts:
            out.append(new_chunk(part, ",".join(texts), used))
    return out


def new_chunk(readings: Sequence[Reading], body: str, size: int) -> NewChunk:
    if len(readings) == 1:  # an analyser's poll
        t = iso_utc(readings[0].t)
        return 1, size, t, t, body
    times = [r.t for r in readings]
    lo, hi = min(times), max(times)
    t_min = iso_utc(lo)
    return len(readings), size, t_min, t_min if hi == lo else iso_utc(hi), body


def group_rows(
    rows: Iterable[Any], max_messages: int, allowance: float, max_n: int, max_bytes: int
) -> list[list[Any]]:
    """Split chunk rows (id, n, size, body, ...) into at most ``max_messages`` messages of ``max_n`` readings
    and ``max_bytes``, whole chunks each, ``allowance`` readings in all (the first chunk always goes)."""
    groups: list[list[Any]] = []
    group: list[Any] = []
    group_n = group_size = total = 0
    for row in rows:
        n, size = row[1], row[2]
        if group and (group_n + n > max_n or group_size + 1 + size > max_bytes):
            groups.append(group)
            group, group_n, group_size = [], 0, 0
            if len(groups) >= max_messages:
                break
        if total and total + n > allowance:
            break
        group.append(row)
        group_n += n
        group_size += size + (1 if group_size else 0)
        total += n
    if group and len(groups) < max_messages:
        groups.append(group)
    return groups


def take_until(rows: Iterable[Any], wanted: int) -> list[tuple[int, int]]:
    """(id, n) rows from the front of ``rows`` until their readings reach ``wanted``."""
    taken: list[tuple[int, int]] = []
    total = 0
    for chunk_id, n in rows:
        if total >= wanted:
            break
        taken.append((chunk_id, n))
        total += n
    return taken


def times(body: str) -> list[datetime]:
    """The timestamps of a chunk's readings, in order."""
    return [datetime.fromisoformat(item["t"]).astimezone(UTC) for item in json.loads(f"[{body}]")]


def resend_text(body: str, t_from: str | None, t_to: str | None) -> str:
    """A chunk's text for the resend lane: all of it, or its readings with ``t_from <= t < t_to``."""
    if t_from is None or t_to is None:
        return body
    lo, hi = parse_iso(t_from), parse_iso(t_to)
    return encode_fragment([r for r in decode_fragment(body) if lo <= r.t < hi])


# ----------------------------------------------------------------- rows (inside the caller's transaction)


def insert_chunk(db: sqlite3.Connection, chunk: NewChunk, msg_seq: int | None, sent: int, at: int) -> int:
    n, size, t_min, t_max, body = chunk
    if size <= INLINE_BODY_BYTES:
        cursor = db.execute(
            "INSERT INTO chunks(n, size, t_min, t_max, msg_seq, sent, acquired_at, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (n, size, t_min, t_max, msg_seq, sent, at, body),
        )
        return int(cursor.lastrowid or 0)
    cursor = db.execute(
        "INSERT INTO chunks(n, size, t_min, t_max, msg_seq, sent, acquired_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (n, size, t_min, t_max, msg_seq, sent, at),
    )
    chunk_id = int(cursor.lastrowid or 0)
    db.execute("INSERT INTO bodies(id, body) VALUES (?, ?)", (chunk_id, body))
    return chunk_id


def delete_chunks(db: sqlite3.Connection, rows: Sequence[Any]) -> int:
    """Delete chunks given as (id, n, ...) rows. Returns their readings."""
    ids = [(row[0],) for row in rows]
    db.executemany("DELETE FROM chunks WHERE id = ?", ids)
    db.executemany("DELETE FROM bodies WHERE id = ?", ids)
    return sum(int(row[1]) for row in rows)


def store_merged(db: sqlite3.Connection, rows: Sequence[ChunkRow], body: str, msg_seq: int | None) -> None:
    """Chunk rows (id, n, size, body, acquired_at, t_min, t_max) become the first of them."""
    head = rows[0][0]
    db.execute(
        "UPDATE chunks SET n = ?, size = ?, acquired_at = ?, t_min = ?, t_max = ?, msg_seq = ?, body = NULL "
        "WHERE id = ?",
        (
            sum(r[1] for r in rows),
            sum(r[2] for r in rows) + len(rows) - 1,
            max(r[4] for r in rows),
            min(r[5] for r in rows),
            max(r[6] for r in rows),
            msg_seq,
            head,
        ),
    )
    # A merged chunk is big: its text goes (or stays) apart, where binding and acknowledging never rewrite it.
    db.execute(
        "INSERT INTO bodies(id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body",
        (head, body),
    )
    delete_chunks(db, rows[1:])


def merge_chunks(db: sqlite3.Connection, ids: Sequence[int]) -> None:
    marks = ",".join("?" * len(ids))
    rows: list[ChunkRow] = db.execute(
        f"SELECT {CHUNK_COLUMNS} FROM chunks c {BODY_JOIN} WHERE c.id IN ({marks}) ORDER BY c.id",
        tuple(ids),
    ).fetchall()
    store_merged(db, rows, ",".join(r[3] for r in rows), msg_seq=None)
