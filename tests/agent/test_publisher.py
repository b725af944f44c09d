"""The publisher's window, lanes and rate limit, with an uplink whose PUBACKs the test hands out."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from agent.config import OutboxConfig
from agent.outbox import Outbox
from agent.runtime import Publisher
from agent.uplink import PublishError
from tests.agent.conftest import FakeClock, readings

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
        await asyncio.sleep(0)
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
        outbox.add_readings(readings(100, first_value=0))  # the outage backlog
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
        publisher.pump()
        assert len(uplink.batches()) == 3 and len(uplink.batches()[2][0]["readings"]) == 5

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
        await asyncio.sleep(0)
        assert outbox.stats().backlog == 4
        publisher.pump()
        second, future2 = uplink.batches()[1]
        assert second["seq"] == first["seq"] and second["readings"] == first["readings"]
        future2.set_exception(PublishError("Not authorized", reason="refused", code=0x87))
        await asyncio.sleep(0)
        publisher.pump()
        assert len(uplink.batches()) == 2  # backing off
        mono.now += 10.1
        publisher.pump()
        third, future3 = uplink.batches()[2]
        assert third["seq"] == first["seq"]
        future3.set_result(None)
        await asyncio.sleep(0)
        assert outbox.stats().backlog == 0 and outbox.counters() == {"publish_refused": 1}

    run(main())


def test_events_published_and_marked_sent_on_puback(tmp_path: Path) -> None:
    from protocols.messages import EventKind, Severity

    async def main() -> None:
        outbox = Outbox(tmp_path / "o.db", OutboxConfig(), STATION)
        outbox.add_event(EventKind.DEVICE_DOWN, Severity.WARNING, "tp down", device="tp")
        uplink = FakeUplink()
        publisher = Publisher(outbox, uplink, STATION, outbox.config)
        publisher.pump()
        ((topic, doc, future),) = uplink.sent
        assert topic == f"qingliu/v1/{STATION}/events" and doc["kind"] == "device_down"
        publisher.pump()
        assert len(uplink.sent) == 1  # in flight: not sent twice
        future.set_result(None)
        await asyncio.sleep(0)
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

        task = asyncio.create_task(publisher.run(tick_s=0.05))
        await asyncio.wait_for(acker(), 9)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert outbox.stats().backlog == 0 and len(uplink.batches()) == 40
        assert ticks >= 20  # at most two new batches between two turns of the other task

    run(main())
