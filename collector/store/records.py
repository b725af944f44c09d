"""What a station sent, the same way on both engines: readings read back, statuses, events and command replies
as ``apply`` writes them, transitions, commands, and received sequence numbers.

One copy of each query, given the engine's ``Dialect``. Reads take the store's ``Query`` (its fetch under the
lock) and turn rows into the store's types; a stored body that no longer validates is skipped and counted by
the store's ``ReadBack``. Writes take the connection inside the store's transaction. Readings themselves are
written by each engine's own ``apply`` (sqlite_apply.py, postgres_apply.py): that is where the engines differ.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from collector.store.base import (
    ApplyResult,
    SeqSummary,
    StoredCommand,
    StoredEvent,
    StoredReading,
    StoredStatus,
    Transition,
    ValidRange,
    summary_from_ranges,
    supersedes,
)
from collector.store.dialect import Dialect, Query
from collector.store.readback import ReadBack, checked_body
from collector.store.stats import VALID
from protocols.flags import VALID_FLAGS
from protocols.messages import Command, CommandReply, Event, StationState, Status, encode

READING_COLUMNS = "station, param, t, value, flag, device, received_at"
TRANSITION_COLUMNS = "station, at, old, new, reasons"

# -- readings ------------------------------------------------------------------------------------------------


def reading(d: Dialect, row: Sequence[Any]) -> StoredReading:
    station, param, t, value, flag, device, received = row
    return StoredReading(
        str(station),
        str(param),
        d.when(t),
        None if value is None else float(value),
        str(flag),
        None if device is None else str(device),
        d.when(received),
    )


def readings(
    query: Query,
    d: Dialect,
    station: str,
    *,
    param: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    newest: bool,
) -> list[StoredReading]:
    """The first ``limit`` of the range, or with ``newest`` the last ``limit``; oldest first."""
    where, args = d.where(
        ("param =", param),
        ("t >=", None if start is None else d.time(start)),
        ("t <", None if end is None else d.time(end)),
    )
    sql = (
        f"SELECT {READING_COLUMNS} FROM readings WHERE station = {d.mark}{where}"
        f" ORDER BY t {'DESC' if newest else 'ASC'}, param LIMIT {d.mark}"
    )
    found = [reading(d, row) for row in query(sql, [station, *args, limit])]
    return found[::-1] if newest else found


def reading_marks(
    query: Query, d: Dialect, station: str, start: datetime, end: datetime
) -> dict[str, list[tuple[int, bool]]]:
    """Each parameter's readings of ``[start, end)`` as (t in µs, valid flag), in no particular order."""
    rows = query(
        f"SELECT param, {d.us}, flag FROM readings WHERE station = {d.mark} AND t >= {d.mark} AND t < {d.mark}",
        (station, d.time(start), d.time(end)),
    )
    marks: dict[str, list[tuple[int, bool]]] = {}
    valid = VALID_FLAGS  # str-valued enum members: a stored flag's text is found in it
    for param, t, flag in rows:
        found = marks.get(param)
        if found is None:
            found = marks[param] = []
        found.append((t, flag in valid))
    return marks


def flag_counts(
    query: Query, d: Dialect, station: str, start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """Per parameter, how many readings of ``[start, end)`` carry each flag (one pass over the range)."""
    rows = query(
        f"SELECT param, flag, COUNT(*) FROM readings WHERE station = {d.mark} AND t >= {d.mark} AND t < {d.mark}"
        " GROUP BY param, flag",
        (station, d.time(start), d.time(end)),
    )
    counts: dict[str, dict[str, int]] = {}
    for param, flag, n in rows:
        counts.setdefault(str(param), {})[str(flag)] = int(n)
    return counts


def valid_ranges(
    query: Query, d: Dialect, station: str, params: Sequence[str], start: datetime, end: datetime
) -> dict[str, ValidRange]:
    """Per item of ``params``: its valid readings of ``[start, end)`` counted, the lowest and highest values and
    the first time each was seen. One statement: the aggregate, and for each extreme a seek for its time."""
    if not params:
        return {}
    in_range = f"r.station = {d.mark} AND r.t >= {d.mark} AND r.t < {d.mark} AND {VALID}"

    def first_seen(extreme: str) -> str:
        return f"(SELECT MIN(r.t) FROM readings r WHERE {in_range} AND r.param = a.param AND r.value = a.{extreme})"

    marks = ", ".join([d.mark] * len(params))
    window = (station, d.time(start), d.time(end))
    rows = query(
        f"SELECT a.param, a.n, a.lo, {first_seen('lo')}, a.hi, {first_seen('hi')} FROM"
        f" (SELECT r.param AS param, COUNT(*) AS n, MIN(r.value) AS lo, MAX(r.value) AS hi FROM readings r"
        f" WHERE {in_range} AND r.param IN ({marks}) GROUP BY r.param) a",
        (*window, *window, *window, *params),
    )
    return {
        str(param): ValidRange(int(n), float(lo), d.when(lo_t), float(hi), d.when(hi_t))
        for param, n, lo, lo_t, hi, hi_t in rows
    }


def latest_valid(
    query: Query, d: Dialect, station: str, start: datetime, end: datetime
) -> dict[str, StoredReading]:
    """Each parameter's newest valid (N/T, with a value) reading of ``[start, end)``."""
    rows = query(
        f"SELECT o.station, o.param, o.t, o.value, o.flag, o.device, o.received_at FROM readings o JOIN"
        f" (SELECT r.param AS param, MAX(r.t) AS t FROM readings r WHERE r.station = {d.mark} AND r.t >= {d.mark}"
        f" AND r.t < {d.mark} AND {VALID} GROUP BY r.param) newest"
        f" ON o.station = {d.mark} AND o.param = newest.param AND o.t = newest.t",
        (station, d.time(start), d.time(end), station),
    )
    return {str(row[1]): reading(d, row) for row in rows}


def device_owners(query: Query, d: Dialect, station: str, start: datetime, end: datetime) -> dict[str, str]:
    """Each parameter's device over ``[start, end)``: the one that reported most of its readings, and of
    equals the one heard first (readings without a device do not count)."""
    rows = query(
        f"SELECT param, device, COUNT(*), MIN(t) FROM readings WHERE station = {d.mark} AND t >= {d.mark}"
        f" AND t < {d.mark} AND device IS NOT NULL AND device <> '' GROUP BY param, device",
        (station, d.time(start), d.time(end)),
    )
    best: dict[str, tuple[int, Any, str]] = {}
    for param, device, n, first in rows:
        held = best.get(param)
        if held is None or n > held[0] or (n == held[0] and first < held[1]):
            best[param] = (n, first, device)
    return {param: device for param, (_, _, device) in best.items()}


def last_reading_at(query: Query, d: Dialect, station: str) -> datetime | None:
    rows = query(f"SELECT MAX(t) FROM latest WHERE station = {d.mark}", (station,))
    return d.when(rows[0][0]) if rows and rows[0][0] is not None else None


# -- statuses, events and replies as apply writes them -------------------------------------------------------


def apply_message(
    db: Any,
    d: Dialect,
    read_back: ReadBack,
    message: Status | Event | CommandReply,
    received: Any,
    result: ApplyResult,
) -> None:
    """Write one status, event or command reply in ``apply``'s transaction (``received`` in the engine's
    time) and count it: a status replaces the held one only when it supersedes it; an event or a reply is
    kept once."""
    if isinstance(message, Status):
        body = checked_body(message)
        row = db.execute(
            f"SELECT body FROM statuses WHERE station = {d.mark}{d.for_update}", (message.station,)
        ).fetchone()
        held = held_status(d, read_back, message.station, row[0]) if row is not None else None
        if supersedes(message, held):
            db.execute(
                f"INSERT INTO statuses VALUES ({d.marks(4)}) ON CONFLICT (station) DO UPDATE SET"
                " at = excluded.at, body = excluded.body, received_at = excluded.received_at",
                (message.station, d.time(message.at), body, received),
            )
            result.statuses_saved += 1
        else:
            result.statuses_stale += 1
    elif isinstance(message, Event):
        new = db.execute(
            d.insert_if_new("events", 7),
            (
                message.station,
                message.id,
                d.time(message.at),
                message.kind.value,
                message.severity.value,
                checked_body(message),
                received,
            ),
        ).rowcount
        result.events_inserted += 1 if new else 0
        result.events_duplicate += 0 if new else 1
    elif isinstance(message, CommandReply):
        new = db.execute(
            d.insert_if_new("replies", 4), (message.station, message.id, checked_body(message), received)
        ).rowcount
        result.replies_inserted += 1 if new else 0
        result.replies_duplicate += 0 if new else 1


def held_status(d: Dialect, read_back: ReadBack, station: str, body: Any) -> Status | None:
    """The stored status of ``station``; None when it no longer reads back (any new status replaces it)."""
    return read_back.parse("statuses", station, partial(d.model, Status, body))


def statuses(query: Query, d: Dialect, read_back: ReadBack) -> dict[str, StoredStatus]:
    found = {}
    for station, body, received in query("SELECT station, body, received_at FROM statuses", ()):
        status = held_status(d, read_back, station, body)
        if status is not None:  # unreadable: as if the station had sent none
            found[str(station)] = StoredStatus(status, d.when(received))
    return found


# -- transitions ---------------------------------------------------------------------------------------------


def add_transitions(db: Any, d: Dialect, transitions: Sequence[Transition]) -> None:
    db.cursor().executemany(
        f"INSERT INTO transitions ({TRANSITION_COLUMNS}) VALUES ({d.marks(5)})",
        [
            (
                t.station,
                d.time(t.at),
                t.old.value if t.old else None,
                t.new.value,
                json.dumps(list(t.reasons)),
            )
            for t in transitions
        ],
    )


def transition(d: Dialect, row: Sequence[Any]) -> Transition:
    station, at, old, new, reasons = row
    return Transition(
        str(station), d.when(at), StationState(old) if old else None, StationState(new), d.strings(reasons)
    )


def transitions(query: Query, d: Dialect, station: str, limit: int) -> list[Transition]:
    rows = query(
        f"SELECT {TRANSITION_COLUMNS} FROM transitions WHERE station = {d.mark}"
        f" ORDER BY id DESC LIMIT {d.mark}",
        (station, limit),
    )
    return [transition(d, row) for row in rows]


def transitions_between(
    query: Query, d: Dialect, station: str, start: datetime, end: datetime
) -> tuple[Transition | None, list[Transition]]:
    """The last transition at or before ``start`` and those in (start, end), in order. The caller holds the
    store's lock around this, so both reads see the same table."""
    m = d.mark
    before = query(
        f"SELECT {TRANSITION_COLUMNS} FROM transitions WHERE station = {m} AND at <= {m}"
        " ORDER BY at DESC, id DESC LIMIT 1",
        (station, d.time(start)),
    )
    rows = query(
        f"SELECT {TRANSITION_COLUMNS} FROM transitions WHERE station = {m} AND at > {m} AND at < {m}"
        " ORDER BY at, id",
        (station, d.time(start), d.time(end)),
    )
    return (transition(d, before[0]) if before else None), [transition(d, r) for r in rows]


# -- commands and replies ------------------------------------------------------------------------------------


def save_command(db: Any, d: Dialect, command: Command) -> None:
    db.execute(
        d.insert_if_new("commands", 4),
        (command.station, command.id, d.time(command.issued_at), encode(command).decode()),
    )


def command(
    query: Query, d: Dialect, read_back: ReadBack, station: str, command_id: str
) -> StoredCommand | None:
    rows = query(
        "SELECT c.body, r.body, r.received_at FROM commands c LEFT JOIN replies r"
        f" ON r.station = c.station AND r.id = c.id WHERE c.station = {d.mark} AND c.id = {d.mark}",
        (station, command_id),
    )
    if not rows:
        return None
    command_body, reply_body, received = rows[0]
    key = f"{station}/{command_id}"
    found = read_back.parse("commands", key, partial(d.model, Command, command_body))
    if found is None:
        return None
    reply = (
        read_back.parse("replies", key, partial(d.model, CommandReply, reply_body))
        if reply_body is not None
        else None
    )
    return StoredCommand(found, reply, d.when(received) if reply is not None else None)


# -- events and sequence numbers -----------------------------------------------------------------------------


def events(query: Query, d: Dialect, read_back: ReadBack, station: str, limit: int) -> list[StoredEvent]:
    rows = query(
        f"SELECT id, body, received_at FROM events WHERE station = {d.mark} ORDER BY at DESC LIMIT {d.mark}",
        (station, limit),
    )
    found = []
    for event_id, body, received in rows:
        event = read_back.parse("events", f"{station}/{event_id}", partial(d.model, Event, body))
        if event is not None:
            found.append(StoredEvent(event, d.when(received)))
    return found


def seq_summary(query: Query, d: Dialect, station: str) -> SeqSummary:
    # Islands of consecutive seq: seq - row_number is constant within one run.
    rows = query(
        "SELECT MIN(seq), MAX(seq) FROM (SELECT seq, seq - ROW_NUMBER() OVER (ORDER BY seq) AS grp"
        f" FROM messages WHERE station = {d.mark}) AS runs GROUP BY grp ORDER BY 1",
        (station,),
    )
    return summary_from_ranges([(int(lo), int(hi)) for lo, hi in rows])
