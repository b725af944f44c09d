"""One HJ 212 target against the in-process platform simulator over real TCP: every stored reading arrives
once as 2011, every closed hour once as 2061 with the hand-computed Avg/Min/Max, through reply loss and a
restart of the target (its cursor and in-flight QN read back from the outbox file)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.config import Hj212Target, OutboxConfig
from agent.hj212up.target import Hj212Uplink
from agent.outbox import Outbox
from protocols.flags import Flag
from protocols.messages import Reading
from protocols.tomldoc import convert
from simulators.hj212_platform import HJ212Platform, PlatformConfig

STATION = "hexicun"
MN = "MN0001"
# 10:00 local = 02:00 UTC; two closed hours of data, the third hour open at "now".
START = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def target(port: int, **extra: Any) -> Hj212Target:
    values: dict[str, Any] = {
        "name": "national",
        "host": "127.0.0.1",
        "port": port,
        "mn": MN,
        "password": "123456",
        "reply_timeout_s": 0.3,
        "retries": 2,
        "realtime_interval_s": 1,
        "period_grace_s": 0,
        "backlog_rate": 1000,
    }
    values.update(extra)
    return convert(values, Hj212Target)


def polls() -> list[list[Reading]]:
    """Every 20 minutes 02:00..04:40 UTC: pH and NH3-N (one poll each); NH3-N at 02:40 is flagged D."""
    out = []
    for i in range(9):
        t = START + timedelta(minutes=20 * i)
        out.append([Reading(param="w01001", t=t, value=7.0 + i / 10, device="probe")])
        flag = Flag.FAULT if i == 2 else Flag.NORMAL
        out.append([Reading(param="w21003", t=t, value=0.5 + i / 100, flag=flag, device="nh3n")])
    return out


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


async def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


def make_outbox(path: Path, clock: Callable[[], float]) -> Outbox:
    outbox = Outbox(path, OutboxConfig(), STATION, clock=clock)
    outbox.enable_feed()
    return outbox


def test_every_reading_and_every_closed_hour_arrive_once(tmp_path: Path) -> None:
    now = (START + timedelta(hours=2, minutes=50)).timestamp()

    def clock() -> float:
        return now

    async def scenario() -> None:
        platform = HJ212Platform(PlatformConfig(port=0, loss=0.3, seed=3))
        await platform.start()
        outbox = make_outbox(tmp_path / "outbox.db", clock)
        for poll in polls():
            outbox.add_readings(poll)
        uplink = Hj212Uplink(target(platform.port), outbox, live_window_s=600, history_days=90, clock=clock)
        task = asyncio.create_task(uplink.run())
        try:
            await wait_for(lambda: uplink.view().backlog == 0 and uplink.view().periods_pending == 0)
            await wait_for(lambda: uplink.state.hour_next == "2026-07-01T04:00:00.000000Z")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        # A second life of the same target: nothing is sent again.
        again = Hj212Uplink(target(platform.port), outbox, live_window_s=600, history_days=90, clock=clock)
        assert again.next_unit() is None
        await platform.stop()
        outbox.close()
        check_journal(platform.records)

    run(scenario())


def check_journal(records: list[dict[str, Any]]) -> None:
    data = [r for r in records if r["kind"] == "data"]
    realtime: dict[tuple[str, str], set[str]] = defaultdict(set)
    values: dict[tuple[str, str], dict[str, str]] = {}
    for r in data:
        if r["cn"] == "2011":
            realtime[(r["code"], r["data_time"])].add(r["qn"])
            values[(r["code"], r["data_time"])] = r["fields"]
    expected = {(r.param, r.t.strftime("%Y-%m-%dT%H:%M:%SZ")) for poll in polls() for r in poll}
    assert set(realtime) == expected
    assert all(len(qns) == 1 for qns in realtime.values()), "a reading came in two messages"
    assert values[("w21003", "2026-07-01T02:40:00Z")] == {"Rtd": "0.52", "Flag": "D"}
    hourly = {(r["code"], r["data_time"]): r["fields"] for r in data if r["cn"] == "2061"}
    hourly_qns: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in data:
        if r["cn"] == "2061":
            hourly_qns[(r["code"], r["data_time"])].add(r["qn"])
    assert all(len(q) == 1 for q in hourly_qns.values())
    # Hour 02:00 UTC: pH 7.0, 7.1, 7.2 → avg 7.1; NH3-N 0.50, 0.51 valid (0.52 is D) → avg 0.505.
    assert hourly[("w01001", "2026-07-01T02:00:00Z")] == {
        "Avg": "7.1",
        "Min": "7.0",
        "Max": "7.2",
        "Flag": "N",
    }
    assert hourly[("w21003", "2026-07-01T02:00:00Z")] == {
        "Avg": "0.505",
        "Min": "0.5",
        "Max": "0.51",
        "Flag": "N",
    }
    # Hour 03:00: pH 7.3, 7.4, 7.5 → 7.4; NH3-N 0.53, 0.54, 0.55 → 0.54. Hour 04:00 is still open.
    assert hourly[("w01001", "2026-07-01T03:00:00Z")]["Avg"] == "7.4"
    assert hourly[("w21003", "2026-07-01T03:00:00Z")]["Avg"] == "0.54"
    assert {t for _, t in hourly} == {"2026-07-01T02:00:00Z", "2026-07-01T03:00:00Z"}
