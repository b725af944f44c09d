"""The station's outbox on a real, small filesystem that fills up, with the broker down (issue 10 §4).

A tmpfs of a few MiB is mounted in a temp dir (we run as root; skipped only where mounting is impossible,
and never under CI=true). Polls go through the runtime's sink (``OutboxSink``) as acquisition's do. Another
process's file fills the disk in two steps:

1. down to just above the outbox's free-space floor: the outbox drops its oldest readings, counted, and no
   write fails;
2. to the last byte (after housekeeping truncated the WAL): every write fails, each lost reading is counted,
   the log holds one line, not a traceback per poll;
3. the file goes: the next write records one storage_failed event with the exact count.

At every step: readings produced == readings stored + ``dropped`` (quota, floor and disk losses together),
and the WAL stays bounded.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from agent.config import OutboxConfig
from agent.outbox import Outbox
from agent.runtime import OutboxSink
from agent.sink import StorageFailed
from agent.status import StatusBoard
from protocols.flags import Flag
from protocols.messages import EventKind, Reading, Severity
from tests.agent.conftest import STATION, T0

DISK_BYTES = 8 << 20
FLOOR = 1_500_000
WAL_BOUND = (1 << 20) + 64 * 4120  # JOURNAL_SIZE_LIMIT and a few commits' frames


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        reason = f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int) -> None:
    """Write ``path`` until the filesystem has ``leave`` bytes free (or none)."""
    block = b"\0" * 65536
    with open(path, "ab") as handle:
        while (room := free_bytes(path.parent) - leave) > 0:
            try:
                handle.write(block[: min(len(block), room)])
                handle.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break


class Station:
    """Polls of six readings each through the runtime's sink, as acquisition makes them."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.sink = OutboxSink(outbox, StatusBoard(STATION, 30.0))
        self.polls = 0
        self.produced = 0
        self.refused = 0
        self.wal = Path(str(outbox.path) + "-wal")
        self.wal_max = 0

    def poll(self) -> bool:
        t = T0 + timedelta(seconds=self.polls)
        batch = [
            Reading(param=p, t=t, value=self.polls + i / 10, flag=Flag.NORMAL, device="probe")
            for i, p in enumerate(("w01010", "w01001", "w01009", "w01014", "w01003", "w21003"))
        ]
        self.polls += 1
        self.produced += len(batch)
        try:
            self.sink.add_readings(batch)
        except StorageFailed:  # what acquisition does: count the poll and go on
            self.refused += len(batch)
            return False
        finally:
            if self.wal.exists():
                self.wal_max = max(self.wal_max, self.wal.stat().st_size)
        return True

    def accounted(self) -> tuple[int, int]:
        stats = self.outbox.stats(detail=True)
        return self.produced, stats.stored_readings + stats.dropped


def test_a_full_disk_costs_counted_readings_one_log_line_and_one_event(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    config = OutboxConfig(min_free_bytes=FLOOR, max_bytes=1_000_000_000, reserve_bytes=0)
    outbox = Outbox(small_disk / "outbox.db", config, STATION)
    station = Station(outbox)
    try:
        # 1. Another program leaves the floor and 1.5 MB: the outbox drops its oldest, counted, in time.
        fill(small_disk / "other-1", leave=FLOOR + 1_500_000)
        while outbox.stats().dropped < 3000 and station.polls < 40_000:
            assert station.poll(), "a write failed above the floor"
        assert outbox.stats().dropped >= 3000 and station.refused == 0
        assert station.accounted()[0] == station.accounted()[1]
        assert free_bytes(small_disk) > FLOOR // 2  # the outbox stopped short of filling the disk
        assert any(e.event.kind == EventKind.READINGS_DROPPED for e in outbox.unsent_events(limit=500))

        # 2. Housekeeping truncated the WAL; the other program takes the disk to its last byte.
        outbox.housekeeping()
        fill(small_disk / "other-2", leave=0)
        caplog.clear()
        for _ in range(3000):
            station.poll()
        assert station.refused >= 2900 * 6  # a page or two may still have fitted
        produced, accounted = station.accounted()
        assert produced == accounted  # losses in ``dropped`` at once, for the status message
        assert outbox.counters()["lost_storage_full"] == station.refused
        lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(lines) <= 2, [r.getMessage() for r in lines]  # one line a minute, not one per poll
        assert not any(r.exc_info for r in caplog.records)
        assert "database or disk is full" in lines[0].getMessage()

        # 3. Room again: the next poll is stored and one storage_failed event carries the exact count.
        (small_disk / "other-2").unlink()
        assert station.poll()
        events = [
            e.event for e in outbox.unsent_events(limit=1000) if e.event.kind == EventKind.STORAGE_FAILED
        ]
        assert len(events) == 1
        assert events[0].severity == Severity.CRITICAL
        assert events[0].detail["lost_readings"] == station.refused
        produced, accounted = station.accounted()
        assert produced == accounted
        assert outbox.counters()["lost_storage_full"] == station.refused

        assert station.wal_max <= WAL_BOUND, station.wal_max
        outbox.housekeeping()
        assert station.wal.stat().st_size == 0
    finally:
        outbox.close()
    # Persisted: a restarted agent reports the same losses.
    again = Outbox(small_disk / "outbox.db", config, STATION)
    try:
        assert again.counters()["lost_storage_full"] == station.refused
        assert again.stats(detail=True).stored_readings + again.stats().dropped == station.produced
    finally:
        again.close()
