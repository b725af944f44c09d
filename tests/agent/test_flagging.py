"""Edge flagging (agent.flagging): range, impossible values, logic violations, stuck values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.flagging import LogicMonitor, StuckDetector, logic_violations, range_flag, value_flag
from protocols.flags import Flag

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def test_above_range_is_t_never_clamped() -> None:
    assert range_flag(5.01, (0.0, 5.0)) == Flag.OVER_RANGE
    assert range_flag(5.0, (0.0, 5.0)) == Flag.NORMAL
    assert range_flag(-0.01, (0.0, 5.0)) == Flag.NORMAL  # below range is noise near zero, not T
    assert range_flag(1e9, None) == Flag.NORMAL


def test_ph_outside_0_14_is_d() -> None:
    assert value_flag("w01001", 14.2) == Flag.FAULT
    assert value_flag("w01001", -0.1) == Flag.FAULT
    assert value_flag("w01001", 7.0) == Flag.NORMAL
    assert value_flag("w21011", 99.0) == Flag.NORMAL


def test_logic_violations() -> None:
    assert logic_violations({"w21011": 0.2, "w21001": 1.5, "w21003": 0.4, "w01001": 7.5}) == []
    rules = {v.rule for v in logic_violations({"w21011": 2.0, "w21001": 1.5, "w21003": 1.6, "w01001": 15})}
    assert rules == {"tp_gt_tn", "nh3n_gt_tn", "ph_range"}
    # Without TN there is nothing to compare with.
    assert logic_violations({"w21011": 2.0, "w21003": 1.6}) == []


def test_logic_monitor_reports_once_and_rearms() -> None:
    monitor = LogicMonitor()
    assert monitor.update({"w21001": 1.0}) == []
    first = monitor.update({"w21011": 1.2})
    assert [v.rule for v in first] == ["tp_gt_tn"]
    assert first[0].values == {"w21011": 1.2, "w21001": 1.0}
    assert monitor.update({"w21011": 1.3}) == []  # still violated: no repeat
    assert monitor.update({"w21011": 0.1}) == []  # cleared
    assert [v.rule for v in monitor.update({"w21011": 1.1})] == ["tp_gt_tn"]  # re-armed


def test_stuck_value_once_per_run_and_rearmed_on_change() -> None:
    det = StuckDetector(stuck_after_s=3600)
    assert det.observe("probe", "w01001", 7.1, T0) is None
    assert det.observe("probe", "w01001", 7.1, T0 + timedelta(minutes=59)) is None
    assert det.observe("probe", "w01001", 7.1, T0 + timedelta(minutes=60)) == T0
    assert det.observe("probe", "w01001", 7.1, T0 + timedelta(minutes=120)) is None  # once
    assert det.observe("probe", "w01009", 7.1, T0 + timedelta(minutes=120)) is None  # other param: own run
    t1 = T0 + timedelta(minutes=121)
    assert det.observe("probe", "w01001", 7.2, t1) is None  # change re-arms
    assert det.observe("probe", "w01001", 7.2, t1 + timedelta(hours=1)) == t1


def test_stuck_ignores_time_going_backwards() -> None:
    det = StuckDetector(stuck_after_s=7200)
    det.observe("d", "w01010", 1.0, T0)
    # A clock stepped back restarts the run rather than reporting on a negative duration.
    assert det.observe("d", "w01010", 1.0, T0 - timedelta(hours=1)) is None
    assert det.observe("d", "w01010", 1.0, T0) is None
    assert det.observe("d", "w01010", 1.0, T0 + timedelta(hours=1)) == T0 - timedelta(hours=1)
