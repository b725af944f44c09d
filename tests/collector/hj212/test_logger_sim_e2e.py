"""The collector's HJ 212 server against the simulated data logger (``qingliu sim hj212-logger``) over real TCP:
every value the logger produced and delivered is stored once, through its faults; a gap is filled by a pull."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.service import CollectorService
from protocols.messages import CommandKind
from simulators.clock import SimClock
from simulators.hj212_logger import Faults, HJ212Logger, LoggerConfig
from tests.collector.factories import config

S = "hexicun"
MN = "SIMMN0001"
PW = "654321"


def hj212_config(cns: str) -> str:
    return f"""
[hj212]
enabled = true
port = 0
[[hj212.loggers]]
mn = "{MN}"
password = "{PW}"
station = "{S}"
cns = ["{cns}"]
history_cn = "{cns}"
[hj212.limits]
garbage_close_after = 3
"""


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[[str], CollectorService]]:
    made: list[CollectorService] = []

    def build(cns: str) -> CollectorService:
        svc = CollectorService(config(tmp_path, hj212_config(cns)), tick_s=3600)
        svc.start(mqtt=False)
        made.append(svc)
        return svc

    yield build
    for svc in made:
        svc.stop()


async def until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def produced(logger: HJ212Logger, cn: str) -> set[tuple[str, datetime, float]]:
    return {
        (r["param"], datetime.fromisoformat(r["result_time"].replace("Z", "+00:00")), r["value"])
        for r in logger.journal.records
        if r["device"] == cn
    }


def stored(service: CollectorService) -> set[tuple[str, datetime, float]]:
    assert service.wait_idle(10)
    return {(r.param, r.t, r.value) for r in service.store.readings(S, limit=100_000) if r.value is not None}


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(body())  # type: ignore[arg-type]


def test_every_value_delivered_through_faults_is_stored_once(make: Callable[[str], CollectorService]) -> None:
    service = make("2011")
    assert service.hj212 is not None
    port = service.hj212.port
    # The logger's clock starts an hour back and runs 60 times faster: a sample a second, in the past.
    clock = SimClock(datetime.now(UTC) - timedelta(hours=1), speed=60.0)
    faults = Faults(split=2, drop_mid_split=2, bad_crc_every=3, garbage_every=5, reconnect_every=7)
    logger_config = LoggerConfig(
        host="127.0.0.1",
        port=port,
        mn=MN,
        pw=PW,
        station=S,
        send_hourly=False,
        ack_timeout_s=1.0,
        faults=faults,
    )
    intruder_config = LoggerConfig(host="127.0.0.1", port=port, mn=MN, pw="000000", station=S, retries=0)

    async def body() -> None:
        logger = HJ212Logger(logger_config, clock)
        intruder = HJ212Logger(intruder_config, clock)
        await logger.start()
        await intruder.start()
        await until(lambda: logger.stats.acked >= 15 and intruder.stats.messages_sent >= 2, "15 messages")
        await intruder.stop()
        await logger.stop()
        stats = logger.stats
        assert stats.dropped_mid_split == 2 and stats.bad_crc_sent >= 4 and stats.garbage_sent >= 2
        assert stats.unacked == 0  # every message was answered in the end (after its resends)
        sent = produced(logger, "2011")
        held = stored(service)
        assert held <= sent  # what is stored is what the logger produced, value for value
        times = {t for _, t, _ in held}
        # One message per sample time; each acknowledged one is stored whole (split or not), and at most the
        # one in flight when the logger stopped is stored without its 9014 having arrived.
        assert stats.acked <= len(times) <= stats.acked + 1
        for t in times:
            assert {(p, v) for p, tt, v in held if tt == t} == {(p, v) for p, tt, v in sent if tt == t}
        assert len({(p, t) for p, t, _ in held}) == len(held)  # one value per identity
        assert service.store.counts().get("reading_revisions", 0) == 0
        refused = service.hj212.counts.snapshot() if service.hj212 else {}
        assert refused[MN]["bad_password"] >= 2
        assert refused[MN]["crc"] + refused.get("(unknown)", {}).get("crc", 0) >= stats.bad_crc_sent

    run(body)
    record = service.tracker.get(S)
    assert record is not None and record.status is not None and record.status.devices["logger"].failures > 0


def test_a_history_pull_fills_what_the_logger_could_not_deliver(
    make: Callable[[str], CollectorService],
) -> None:
    service = make("2061")
    assert service.hj212 is not None
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=8)
    clock = SimClock(start, speed=3600.0)  # an hour a second, from 8 hours back
    # First every hourly message goes out with a bad CRC and is never sent again: hours the collector lacks.
    logger_config = LoggerConfig(
        host="127.0.0.1",
        port=service.hj212.port,
        mn=MN,
        pw=PW,
        station=S,
        retries=0,
        ack_timeout_s=0.5,
        interval_s=600.0,
        faults=Faults(bad_crc_every=1),
    )
    result: dict[str, Any] = {}

    async def body() -> None:
        logger = HJ212Logger(logger_config, clock)
        await logger.start()
        await until(lambda: logger.stats.unacked >= 2, "two hours lost")
        logger.set_faults(Faults())
        await until(lambda: logger.stats.acked >= 2, "two hours delivered")
        lost = produced(logger, "2061") - stored(service)
        assert lost  # the bad-CRC hours
        first, last = min(t for _, t, _ in lost), max(t for _, t, _ in lost)
        command = await asyncio.to_thread(
            service.send_command,
            S,
            CommandKind.RESEND,
            {"from": _iso(first), "to": _iso(last + timedelta(hours=1))},
        )
        await until(lambda: _reply(service, command.id) is not None, "the pull's 9012")
        result["reply"] = _reply(service, command.id)
        result["lost"] = lost
        result["held"] = stored(service)
        await logger.stop()

    run(body)
    assert result["reply"].ok
    assert result["lost"] <= result["held"]  # every lost hour is back, once
    assert service.store.counts().get("reading_revisions", 0) == 0


def _reply(service: CollectorService, command_id: str) -> Any:
    found = service.store.command(S, command_id)
    return None if found is None else found.reply


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
