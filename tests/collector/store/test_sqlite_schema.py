"""The SQLite store's layout: readings keyed (station, t, param), and stores of schema version 1 rebuilt."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from collector.store import sqlite_schema
from collector.store.sqlite import SqliteStore
from tests.collector.factories import T0, batch, received

V1_READINGS = """
CREATE TABLE readings (
    station TEXT NOT NULL, param TEXT NOT NULL, t INTEGER NOT NULL,
    value REAL, flag TEXT NOT NULL, device TEXT, seq INTEGER, received_at INTEGER NOT NULL,
    PRIMARY KEY (station, param, t)
) WITHOUT ROWID;
CREATE INDEX readings_by_time ON readings (station, t);
"""


def _as_version_1(path: Path) -> None:
    """Turn a store written by this version into what version 1 left on disk: the same rows under the old key
    and index, schema_version 1."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.execute("ALTER TABLE readings RENAME TO readings_now")
    for statement in V1_READINGS.split(";"):
        db.execute(statement)
    db.execute("INSERT INTO readings SELECT * FROM readings_now")
    db.execute("DROP TABLE readings_now")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.execute("COMMIT")
    db.close()


def _layout(path: Path) -> tuple[tuple[str, ...], set[str], str]:
    db = sqlite3.connect(path)
    try:
        key = sqlite_schema.readings_key(db)
        indexes = {str(row[1]) for row in db.execute("PRAGMA index_list(readings)")}
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    finally:
        db.close()
    return key, {i for i in indexes if not i.startswith("sqlite_autoindex")}, str(version)


def test_a_new_store_keys_readings_by_station_time_param(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    SqliteStore(path).close()
    assert _layout(path) == (("station", "t", "param"), set(), str(sqlite_schema.SCHEMA_VERSION))
    assert sqlite_schema.SCHEMA_VERSION == 2


def test_a_version_1_store_is_rebuilt_with_every_reading_and_identity_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SqliteStore(path)
    store.apply([received(batch(seq=1, n=5)), received(batch(seq=2, n=4, param="w01001", value=7.2))])
    store.apply([received(batch("yangliuqing", seq=1, n=3))])
    before = {s: store.readings(s) for s in ("hexicun", "yangliuqing")}
    latest = store.latest("hexicun")
    store.close()
    _as_version_1(path)
    assert _layout(path) == (("station", "param", "t"), {"readings_by_time"}, "1")

    store = SqliteStore(path)
    try:
        assert _layout(path) == (("station", "t", "param"), set(), "2")
        assert {s: store.readings(s) for s in before} == before
        assert len(before["hexicun"]) == 9
        assert store.latest("hexicun") == latest
        # The identity still holds: the same readings again are duplicates, a new one goes in.
        again = store.apply([received(batch(seq=3, n=5))])
        assert (again.readings_inserted, again.readings_duplicate) == (0, 5)
        later = store.apply([received(batch(seq=4, n=1, start=T0.replace(hour=5)))])
        assert later.readings_inserted == 1
    finally:
        store.close()
    # Opening again does nothing more.
    SqliteStore(path).close()
    assert _layout(path) == (("station", "t", "param"), set(), "2")
