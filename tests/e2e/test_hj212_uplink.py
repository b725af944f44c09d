"""HJ 212 upward link with real processes: station simulator → agent (kill -9 ×N) → platform simulator.

The agent's outbox starts with a week of readings stored a week ago (a platform that was down for the week);
the station simulator adds live ones. The platform simulator loses replies (``--loss``) and is itself killed
and restarted once. At the end every reading the agent committed is in the platform's journal as exactly one
2011 message (one QN: resends keep theirs, across kill -9 too), every closed hour as one 2061 message whose
Avg/Min/Max/Flag are those of the hour's stored readings, and every local day of the week as one 2031; every
frame was checked by the platform with the strict codec (its journal has only frames that decoded).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.config import OutboxConfig
from agent.outbox import Outbox
from protocols import hj212
from protocols.flags import Flag
from protocols.hj212_periods import aggregate, period_end, period_start
from protocols.messages import Reading
from simulators.hj212_platform import read_platform_journal
from tests.support.broker import Mosquitto
from tests.support.ports import free_port, wait_for_port
from tests.support.processes import Proc, ProcessGroup, qingliu
from tests.support.stack import Stack, wait_until

pytestmark = pytest.mark.e2e

MN = "QL0000000001"
PW = "plat-123"
WEEK = timedelta(days=7)


def second(t: str | datetime) -> str:
    moment = datetime.fromisoformat(t.replace("Z", "+00:00")) if isinstance(t, str) else t
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prefill(path: Path, station: str, now: datetime) -> None:
    """A week of pH and NH3-N every 10 minutes, each poll stored when it was taken (clock in the past)."""
    at = [0.0]
    outbox = Outbox(path, OutboxConfig(), station, clock=lambda: at[0])
    outbox.enable_feed()
    start = (now - WEEK).replace(minute=0, second=0, microsecond=0)
    t, i = start, 0
    while t < now - timedelta(minutes=30):
        at[0] = t.timestamp()
        flag = Flag.MAINTENANCE if i % 37 == 0 else Flag.NORMAL
        outbox.add_readings(
            [
                Reading(param="w01001", t=t, value=round(7.0 + (i % 13) / 10, 2), device="probe"),
                Reading(param="w21003", t=t, value=round(0.3 + (i % 7) / 100, 3), flag=flag, device="nh3n"),
            ]
        )
        t += timedelta(minutes=10)
        i += 1
    outbox.close()


def start_platform(processes: ProcessGroup, port: int, journal: Path, n: int, loss: float) -> Proc:
    proc = processes.start(
        f"platform-{n}",
        qingliu(
            "sim",
            "hj212-platform",
            "--port",
            str(port),
            "--pw",
            PW,
            "--journal",
            str(journal),
            "--loss",
            str(loss),
            "--seed",
            str(n),
            "--time-every",
            "5",
        ),
    )
    wait_for_port(port, timeout=20)
    return proc


def uplink_toml(port: int) -> str:
    return "\n".join(
        [
            "",
            "[[uplink.hj212]]",
            'name = "national"',
            'host = "127.0.0.1"',
            f"port = {port}",
            f'mn = "{MN}"',
            f'password = "{PW}"',
            "realtime_interval_s = 0.5",
            "daily = true",
            "period_grace_s = 30",
            "reply_timeout_s = 0.3",
            "retries = 2",
            "backlog_rate = 500",
            "reconnect_max_s = 1.0",
            "",
        ]
    )


def platform_state(stack: Stack) -> dict[str, Any]:
    import json
    import sqlite3

    with sqlite3.connect(f"file:{stack.outbox_path}?mode=ro", uri=True, timeout=10) as db:
        row = db.execute("SELECT state FROM uplink_cursors WHERE target = 'national'").fetchone()
        head = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'uplink_feed'").fetchone()
    state: dict[str, Any] = json.loads(row[0]) if row else {}
    state["head"] = int(head[0]) + 1 if head else 1
    return state


def drained(stack: Stack) -> bool:
    state = platform_state(stack)
    return (
        bool(state)
        and state["inflight"] is None
        and state["done_below"] == state["live_next"] == state["head"]
    )


def run_uplink(tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup, kills: int) -> None:
    seed = random.randrange(2**31)
    print(f"seed {seed}")
    rng = random.Random(seed)
    platform_port = free_port()
    journal = tmp_path / "platform.jsonl"
    stack = Stack(
        tmp_path / "stack",
        mosquitto,
        processes,
        probe_interval_s=2.0,
        analyser_interval_s=1.0,
        agent_extra=uplink_toml(platform_port),
    )
    stack.root.mkdir(parents=True)
    (stack.root / "agent").mkdir()
    began = datetime.now(UTC)
    prefill(stack.outbox_path, stack.station, began)
    platform = start_platform(processes, platform_port, journal, 1, loss=0.05)
    stack.start_sim()
    stack.start_agent()
    wait_until(
        lambda: journal.exists() and journal.stat().st_size > 0, 60, what="the first frames at the platform"
    )
    for i in range(kills):
        time.sleep(rng.uniform(0.3, 2.5))
        assert stack.agent is not None
        stack.agent.kill9()
        print(f"kill -9 agent #{i + 1}")
        if i == kills // 2:
            platform.kill9()  # the platform goes down too, and comes back while the agent is down
            time.sleep(1.0)
            platform = start_platform(processes, platform_port, journal, 2, loss=0.05)
        stack.start_agent()
    time.sleep(3.0)
    assert stack.sim is not None
    stack.sim.stop()  # no new readings: what is stored must all arrive
    wait_until(lambda: drained(stack), 240, interval=0.5, what="the platform's cursor at the feed's head")
    assert stack.agent is not None
    stack.agent.stop()
    platform.stop()
    check(stack, read_platform_journal(journal), began)


def check(stack: Stack, records: list[dict[str, Any]], began: datetime) -> None:
    committed = stack.agent_readings()  # (param, t iso, value, flag), every reading ever stored
    data = [r for r in records if r["kind"] == "data" and r["mn"] == MN]
    assert data, "nothing reached the platform"
    # Real-time: one message per reading (same QN however often it was sent), value and flag as stored.
    # DataTime has whole seconds: two readings of one item within a second (an analyser marked B twice as
    # the agent restarts) share a key, each in its own message; so each key has as many QNs as readings.
    rt_qns: dict[tuple[str, str], set[str]] = defaultdict(set)
    rt_fields: dict[tuple[str, str], set[tuple[str | None, str]]] = defaultdict(set)
    for r in data:
        if r["cn"] == hj212.CN_REALTIME:
            rt_qns[(r["code"], r["data_time"])].add(r["qn"])
            rt_fields[(r["code"], r["data_time"])].add((r["fields"].get("Rtd"), r["fields"]["Flag"]))
    expected: dict[tuple[str, str], list[tuple[str | None, str]]] = defaultdict(list)
    for param, t, value, flag in committed:
        expected[(param, second(t))].append((None if value is None else hj212.format_value(value), flag))
    missing = set(expected) - set(rt_qns)
    extra = set(rt_qns) - set(expected)
    twice = {k: q for k, q in rt_qns.items() if len(q) != len(expected.get(k, []))}
    mismatched = [k for k, values in expected.items() if k in rt_fields and rt_fields[k] != set(values)]
    shared = sum(1 for values in expected.values() if len(values) > 1)
    print(
        f"real-time: committed={sum(map(len, expected.values()))} received={sum(map(len, rt_qns.values()))} "
        f"missing={len(missing)} extra={len(extra)} duplicated={len(twice)} mismatched={len(mismatched)} "
        f"(keys shared by two readings in one second: {shared})"
    )
    assert not missing, sorted(missing)[:5]
    assert not extra, sorted(extra)[:5]
    assert not twice, list(twice.items())[:5]
    assert not mismatched, mismatched[:5]
    # Periods: every closed hour (and local day) of stored data, once, with the stored readings' figures.
    readings = [
        (param, datetime.fromisoformat(t.replace("Z", "+00:00")), value, flag)
        for param, t, value, flag in committed
    ]
    for cn, grace in ((hj212.CN_HOURLY, 30), (hj212.CN_DAILY, 30)):
        got: dict[tuple[str, str], set[str]] = defaultdict(set)
        fields: dict[tuple[str, str], dict[str, str]] = {}
        for r in data:
            if r["cn"] == cn:
                got[(r["code"], r["data_time"])].add(r["qn"])
                fields[(r["code"], r["data_time"])] = r["fields"]
        by_period: dict[datetime, list[tuple[str, float | None, str]]] = defaultdict(list)
        for param, at, value, flag in readings:
            by_period[period_start(cn, at)].append((param, value, flag))
        closed = 0
        for start, items in by_period.items():
            key_time = second(start)
            present = any((code, key_time) in got for code, _, _ in items)
            if period_end(cn, start) + timedelta(seconds=grace) <= began:
                assert present, f"{cn} period {key_time} never arrived"
            if not present:
                continue  # closed during the run, not yet due
            closed += 1
            for row in aggregate(items):
                key = (row.code, key_time)
                assert len(got[key]) == 1, (cn, key, got[key])
                want = {"Flag": row.flag.value}
                for name, value in (("Avg", row.avg), ("Min", row.min), ("Max", row.max)):
                    if value is not None:
                        want[name] = hj212.format_value(value)
                assert fields[key] == want, (cn, key, fields[key], want)
        print(f"{cn}: {closed} periods received, each once, with the stored readings' figures")
        assert closed >= (6 if cn == hj212.CN_DAILY else 160)


def test_every_reading_reaches_the_platform_through_outages_and_kill9(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    run_uplink(tmp_path, mosquitto, processes, kills=5)


@pytest.mark.long
def test_every_reading_reaches_the_platform_through_kill9_ten_times(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    run_uplink(tmp_path, mosquitto, processes, kills=10)
