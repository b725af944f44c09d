"""The outbox's chunk format: compaction, several messages per transaction, the rate limiter's debt, time-range
resends of part of a chunk, and the conversion of an outbox of the first (one row per reading) format."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from agent.outbox import Outbox, iso_utc
from protocols.messages import Lane, Reading, encode_fragment
from tests.agent.conftest import T0, FakeClock, make, readings, stored_readings, stored_values


def poll_backlog(box: Outbox, clock: FakeClock, polls: int, per_poll: int = 6) -> list[Reading]:
    """``polls`` polls a minute apart, each committed on its own (as acquisition does)."""
    produced: list[Reading] = []
    for i in range(polls):
        batch = readings(per_poll, start=T0 + timedelta(minutes=i), step_s=1, first_value=i * per_poll)
        box.add_readings(batch)
        produced += batch
        clock.advance(60)
    return produced


def chunk_rows(box: Outbox) -> list[tuple[int, int | None, int]]:
    return box._db.execute("SELECT n, msg_seq, sent FROM chunks ORDER BY id").fetchall()


def test_compaction_merges_old_small_chunks_in_order_and_leaves_the_live_window(tmp_path: Path) -> None:
    clock = FakeClock()
    box = make(tmp_path / "o.db", clock, batch_max_readings=50, live_window_s=600)
    produced = poll_backlog(box, clock, 100)  # 100 chunks of 6; the last 10 inside the live window
    assert len(chunk_rows(box)) == 100
    merged, done = box.compact(max_rows=30)  # bounded: one step looks at 30 chunks
    assert merged > 0 and not done
    merged_all = box.compact_all()
    sizes = [n for n, _, _ in chunk_rows(box)]
    assert sum(sizes) == 600 and max(sizes) <= 50
    assert sizes[-10:] == [6] * 10  # the live window is not touched
    assert len(sizes) <= 90 // 8 + 1 + 10  # 8 polls per full chunk
    assert merged + merged_all == 100 - len(sizes)
    assert stored_readings(box) == produced  # nothing lost, order kept
    assert box.compact() == (0, True)  # nothing more to do
    assert box.stats().backlog == 600


def test_backfill_binds_several_messages_in_one_call_and_merges_their_chunks(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "o.db"
    box = make(path, clock, batch_max_readings=20, live_window_s=60)
    produced = poll_backlog(box, clock, 20, per_poll=5)
    clock.advance(3600)
    batches = box.next_batches(Lane.BACKFILL, max_messages=3)
    assert [b.count for b in batches] == [20, 20, 20] and [b.seq for b in batches] == [0, 1, 2]
    assert [r for b in batches for r in b.readings()] == produced[:60]
    bound = box._db.execute("SELECT msg_seq, n FROM chunks WHERE msg_seq IS NOT NULL ORDER BY id").fetchall()
    assert bound == [(0, 20), (1, 20), (2, 20)]  # one row per message
    box.close()
    box = make(path, clock, batch_max_readings=20, live_window_s=60)
    assert [box.load_batch(b.seq) for b in batches] == batches  # same content after a restart
    assert box.mark_acked_many([0, 1, 2, 1]) == 60  # a repeated PUBACK counts once
    assert box.stats().backlog == 40 and box.next_seq == 3


def test_a_chunk_bigger_than_the_tokens_goes_whole_and_only_one(tmp_path: Path) -> None:
    clock = FakeClock()
    box = make(tmp_path / "o.db", clock, live_window_s=60)
    box.add_readings(readings(100))
    box.add_readings(readings(100, start=T0 + timedelta(hours=2)))
    clock.advance(3600)
    batches = box.next_batches(Lane.BACKFILL, max_messages=4, max_readings=10)
    assert [b.count for b in batches] == [100]  # never split; the limiter goes into debt
    assert box.next_batches(Lane.BACKFILL, max_messages=4, max_readings=0) == []
    rest = box.next_batches(Lane.BACKFILL, max_messages=4, max_readings=150)
    assert [b.count for b in rest] == [100]


def test_time_range_resend_takes_part_of_a_chunk_and_joins_ranges(tmp_path: Path) -> None:
    box = make(tmp_path / "o.db")
    original = readings(20)  # one chunk, a minute apart
    box.add_readings(original)
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None
    box.mark_acked(batch.seq)
    assert box.queue_resend(T0 + timedelta(minutes=2), T0 + timedelta(minutes=4)) == 2
    assert box.queue_resend(T0 + timedelta(minutes=3), T0 + timedelta(minutes=5)) == 1  # joined: 2..4
    assert box.queue_resend(T0 + timedelta(minutes=8), T0 + timedelta(minutes=9)) == 4  # joined: 2..8
    assert box.pending_resends() == 7
    assert box.queue_resend(T0 + timedelta(days=1), T0 + timedelta(days=2)) == 0  # nothing there
    resend = box.next_batch(Lane.RESEND)
    assert resend is not None and resend.readings() == original[2:9] and resend.count == 7
    assert box.load_batch(resend.seq) == resend
    # In a resend message awaiting its PUBACK: not queued again (that message goes again anyway) ...
    assert box.queue_resend(T0 + timedelta(minutes=2), T0 + timedelta(minutes=3)) == 0
    # ... but the rest of the chunk is.
    assert box.queue_resend_seqs(batch.seq, batch.seq) == 13
    assert box.mark_acked(resend.seq) == 7
    again = box.next_batch(Lane.RESEND)
    assert again is not None and again.readings() == original
    box.mark_acked(again.seq)
    assert box.pending_resends() == 0 and box.stats(detail=True).stored_readings == 20


def test_history_in_a_pending_resend_is_not_purged(tmp_path: Path) -> None:
    clock = FakeClock()
    box = make(tmp_path / "o.db", clock, history_days=1)
    box.add_readings(readings(4))
    batch = box.next_batch(Lane.LIVE)
    assert batch is not None
    box.mark_acked(batch.seq)
    assert box.queue_resend_seqs(batch.seq, batch.seq) == 4
    clock.advance(2 * 86400)
    assert box.housekeeping()["purged"] == 0
    resend = box.next_batch(Lane.RESEND)
    assert resend is not None and resend.count == 4
    box.mark_acked(resend.seq)
    assert box.housekeeping()["purged"] == 4


V1_SCHEMA = """
CREATE TABLE readings (id INTEGER PRIMARY KEY, param TEXT NOT NULL, t TEXT NOT NULL, value REAL,
    flag TEXT NOT NULL, device TEXT, msg_seq INTEGER, sent INTEGER NOT NULL DEFAULT 0,
    acquired_at INTEGER NOT NULL);
CREATE INDEX ix_readings_unsent ON readings(id) WHERE sent = 0;
CREATE TABLE messages (seq INTEGER PRIMARY KEY, lane TEXT NOT NULL, created_at INTEGER NOT NULL,
    acked_at INTEGER);
CREATE TABLE resends (reading_id INTEGER PRIMARY KEY, msg_seq INTEGER);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def test_an_outbox_of_the_first_format_is_converted_with_nothing_lost(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    values = readings(12)
    # ids 1-4: sent by message 0 (3 and 4 re-queued: 3 bound to resend message 2, 4 pending);
    # 5-7: bound to message 1, not acknowledged; 8-12: never batched.
    state = [(0, 1)] * 4 + [(1, 0)] * 3 + [(None, 0)] * 5
    for i, (reading, (seq, sent)) in enumerate(zip(values, state, strict=True), start=1):
        db.execute(
            "INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                i,
                reading.param,
                iso_utc(reading.t),
                reading.value,
                str(reading.flag),
                reading.device,
                seq,
                sent,
                int(T0.timestamp() * 1000),
            ),
        )
    db.executemany(
        "INSERT INTO messages VALUES (?, ?, ?, ?)",
        [(0, "live", 1, 2), (1, "live", 3, None), (2, "resend", 4, None)],
    )
    db.executemany("INSERT INTO resends VALUES (?, ?)", [(3, 2), (4, None)])
    db.execute("INSERT INTO meta VALUES ('next_seq', 3)")
    db.commit()
    db.close()

    box = make(path, FakeClock(T0.timestamp() + 3600))  # an hour later: the unsent are backlog
    tables = {r[0] for r in box._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "readings" not in tables and "resends_v1" not in tables
    assert box.next_seq == 3 and box.unacked() == [1, 2]
    stats = box.stats(detail=True)
    assert stats.stored_readings == 12 and stats.backlog == 8  # 3 bound-unacked + 5 never batched
    unacked = box.load_batch(1)
    assert unacked is not None and unacked.readings() == values[4:7]
    resend = box.load_batch(2)
    assert resend is not None and resend.lane is Lane.RESEND and resend.readings() == values[2:3]
    assert box.pending_resends() == 1
    assert box.mark_acked(1) == 3 and box.mark_acked(2) == 1
    fresh = box.next_batch(Lane.BACKFILL)
    assert fresh is not None and fresh.readings() == values[7:]
    queued = box.next_batch(Lane.RESEND)
    assert queued is not None and queued.readings() == values[3:4]
    box.close()
    box = make(path)  # opening again converts nothing twice
    assert box.stats(detail=True).stored_readings == 12


def test_quota_far_below_is_estimated_and_near_it_checked_exactly(tmp_path: Path) -> None:
    # A quota above the exact-check slack: the first polls are checked against the estimate.
    box = make(tmp_path / "o.db", max_bytes=4_000_000, reserve_bytes=200_000)
    total = 0
    for i in range(2000):
        total += box.add_readings(readings(100, start=T0 + timedelta(days=i), first_value=total))
        if i == 5:
            assert box.store.estimate_age > 0  # answered without reading the file's size
        if i % 50 == 0 and box.stats().dropped:
            break
    for i in range(100):  # well past the quota
        total += box.add_readings(readings(100, start=T0 + timedelta(days=3000 + i), first_value=total))
    stats = box.stats(detail=True)
    assert stats.dropped > 0, "the quota never bit"
    assert stats.dropped + stats.stored_readings == total  # each reading stored or counted dropped
    assert box.used_bytes() <= 4_000_000


def test_live_lane_walks_back_from_the_newest_chunk(tmp_path: Path) -> None:
    clock = FakeClock()
    box = make(tmp_path / "o.db", clock, live_window_s=600)
    box.add_readings(readings(2, first_value=0))
    clock.advance(3600)
    box.add_readings(readings(1, first_value=10))  # stored, then the clock stepped back an hour
    clock.advance(-3600)
    box.add_readings(readings(1, first_value=20))  # older than the window now: backfill
    clock.advance(3600)
    box.add_readings(readings(1, first_value=30))
    box.add_readings(readings(1, first_value=31))
    live = box.next_batches(Lane.LIVE, max_messages=5)
    assert [r.value for b in live for r in b.readings()] == [30, 31]  # the walk stops at the older chunk
    assert box.next_batches(Lane.LIVE) == []
    clock.advance(3600)  # everything has aged out of the window: nothing lost, all in the backfill lane
    backfill = box.next_batches(Lane.BACKFILL, max_messages=5)
    assert [r.value for b in backfill for r in b.readings()] == [0, 1, 10, 20]
    stats = box.stats()
    assert stats.backlog == 6 and stats.oldest_unsent == T0  # bound, not yet acknowledged
    box.mark_acked_many(b.seq for b in live)
    assert box.stats().backlog == 4


def test_opening_drops_the_indexes_a_poll_no_longer_pays_for(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    make(path).close()
    db = sqlite3.connect(path)
    db.execute("CREATE INDEX ix_chunks_t_max ON chunks(t_max)")
    db.execute("CREATE INDEX ix_chunks_unsent ON chunks(id) WHERE sent = 0")
    db.commit()
    db.close()
    box = make(path)
    names = {r[0] for r in box._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_chunks_t_max" not in names and "ix_chunks_unsent" not in names
    assert "ix_chunks_backlog" not in names  # the backlog is found from an in-memory bound instead


def test_a_poll_keeps_its_body_inline_and_a_merged_chunk_apart(tmp_path: Path) -> None:
    clock = FakeClock()
    box = make(tmp_path / "o.db", clock, batch_max_readings=50, live_window_s=60)
    poll_backlog(box, clock, 10, per_poll=5)
    assert box._db.execute("SELECT COUNT(*) FROM chunks WHERE body IS NULL").fetchone()[0] == 0
    assert box._db.execute("SELECT COUNT(*) FROM bodies").fetchone()[0] == 0
    clock.advance(3600)
    batch = box.next_batch(Lane.BACKFILL)
    assert batch is not None and batch.count == 50
    # Bound and acknowledged later without rewriting its text: the merged body is in ``bodies``.
    assert box._db.execute("SELECT body IS NULL FROM chunks WHERE msg_seq = ?", (batch.seq,)).fetchall() == [
        (1,)
    ]
    assert box._db.execute("SELECT COUNT(*) FROM bodies").fetchone()[0] == 1
    assert box.load_batch(batch.seq) == batch
    assert box.mark_acked(batch.seq) == 50
    assert stored_values(box) == [float(i) for i in range(50)]


def test_an_outbox_of_the_previous_chunk_format_opens_with_nothing_lost(tmp_path: Path) -> None:
    """The format before inline bodies: every body in ``bodies`` and a partial backlog index."""
    clock = FakeClock()
    path = tmp_path / "o.db"
    box = make(path, clock, batch_max_readings=20, live_window_s=60)
    produced = poll_backlog(box, clock, 20, per_poll=5)
    clock.advance(3600)
    sent, bound = box.next_batches(Lane.BACKFILL, max_messages=2)
    box.mark_acked(sent.seq)
    box.close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO bodies(id, body) SELECT id, body FROM chunks WHERE body IS NOT NULL")
    db.execute("ALTER TABLE chunks DROP COLUMN body")
    db.execute("CREATE INDEX ix_chunks_backlog ON chunks(id) WHERE msg_seq IS NULL")
    db.commit()
    db.close()

    box = make(path, clock, batch_max_readings=20, live_window_s=60)
    names = {r[0] for r in box._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_chunks_backlog" not in names
    assert box._db.execute("SELECT COUNT(*) FROM chunks WHERE body IS NOT NULL").fetchone()[0] == 0
    assert stored_values(box) == [r.value for r in produced]
    assert box.unacked() == [bound.seq] and box.load_batch(bound.seq) == bound  # same seq, same readings
    assert box.stats().backlog == 80
    rest = box.next_batches(Lane.BACKFILL, max_messages=5)
    assert [r for b in rest for r in b.readings()] == produced[40:]
    box.add_readings(readings(1, first_value=1000))  # new polls go inline beside the old format's rows
    live = box.next_batch(Lane.LIVE)
    assert live is not None and [r.value for r in live.readings()] == [1000]
    assert stored_values(box) == [r.value for r in produced] + [1000]


def test_the_backlog_bound_follows_binding_and_reused_ids(tmp_path: Path) -> None:
    """The in-memory lower bound of unbound chunks: moved up by scans, never past an unbound chunk (also
    when SQLite reuses the id of a deleted newest chunk), and rebuilt on open."""
    clock = FakeClock()
    path = tmp_path / "o.db"
    box = make(path, clock, batch_max_readings=10, live_window_s=60)
    poll_backlog(box, clock, 6, per_poll=5)  # 6 chunks; clock now 6 minutes on
    clock.advance(3600)
    batches = box.next_batches(Lane.BACKFILL, max_messages=5)
    assert [b.count for b in batches] == [10, 10, 10]  # pairs merged: ids 2, 4, 6 deleted
    box.mark_acked_many(b.seq for b in batches)
    assert box.stats().backlog == 0
    assert box.queue.unbound_from == 6  # past the last chunk (id 5): nothing unbound
    # The newest chunk (id 5) is purged: the next poll gets id 4 (max + 1), below the bound.
    box._db.execute("DELETE FROM chunks WHERE id = 5")
    box.add_readings(readings(2, first_value=500))
    assert box._db.execute("SELECT MAX(id) FROM chunks").fetchone()[0] == 4
    assert box.stats().backlog == 2
    live = box.next_batch(Lane.LIVE)
    assert live is not None and [r.value for r in live.readings()] == [500, 501]
    box.add_readings(readings(1, first_value=600))
    box.close()
    box = make(path, clock, batch_max_readings=10, live_window_s=60)
    assert box.queue.unbound_from == 5  # the first unbound chunk, found at open
    assert box.stats().backlog == 3
    clock.advance(3600)
    assert box.batches.lane_has_chunks(Lane.BACKFILL, box.store.now_ms() - 60_000)
    late = box.next_batches(Lane.BACKFILL, max_messages=5)
    assert [r.value for b in late for r in b.readings()] == [600]


def test_a_poll_and_the_lanes_do_not_scan_sent_history_or_the_backlog(tmp_path: Path) -> None:
    """No backlog index: the lanes' questions and a poll's commit still touch a few rows, not the 20,000 chunks
    of sent history nor the 5,000 of backlog (counted in SQLite VM steps, not time)."""
    clock = FakeClock()
    box = make(tmp_path / "o.db", clock, live_window_s=600)
    now = box.store.now_ms()
    body = encode_fragment(readings(1))
    t = iso_utc(T0)
    box._db.execute("BEGIN")
    box._db.executemany(
        "INSERT INTO chunks(n, size, t_min, t_max, msg_seq, sent, acquired_at, body) VALUES (1, ?, ?, ?, ?, 1, ?, ?)",
        ((len(body), t, t, i, now - 86_400_000 + i, body) for i in range(20_000)),
    )
    box._db.executemany(
        "INSERT INTO messages(seq, lane, created_at, acked_at, n) VALUES (?, 'live', ?, ?, 1)",
        ((i, now, now) for i in range(20_000)),
    )
    box._db.execute("COMMIT")
    box.seq.set_next(box._db, 20_000)
    box.add_readings(readings(1))
    assert (
        box.batches.lane_has_chunks(Lane.BACKFILL, now - 600_000) is False
    )  # the bound moves past the history once
    for i in range(5000):  # an outage's backlog
        box.add_readings(readings(1, first_value=i))
        clock.advance(1)
    clock.advance(3600)
    box.add_readings(readings(1, first_value=-1))  # the live poll after it

    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    box._db.set_progress_handler(count, 100)  # one call every 100 VM instructions
    cutoff = box.store.now_ms() - 600_000
    for ask in (
        lambda: box.batches.lane_has_chunks(Lane.LIVE, cutoff),
        lambda: box.batches.lane_has_chunks(Lane.BACKFILL, cutoff),
        lambda: box.next_batches(Lane.LIVE),
        lambda: box.batches.lane_has_chunks(Lane.LIVE, cutoff),
        lambda: box.next_batches(Lane.BACKFILL, max_messages=1, max_readings=50),
        lambda: box.add_readings(readings(1, first_value=-2)),
    ):
        steps = 0
        ask()
        assert steps < 50, steps  # a scan of the history or backlog is thousands
    box._db.set_progress_handler(None, 0)
