from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from agent.outbox import SEQ_RESERVE
from agent.sink import EventRecord
from protocols.messages import EventKind, Lane, Severity, encode_fragment
from tests.agent.conftest import STATION, T0, FakeClock, make, readings, stored_values


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read through a separate connection: what is on disk, not what one connection cached."""
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_pragmas_wal_and_full_sync(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db")
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_only_ack_marks_skip_the_fsync_and_full_sync_comes_back(tmp_path: Path) -> None:
    """PUBACK marks commit without the WAL fsync (their loss only re-sends); everything else stays FULL."""
    box = make(tmp_path / "o.db")
    seen: list[str] = []
    box._db.set_trace_callback(seen.append)
    box.add_readings(readings(3))
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None
    assert not any("synchronous" in s for s in seen)  # readings and the seq binding: FULL
    seen.clear()
    assert box.mark_acked(batch.seq) == 3
    assert seen[0] == "PRAGMA synchronous=NORMAL" and seen[-1] == "PRAGMA synchronous=FULL"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    box._db.set_trace_callback(None)
    box.add_readings(readings(1))
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_readings_are_committed_before_a_batch_exists_and_sent_only_on_ack(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = make(path)
    assert box.add_readings(readings(3)) == 3
    # On disk, seen by another connection, before anything is published.
    assert rows(path, "SELECT SUM(n), SUM(sent * n), COUNT(msg_seq) FROM chunks") == [(3, 0, 0)]
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None and batch.seq == 0 and batch.count == 3 and batch.readings() == readings(3)
    assert rows(path, "SELECT SUM(n) FROM chunks WHERE msg_seq = 0 AND sent = 0") == [(3,)]
    assert box.stats().backlog == 3
    assert box.mark_acked(batch.seq) == 3
    assert rows(path, "SELECT SUM(sent * n) FROM chunks") == [(3,)]
    assert box.stats().backlog == 0
    assert box.mark_acked(batch.seq) == 0  # a second PUBACK changes nothing


def test_message_resent_after_crash_keeps_its_seq_and_readings(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = make(path)
    box.add_readings(readings(5))
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None
    box.close()  # "crash" before the PUBACK
    box = make(path)
    assert box.unacked() == [batch.seq]
    again = box.load_batch(batch.seq)
    assert again == batch  # same seq, lane and bytes
    assert box.next_batch(Lane.LIVE) is None  # not re-batched under a new seq
    assert box.stats().backlog == 5


def test_seq_persists_across_reopen_and_never_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = make(path, batch_max_readings=2)
    box.add_readings(readings(6))
    seqs = []
    while (batch := box.next_batch(Lane.LIVE)) is not None:
        seqs.append(batch.seq)
        box.mark_acked(batch.seq)
    assert seqs == [0, 1, 2]
    box.close()
    box = make(path, batch_max_readings=2)
    assert box.next_seq == 3
    box.add_readings(readings(1, start=T0 + timedelta(days=1)))
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None and batch.seq == 3


def test_batches_bounded_by_count_and_bytes(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db", batch_max_readings=7)
    box.add_readings(readings(20))
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None and batch.count == 7 and len(batch.readings()) == 7
    small = make(tmp_path / "p.db", batch_max_bytes=1024)
    small.add_readings(readings(50))
    batch = small.next_batch(Lane.LIVE)
    assert batch is not None and 1 < batch.count < 50
    size = sum(len(encode_fragment([r])) + 1 for r in batch.readings())
    assert size <= 1024


def test_live_lane_takes_fresh_readings_and_backfill_drains_oldest_first(tmp_path: Path) -> None:
    clock = FakeClock()
    box = make(tmp_path / "o.db", clock, live_window_s=600, batch_max_readings=4)
    box.add_readings(readings(10, first_value=0))  # stored during the outage
    clock.advance(3600)
    box.add_readings(readings(3, start=T0 + timedelta(hours=1), first_value=100))  # fresh
    live = box.next_batch(Lane.LIVE)
    assert live is not None and live.lane is Lane.LIVE
    assert [r.value for r in live.readings()] == [100, 101, 102]
    assert box.next_batch(Lane.LIVE) is None
    values = []
    while (batch := box.next_batch(Lane.BACKFILL)) is not None:
        assert batch.lane is Lane.BACKFILL
        values += [r.value for r in batch.readings()]
    assert values == list(range(10))
    assert box.next_batch(Lane.BACKFILL, max_readings=0) is None


def test_order_is_by_row_not_timestamp_when_the_clock_jumps_back(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db")
    box.add_readings(readings(2, start=T0 + timedelta(hours=1), first_value=1))
    box.add_readings(readings(2, start=T0, first_value=3))  # clock stepped back: older timestamps later
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None and [r.value for r in batch.readings()] == [1, 2, 3, 4]


def test_quota_drop_oldest_counts_each_reading_and_keeps_room_for_alarms(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db", max_bytes=1_000_000, reserve_bytes=300_000)
    total, first_drop = 0, None
    for i in range(300):
        box.add_readings(readings(100, start=T0 + timedelta(days=i), first_value=total))
        total += 100
        if first_drop is None and box.stats().dropped:
            first_drop = i
        if first_drop is not None and i >= first_drop + 30:  # keep going well past the quota
            break
    stats = box.stats(detail=True)
    assert stats.dropped > 0, "the quota never bit"
    assert stats.dropped + stats.stored_readings == total
    assert box.used_bytes() <= 1_000_000
    kept = stored_values(box)
    assert kept == [float(v) for v in range(stats.dropped, total)]  # the oldest went, no holes
    events = [e.event for e in box.unsent_events(limit=100)]
    dropped_events = [e for e in events if e.kind is EventKind.READINGS_DROPPED]
    assert dropped_events and dropped_events[0].detail["dropped"] > 0
    assert box.add_event(EventRecord(EventKind.CONTROLLER, Severity.CRITICAL, "mains lost")) is not None
    box.close()
    assert make(tmp_path / "o.db", max_bytes=1_000_000).stats().dropped == stats.dropped  # persisted


def test_quota_drop_newest_refuses_incoming(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db", max_bytes=1_000_000, reserve_bytes=300_000, full_policy="drop_newest")
    stored = 0
    for i in range(200):
        stored += box.add_readings(readings(100, start=T0 + timedelta(days=i), first_value=i * 100))
        if box.stats().dropped:
            break
    stats = box.stats(detail=True)
    assert stats.dropped == 100 and stats.stored_readings == stored
    assert stored_values(box)[0] == 0.0  # the oldest were kept


def test_history_purged_after_history_days_unsent_kept(tmp_path: Path) -> None:
    clock = FakeClock()
    box = make(tmp_path / "o.db", clock, history_days=90)
    box.add_readings(readings(5))
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None
    box.mark_acked(batch.seq)
    box.add_readings(readings(2, start=T0 + timedelta(hours=1)))  # never sent
    clock.advance(89 * 86400)
    done = box.housekeeping()
    assert (done["aged_out"], done["purged"]) == (0, 0)
    clock.advance(2 * 86400)
    assert box.housekeeping()["purged"] == 5
    stats = box.stats(detail=True)
    assert stats.stored_readings == 2 and stats.backlog == 2 and stats.dropped == 0


def test_unsent_past_max_age_dropped_and_counted(tmp_path: Path) -> None:
    clock = FakeClock()
    box = make(tmp_path / "o.db", clock, max_age_days=10)
    box.add_readings(readings(4))
    clock.advance(11 * 86400)
    box.add_readings(readings(1, start=T0 + timedelta(days=11)))
    assert box.housekeeping()["aged_out"] == 4
    assert box.stats().dropped == 4 and box.stats().backlog == 1
    kinds = [e.event.kind for e in box.unsent_events()]
    assert EventKind.READINGS_DROPPED in kinds


def test_corrupt_file_is_set_aside_and_seq_continues(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = make(path)
    box.add_readings(readings(3))
    assert box.next_batch(Lane.LIVE) is not None
    box.close()
    path.write_bytes(b"this is not an sqlite database" * 200)
    box = make(path)
    assert box.recovered_from is not None and box.recovered_from.exists()
    assert box.recovered_from.name.startswith("o.db.corrupt-")
    assert box.next_seq >= 1
    events = [e.event for e in box.unsent_events()]
    assert [e.kind for e in events] == [EventKind.OUTBOX_RECOVERED]
    assert events[0].severity is Severity.CRITICAL
    box.add_readings(readings(1))
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None and batch.seq >= 1


def test_deleted_file_with_sidecar_keeps_seq_monotonic(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "o.db"
    box = make(path, batch_max_readings=1)
    box.add_readings(readings(3))
    last = -1
    while (batch := box.next_batch(Lane.LIVE)) is not None:
        last = batch.seq
    box.close()
    assert json.loads((tmp_path / "o.db.seq").read_text())["next_seq_reserved"] > last
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    with caplog.at_level("ERROR", logger="agent.outbox"):
        box = make(path)
    assert "was missing" in caplog.text and f"continue from {box.next_seq}" in caplog.text
    assert box.next_seq > last
    box.add_readings(readings(1))
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None and batch.seq > last
    assert EventKind.OUTBOX_RECOVERED in [e.event.kind for e in box.unsent_events()]


def test_sidecar_reserved_ahead_in_blocks(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db", batch_max_readings=1)
    box.add_readings(readings(2))
    box.next_batch(Lane.LIVE)
    box.next_batch(Lane.LIVE)
    assert json.loads((tmp_path / "o.db.seq").read_text())["next_seq_reserved"] == 1 + SEQ_RESERVE


def test_resend_requeues_history_in_resend_lane_with_same_identity(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db")
    original = readings(6)
    box.add_readings(original)
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None
    assert box.queue_resend(T0, T0 + timedelta(minutes=3)) == 0  # not sent yet: nothing to re-queue
    box.mark_acked(batch.seq)
    assert box.queue_resend(T0 + timedelta(minutes=1), T0 + timedelta(minutes=4)) == 3
    resend = box.next_batch(Lane.RESEND)
    assert resend is not None and resend.lane is Lane.RESEND and resend.seq == batch.seq + 1
    assert resend.readings() == original[1:4] and resend.count == 3
    assert box.load_batch(resend.seq) == resend
    assert box.mark_acked(resend.seq) == 3
    assert box.pending_resends() == 0 and box.next_batch(Lane.RESEND) is None
    assert box.stats(detail=True).stored_readings == 6  # history untouched


def test_command_replies_and_interval_overrides_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = make(path)
    box.save_command_reply("c1", "get_config", b'{"ok":true}')
    box.set_interval("nh3n", 600.0)
    box.count("commands_malformed")
    box.close()
    box = make(path)
    assert box.command_reply("c1") == b'{"ok":true}'
    assert box.command_reply("c2") is None
    assert box.intervals() == {"nh3n": 600.0}
    assert box.counters() == {"commands_malformed": 1}


@pytest.mark.parametrize("severity", [Severity.INFO, Severity.WARNING])
def test_events_durable_until_acked(tmp_path: Path, severity: Severity) -> None:
    path = tmp_path / "o.db"
    box = make(path)
    event = box.add_event(EventRecord(EventKind.DEVICE_DOWN, severity, "nh3n not answering", device="nh3n"))
    assert event is not None
    box.close()
    box = make(path)
    stored = box.unsent_events()
    assert [s.event for s in stored] == [event]
    box.mark_event_sent(stored[0].row_id)
    assert box.unsent_events() == []


def test_damaged_page_fails_quick_check_and_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = make(path)
    for i in range(20):
        box.add_readings(readings(100, start=T0 + timedelta(days=i)))
    box._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    box.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 10 * page
    data[5 * page : 6 * page] = b"\xa5" * page  # one b-tree page scribbled over; the header is intact
    path.write_bytes(bytes(data))
    box = make(path)
    assert box.recovered_from is not None
    assert Path(str(box.recovered_from)).read_bytes() == bytes(data)  # kept for forensics, untouched
    assert box.stats().backlog == 0
    assert [e.event.kind for e in box.unsent_events()] == [EventKind.OUTBOX_RECOVERED]


def test_resend_by_seq_range_takes_sent_readings_of_those_messages(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db", batch_max_readings=2)
    box.add_readings(readings(6))
    seqs = [box.next_batch(Lane.LIVE).seq for _ in range(3)]  # type: ignore[union-attr]
    assert box.queue_resend_seqs(seqs[0], seqs[2]) == 0  # nothing acknowledged yet
    box.mark_acked(seqs[0])
    box.mark_acked(seqs[1])
    assert box.queue_resend_seqs(seqs[1], seqs[2]) == 2
    assert box.queue_resend_seqs(seqs[1], seqs[1]) == 0  # already pending: not twice
    resend = box.next_batch(Lane.RESEND)
    assert resend is not None and [r.value for r in resend.readings()] == [2.0, 3.0]
    box.mark_acked(resend.seq)
    # A resend message's own seq names no original readings: the range of the lost original does.
    assert box.queue_resend_seqs(resend.seq, resend.seq) == 0
    assert box.queue_resend_seqs(seqs[1], seqs[1]) == 2


def test_long_device_names_split_a_poll_into_chunks_within_the_byte_bound(tmp_path: Path) -> None:
    from protocols.flags import Flag
    from protocols.messages import Reading

    box = make(tmp_path / "o.db", batch_max_bytes=1024)
    polls = [
        Reading(param="w01010", t=T0, value=float(i), flag=Flag.NORMAL, device="名" * 60) for i in range(30)
    ]
    assert box.add_readings(polls) == 30
    sizes = box._db.execute(
        "SELECT c.n, c.size, COALESCE(c.body, b.body) FROM chunks c LEFT JOIN bodies b USING (id) ORDER BY c.id"
    ).fetchall()
    assert len(sizes) > 1 and sum(n for n, _, _ in sizes) == 30
    for _, size, body in sizes:
        assert size == len(body.encode("utf-8")) <= 1024 - 256
    assert stored_values(box) == [float(i) for i in range(30)]


def test_batches_stay_within_the_byte_bound(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db", batch_max_bytes=2048)
    box.add_readings(readings(100))
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None and 10 < batch.count < 100
    from protocols.messages import ReadingBatch, batch_payload, encode

    message = ReadingBatch(
        station=STATION, seq=batch.seq, lane=batch.lane, sent_at=T0, readings=batch.readings()
    )
    payload = batch_payload(STATION, batch.seq, batch.lane, T0, batch.body)
    assert payload == encode(message) and len(payload) <= 2048


def test_a_wall_clock_set_back_never_reorders_or_reuses_sequence_numbers(tmp_path: Path) -> None:
    """Sequence numbers come from the outbox, not the clock: a station clock stepped back a day (and
    forward again) leaves them strictly increasing, each used once, in the order the readings were stored,
    across a restart too; every reading still goes out."""
    clock = FakeClock()
    path = tmp_path / "o.db"
    box = make(path, clock, batch_max_readings=5)
    seqs: list[int] = []
    sent: list[float | None] = []

    def drain(lane: Lane) -> None:
        while (batch := box.next_batch(lane)) is not None:
            seqs.append(batch.seq)
            sent.extend(r.value for r in batch.readings())
            box.mark_acked(batch.seq)

    value = 0.0
    for step in (0.0, -86_400.0, 30.0, 86_400.0 + 3600.0, -7200.0):
        clock.advance(step)
        for _ in range(3):
            box.add_readings(
                readings(4, start=T0 + timedelta(seconds=clock.now - T0.timestamp()), first_value=value)
            )
            value += 4
            clock.advance(1.0)
        drain(Lane.LIVE)
        clock.advance(box.config.live_window_s + 1)
        drain(Lane.BACKFILL)
        if step < 0:  # a restart while the clock is behind
            box.close()
            box = make(path, clock, batch_max_readings=5)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert seqs == list(range(len(seqs)))  # no hole either
    assert sent == [float(v) for v in range(int(value))]  # every reading, in the order stored
    assert box.next_seq == len(seqs)
