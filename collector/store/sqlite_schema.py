"""The SQLite store's tables (times in INTEGER µs since the epoch, UTC) and how its one connection is opened.

WAL and synchronous=FULL: a commit is on disk before the applier deletes its messages from the inbox, which is
then the only other copy. The assessment's tables come from sqlite_assessment.py.

``readings`` is clustered by (station, t, param), its only B-tree: a commit of many stations' poll cycles
writes one run of rows per station, where (station, param, t) wrote one per parameter and a (station, t) index
one more per station (issue 17: 1,146 → 402 KiB of WAL per commit of 50 messages, apply 1.7× faster). A chart
of one parameter reads its station's rows of the range and keeps one in ten; the period queries and records
read all parameters of a time range, which this order serves directly. Stores made by schema version 1 are
rebuilt in this order when they open (``migrate``).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from collector.store import auth_rows, retention_rows, sqlite_assessment

log = logging.getLogger("qingliu.collector.store")

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 5000
WAL_SIZE_LIMIT = 4 << 20  # bytes

READINGS = """
CREATE TABLE IF NOT EXISTS {name} (
    station TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL,
    value REAL, flag TEXT NOT NULL, device TEXT, seq INTEGER, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, t, param)
) WITHOUT ROWID;
"""

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
    + READINGS.format(name="readings")
    + """
CREATE TABLE IF NOT EXISTS latest (
    station TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL,
    value REAL, flag TEXT NOT NULL, device TEXT, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, param)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    station TEXT NOT NULL, seq INTEGER NOT NULL, lane TEXT NOT NULL, sent_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (station, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    station TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    body TEXT NOT NULL, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (station, at);
CREATE TABLE IF NOT EXISTS statuses (
    station TEXT PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL, received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT NOT NULL, at INTEGER NOT NULL,
    old TEXT, new TEXT NOT NULL, reasons TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_station ON transitions (station, id);
CREATE INDEX IF NOT EXISTS transitions_by_time ON transitions (station, at);
CREATE TABLE IF NOT EXISTS commands (
    station TEXT NOT NULL, id TEXT NOT NULL, issued_at INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, station TEXT NOT NULL, status TEXT NOT NULL, severity TEXT NOT NULL,
    opened_at INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (opened_at);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replies (
    station TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE IF NOT EXISTS suspect_readings (
    station TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL,
    value REAL, flag TEXT NOT NULL, device TEXT, seq INTEGER, received_at INTEGER NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (station, param, t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reading_revisions (
    station TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL, vkey TEXT NOT NULL, flag TEXT NOT NULL,
    value REAL, seq INTEGER, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, param, t, vkey, flag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS revisions_by_received ON reading_revisions (station, received_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, digest TEXT NOT NULL UNIQUE, topic TEXT NOT NULL, station TEXT,
    payload BLOB NOT NULL, reason TEXT NOT NULL, error TEXT NOT NULL,
    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter_totals (reason TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, period TEXT NOT NULL, made_at INTEGER NOT NULL,
    cutoff INTEGER NOT NULL, completeness TEXT, partial INTEGER NOT NULL, digest TEXT NOT NULL,
    figures TEXT NOT NULL, document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_period ON reports (kind, period, id);
"""
)


def connect(path: str | Path) -> sqlite3.Connection:
    """The store's connection to ``path`` (":memory:" for none), its tables created when missing. Autocommit:
    the store opens each transaction itself."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # After each checkpoint that empties it, the WAL file is cut back to this size: a burst (a history
    # import, a backlog) leaves no WAL as large as itself behind (SqliteStore.checkpoint truncates it).
    db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    migrate(db)
    db.executescript(SCHEMA)
    db.executescript(sqlite_assessment.SCHEMA)
    db.executescript(retention_rows.SQLITE_SCHEMA)  # hourly aggregates of retired readings
    db.executescript(auth_rows.SQLITE_SCHEMA)  # people, sessions, tokens, the audit log
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    return db


READINGS_V1_KEY = ("station", "param", "t")


def readings_key(db: sqlite3.Connection) -> tuple[str, ...]:
    """The columns of ``readings``' primary key in key order; () when the table does not exist."""
    columns = db.execute("PRAGMA table_info(readings)").fetchall()  # (cid, name, type, notnull, default, pk)
    return tuple(name for _, name, *_, pk in sorted(columns, key=lambda c: c[5]) if pk)


def migrate(db: sqlite3.Connection) -> None:
    """A store of schema version 1 (``readings`` keyed (station, param, t) with a (station, t) index) rebuilt
    with ``readings`` keyed (station, t, param), in one transaction: copied in the new key's order, the old
    table and its index dropped. Once, at the first open by this version; a crash or a full disk midway leaves
    version 1 as it was (the open fails and says why). Measured: 1 million readings in 2.3 s."""
    if readings_key(db) != READINGS_V1_KEY:
        return
    log.warning(
        "store %s: rebuilding its readings in (station, t, param) order (schema version %d), once; "
        "this takes about a minute per 10 million readings and free disk of about three times their size "
        "(the new table, its write-ahead log and the sort)",
        db.execute("PRAGMA database_list").fetchone()[2] or ":memory:",
        SCHEMA_VERSION,
    )
    began = time.monotonic()
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("DROP TABLE IF EXISTS readings_v2")
        db.execute(READINGS.format(name="readings_v2"))
        db.execute("INSERT INTO readings_v2 SELECT * FROM readings ORDER BY station, t, param")
        db.execute("DROP TABLE readings")  # and readings_by_time with it
        db.execute("ALTER TABLE readings_v2 RENAME TO readings")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    log.warning("store: readings rebuilt in %.1f s", time.monotonic() - began)
