from __future__ import annotations

from datetime import timedelta

from collector.stations import StationRecord, StationTracker, Thresholds, evaluate
from collector.store.base import supersedes
from protocols.messages import StationState
from tests.collector.factories import T0, status

LIMITS = Thresholds(offline_after_heartbeats=3, clock_offset_max_s=60, default_heartbeat_s=30)


def heard(**kwargs: object) -> StationRecord:
    st = status(**kwargs)  # type: ignore[arg-type]
    return StationRecord("hexicun", status=st, status_received_at=T0, last_heard_at=T0)


def test_never_heard_is_offline() -> None:
    assert evaluate(StationRecord("hexicun"), T0, LIMITS)[0] is StationState.OFFLINE


def test_fresh_online_status_is_online() -> None:
    assert evaluate(heard(), T0 + timedelta(seconds=10), LIMITS) == (StationState.ONLINE, ())


def test_silence_beyond_three_heartbeats_is_offline() -> None:
    record = heard(heartbeat_s=10)
    assert evaluate(record, T0 + timedelta(seconds=29), LIMITS)[0] is StationState.ONLINE
    state, reasons = evaluate(record, T0 + timedelta(seconds=31), LIMITS)
    assert state is StationState.OFFLINE and "silent" in reasons[0]


def test_will_offline_status_is_offline_even_when_fresh() -> None:
    assert evaluate(heard(state=StationState.OFFLINE), T0, LIMITS)[0] is StationState.OFFLINE


def test_degraded_reasons() -> None:
    now = T0 + timedelta(seconds=1)
    assert evaluate(heard(devices={"probe": True, "tp": False}), now, LIMITS) == (
        StationState.DEGRADED,
        ("devices down: tp",),
    )
    assert evaluate(heard(dropped=3), now, LIMITS)[0] is StationState.DEGRADED
    assert evaluate(heard(clock_offset_s=-120.0), now, LIMITS)[0] is StationState.DEGRADED
    assert evaluate(heard(clock_offset_s=30.0), now, LIMITS)[0] is StationState.ONLINE
    assert evaluate(heard(state=StationState.DEGRADED), now, LIMITS)[0] is StationState.DEGRADED


def test_readings_without_status_count_as_online_then_age_out() -> None:
    record = StationRecord("hexicun", last_heard_at=T0)
    assert evaluate(record, T0 + timedelta(seconds=60), LIMITS)[0] is StationState.ONLINE
    assert evaluate(record, T0 + timedelta(seconds=91), LIMITS)[0] is StationState.OFFLINE


def test_tracker_transitions_and_backlog_growth() -> None:
    tracker = StationTracker(LIMITS)
    tracker.add("hexicun")
    first = tracker.tick(T0)
    assert [(t.old, t.new) for t in first] == [(None, StationState.OFFLINE)]
    assert tracker.tick(T0) == []  # no change, no transition

    tracker.on_status(status(at=T0, backlog=10), T0)
    assert [(t.old, t.new) for t in tracker.tick(T0)] == [(StationState.OFFLINE, StationState.ONLINE)]
    # A few batches in flight are normal: growth below the threshold does not degrade the station.
    tracker.on_status(status(at=T0 + timedelta(seconds=15), backlog=50), T0 + timedelta(seconds=15))
    assert tracker.tick(T0 + timedelta(seconds=15)) == []
    tracker.on_status(status(at=T0 + timedelta(seconds=30), backlog=500), T0 + timedelta(seconds=30))
    change = tracker.tick(T0 + timedelta(seconds=30))
    assert change[0].new is StationState.DEGRADED and "backlog growing" in change[0].reasons[0]
    tracker.on_status(status(at=T0 + timedelta(seconds=60), backlog=20), T0 + timedelta(seconds=60))
    assert tracker.tick(T0 + timedelta(seconds=60))[0].new is StationState.ONLINE

    # A stale retained copy does not replace the newer status.
    tracker.on_status(status(at=T0, backlog=999), T0 + timedelta(seconds=61))
    record = tracker.get("hexicun")
    assert record is not None and record.status is not None and record.status.backlog == 20

    # Silence → offline, counted.
    later = tracker.tick(T0 + timedelta(seconds=60 + 91))
    assert later[0].new is StationState.OFFLINE
    assert tracker.count_by_state()[StationState.OFFLINE] == 1


def test_on_message_tracks_last_reading_time() -> None:
    tracker = StationTracker(LIMITS)
    tracker.on_message("hexicun", T0, T0 - timedelta(minutes=5))
    tracker.on_message("hexicun", T0 + timedelta(seconds=1), T0 - timedelta(hours=5))  # backfill of old data
    record = tracker.get("hexicun")
    assert record is not None
    assert record.last_reading_at == T0 - timedelta(minutes=5)
    assert record.last_heard_at == T0 + timedelta(seconds=1)


def test_will_ends_its_run_but_not_a_later_one() -> None:
    run1 = T0
    heartbeat = status(at=T0 + timedelta(minutes=10), started_at=run1)
    will = status(at=T0 + timedelta(seconds=1), state=StationState.OFFLINE)  # composed at connect
    assert supersedes(will, heartbeat)
    assert not supersedes(status(at=T0 + timedelta(minutes=5)), heartbeat)  # an old heartbeat
    run2 = T0 + timedelta(minutes=20)
    restarted = status(at=run2 + timedelta(seconds=5), started_at=run2)
    assert not supersedes(will, restarted)  # the old connection's will, published after the takeover

    tracker = StationTracker(LIMITS)
    tracker.on_status(heartbeat, T0 + timedelta(minutes=10))
    tracker.on_status(will, T0 + timedelta(minutes=11))
    tracker.tick(T0 + timedelta(minutes=11))
    record = tracker.get("hexicun")
    assert record is not None and record.state is StationState.OFFLINE
