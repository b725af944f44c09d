"""SQLite WAL files cannot outgrow their data (issue 19): after a burst, a checkpoint cuts the WAL back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from collector.inbox import WAL_SIZE_LIMIT, Inbox
from collector.store.sqlite import SqliteStore
from collector.store.sqlite_schema import WAL_SIZE_LIMIT as STORE_WAL_LIMIT
from tests.collector.factories import T0, batch, received


def wal_size(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_the_store_s_wal_is_truncated_by_a_checkpoint_after_a_burst(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    try:
        store._db.execute("PRAGMA wal_autocheckpoint=0")  # a burst with no checkpoint on the way
        for seq in range(1, 121):  # 120 × 500 readings: far more WAL than the limit
            store.apply([received(batch(seq=seq, start=T0 + timedelta(days=seq), n=500))])
        assert wal_size(tmp_path / "c.db") > STORE_WAL_LIMIT
        assert store.checkpoint() is True
        assert wal_size(tmp_path / "c.db") == 0
        assert len(store.readings("hexicun", param="w01010", limit=100_000)) == 60_000  # nothing lost
    finally:
        store.close()


def test_a_store_checkpoint_while_another_connection_reads_is_refused_not_waited_for(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    reader = SqliteStore(tmp_path / "c.db")  # the report maker's own connection
    try:
        store.apply([received(batch(n=10))])
        reader._db.execute("BEGIN")
        reader._db.execute("SELECT COUNT(*) FROM readings").fetchone()  # holds a read snapshot
        store.apply([received(batch(seq=2, start=T0 + timedelta(hours=1), n=10))])
        assert store.checkpoint() is False
        reader._db.execute("COMMIT")
        assert store.checkpoint() is True
    finally:
        reader.close()
        store.close()


def test_the_inbox_wal_is_cut_back_to_its_limit_once_a_backlog_is_applied(tmp_path: Path) -> None:
    receiver = Inbox(tmp_path / "inbox.db", autocheckpoint_pages=16384)  # the receiver's setting
    applier = Inbox(tmp_path / "inbox.db", owner=True)
    try:
        payload = b"x" * 4000
        for n in range(10):  # a backlog: 10 × 500 messages of 4 kB, about 20 MB of WAL
            receiver.append([("t", payload, n * 500 + i) for i in range(500)])
        assert wal_size(tmp_path / "inbox.db") > 4 * WAL_SIZE_LIMIT
        rows = applier.take(100_000)
        applier.delete_through(rows[-1].id)
        applier.checkpoint()  # what the applier does after each batch
        receiver.append([("t", b"next", 10**9)])  # the next write starts the WAL again, cut back
        assert wal_size(tmp_path / "inbox.db") <= WAL_SIZE_LIMIT
    finally:
        applier.close()
        receiver.close()
