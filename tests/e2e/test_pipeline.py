"""The whole path with real processes: simulator → agent → Mosquitto → collector, read back through the API."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup
from tests.support.stack import Stack, iso, wait_until

pytestmark = pytest.mark.e2e


def assert_collector_matches_agent(stack: Stack) -> int:
    """Zero lost, zero duplicated: the collector holds exactly the readings the agent committed."""
    produced = stack.agent_readings()
    assert produced, "the agent committed no readings"
    by_param: dict[str, dict[str, tuple[float | None, str]]] = {}
    for param, t, value, flag in produced:
        by_param.setdefault(param, {})[t] = (value, flag)
    for param, expected in by_param.items():
        stored = stack.collector_readings(param)
        times = [iso(r["t"]) for r in stored]
        duplicated = [t for t, n in Counter(times).items() if n > 1]
        assert not duplicated, f"{param}: {len(duplicated)} readings stored twice, e.g. {duplicated[:3]}"
        missing = sorted(set(expected) - set(times))
        assert not missing, f"{param}: {len(missing)} of {len(expected)} readings lost, e.g. {missing[:3]}"
        extra = sorted(set(times) - set(expected))
        assert not extra, f"{param}: {len(extra)} readings the agent never committed, e.g. {extra[:3]}"
        for row in stored:
            value, flag = expected[iso(row["t"])]
            assert row["flag"] == flag
            assert row["value"] == pytest.approx(value) if value is not None else row["value"] is None
    return len(produced)


def wait_drained(stack: Stack, timeout: float = 60) -> None:
    """Wait until the agent has nothing unsent and the collector holds as many readings as the agent made."""
    wait_until(lambda: stack.agent_unsent() == 0, timeout, what="agent outbox drained")
    produced: dict[str, int] = Counter(param for param, *_ in stack.agent_readings())

    def collector_caught_up() -> bool:
        return all(len(stack.collector_readings(param)) >= n for param, n in produced.items())

    # The broker has the messages; the collector may still be reconnecting or committing its last batch.
    wait_until(collector_caught_up, timeout, interval=0.5, what="collector holding every reading")


def test_every_reading_arrives_exactly_once(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    stack = Stack(tmp_path / "stack", mosquitto, processes).start_all()
    wait_until(
        lambda: len(stack.collector_readings("w21003")) >= 2, 40, what="nutrient results at the collector"
    )
    wait_until(
        lambda: len(stack.collector_readings("w01010")) >= 10, 20, what="probe readings at the collector"
    )
    stack.agent.stop()  # a clean stop: everything committed so far must be in the collector
    wait_drained(stack)
    count = assert_collector_matches_agent(stack)
    assert count >= 20

    # The simulator's own record: each nutrient/COD result it produced while the agent ran arrived once,
    # stamped with its result time, with the value the analyser showed.
    results = [r for r in stack.journal_results() if r["param"] == "w21003"]
    stored = {iso(r["t"]): r for r in stack.collector_readings("w21003")}
    taken = [r for r in results if iso(r["result_time"]) in stored]
    assert len(taken) >= 2
    for result in taken:
        assert stored[iso(result["result_time"])]["value"] == pytest.approx(result["value"], rel=1e-6)


def test_broker_outage_loses_nothing(tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup) -> None:
    stack = Stack(tmp_path / "stack", mosquitto, processes).start_all()
    wait_until(
        lambda: len(stack.collector_readings("w01010")) >= 5, 40, what="first readings at the collector"
    )
    mosquitto.stop()
    wait_until(lambda: stack.agent_unsent() >= 50, 30, what="a backlog while the broker is down")
    backlog = stack.agent_unsent()
    mosquitto.start()
    wait_until(
        lambda: stack.agent_unsent() < backlog, 60, what="the backlog draining after the broker returned"
    )
    stack.agent.stop()
    wait_drained(stack)
    assert_collector_matches_agent(stack)
