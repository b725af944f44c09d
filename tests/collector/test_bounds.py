"""Every per-station or per-client memory of the collector has a bound (issue 19): tested with many
distinct keys, as a fleet or a misbehaving client would bring them over months."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from collector import gaps
from collector.gaps import GapPlanner, GapSettings
from collector.live import LiveHub, TooManyListeners
from collector.store import readback
from collector.store.readback import ReadBack

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def test_closed_resend_requests_per_station_stay_within_their_bound() -> None:
    planner = GapPlanner(GapSettings(grace_s=0, max_outstanding=10**6, max_seq_span=1))
    n = gaps.CLOSED_MAX + 500
    asks = planner.plan("hexicun", "seq", [(i * 10, i * 10) for i in range(n)], NOW)
    assert len(asks) == n
    for i, ask in enumerate(asks):
        planner.sent(ask, f"c{i}", NOW)
        assert planner.on_reply(f"c{i}", True)
    held = planner.snapshot("hexicun")
    assert len(held) == gaps.CLOSED_MAX
    assert held[0]["args"] == {"seq_from": 5000, "seq_to": 5000}  # the oldest 500 went
    assert planner.recovered("hexicun")[-1] == (10 * (n - 1), 10 * (n - 1))


def test_implausible_holes_remembered_per_station_stay_within_their_bound() -> None:
    planner = GapPlanner(GapSettings(max_seq_jump=10))
    for i in range(gaps.IMPLAUSIBLE_MAX + 100):
        planner.seq_holes("hexicun", [(i * 1000, i * 1000 + 500)])
    assert len(planner._memo("hexicun").implausible) == gaps.IMPLAUSIBLE_MAX
    assert planner.counters["implausible"] == gaps.IMPLAUSIBLE_MAX + 100


def test_the_live_stream_takes_at_most_max_subscribers_each_with_a_bounded_queue() -> None:
    async def scenario() -> None:
        hub = LiveHub(queue_size=5, max_subscribers=3)
        streams = [hub.subscribe(ping_s=60) for _ in range(4)]
        pending = [asyncio.ensure_future(s.__anext__()) for s in streams[:3]]
        await asyncio.sleep(0.01)
        assert hub.subscriber_count == 3
        with pytest.raises(TooManyListeners):
            await streams[3].__anext__()
        for i in range(1_000):  # nobody reads: each queue keeps the newest 5, the rest are dropped
            hub.publish("station", {"i": i})
        await asyncio.sleep(0.01)
        first = [await p for p in pending]
        assert [u.data["i"] for u in first] == [995, 995, 995]
        assert hub.dropped == 3 * 995
        for s in streams[:3]:
            await s.aclose()  # type: ignore[attr-defined]  # an async generator underneath
        assert hub.subscriber_count == 0

    asyncio.run(scenario())


def test_rows_remembered_as_logged_stay_within_their_bound() -> None:
    back = ReadBack()

    def bad() -> int:
        raise ValueError("no longer validates")

    for i in range(readback.SEEN_MAX + 5_000):
        assert back.parse("statuses", f"station{i}", bad) is None
    assert len(back._seen) <= readback.SEEN_MAX
    assert back.counts["statuses"] == readback.SEEN_MAX + 5_000


def test_old_requests_of_a_time_kind_are_pruned_by_look_back() -> None:
    planner = GapPlanner(GapSettings(grace_s=0))
    asks = planner.plan("hexicun", "time", [(0, 1_000_000)], NOW)
    planner.sent(asks[0], "c1", NOW)
    planner.on_reply("c1", True)
    planner.prune("hexicun", "time", before=int(timedelta(hours=1) / timedelta(microseconds=1)))
    assert planner.snapshot("hexicun") == []
