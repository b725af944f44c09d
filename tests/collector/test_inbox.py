"""The collector's inbox (collector/inbox.py): rows in arrival order, counters in the same transaction,
shared between two connections (the receiving process and the main process)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from collector.config import parse_config
from collector.inbox import ROWS_PER_INSERT, Inbox, InboxInUse, rejected_counts
from tests.support.processes import qingliu


def test_rows_come_back_in_arrival_order_until_deleted(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "i.db")
    inbox.append([("t/a", b"1", 10), ("t/b", b"2", 11)], {"accepted": 2, "commits": 1})
    inbox.append([("t/c", b"3", 12)], {"accepted": 1, "commits": 1, "rejected:bad_topic": 1})
    rows = inbox.take(2)
    assert [(r.topic, r.payload, r.received_at) for r in rows] == [("t/a", b"1", 10), ("t/b", b"2", 11)]
    assert inbox.depth() == 3 and inbox.oldest_received_at() == 10
    assert inbox.delete_through(rows[-1].id) == 2
    assert [r.payload for r in inbox.take(10)] == [b"3"]
    assert inbox.counters() == {"accepted": 3, "commits": 2, "rejected:bad_topic": 1}
    assert rejected_counts(inbox.counters()) == {"bad_topic": 1}
    inbox.close()


def test_rows_marked_applied_are_skipped_at_once_and_deleted_only_when_forgotten(tmp_path: Path) -> None:
    main, receiver = Inbox(tmp_path / "i.db"), Inbox(tmp_path / "i.db")
    receiver.append([("t", b"1", 10), ("t", b"2", 11), ("t", b"3", 12)])
    first = main.take(2)
    main.mark_applied(first[-1].id)
    assert [r.payload for r in main.take(10)] == [b"3"]
    assert main.depth() == 1 and main.oldest_received_at() == 12
    assert receiver.depth() == 3  # still on disk: a crash now applies the two again
    main.mark_applied(first[0].id)  # a watermark never goes back
    assert main.forget_applied() == 2 and main.forget_applied() == 0
    assert receiver.depth() == 1 and [r.payload for r in receiver.take(10)] == [b"3"]
    main.close()
    receiver.close()


def test_a_commit_larger_than_one_insert_statement_keeps_every_row_in_order(tmp_path: Path) -> None:
    # rows go in as multi-row statements of ROWS_PER_INSERT: two full ones and a remainder
    count = 2 * ROWS_PER_INSERT + 7
    rows = [(f"t/{i % 3}", i.to_bytes(4, "big"), 1000 + i) for i in range(count)]
    inbox = Inbox(tmp_path / "i.db")
    inbox.append(rows, {"accepted": count, "commits": 1})
    assert [(r.topic, r.payload, r.received_at) for r in inbox.take(count + 1)] == rows
    assert inbox.counters() == {"accepted": count, "commits": 1}
    inbox.close()


def test_a_failure_in_a_later_insert_statement_rolls_back_the_earlier_ones(tmp_path: Path) -> None:
    rows = [("t", b"x", i) for i in range(ROWS_PER_INSERT + 5)] + [("t", None, 0)]
    inbox = Inbox(tmp_path / "i.db")
    with pytest.raises(sqlite3.Error):
        inbox.append(rows, {"accepted": len(rows)})  # type: ignore[arg-type]
    assert inbox.depth() == 0 and inbox.counters() == {}
    inbox.close()


def test_ids_are_never_reused_after_the_inbox_empties(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "i.db")
    inbox.append([("t", b"1", 1), ("t", b"2", 2)])
    last = inbox.take(10)[-1].id
    inbox.delete_through(last)
    assert inbox.depth() == 0 and inbox.oldest_received_at() is None and inbox.oldest_age_s() == 0.0
    inbox.append([("t", b"3", 3)])
    assert inbox.take(1)[0].id > last  # a delete "through" an old id can never hit a newer row
    inbox.close()


def test_a_failed_transaction_leaves_neither_rows_nor_counts(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "i.db")
    with pytest.raises(sqlite3.Error):
        inbox.append([("t", b"1", 1), ("t", None, 2)], {"accepted": 2})  # type: ignore[list-item]
    assert inbox.depth() == 0 and inbox.counters() == {}
    inbox.close()


def test_two_connections_see_each_other_and_state_survives_reopening(tmp_path: Path) -> None:
    receiver, main = Inbox(tmp_path / "i.db"), Inbox(tmp_path / "i.db")
    receiver.set_state({"connected": "1", "pid": "42"})
    receiver.append([("t", b"x", 5)], {"accepted": 1})
    assert main.state() == {"connected": "1", "pid": "42"} and main.depth() == 1
    main.delete_through(main.take(1)[0].id)
    assert receiver.depth() == 0
    receiver.close()
    main.close()
    again = Inbox(tmp_path / "i.db")
    assert again.counters() == {"accepted": 1} and again.state()["pid"] == "42"
    assert again.size_bytes() > 0
    # WAL and synchronous=FULL: acknowledged means on disk (see the module doc)
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    again.close()


def test_inbox_path_defaults() -> None:
    sqlite = parse_config('[store]\nurl = "sqlite:////data/q/collector.db"\n')
    assert str(sqlite.inbox_path) == "/data/q/collector.inbox.db"
    pg = parse_config('[store]\nurl = "postgresql://q@db/q"\n')
    assert str(pg.inbox_path) == "var/collector-inbox.db"
    explicit = parse_config(
        '[store]\nurl = "postgresql://q@db/q"\n[inbox]\npath = "/srv/inbox.db"\nmax_bytes = 10\n'
    )
    assert str(explicit.inbox_path) == "/srv/inbox.db" and explicit.inbox.max_bytes == 10


def test_one_owner_at_a_time_and_the_lock_goes_with_close(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    first = Inbox(path, owner=True)
    with pytest.raises(InboxInUse, match="another collector"):
        Inbox(path, owner=True)
    receiver_side = Inbox(path)  # the receiving process opens it without owning it
    receiver_side.close()
    first.close()
    again = Inbox(path, owner=True)
    again.close()


def test_a_second_collector_on_the_same_inbox_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[mqtt]\nurl = "mqtt://127.0.0.1:1"\n[store]\nurl = "sqlite:///{tmp_path / "c.db"}"\n'
        f'[inbox]\npath = "{tmp_path / "inbox.db"}"\n'
    )
    held = Inbox(tmp_path / "inbox.db", owner=True)
    try:
        done = subprocess.run(
            qingliu("collector", "run", "--config", str(config)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        held.close()
    assert done.returncode == 2
    assert "in use by another collector" in done.stderr
