"""Every alert rule: open, debounce, resolve, hysteresis, acknowledge, one active alert per key."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.alerts import (
    AlertEngine,
    AlertsConfig,
    AlertStatus,
    BacklogRule,
    CalibrationRule,
    ClockSkewRule,
    ControllerRule,
    DeadLettersRule,
    DeviceDownRule,
    DroppedRule,
    ExceedanceRule,
    FaultFlagRule,
    InboxWriteRule,
    OfflineRule,
    RevisionsRule,
    Rule,
    RuleBase,
    Site,
    StaleRule,
    SuddenRiseRule,
    Transition,
    TransitionKind,
)
from collector.assessment import WaterClass
from protocols.messages import DeviceStatus, Reading, Severity, StationState, Status

T0 = datetime(2026, 7, 15, 0, 0, tzinfo=UTC)
ST = "hexicun"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def reading(param: str, minutes: float, value: float | None, flag: str = "N") -> Reading:
    return Reading(param=param, t=at(minutes), value=value, flag=flag)


def status(minutes: float, **kwargs: Any) -> Status:
    kwargs.setdefault("state", StationState.ONLINE)
    return Status(station=ST, at=at(minutes), **kwargs)


def engine(*rules: Rule, **kwargs: Any) -> AlertEngine:
    return AlertEngine(AlertsConfig(rules=list(rules), **kwargs))


def kinds(transitions: list[Transition]) -> list[str]:
    return [t.kind.value for t in transitions]


def test_messages_name_the_section_and_round_values_as_bulletins_do() -> None:
    e = engine(ExceedanceRule(id="exc", open_after=1), sites={ST: Site(name_zh="河西村")})
    alert = e.on_reading(ST, reading("w21003", 0, 1.17171))[0].alert
    assert alert.message_zh.startswith(
        "河西村 氨氮 1.172 mg/L"
    )  # NH3-N to three decimals, by its section name
    # The English part names the station in English (its section's name_en), never in Chinese (issue 18).
    assert alert.message_en.startswith("Hexicun ammonia nitrogen 1.172 mg/L")
    # A tie rounds half to even as the bulletins do (GB/T 8170): 2.0245 → 2.024, where "%.3f" gives 2.025.
    tie = engine(ExceedanceRule(id="exc", open_after=1)).on_reading(ST, reading("w21003", 0, 2.0245))[0].alert
    assert "2.024 mg/L" in tie.message_zh and "2.024 mg/L" in tie.message_en
    unnamed = (
        engine(ExceedanceRule(id="exc", open_after=1)).on_reading(ST, reading("w21003", 0, 1.5))[0].alert
    )
    assert unnamed.message_zh.startswith(f"{ST} 氨氮 1.500 mg/L")  # no configured name: the station id


# ----- exceedance ---------------------------------------------------------------------------------------------


def test_exceedance_debounce_open_and_hysteresis_resolve() -> None:
    e = engine(ExceedanceRule(id="exc", open_after=2, clear_after=3))
    assert e.on_reading(ST, reading("w21003", 0, 1.2)) == []  # IV, first: debounced
    assert e.on_reading(ST, reading("w21003", 60, 0.8)) == []  # back in III: resets the count
    assert e.on_reading(ST, reading("w21003", 120, 1.2)) == []
    assert e.on_reading(ST, reading("w21003", 150, 9.9, "C")) == []  # not valid: ignored
    opened = e.on_reading(ST, reading("w21003", 180, 1.4))
    assert kinds(opened) == ["opened"]
    alert = opened[0].alert
    assert (alert.station, alert.rule, alert.subject, alert.param) == (ST, "exc", "w21003", "w21003")
    assert alert.severity is Severity.WARNING and alert.value == 1.4
    assert alert.title_zh == "氨氮超标（Ⅳ类）"
    assert "超标 0.40 倍" in alert.message_zh and "Class IV" in alert.message_en
    assert alert.opened_at == at(180)
    # Hysteresis: three valid values within target in a row; a relapse resets the count.
    assert e.on_reading(ST, reading("w21003", 240, 0.9)) == []
    assert e.on_reading(ST, reading("w21003", 300, 0.9)) == []
    assert e.on_reading(ST, reading("w21003", 360, 1.3)) == []  # still open, no new alert
    assert len(e.active()) == 1
    for m in (420, 480):
        assert e.on_reading(ST, reading("w21003", m, 0.5)) == []
    resolved = e.on_reading(ST, reading("w21003", 540, 0.5))
    assert kinds(resolved) == ["resolved"]
    assert resolved[0].alert.status is AlertStatus.RESOLVED and resolved[0].alert.resolved_at == at(540)
    assert e.active() == []


def test_exceedance_escalates_to_critical_beyond_class_v() -> None:
    e = engine(ExceedanceRule(id="exc", open_after=1))
    assert kinds(e.on_reading(ST, reading("w21011", 0, 0.35))) == ["opened"]  # TP V
    escalated = e.on_reading(ST, reading("w21011", 60, 0.9))  # 劣V
    assert kinds(escalated) == ["escalated"]
    assert escalated[0].alert.severity is Severity.CRITICAL
    assert escalated[0].alert.title_zh == "总磷超标（劣Ⅴ类）"
    assert e.on_reading(ST, reading("w21011", 120, 0.36)) == []  # never downgraded, still one alert
    assert len(e.active()) == 1 and e.active()[0].severity is Severity.CRITICAL


def test_an_open_exceedance_takes_the_value_and_texts_of_its_newest_reading_when_values_repeat() -> None:
    # The exceedance step remembers classes and texts by value: a value seen before must still be the one
    # the alert shows, whichever came last, across batches and within one.
    e = engine(ExceedanceRule(id="exc", open_after=1))
    assert kinds(e.on_readings(ST, [reading("w21003", 0, 1.2), reading("w21003", 10, 1.4)])) == ["opened"]
    for minutes, values in ((20, (1.2,)), (30, (1.4, 1.2)), (50, (1.2, 1.4))):
        e.on_readings(ST, [reading("w21003", minutes + 10 * k, v) for k, v in enumerate(values)])
        alert = e.active()[0]
        newest = values[-1]
        assert alert.value == newest and alert.detail["class"] == "IV"
        assert f"{newest:.2f}" in alert.message_zh and f"{newest:.2f}" in alert.message_en
        assert alert.last_bad_at == at(minutes + 10 * (len(values) - 1))


def test_exceedance_respects_site_target_and_water_type() -> None:
    rules = [ExceedanceRule(id="exc", open_after=1)]
    e = AlertEngine(AlertsConfig(rules=rules, sites={ST: Site(water_type="lake", target_class="II")}))
    assert kinds(e.on_reading(ST, reading("w21011", 0, 0.04))) == ["opened"]  # lake TP 0.04 → III > II
    assert kinds(e.on_reading(ST, reading("w21001", 0, 3.0))) == ["opened"]  # TN counts in lakes
    river = engine(*rules)
    assert river.on_reading(ST, reading("w21001", 0, 3.0)) == []  # not in rivers
    assert river.on_reading(ST, reading("w01010", 0, 35.0)) == []  # temperature never
    assert kinds(river.on_reading(ST, reading("w01009", 0, 1.5))) == ["opened"]  # DO 劣V
    assert river.active()[0].severity is Severity.CRITICAL


def test_backfill_reading_older_than_newest_is_ignored_for_sequences() -> None:
    e = engine(ExceedanceRule(id="exc", open_after=1))
    e.on_reading(ST, reading("w21003", 100, 0.3))
    assert e.on_reading(ST, reading("w21003", 50, 5.0)) == []


# ----- one active alert per key, acknowledge -------------------------------------------------------------------


def test_ack_then_resolve_then_new_alert() -> None:
    e = engine(ExceedanceRule(id="exc", open_after=1, clear_after=1))
    first = e.on_reading(ST, reading("w21003", 0, 1.6))[0].alert
    ack = e.acknowledge(first.id, at(5), by="duty-officer")
    assert ack is not None and ack.kind is TransitionKind.ACKNOWLEDGED
    assert ack.alert.status is AlertStatus.ACKNOWLEDGED and ack.alert.acknowledged_by == "duty-officer"
    assert e.acknowledge(first.id, at(6)) is None  # repeated ack is harmless
    assert e.on_reading(ST, reading("w21003", 60, 1.7)) == []  # still the same alert
    assert [a.status for a in e.active()] == [AlertStatus.ACKNOWLEDGED]
    resolved = e.on_reading(ST, reading("w21003", 120, 0.2))
    assert kinds(resolved) == ["resolved"] and resolved[0].alert.acknowledged_at == at(5)
    with pytest.raises(KeyError, match="no active alert"):
        e.acknowledge(first.id, at(130))
    second = e.on_reading(ST, reading("w21003", 180, 1.6))
    assert kinds(second) == ["opened"] and second[0].alert.id != first.id


def test_one_active_alert_per_station_rule_param() -> None:
    e = engine(ExceedanceRule(id="exc", open_after=1))
    for m in range(0, 600, 60):
        e.on_reading(ST, reading("w21003", m, 1.6))
        e.on_reading(ST, reading("w21011", m, 0.5))
        e.on_reading("boshuicun", reading("w21003", m, 1.6))
    keys = sorted((a.station, a.rule, a.subject) for a in e.active())
    assert keys == [("boshuicun", "exc", "w21003"), (ST, "exc", "w21003"), (ST, "exc", "w21011")]


def test_manual_resolve_reopens_if_condition_persists() -> None:
    e = engine(ExceedanceRule(id="exc", open_after=2))
    e.on_reading(ST, reading("w21003", 0, 1.6))
    alert = e.on_reading(ST, reading("w21003", 60, 1.6))[0].alert
    assert e.resolve(alert.id, at(61), by="ops").alert.detail["resolved_by"] == "ops"
    assert e.on_reading(ST, reading("w21003", 120, 1.6)) == []  # debounce starts afresh
    assert kinds(e.on_reading(ST, reading("w21003", 180, 1.6))) == ["opened"]


def test_state_round_trips_through_json() -> None:
    e = engine(ExceedanceRule(id="exc", open_after=2), SuddenRiseRule(id="rise"))
    e.on_reading(ST, reading("w21003", 0, 0.1))
    e.on_reading(ST, reading("w21003", 60, 1.6))
    restored = AlertEngine.load(e.config, e.dump())
    opened = restored.on_reading(ST, reading("w21003", 120, 1.7))
    assert kinds(opened) == ["opened"]  # the debounce count survived the restart
    assert restored.state.params[f"{ST}|w21003"].history[-1][1] == 1.7


# ----- sudden rise -------------------------------------------------------------------------------------------


def test_sudden_rise_per_hour_and_resolve() -> None:
    e = engine(SuddenRiseRule(id="rise", rates_per_hour={"w21003": 0.5}, min_span_s=600, max_gap_s=5 * 3600))
    assert e.on_reading(ST, reading("w21003", 0, 0.3)) == []
    assert e.on_reading(ST, reading("w21003", 5, 5.0, "N")) == []  # 5 min later: below min span, no verdict
    e2 = engine(SuddenRiseRule(id="rise", rates_per_hour={"w21003": 0.5}))
    e2.on_reading(ST, reading("w21003", 0, 0.3))
    assert e2.on_reading(ST, reading("w21003", 240, 2.3)) == []  # +2.0 over 4 h = 0.5/h: not beyond
    opened = e2.on_reading(ST, reading("w21003", 480, 4.4))  # +2.1 over 4 h = 0.525/h
    assert kinds(opened) == ["opened"]
    assert opened[0].alert.detail["rate_per_hour"] == pytest.approx(0.525)
    assert "突升" in opened[0].alert.title_zh
    assert e2.on_reading(ST, reading("w21003", 720, 4.4)) == []  # flat: good 1 of 2
    assert kinds(e2.on_reading(ST, reading("w21003", 960, 4.0))) == ["resolved"]


def test_sudden_rise_ignores_gaps_longer_than_max() -> None:
    e = engine(SuddenRiseRule(id="rise", rates_per_hour={"w21011": 0.1}, max_gap_s=3600))
    e.on_reading(ST, reading("w21011", 0, 0.1))
    assert e.on_reading(ST, reading("w21011", 240, 3.0)) == []  # 4 h gap: no reference


# ----- fault flags and device status -------------------------------------------------------------------------


def test_fault_flag_rule() -> None:
    e = engine(FaultFlagRule(id="fault", open_after=2))
    assert e.on_reading(ST, reading("w21011", 0, None, "D")) == []
    assert e.on_reading(ST, reading("w21011", 1, None, "M")) == []  # neutral: neither bad nor good
    opened = e.on_reading(ST, reading("w21011", 2, None, "B"))
    assert kinds(opened) == ["opened"] and opened[0].alert.detail["flag"] == "B"
    assert kinds(e.on_reading(ST, reading("w21011", 3, 0.1, "N"))) == ["resolved"]


def test_device_down_from_status_with_duration() -> None:
    e = engine(DeviceDownRule(id="dev", open_after_s=300))
    down = {
        "nh3n": DeviceStatus(up=False, flag="B", failures=3, error="timeout"),
        "probe": DeviceStatus(up=True),
    }
    assert e.on_status(status(0, devices=down)) == []
    assert e.on_status(status(4, devices=down)) == []
    opened = e.on_status(status(5, devices=down))
    assert kinds(opened) == ["opened"] and opened[0].alert.subject == "nh3n"
    assert "timeout" in opened[0].alert.message_zh
    up = {"nh3n": DeviceStatus(up=True), "probe": DeviceStatus(up=True)}
    assert kinds(e.on_status(status(6, devices=up))) == ["resolved"]
    fault = {"nh3n": DeviceStatus(up=True, flag="D")}
    e2 = engine(DeviceDownRule(id="dev", open_after_s=0))
    assert kinds(e2.on_status(status(0, devices=fault))) == ["opened"]


# ----- offline and stale (time ticks) --------------------------------------------------------------------------


def test_offline_longer_than_threshold() -> None:
    e = engine(OfflineRule(id="off", after_s=600))
    assert e.on_status(status(0)) == []
    assert e.on_status(status(1, state=StationState.OFFLINE)) == []
    assert e.tick(at(10)) == []  # 9 min
    opened = e.tick(at(11))
    assert kinds(opened) == ["opened"] and opened[0].alert.severity is Severity.CRITICAL
    assert e.tick(at(30)) == []  # still the one alert
    assert kinds(e.on_status(status(31))) == ["resolved"]


def test_silent_station_counts_as_offline() -> None:
    e = engine(OfflineRule(id="off", after_s=600))
    e.on_status(status(0))
    assert e.tick(at(10)) == []
    assert kinds(e.tick(at(10.5))) == ["opened"]
    assert "无消息" in e.active()[0].message_zh


def test_stale_parameter() -> None:
    e = engine(StaleRule(id="stale", factor=3, intervals_s={"w21003": 4 * 3600}))
    e.on_reading(ST, reading("w21003", 0, 0.3))
    assert e.tick(at(12 * 60)) == []  # exactly 3 × 4 h
    opened = e.tick(at(12 * 60 + 1))
    assert kinds(opened) == ["opened"] and opened[0].alert.subject == "w21003"
    e.on_reading(ST, reading("w21003", 12 * 60 + 30, 0.3))
    assert kinds(e.tick(at(12 * 60 + 31))) == ["resolved"]


def test_stale_quiet_while_station_has_no_water() -> None:
    e = engine(StaleRule(id="stale", factor=3, intervals_s={"w21003": 3600}))
    e.on_reading(ST, reading("w21003", 0, 0.3))
    e.on_status(status(30, controller={"water_present": 0}))
    assert e.tick(at(5 * 60)) == []  # iced up: no stale alert
    e.on_status(status(5 * 60 + 1, controller={"water_present": 1}))
    assert kinds(e.tick(at(5 * 60 + 2))) == ["opened"]  # water back, still no data
    loud = engine(StaleRule(id="stale", intervals_s={"w21003": 3600}, quiet_when_no_water=False))
    loud.on_reading(ST, reading("w21003", 0, 0.3))
    loud.on_status(status(30, controller={"water_present": 0}))
    assert kinds(loud.tick(at(5 * 60))) == ["opened"]


# ----- station-side conditions ---------------------------------------------------------------------------------


def test_backlog_growing() -> None:
    e = engine(BacklogRule(id="backlog", min_backlog=100, open_after=3))
    for i, backlog in enumerate([50, 150, 300]):
        assert e.on_status(status(i, backlog=backlog)) == []
    assert kinds(e.on_status(status(3, backlog=450))) == ["opened"]  # the third rise above 100
    assert e.on_status(status(4, backlog=600)) == []  # still the one alert
    assert e.on_status(status(5, backlog=600)) == []  # flat: no verdict
    assert kinds(e.on_status(status(6, backlog=400))) == ["resolved"]  # shrinking


def test_backlog_debounce_counts_consecutive_rises() -> None:
    e = engine(BacklogRule(id="backlog", min_backlog=100, open_after=3))
    e.on_status(status(0, backlog=200))
    e.on_status(status(1, backlog=300))
    e.on_status(status(2, backlog=400))
    assert e.on_status(status(3, backlog=350)) == []  # shrink resets
    e.on_status(status(4, backlog=500))
    e.on_status(status(5, backlog=600))
    assert kinds(e.on_status(status(6, backlog=700))) == ["opened"]


def test_dropped_readings() -> None:
    e = engine(DroppedRule(id="drop", clear_after_s=3600))
    assert e.on_status(status(0, dropped=10)) == []  # baseline
    opened = e.on_status(status(1, dropped=25))
    assert kinds(opened) == ["opened"] and opened[0].alert.value == 15
    assert opened[0].alert.severity is Severity.CRITICAL
    assert e.on_status(status(30, dropped=25)) == []
    assert e.on_status(status(60, dropped=25)) == []  # 59 min quiet
    assert kinds(e.on_status(status(90, dropped=25))) == ["resolved"]  # an hour quiet since minute 30


def test_clock_skew_with_hysteresis_band() -> None:
    e = engine(ClockSkewRule(id="clock", max_offset_s=60, clear_offset_s=30))
    assert e.on_status(status(0, clock_offset_s=60.0)) == []
    assert kinds(e.on_status(status(1, clock_offset_s=-75.0))) == ["opened"]
    assert e.on_status(status(2, clock_offset_s=45.0)) == []  # inside the band: stays open
    assert e.on_status(status(3)) == []  # offset unknown: no verdict
    assert kinds(e.on_status(status(4, clock_offset_s=10.0))) == ["resolved"]


def test_controller_no_water_and_mains() -> None:
    e = engine(
        ControllerRule(id="water", condition="no_water", open_after_s=60),
        ControllerRule(id="power", condition="mains_lost", open_after_s=0),
    )
    assert e.on_status(status(0, controller={"water_present": 1, "mains_power": 1, "on_battery": 0})) == []
    assert e.on_status(status(1, controller={"water_present": 0, "mains_power": 1})) == []
    opened = e.on_status(status(2, controller={"water_present": 0, "mains_power": 0, "on_battery": 1}))
    assert sorted(t.alert.rule for t in opened) == ["power", "water"]
    water = next(t.alert for t in opened if t.alert.rule == "water")
    assert "结冰/断流" in water.title_zh and water.subject == "no_water"
    assert e.on_status(status(3, controller={"door_open": 1})) == []  # signals absent: no verdict
    resolved = e.on_status(status(4, controller={"water_present": True, "mains_power": 1, "on_battery": 0}))
    assert sorted(t.alert.rule for t in resolved) == ["power", "water"]
    e2 = engine(ControllerRule(id="water", condition="no_water"))
    e2.on_status(status(0, controller={"sampling_state": 3}))
    assert kinds(e2.on_status(status(2, controller={"sampling_state": 3}))) == ["opened"]


def test_calibration_overdue() -> None:
    e = engine(CalibrationRule(id="cal", max_age_s={"w21003": 48 * 3600}))
    e.on_reading(ST, reading("w21003", 0, 0.3))
    assert e.tick(at(48 * 60)) == []
    opened = e.tick(at(48 * 60 + 1))
    assert kinds(opened) == ["opened"] and "校准逾期" in opened[0].alert.title_zh
    resolved = e.on_reading(ST, reading("w21003", 48 * 60 + 10, 0.3, "C"))
    assert kinds(resolved) == ["resolved"]
    assert e.tick(at(95 * 60)) == []
    assert kinds(e.tick(at(97 * 60))) == ["opened"]


# ----- scoping and defaults ------------------------------------------------------------------------------------


def test_rule_scoped_to_stations_and_disabled() -> None:
    e = engine(
        ExceedanceRule(id="exc", open_after=1, stations=["boshuicun"]),
        ExceedanceRule(id="off", open_after=1, enabled=False),
    )
    assert e.on_reading(ST, reading("w21003", 0, 1.6)) == []
    assert kinds(e.on_reading("boshuicun", reading("w21003", 0, 1.6))) == ["opened"]


def test_default_config_runs_every_rule() -> None:
    e = AlertEngine()
    types = {getattr(r, "type", None) for r in e.config.rules}
    assert types == {
        "offline",
        "device_down",
        "fault_flag",
        "stale",
        "exceedance",
        "sudden_rise",
        "backlog",
        "dropped",
        "clock_skew",
        "controller",
        "calibration_overdue",
        "dead_letters",
        "revisions",
        "inbox_write",
        "outfall_limit",
        "hj212_backlog",
    }
    out = e.on_reading(ST, reading("w21003", 0, 1.6))
    out += e.on_reading(ST, reading("w21003", 60, 1.6))
    assert kinds(out) == ["opened"]
    assert e.config.site(ST).target_class is WaterClass.III


def test_observe_dispatches() -> None:
    e = engine(OfflineRule(id="off", after_s=0), ExceedanceRule(id="exc", open_after=1))
    assert kinds(e.observe((ST, reading("w21003", 0, 1.6)))) == ["opened"]
    assert kinds(e.observe(status(0, state=StationState.OFFLINE))) == ["opened"]
    assert e.observe(at(5)) == []


# ----- batches ------------------------------------------------------------------------------------------------


def _mixed_stream(seed: int) -> list[list[Reading]]:
    """Batches of several parameters: values in and out of target and rising, fault and calibration flags,
    repeated and older (backfill) readings."""
    rng = random.Random(seed)
    base = {"w21003": 0.8, "w21011": 0.15, "w01019": 5.0, "w01009": 5.5, "w01001": 7.5, "w01010": 20.0}
    flags = ["N"] * 10 + ["T", "D", "B", "C", "M"]
    batches: list[list[Reading]] = []
    minute = 0.0
    for _ in range(60):
        batch = []
        start = minute - rng.choice([0, 0, 0, 300])  # now and then a backfill of older readings
        for _ in range(rng.choice([1, 5, 40, 150])):
            param = rng.choice(list(base))
            start += rng.choice([0, 1, 5, 15])
            flag = rng.choice(flags)
            value = None if flag in "DB" else round(base[param] * rng.uniform(0.3, 3.0), 3)
            batch.append(reading(param, start, value, flag))
        minute = max(minute, start)
        batch += batch[: rng.randint(0, 3)]  # a reading repeated in its batch
        batches.append(batch)
    return batches


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_gives_the_same_transitions_and_memory_as_its_readings_one_by_one(seed: int) -> None:
    rules: list[Rule] = [
        ExceedanceRule(id="exc", clear_after=2),
        FaultFlagRule(id="fault", open_after=1),
        SuddenRiseRule(
            id="rise", min_span_s=60, max_gap_s=3600, rates_per_hour={"w21003": 0.5, "w01019": 2.0}
        ),
        CalibrationRule(id="cal", max_age_s={"w21003": 3600}),
    ]
    batched, single = engine(*rules), engine(*rules)
    seen: set[str] = set()
    for i, batch in enumerate(_mixed_stream(seed)):
        one_by_one = [t for r in batch for t in single.on_reading(ST, r)]
        assert batched.on_readings(ST, batch) == one_by_one
        seen.update(t.kind.value for t in one_by_one)
        if i % 10 == 9:
            now = at(i * 100)
            assert batched.tick(now) == single.tick(now)
        assert json.loads(batched.dump()) == json.loads(single.dump())
    assert {"opened", "escalated", "resolved"} <= seen  # the stream reaches every kind of change


# ----- incidents: quarantined messages, revisions, inbox write errors ------------------------------------------


@pytest.mark.parametrize(
    ("rule", "kind", "title"),
    [
        (DeadLettersRule(id="dl", quiet_s=600), "dead_letters", "站点消息被隔离"),
        (RevisionsRule(id="rev", quiet_s=600), "revisions", "同一时刻数据出现不同值"),
        (InboxWriteRule(id="inbox", quiet_s=600), "inbox_write", "采集中心收件箱写入失败"),
    ],
)
def test_incident_opens_on_the_first_and_resolves_after_a_quiet_period(
    rule: RuleBase, kind: str, title: str
) -> None:
    e = engine(rule)
    opened = e.on_incident(ST, kind, at(0), 2, {"schema": 2} if kind == "dead_letters" else None)
    assert kinds(opened) == ["opened"] and opened[0].alert.title_zh == title and opened[0].alert.title_en
    assert e.on_incident(ST, kind, at(5), 1, {"schema": 1} if kind == "dead_letters" else None) == []
    alert = e.active()[0]
    assert alert.value == 3 and alert.message_zh and alert.message_en
    if kind == "dead_letters":
        assert alert.detail["schema"] == 3 and "schema 3" in alert.message_en
    assert e.tick(at(5 + 9)) == []  # 9 min quiet: not yet
    assert kinds(e.tick(at(5 + 10))) == ["resolved"]
    assert e.state.incidents == {}
    assert kinds(e.on_incident(ST, kind, at(30))) == ["opened"]  # a new incident, a new alert
    assert e.active()[0].value == 1


def test_incident_state_survives_a_dump_and_load() -> None:
    e = engine(DeadLettersRule(id="dl", quiet_s=600))
    e.on_incident(ST, "dead_letters", at(0), 1, {"invalid": 1})
    again = AlertEngine.load(e.config, e.dump())
    assert kinds(again.tick(at(10))) == ["resolved"]
