"""The publisher's window, lanes and rate limit, with an uplink whose PUBACKs the test hands out."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from agent.config import OutboxConfig
from agent.outbox import Outbox
from agent.publisher import Publisher
from agent.sink import EventRecord
from agent.uplink import PublishError
from tests.agent.conftest import T0, FakeClock, readings

STATION = "hexicun"


class FakeUplink:
    def __init__(self) -> None:
        self.connected = True
        self.sent: list[tuple[str, dict[str, Any], asyncio.Future[None]]] = []

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append((topic, json.loads(payload), future))
        return future

    def batches(self) -> list[tuple[dict[str, Any], asyncio.Future[None]]]:
        return [(doc, f) for topic, doc, f in self.sent if topic.endswith("/readings")]


class MonoClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    """Let the done callbacks run, and the end-of-turn flush of the PUBACKs they collected."""
    for _ in range(3):
        await asyncio.sleep(0)


def run(coro: object) -> None:
    asyncio.run(asyncio.wait_for(coro, 10))  # type: ignore[arg-type]


def test_window_bounds_messages_in_flight(tmp_path: Path) -> None:
    async def main() -> None:
        outbox = Outbox(tmp_path / "o.db", OutboxConfig(inflight=2, batch_max_readings=5), STATION)
        outbox.add_readings(readings(50))
        uplink = FakeUplink()
        publisher = Publisher(outbox, uplink, STATION, outbox.config)
        publisher.pump()
        assert [d["seq"] for d, _ in uplink.batches()] == [0, 1]
        publisher.pump()
        assert len(uplink.batches()) == 2  # window full: nothing more
        uplink.batches()[0][1].set_result(None)  # PUBACK for seq 0
        await settle()
        assert outbox.stats().backlog == 45
        publisher.pump()
        assert [d["seq"] for d, _ in uplink.batches()] == [0, 1, 2]

    run(main())


def test_live_before_backfill_and_backfill_rate_limited(tmp_path: Path) -> None:
    async def main() -> None:
        wall = FakeClock()
        mono = MonoClock()
        config = OutboxConfig(live_window_s=600, backfill_rate=10, batch_max_readings=500, inflight=10)
        outbox = Outbox(tmp_path / "o.db", config, STATION, clock=wall)
        for i in range(50):  # the outage backlog, two readings a poll
            outbox.add_readings(readings(2, start=T0 + timedelta(minutes=i), first_value=2 * i))
        wall.advance(3600)
        outbox.add_readings(readings(3, first_value=1000))  # fresh
        uplink = FakeUplink()
        publisher = Publisher(outbox, uplink, STATION, config, clock=mono)
        publisher.pump()
        sent = uplink.batches()
        assert sent[0][0]["lane"] == "live" and [r["value"] for r in sent[0][0]["readings"]] == [
            1000,
            1001,
            1002,
        ]
        assert sent[1][0]["lane"] == "backfill" and len(sent[1][0]["readings"]) == 10  # one second's worth
        assert [r["value"] for r in sent[1][0]["readings"]] == list(range(10))  # oldest first
        assert len(sent) == 2
        mono.now += 0.5
        publisher.pump()  # 5 tokens: two polls' chunks; then 1 token left, and a chunk goes on credit
        assert [len(d["readings"]) for d, _ in uplink.batches()] == [3, 10, 4, 2]
        assert publisher.bucket.available() == -1
        mono.now += 0.2  # paid back: one more chunk
        publisher.pump()
        assert [len(d["readings"]) for d, _ in uplink.batches()][4:] == [2]

    run(main())


def test_a_chunk_bigger_than_the_rate_goes_whole_and_the_bucket_pays_it_back(tmp_path: Path) -> None:
    async def main() -> None:
        wall = FakeClock()
        mono = MonoClock()
        config = OutboxConfig(live_window_s=600, backfill_rate=10, inflight=10)
        outbox = Outbox(tmp_path / "o.db", config, STATION, clock=wall)
        outbox.add_readings(readings(100))  # one chunk of 100
        outbox.add_readings(readings(100, start=T0 + timedelta(hours=2), first_value=100))
        wall.advance(3 * 3600)
        uplink = FakeUplink()
        publisher = Publisher(outbox, uplink, STATION, config, clock=mono)
        publisher.pump()
        assert [len(d["readings"]) for d, _ in uplink.batches()] == [100]
        for _ in range(8):  # 90 readings of debt: nothing for nine seconds
            mono.now += 1.0
            publisher.pump()
        assert len(uplink.batches()) == 1
        mono.now += 1.1
        publisher.pump()
        assert [len(d["readings"]) for d, _ in uplink.batches()] == [100, 100]

    run(main())


def test_disconnect_resends_same_seq_and_refusal_backs_off(tmp_path: Path) -> None:
    async def main() -> None:
        outbox = Outbox(tmp_path / "o.db", OutboxConfig(), STATION)
        outbox.add_readings(readings(4))
        uplink = FakeUplink()
        mono = MonoClock()
        publisher = Publisher(
            outbox, uplink, STATION, outbox.config, retry_min_s=10, retry_max_s=10, clock=mono
        )
        publisher.pump()
        ((first, future),) = uplink.batches()
        future.set_exception(PublishError("lost", reason="disconnected"))
        await settle()
        assert outbox.stats().backlog == 4
        publisher.pump()
        second, future2 = uplink.batches()[1]
        assert second["seq"] == first["seq"] and second["readings"] == first["readings"]
        future2.set_exception(PublishError("Not authorized", reason="refused", code=0x87))
        await settle()
        publisher.pump()
        assert len(uplink.batches()) == 2  # backing off
        mono.now += 10.1
        publisher.pump()
        third, future3 = uplink.batches()[2]
        assert third["seq"] == first["seq"]
        future3.set_result(None)
        await settle()
        assert outbox.stats().backlog == 0 and outbox.counters() == {"publish_refused": 1}

    run(main())


def test_events_published_and_marked_sent_on_puback(tmp_path: Path) -> None:
    from protocols.messages import EventKind, Severity

    async def main() -> None:
        outbox = Outbox(tmp_path / "o.db", OutboxConfig(), STATION)
        outbox.add_event(EventRecord(EventKind.DEVICE_DOWN, Severity.WARNING, "tp down", device="tp"))
        uplink = FakeUplink()
        publisher = Publisher(outbox, uplink, STATION, outbox.config)
        publisher.pump()
        ((topic, doc, future),) = uplink.sent
        assert topic == f"qingliu/v1/{STATION}/events" and doc["kind"] == "device_down"
        publisher.pump()
        assert len(uplink.sent) == 1  # in flight: not sent twice
        future.set_result(None)
        await settle()
        assert outbox.unsent_events() == []

    run(main())


def test_pump_with_a_step_stops_early_and_says_there_is_more(tmp_path: Path) -> None:
    async def main() -> None:
        outbox = Outbox(tmp_path / "o.db", OutboxConfig(inflight=4, batch_max_readings=5), STATION)
        outbox.add_readings(readings(50))
        uplink = FakeUplink()
        publisher = Publisher(outbox, uplink, STATION, outbox.config)
        assert publisher.pump(max_new=1) is True
        assert len(uplink.batches()) == 1
        assert publisher.pump(max_new=2) is True
        assert publisher.pump(max_new=2) is False  # window full after one more
        assert len(uplink.batches()) == 4
        assert publisher.pump() is False

    run(main())


def test_run_drains_a_backlog_in_steps_while_other_tasks_keep_running(tmp_path: Path) -> None:
    async def main() -> None:
        outbox = Outbox(tmp_path / "o.db", OutboxConfig(inflight=8, batch_max_readings=10), STATION)
        outbox.add_readings(readings(400))
        uplink = FakeUplink()
        publisher = Publisher(outbox, uplink, STATION, outbox.config)
        ticks = 0

        async def acker() -> None:
            nonlocal ticks
            while outbox.stats().backlog:
                ticks += 1  # another task on the loop gets turns while the publisher works
                for _, future in uplink.batches():
                    if not future.done():
                        future.set_result(None)
                await asyncio.sleep(0)

        task = asyncio.create_task(publisher.run(tick_s=0.05, step=2))
        await asyncio.wait_for(acker(), 9)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert outbox.stats().backlog == 0 and len(uplink.batches()) == 40
        assert ticks >= 20  # at most two new batches between two turns of the other task

    run(main())


def test_a_puback_frees_its_slot_at_once_and_the_next_window_is_bound_while_waiting(tmp_path: Path) -> None:
    async def main() -> None:
        wall = FakeClock()
        config = OutboxConfig(inflight=2, batch_max_readings=5, live_window_s=60)
        outbox = Outbox(tmp_path / "o.db", config, STATION, clock=wall)
        outbox.add_readings(readings(50))
        wall.advance(3600)  # an outage backlog: the backfill lane
        uplink = FakeUplink()
        publisher = Publisher(outbox, uplink, STATION, config)
        publisher.pump()
        assert [d["seq"] for d, _ in uplink.batches()] == [0, 1]
        assert [b.seq for b in publisher.ready] == [2, 3]  # window full: its successors bound meanwhile
        uplink.batches()[0][1].set_result(None)  # PUBACK for seq 0
        await asyncio.sleep(0)  # its done callback, not yet the flush
        assert publisher.acked == [0] and publisher.wake.is_set()
        assert outbox.stats().backlog == 50  # not marked yet
        publisher.pump()  # sends into the freed slot, then marks the PUBACK
        assert [d["seq"] for d, _ in uplink.batches()] == [0, 1, 2]
        assert publisher.acked == [] and outbox.stats().backlog == 45

    run(main())
