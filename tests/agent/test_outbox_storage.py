"""The outbox when the disk refuses writes: counted losses, a measured log, one event, the free-space floor.

SQLite's ``max_page_count`` makes a real SQLITE_FULL ("database or disk is full") at a chosen size, and
raising it again is the disk getting room back. tests/agent/test_disk_full.py does the same on a real full
filesystem.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from agent.diskguard import FreeSpace, StorageLoss, is_storage_error
from agent.outbox import Outbox
from agent.publisher import Publisher
from agent.sink import EventRecord, StorageFailed
from protocols.messages import EventKind, Lane, Severity
from tests.agent.conftest import FakeClock, make, readings, stored_readings


def fill_up(box: Outbox) -> None:
    """The database may not grow by another page: the next write that needs one fails with SQLITE_FULL."""
    pages = box._db.execute("PRAGMA page_count").fetchone()[0]
    box._db.execute(f"PRAGMA max_page_count = {pages}")


def make_room(box: Outbox) -> None:
    box._db.execute("PRAGMA max_page_count = 1073741823")


def full_error() -> sqlite3.OperationalError:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t(x)")
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    try:
        db.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        db.close()
    raise AssertionError("no SQLITE_FULL")


def test_storage_errors_are_told_from_bugs() -> None:
    assert is_storage_error(full_error())
    assert is_storage_error(OSError(errno.ENOSPC, "No space left on device"))
    assert is_storage_error(OSError(errno.EIO, "Input/output error"))
    assert is_storage_error(sqlite3.OperationalError("disk I/O error"))  # no code attached: by its text
    assert not is_storage_error(sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert not is_storage_error(sqlite3.OperationalError("no such table: chunks"))
    assert not is_storage_error(OSError(errno.EACCES, "Permission denied"))
    assert not is_storage_error(ValueError("disk is full"))


def test_loss_log_is_one_line_a_minute_with_exact_counts() -> None:
    clock = FakeClock(1000.0)
    loss = StorageLoss(clock=clock)
    lines = []
    for _ in range(961):  # eight polls a second for two minutes, five readings each
        line = loss.failed(full_error(), readings=5)
        if line:
            lines.append(line)
        clock.advance(0.125)
    assert len(lines) == 3  # the first failure, then one a minute: at t=60 s and t=120 s
    assert loss.readings == 961 * 5 and loss.failures == 961
    assert "5 readings lost since the last line" in lines[0]
    assert "2400 readings lost since the last line" in lines[1]  # 480 failures x 5 since the first line
    loss.settle()
    assert not loss.pending


def statvfs_with(free: int) -> os.statvfs_result:
    # f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, ...: f_bavail x f_frsize bytes available
    return os.statvfs_result((1, 1, free, free, free, 0, 0, 0, 0, 255))


def test_free_space_reads_statvfs_rarely_far_from_the_floor_and_always_near_it() -> None:
    free = {"bytes": 100_000_000}
    calls: list[int] = []
    now = FakeClock(0.0)

    def fake(_path: Path) -> os.statvfs_result:
        calls.append(1)
        return statvfs_with(free["bytes"])

    space = FreeSpace(Path("."), 1_000_000, every_s=5.0, statvfs=fake, clock=now)
    assert space.above_floor(1000) and len(calls) == 1
    for _ in range(100):
        space.spend(5000)
        assert space.above_floor(1000)
    assert len(calls) == 1  # far from the floor: the estimate, no syscall per poll
    now.advance(5.0)
    assert space.above_floor(1000) and len(calls) == 2  # stale: read again
    free["bytes"] = 1_500_000  # near the floor: read at every check
    space.forget()
    assert space.above_floor(1000)
    assert space.above_floor(1000)
    assert len(calls) == 4
    free["bytes"] = 1_000_500
    assert not space.above_floor(1000)
    assert FreeSpace(Path("."), 0, statvfs=fake).above_floor(10**12)  # no floor


def test_a_full_disk_loses_readings_counted_exactly_and_reported_once_room_returns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    box = make(tmp_path / "o.db", clock, min_free_bytes=0)
    box.add_readings(readings(3))
    fill_up(box)
    lost = 0
    caplog.set_level(logging.DEBUG, logger="agent.outbox")
    for i in range(500):
        batch = readings(6, first_value=1000.0 * i)
        try:
            box.add_readings(batch)
        except StorageFailed:
            lost += len(batch)
        clock.advance(0.05)
    assert lost > 400 * 6  # the page filled quickly; every later poll failed
    stats = box.stats()
    assert stats.dropped == lost  # in the status at once, before anything can be written
    assert box.counters()["lost_storage_full"] == lost
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and not any(r.exc_info for r in caplog.records)  # one line, no traceback
    assert f"{lost} readings" in errors[0].getMessage() or "readings lost" in errors[0].getMessage()
    box.count("publish_refused")  # a counter while the disk is full: held, written later
    make_room(box)
    box.add_readings(readings(2, first_value=-1.0))
    stats = box.stats()
    assert stats.dropped == lost
    assert box.counters()["lost_storage_full"] == lost and box.counters()["publish_refused"] == 1
    assert len(stored_readings(box)) - 3 - 2 == 500 * 6 - lost  # stored + lost = produced
    events = [e.event for e in box.unsent_events() if e.event.kind == EventKind.STORAGE_FAILED]
    assert len(events) == 1
    event = events[0]
    assert event.severity == Severity.CRITICAL
    assert event.detail["lost_readings"] == lost and event.detail["lost_events"] == 0
    assert "database or disk is full" in event.detail["error"]
    box.close()
    again = Outbox(box.path, box.config, box.station)  # persisted: not in memory only
    assert again.stats().dropped == lost and again.counters()["lost_storage_full"] == lost
    again.close()


def test_an_event_the_disk_refuses_is_counted_not_raised(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db", min_free_bytes=0)
    fill_up(box)
    results = [
        box.add_event(EventRecord(EventKind.DEVICE_DOWN, Severity.WARNING, "x" * 900, device="ph"))
        for _ in range(50)
    ]
    refused = results.count(None)
    assert refused > 0 and box.counters()["events_lost_storage"] == refused
    make_room(box)
    assert box.add_event(EventRecord(EventKind.DEVICE_UP, Severity.INFO, "back", device="ph")) is not None
    kinds = [e.event.kind for e in box.unsent_events(limit=100)]
    assert kinds.count(EventKind.STORAGE_FAILED) == 1
    assert box.counters()["events_lost_storage"] == refused  # persisted now, not doubled


def test_a_failed_binding_uses_no_sequence_number(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db", min_free_bytes=0)
    box.add_readings(readings(3))
    first = box.next_batch(Lane.LIVE)
    assert first is not None and first.seq == 0
    box.add_readings(readings(400, first_value=10.0))
    fill_up(box)
    with pytest.raises(StorageFailed):
        for _ in range(50):  # binding writes a messages row: sooner or later it needs a page
            box.add_readings(readings(20, first_value=10.0))
    while True:
        try:
            box.next_batch(Lane.LIVE)
        except StorageFailed:
            break
        # a binding that fitted the last free page: the seq went on
    before = box.next_seq
    with pytest.raises(StorageFailed):
        box.next_batch(Lane.LIVE)
    assert box.next_seq == before
    make_room(box)
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None and batch.seq == before  # no hole in the sequence


def test_the_free_space_floor_drops_the_oldest_counted_before_the_disk_fills(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db", min_free_bytes=1_000_000)
    box.add_readings(readings(100))
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None
    box.mark_acked(batch.seq)  # sent history: the first to go
    box.add_readings(readings(50, first_value=500.0))
    free = {"bytes": 10_000_000}
    box.store.space = FreeSpace(tmp_path, 1_000_000, statvfs=lambda _p: statvfs_with(free["bytes"]))
    box.add_readings(readings(1, first_value=900.0))
    assert box.stats().dropped == 0
    free["bytes"] = 999_000  # someone else filled the disk to below the floor
    box.store.space.forget()
    box.add_readings(readings(1, first_value=901.0))
    values = [r.value for r in stored_readings(box)]
    assert 0.0 not in values and 901.0 in values  # history went first, nothing unsent yet
    assert box.stats().dropped == 0
    # No more history: the oldest unsent go, each one counted, with a readings_dropped event.
    box._db.execute("PRAGMA secure_delete = 0")
    for i in range(200):
        box.add_readings(readings(1, first_value=1000.0 + i))
    stats = box.stats()
    assert stats.dropped > 0
    assert len(stored_readings(box)) + stats.dropped == 50 + 1 + 1 + 200
    assert any(e.event.kind == EventKind.READINGS_DROPPED for e in box.unsent_events(limit=100))


def test_housekeeping_truncates_the_wal(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db", min_free_bytes=0)
    for i in range(300):
        box.add_readings(readings(5, first_value=10.0 * i))
    wal = Path(str(box.path) + "-wal")
    assert wal.stat().st_size > 0
    box.housekeeping()
    assert wal.stat().st_size == 0
    for i in range(3000):
        box.add_readings(readings(5, first_value=10.0 * i))
    # Checkpointed every 256 pages and truncated to 1 MiB when it restarts: never SQLite's 4 MiB.
    assert wal.stat().st_size <= (1 << 20) + 300 * 4120


def test_the_publisher_survives_a_disk_that_refuses_its_writes(tmp_path: Path) -> None:
    class Uplink:
        connected = True

        def publish(self, topic: str, payload: bytes, **_: Any) -> asyncio.Future[None]:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

    async def main() -> None:
        box = make(tmp_path / "o.db", min_free_bytes=0)
        box.add_readings(readings(3))
        fill_up(box)
        for _ in range(30):
            with contextlib.suppress(StorageFailed):
                box.add_readings(readings(50))
        publisher = Publisher(box, Uplink(), box.station, box.config)
        task = asyncio.create_task(publisher.run(tick_s=0.01))
        await asyncio.sleep(0.2)
        assert not task.done()  # a refused binding or PUBACK mark does not end the publisher
        make_room(box)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if box.stats().backlog == 0:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert box.stats().backlog == 0

    asyncio.run(asyncio.wait_for(main(), 10))
