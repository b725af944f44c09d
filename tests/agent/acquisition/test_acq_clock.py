"""Analyser clocks at the edge (issue 10 §3): skew against the agent's clock, result times that go back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from agent.acquisition import Acquisition, MemoryStateStore
from agent.acquisition.analyserclock import AnalyserClock
from agent.config import ClockConfig, parse_config
from agent.sink import MemorySink
from protocols.messages import EventKind, Severity
from protocols.tomldoc import convert
from tests.agent.acquisition.acq_helpers import T0, SteppingClock, make_config, run_until
from tests.agent.acquisition.acq_slaves import TcpSlave, Units, profile_registers

TCP = {"name": "lan", "type": "tcp", "timeout_s": 0.3}
H = timedelta(hours=1)


def test_skew_beyond_the_limits_is_off_and_within_them_is_not() -> None:
    clock = AnalyserClock(ClockConfig())
    assert not clock.judge("nh3n", T0 - 4 * H, T0, None).off  # a 4-hour-old result: normal
    assert not clock.judge("nh3n", T0 + timedelta(seconds=299), T0, None).off
    ahead = clock.judge("nh3n", T0 + timedelta(seconds=301), T0, None)
    assert ahead.ahead and not ahead.behind and ahead.skew_s == 301.0
    assert ahead.note() == "analyser clock 301 s ahead of the agent"
    behind = clock.judge("nh3n", T0 - 25 * H, T0, None)
    assert behind.behind and behind.skew_s == -25 * 3600.0 and "behind" in (behind.note() or "")
    back = clock.judge("nh3n", T0 - 3 * H, T0, last_taken=T0 - H)
    assert back.went_back_s == 7200.0 and not back.off
    assert clock.judge("nh3n", T0 - H, T0, last_taken=T0 - 3 * H).went_back_s is None


def test_keep_keeps_the_analyser_time_and_restamp_uses_the_agent_time_only_when_off() -> None:
    keep = AnalyserClock(ClockConfig(analyser_time="keep"))
    restamp = AnalyserClock(ClockConfig(analyser_time="restamp"))
    off = keep.judge("cod", T0 + 74 * 365 * 24 * H, T0, None)
    fine = keep.judge("cod", T0 - H, T0, None)
    assert keep.stamp(off) == off.analyser_time
    assert restamp.stamp(off) == T0
    assert restamp.stamp(fine) == fine.analyser_time  # a clock that is right is never overridden


def test_events_are_paced_per_device_and_kind_and_recovery_is_told_once() -> None:
    clock = AnalyserClock(ClockConfig(report_every_s=3600))
    assert clock.due(clock.judge("a", T0 + 2 * H, T0, None)) == ["skew"]
    assert clock.due(clock.judge("a", T0 + 3 * H, T0 + 0.5 * H, None)) == []  # within the hour
    assert clock.due(clock.judge("b", T0 + 2 * H, T0, None)) == ["skew"]  # per device
    assert clock.due(clock.judge("b", T0 + 3 * H, T0 + 0.6 * H, last_taken=T0 + 4 * H)) == [
        "back"
    ]  # own kind
    # Set back to about the right time: the clock agrees again (told once), and it went back.
    back = clock.judge("a", T0 + 0.5 * H, T0 + 0.6 * H, last_taken=T0 + 3 * H)
    assert clock.due(back) == ["ok", "back"]
    assert clock.due(clock.judge("a", T0 + 1.2 * H, T0 + 1.2 * H, None)) == []
    assert clock.due(clock.judge("a", T0 + 5 * H, T0 + 1.3 * H, None)) == ["skew"]  # off again: told again


def test_clock_config_defaults_and_validation() -> None:
    config = parse_config('[station]\nid = "hexicun"\n[clock]\nanalyser_time = "restamp"\n')
    assert config.clock.analyser_time == "restamp"
    assert (config.clock.analyser_ahead_s, config.clock.analyser_behind_s) == (300.0, 86_400.0)
    with pytest.raises(msgspec.ValidationError):
        convert({"analyser_time": "rewrite"}, ClockConfig)


def nutrient(port: int) -> dict[str, object]:
    return {
        "name": "nh3n",
        "profile": "nutrient_nh3n",
        "bus": "lan",
        "host": "127.0.0.1",
        "port": port,
        "unit": 3,
        "interval_s": 0.05,
    }


@pytest.mark.parametrize("policy", ["keep", "restamp"])
def test_an_analyser_clock_set_back_never_makes_a_new_result_vanish(policy: str) -> None:
    """An analyser gives a result at 07:00, its clock is set back three hours, its next result says 05:00
    (another value): taken and emitted, with an event. Then its clock runs two days fast: an event, a note
    in its status, and per the policy its readings keep its time or take the agent's."""
    rt1 = int((T0 - H).timestamp())
    rt2 = rt1 - 2 * 3600
    rt3 = int((T0 + 48 * H).timestamp())

    async def main() -> MemorySink:
        units = Units({3: profile_registers("nutrient_nh3n", {"w21003": 0.412}, result_time=rt1)})
        async with TcpSlave(units) as slave:
            sink = MemorySink()
            config = make_config([TCP], [nutrient(slave.port)], clock={"analyser_time": policy})
            acq = Acquisition(config, sink, state=MemoryStateStore(), clock=SteppingClock())
            await run_until(acq, lambda: len(sink.readings) >= 1)
            units.registers[3] = profile_registers("nutrient_nh3n", {"w21003": 0.398}, result_time=rt2)
            await run_until(acq, lambda: len(sink.readings) >= 2)
            assert sink.devices["nh3n"].error is None  # went back, but not off the agent's clock
            units.registers[3] = profile_registers("nutrient_nh3n", {"w21003": 0.5}, result_time=rt3)
            await run_until(acq, lambda: len(sink.readings) >= 3)
            await run_until(acq, lambda: acq.counters()["devices"]["nh3n"]["ok"] >= 3)
        return sink

    sink = asyncio.run(main())
    values = [r.value for r in sink.readings]
    assert values == pytest.approx([0.412, 0.398, 0.5])  # each result once; none swallowed
    times = [r.t for r in sink.readings]
    assert times[:2] == [datetime.fromtimestamp(rt1, UTC), datetime.fromtimestamp(rt2, UTC)]
    if policy == "keep":
        assert times[2] == datetime.fromtimestamp(rt3, UTC)
    else:
        assert T0 < times[2] < T0 + H  # the agent's (stepping) clock at acquisition
    clock_events = [e for e in sink.events if e.kind == EventKind.ANALYSER_CLOCK]
    assert [e.detail["finding"] for e in clock_events] == ["back", "skew"]
    back, skew = clock_events
    assert back.severity == Severity.WARNING and back.device == "nh3n"
    assert back.detail["went_back_s"] == 7200.0
    assert skew.detail["device"] == "nh3n" and skew.detail["skew_s"] > 47 * 3600
    assert skew.detail["analyser_time"] == datetime.fromtimestamp(rt3, UTC).isoformat()
    assert skew.detail["policy"] == policy and "agent_time" in skew.detail
    assert ("agent's time" if policy == "restamp" else "analyser's time") in skew.message
    assert "ahead of the agent" in (sink.devices["nh3n"].error or "")
