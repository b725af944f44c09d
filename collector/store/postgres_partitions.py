"""PostgreSQL's ``readings``: partitioned by RANGE on ``t``, one partition per UTC month, old months retired whole
(issue 19).

A month's partition is ``readings_pYYYY_MM`` ([first of the month, first of the next) in UTC); ``readings_default``
takes any time no month partition covers (a history backfill, a late or odd time), so an insert never fails for
want of a partition. The current and the next month are created when the store opens, by each retention pass
and by the ticker's ``checkpoint`` once the month has turned (``add_months``); a month created while the DEFAULT
partition holds some of its rows takes those rows with it.
The primary key (station, param, t) and ``readings_by_time`` are declared on the parent: every partition has them.

A store whose ``readings`` is still the plain table of earlier versions is converted when it opens (``convert``):
in one transaction, before ingest starts, the old table is renamed, the partitioned one made with a partition for
every month of the old rows, the rows copied and the old table dropped. It reads and writes every row once: a big
table makes that one opening slow.

Retention (collector/retention.py) retires a month whose whole range is older than the raw cut with ``retire``:
its rows go into ``readings_hourly`` exactly as ``retention_rows.retire`` moves them (the same hours, counts, sums,
extremes and time of the maximum, merged into hours already there), then the partition is detached and dropped,
in one transaction per partition. What is older than the cut inside a still-open month, and the rows in
DEFAULT, keep the batched row path (``retention_rows.retire``).

Partition DDL is serialised between collectors sharing the database by a transaction advisory lock (per schema).
Names and bounds put into the DDL come from dates, never from outside text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from collector.store.dialect import POSTGRES
from collector.store.retention_rows import MERGE, hour_of
from collector.store.stats import VALID

COLUMN_NAMES = "station, param, t, value, flag, device, seq, received_at"

READINGS = """
CREATE TABLE readings (
    station text NOT NULL, param text NOT NULL, t timestamptz NOT NULL,
    value double precision, flag text NOT NULL, device text, seq bigint, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, param, t)
) PARTITION BY RANGE (t)
"""
DEFAULT = "CREATE TABLE readings_default PARTITION OF readings DEFAULT"
INDEX = "CREATE INDEX IF NOT EXISTS readings_by_time ON readings (station, t)"

OLD = "readings_unpartitioned"  # the plain table while it is converted (gone when the transaction commits)

# How long a retention step waits for a lock before it gives up until the next pass: an ingest transaction that
# comes after it in the lock queue waits at most this long behind it.
LOCK_TIMEOUT = "2s"

_NAME = re.compile(r"readings_p(\d{4})_(\d{2})")


def month_start(t: datetime) -> datetime:
    u = t.astimezone(UTC)
    return datetime(u.year, u.month, 1, tzinfo=UTC)


def next_month(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"readings_p{month.year:04d}_{month.month:02d}"


def month_of(name: str) -> datetime | None:
    """The first instant of a month partition's range (None: not a month partition)."""
    match = _NAME.fullmatch(name)
    return datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC) if match else None


def _literal(t: datetime) -> str:
    return f"'{t.astimezone(UTC).isoformat()}'"


def _serialise(db: Any) -> None:
    """Until the transaction ends, no other connection adds, converts or drops this schema's partitions."""
    db.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.readings partitions'))")


def _kind(db: Any, table: str) -> str | None:
    """``table``'s relkind in the search path ('r' a plain table, 'p' a partitioned one; None: none)."""
    row = db.execute("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)", (table,)).fetchone()
    return str(row[0]) if row else None


def partitions(db: Any) -> list[str]:
    """The names of ``readings``' partitions (its months and DEFAULT)."""
    rows = db.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass('readings') ORDER BY c.relname"
    ).fetchall()
    return [str(row[0]) for row in rows]


def ensure(db: Any, now: datetime) -> list[str]:
    """At open, inside the schema's transaction: ``readings`` partitioned (made, or converted from the plain
    table), and the months of ``now`` and the next one there. The partitions it made."""
    _serialise(db)
    made: list[str] = []
    kind = _kind(db, "readings")
    if kind is None:
        _create(db)
    elif kind == "r":
        made += convert(db)
    this = month_start(now)
    return made + add_months(db, [this, next_month(this)])


def _create(db: Any) -> None:
    db.execute(READINGS)
    db.execute(DEFAULT)
    db.execute(INDEX)


def convert(db: Any) -> list[str]:
    """The plain ``readings`` of an older store replaced by the partitioned one holding the same rows, with a
    partition for every month they fall in. The caller holds the transaction: nothing is half done."""
    db.execute(f"ALTER TABLE readings RENAME TO {OLD}")
    # Index names are the schema's: the partitioned table's own would clash with the old ones.
    db.execute(f"ALTER INDEX IF EXISTS readings_pkey RENAME TO {OLD}_pkey")
    db.execute(f"ALTER INDEX IF EXISTS readings_by_time RENAME TO {OLD}_by_time")
    _create(db)
    months = [month_start(row[0]) for row in db.execute(f"SELECT DISTINCT date_trunc('month', t) FROM {OLD}")]
    made = add_months(db, months)
    copied = db.execute(f"INSERT INTO readings ({COLUMN_NAMES}) SELECT {COLUMN_NAMES} FROM {OLD}").rowcount
    held = db.execute(f"SELECT count(*) FROM {OLD}").fetchone()[0]
    if copied != held:  # cannot happen (same key, same columns); never drop rows on a surprise
        raise RuntimeError(f"readings conversion copied {copied} rows of {held}")
    db.execute(f"DROP TABLE {OLD}")
    return made


def add_months(db: Any, months: Iterable[datetime]) -> list[str]:
    """A partition for each month not yet partitioned, taking that month's rows out of DEFAULT; the names made.

    The new month is built as a table of its own, filled from DEFAULT, then ATTACHed: ATTACH takes only a SHARE
    UPDATE EXCLUSIVE lock on ``readings`` (inserts go on) and an ACCESS EXCLUSIVE one on ``readings_default`` while
    it checks that DEFAULT holds nothing of the new range (an insert routed to DEFAULT waits that long).
    """
    held = set(partitions(db))
    made = []
    for month in sorted(set(months)):
        name = partition_name(month)
        if name in held:
            continue
        start, end = _literal(month), _literal(next_month(month))
        db.execute(f"CREATE TABLE {name} (LIKE readings INCLUDING DEFAULTS)")
        db.execute(
            f"WITH moved AS (DELETE FROM readings_default WHERE t >= {start} AND t < {end}"
            f" RETURNING {COLUMN_NAMES}) INSERT INTO {name} ({COLUMN_NAMES}) SELECT {COLUMN_NAMES} FROM moved"
        )
        db.execute(f"ALTER TABLE readings ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})")
        held.add(name)
        made.append(name)
    return made


def prepare(db: Any, now: datetime) -> list[str]:
    """Upkeep (each retention pass, and the store's ``checkpoint`` once the month has turned): the months of
    ``now`` and the next one there (made when missing)."""
    db.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    _serialise(db)
    this = month_start(now)
    return add_months(db, [this, next_month(this)])


def retirable(db: Any, until: datetime) -> list[str]:
    """The month partitions whose whole range is before ``until``, oldest first."""
    out = []
    for name in partitions(db):
        month = month_of(name)
        if month is not None and next_month(month) <= until:
            out.append(name)
    return sorted(out)


def retire_sql(name: str) -> str:
    """Every row of the partition ``name`` into readings_hourly (the figures of ``retention_rows.retire``, all
    stations at once); answers the number of raw rows aggregated."""
    hour = hour_of(POSTGRES)
    return (
        f"WITH a AS (SELECT r.station AS station, r.param AS param, {hour} AS hour, COUNT(*) AS n_all,"
        f" SUM(CASE WHEN {VALID} THEN 1 ELSE 0 END) AS n_valid,"
        f" SUM(CASE WHEN {VALID} THEN r.value END) AS s,"
        f" MIN(CASE WHEN {VALID} THEN r.value END) AS mn,"
        f" MAX(CASE WHEN {VALID} THEN r.value END) AS mx"
        f" FROM {name} r GROUP BY r.station, r.param, {hour}),"
        " ins AS (INSERT INTO readings_hourly (station, param, hour, n_all, n_valid, s, mn, mx, max_t)"
        " SELECT a.station, a.param, a.hour, a.n_all, a.n_valid, a.s, a.mn, a.mx,"
        # The earliest time of the hour's maximum, found through the key's range (station, param, t).
        f" (SELECT MIN(r.t) FROM {name} r WHERE r.station = a.station AND r.param = a.param"
        f" AND r.t >= to_timestamp(a.hour * 3600) AND r.t < to_timestamp((a.hour + 1) * 3600) AND {hour} = a.hour"
        f" AND {VALID} AND r.value = a.mx)"
        " FROM a WHERE true" + MERGE + ")"
        " SELECT COALESCE(SUM(n_all), 0) FROM a"
    )


def retire(db: Any, name: str) -> int:
    """Retire the month partition ``name`` whole: its rows into readings_hourly, then DETACH and DROP, in the
    caller's transaction; how many raw rows went (0: already gone).

    Locks, in this order, each wait bounded by ``LOCK_TIMEOUT`` (past it the transaction rolls back and the next
    pass tries again; meanwhile the rows go by the batched path):
    - the advisory lock: no other collector's pass on the same partitions;
    - SHARE on the partition while it is aggregated, so that a late reading for this month cannot slip in between
      the aggregation and the drop: only an insert into this old month waits; readers and live readings do not;
    - ACCESS EXCLUSIVE on the partition, once aggregated: waits for the queries still reading it, before the
      parent is locked at all;
    - ACCESS EXCLUSIVE on ``readings`` itself, which DETACH PARTITION takes (DETACH ... CONCURRENTLY cannot run in
      a transaction nor beside a DEFAULT partition) and holds to the commit: every ingest transaction waits for
      the DETACH and the DROP, a matter of milliseconds since the aggregation is done by then, or, queued
      behind this lock while an earlier transaction still holds ``readings``, at most ``LOCK_TIMEOUT``.
    """
    db.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    _serialise(db)
    if name not in partitions(db) or month_of(name) is None:
        return 0
    db.execute(f"LOCK TABLE {name} IN SHARE MODE")
    moved = int(db.execute(retire_sql(name)).fetchone()[0])
    db.execute(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE")
    db.execute(f"ALTER TABLE readings DETACH PARTITION {name}")
    db.execute(f"DROP TABLE {name}")
    return moved
