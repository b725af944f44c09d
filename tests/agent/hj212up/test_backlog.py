"""A target that fell behind: fresh rows first, then the backlog oldest first; the feed's pruning keeps what a
target still needs, and what the feed quota takes from a target is counted as its loss."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from agent.config import parse_config
from agent.hj212up import cursors
from agent.hj212up.service import UplinkService
from agent.hj212up.target import Hj212Uplink
from agent.outbox import Outbox
from agent.outbox import feed as feedrows
from protocols.messages import Reading
from simulators.hj212_platform import HJ212Platform, PlatformConfig
from tests.agent.hj212up.test_target import START, make_outbox, run, target, wait_for


def reading(minutes: int) -> list[Reading]:
    return [Reading(param="w01001", t=START + timedelta(minutes=minutes), value=7.0 + minutes / 1000)]


def test_fresh_rows_go_before_the_backlog_which_goes_oldest_first(tmp_path: Path) -> None:
    now = [START.timestamp()]
    outbox = make_outbox(tmp_path / "outbox.db", lambda: now[0])
    for m in range(0, 100, 10):  # ten polls stored an hour and more before "now"
        now[0] = (START + timedelta(minutes=m)).timestamp()
        outbox.add_readings(reading(m))
    now[0] = (START + timedelta(minutes=170)).timestamp()
    for m in (160, 165):  # two fresh ones
        outbox.add_readings(reading(m))

    async def scenario() -> list[str]:
        platform = HJ212Platform(PlatformConfig(port=0))
        await platform.start()
        uplink = Hj212Uplink(
            target(platform.port, hourly=False),
            outbox,
            live_window_s=600,
            history_days=90,
            clock=lambda: now[0],
        )
        task = asyncio.create_task(uplink.run())
        try:
            await wait_for(lambda: sum(r["kind"] == "data" for r in platform.records) == 12)
            # The platform records the twelfth frame before its reply reaches the uplink.
            await wait_for(lambda: uplink.view().backlog == 0)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await platform.stop()
        assert uplink.view().backlog == 0 and not uplink.state.split
        return [r["data_time"][11:16] for r in platform.records if r["kind"] == "data"]

    order = run(scenario())
    # START is 02:00 UTC: fresh 04:40 and 04:45 first, then 02:00 … 03:30 in order.
    assert order == [
        "04:40",
        "04:45",
        "02:00",
        "02:10",
        "02:20",
        "02:30",
        "02:40",
        "02:50",
        "03:00",
        "03:10",
        "03:20",
        "03:30",
    ]
    outbox.close()


def config_text(history_days: float, max_bytes: int = 2_000_000_000) -> str:
    return f"""
[station]
id = "hexicun"
[outbox]
history_days = {history_days}
max_bytes = {max_bytes}
[[uplink.hj212]]
name = "national"
host = "127.0.0.1"
port = 1
mn = "MN0001"
password = "123456"
[[uplink.hj212]]
name = "province"
host = "127.0.0.1"
port = 2
mn = "MN0001"
password = "123456"
"""


def test_pruning_keeps_rows_a_target_still_needs(tmp_path: Path) -> None:
    now = [START.timestamp()]
    config = parse_config(config_text(history_days=0))
    outbox = Outbox(tmp_path / "outbox.db", config.outbox, "hexicun", clock=lambda: now[0])

    async def scenario() -> None:
        service = UplinkService(config, outbox, clock=lambda: now[0])
        for m in range(10):
            outbox.add_readings(reading(m))
        national, province = service.targets
        national.state.consumed_live(6)  # national had rows 1..6, province none
        now[0] += 3600
        assert service.housekeeping() == 0  # province still needs row 1 on
        province.state.consumed_live(3)
        assert service.housekeeping() == 3  # rows 1..3: both have them, older than history_days
        with outbox.store.lock:
            left = [r.id for r in feedrows.rows(outbox.store.db, 0, 100, 100)]
        assert left == list(range(4, 11))
        assert (national.state.lost, province.state.lost) == (0, 0)

    asyncio.run(scenario())
    outbox.close()


def test_the_feed_quota_counts_what_a_target_loses(tmp_path: Path) -> None:
    now = [START.timestamp()]
    config = parse_config(config_text(history_days=90, max_bytes=1_000_000))  # feed quota 250,000 bytes
    outbox = Outbox(tmp_path / "outbox.db", config.outbox, "hexicun", clock=lambda: now[0])

    async def scenario() -> None:
        service = UplinkService(config, outbox, clock=lambda: now[0])
        national, province = service.targets
        for m in range(4000):  # about 71 bytes each
            outbox.add_readings(reading(m))
        with outbox.store.lock:
            used = feedrows.used_bytes(outbox.store.db)
        assert used > 250_000
        national.state.consumed_live(500)  # national had the first 500 rows
        deleted = service.housekeeping()
        with outbox.store.lock:
            first = feedrows.rows(outbox.store.db, 0, 10_000, 1)[0].id
            after = feedrows.used_bytes(outbox.store.db)
        assert deleted == first - 1 > 500 and after <= 225_000  # down to 90 % of the quota
        # One reading per row: national lost the rows past its 500, province every row deleted.
        assert national.state.lost == deleted - 500
        assert province.state.lost == deleted
        assert national.state.done_below == province.state.done_below == first
        saved = cursors.load(outbox.store, "province")
        assert saved is not None and saved.lost == deleted

    asyncio.run(scenario())
    outbox.close()


def test_a_slow_platform_does_not_hold_up_another(tmp_path: Path) -> None:
    """Two targets over one outbox: the one whose platform answers after 5 s has delivered at most one unit
    when the other has delivered everything."""
    now = (START + timedelta(hours=1)).timestamp()
    outbox = make_outbox(tmp_path / "outbox.db", lambda: now)
    for m in range(0, 60, 2):
        outbox.add_readings(reading(m))

    async def scenario() -> tuple[int, int]:
        fast = HJ212Platform(PlatformConfig(port=0))
        slow = HJ212Platform(PlatformConfig(port=0, reply_delay_s=5.0))
        await fast.start()
        await slow.start()
        uplinks = [
            Hj212Uplink(
                target(p.port, name=name, hourly=False, reply_timeout_s=10.0),
                outbox,
                live_window_s=7200,
                history_days=90,
                clock=lambda: now,
            )
            for name, p in (("fast", fast), ("slow", slow))
        ]
        tasks = [asyncio.create_task(u.run()) for u in uplinks]
        try:
            await wait_for(lambda: uplinks[0].view().backlog == 0)
            return uplinks[0].state.sent_frames, uplinks[1].state.sent_frames
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await fast.stop()
            await slow.stop()

    fast_sent, slow_sent = run(scenario())
    assert fast_sent == 30 and slow_sent <= 1
    outbox.close()


def test_a_target_without_real_time_data_does_not_hold_rows(tmp_path: Path) -> None:
    now = [START.timestamp()]
    config = parse_config(
        config_text(history_days=0).replace('password = "123456"', 'password = "123456"\nrealtime = false')
    )
    outbox = Outbox(tmp_path / "outbox.db", config.outbox, "hexicun", clock=lambda: now[0])

    async def scenario() -> None:
        service = UplinkService(config, outbox, clock=lambda: now[0])
        for m in range(10):
            outbox.add_readings(reading(m))
        now[0] += 7200
        for uplink in service.targets:
            uplink.next_unit()  # the hours of data go by time; the rows are not needed
            assert uplink.view().backlog == 0
        assert service.housekeeping() == 10

    asyncio.run(scenario())
    outbox.close()
