"""The whole path with real processes: simulator → agent → Mosquitto → collector, read back through the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup
from tests.support.stack import Stack, assert_collector_matches_agent, iso, wait_drained, wait_until

pytestmark = pytest.mark.e2e


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
    assert stack.agent is not None
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
    assert stack.agent is not None
    stack.agent.stop()
    wait_drained(stack)
    assert_collector_matches_agent(stack)
