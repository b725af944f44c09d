"""A rule type defined here, outside the alert package, registers without an edit to the engine or to any
config model: it loads from a TOML ``[alerts]`` section, opens and resolves alerts through the engine. And the
engine's memory dumped before rule types became a registry still loads (the upgrade keeps open alerts)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

import pytest
from pydantic import Field, ValidationError

from collector.alerts import AlertEngine, AlertsConfig, IncidentRule, RuleBase, default_rules, registry, texts
from collector.alerts.check import Check, Context, ReadingStep, Verdicts
from collector.alerts.model import IncidentMemo, ParamMemo, alert_key
from collector.alerts.rule import ParamCode
from collector.config import parse_config
from protocols.errors import ConfigError
from protocols.flags import VALID_FLAGS
from protocols.messages import Reading, Status

T0 = datetime(2026, 7, 15, tzinfo=UTC)
ST = "hexicun"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def temp(minutes: float, value: float | None, flag: str = "N") -> Reading:
    return Reading(param="w01010", t=at(minutes), value=value, flag=flag)


# ----- a rule type of this test's own: water temperature above a threshold ----------------------------------
class HighTempRule(RuleBase):
    """A valid value of ``param`` above ``above``."""

    type: Literal["test_high_temp"] = "test_high_temp"
    param: ParamCode = "w01010"
    above: float = 30.0


def _hot(ctx: Context, rule: HighTempRule, station: str, reading: Reading) -> Check:
    said = texts.render("test_high_temp", label=ctx.label(station), value=reading.value, above=rule.above)
    return Check(
        rule, station, reading.param, True, reading.t, *said, param=reading.param, value=reading.value
    )


def high_temp_step(v: Verdicts, rules: list[HighTempRule], station: str, param: str) -> ReadingStep | None:
    mine = [(r, alert_key(station, r.id, param)) for r in rules if r.param == param]
    if not mine:
        return None

    def judge(
        memo: ParamMemo, batch: Sequence[Reading], indices: Sequence[int], newer: Sequence[int]
    ) -> None:
        for i in newer:
            reading = batch[i]
            if reading.value is None or reading.flag not in VALID_FLAGS:
                continue
            for rule, key in mine:
                if reading.value > rule.above:
                    v.bad(rule, key, reading.t, None, partial(_hot, v, rule, station, reading), i)
                else:
                    v.good(rule, station, param, key, reading.t, i)

    return judge


# ----- and an incident kind of its own ----------------------------------------------------------------------
class NoiseRule(IncidentRule):
    """Incidents of a kind this test makes up."""

    type: Literal["test_noise"] = "test_noise"
    quiet_s: float = Field(default=600.0, gt=0)


def noise(ctx: Context, rule: NoiseRule, station: str, memo: IncidentMemo) -> Check:
    said = texts.Texts("测试事件", "Test incident", f"{memo.count} 次", f"{memo.count} time(s)")
    return Check(rule, station, "", True, memo.last_at, *said, value=float(memo.count))


@pytest.fixture
def registered() -> Iterator[None]:
    registry.register(HighTempRule, reading=high_temp_step)
    registry.register(NoiseRule, incident=noise)
    texts.define(
        "test_high_temp",
        texts.Texts(
            "水温过高",
            "Water too warm",
            "{label} 水温 {value} ℃（>{above}）",
            "{label} {value} °C (>{above})",
        ),
    )
    yield
    registry.unregister("test_high_temp")
    registry.unregister("test_noise")
    del texts.TEMPLATES["test_high_temp"]


def kinds(transitions: list[Any]) -> list[str]:
    return [t.kind.value for t in transitions]


HOT_RULES = """
[alerts]
rules = [{id = "hot", type = "test_high_temp", above = 30.0, open_after = 2, clear_after = 2}]
"""


def test_a_rule_type_defined_outside_loads_from_toml_and_opens_and_resolves(registered: None) -> None:
    rules = parse_config(HOT_RULES).alerts.rules
    assert rules is not None and isinstance(rules[0], HighTempRule) and rules[0].above == 30.0
    config = AlertsConfig(rules=rules)
    assert (
        AlertsConfig.model_validate(tomllib.loads(HOT_RULES)["alerts"]) == config
    )  # the [alerts] table alone
    e = AlertEngine(config)
    assert e.on_reading(ST, temp(0, 29.0)) == []
    assert e.on_reading(ST, temp(5, 31.0)) == []  # debounced: open_after = 2
    assert e.on_reading(ST, temp(10, 99.0, "D")) == []  # not valid: not judged
    opened = e.on_reading(ST, temp(15, 32.5))
    assert kinds(opened) == ["opened"]
    alert = opened[0].alert
    assert (alert.rule, alert.rule_type, alert.subject, alert.value) == (
        "hot",
        "test_high_temp",
        "w01010",
        32.5,
    )
    assert (alert.title_zh, alert.message_en) == ("水温过高", f"{ST} 32.5 °C (>30.0)")
    assert AlertEngine.load(config, e.dump()).active() == e.active()  # its alerts persist like any other
    assert e.on_readings(ST, [temp(20, 25.0), temp(25, 33.0), temp(30, 24.0)]) == []  # a relapse resets
    assert kinds(e.on_reading(ST, temp(35, 24.0))) == ["resolved"]
    assert e.active() == []
    assert e.on_reading(ST, Reading(param="w01009", t=at(40), value=50.0, flag="N")) == []  # another param


def test_its_config_errors_name_the_field_like_a_builtin_rule(registered: None) -> None:
    with pytest.raises(ConfigError, match=r"alerts\.rules\[hot\]\.above"):
        parse_config('[alerts]\nrules = [{id = "hot", type = "test_high_temp", above = "warm"}]\n')
    with pytest.raises(ConfigError, match=r"alerts\.rules\[hot\]\.param"):
        parse_config('[alerts]\nrules = [{id = "hot", type = "test_high_temp", param = "w99999"}]\n')


def test_an_unregistered_type_is_refused_and_registering_changes_no_default() -> None:
    with pytest.raises(ValidationError, match="test_high_temp"):
        AlertsConfig.model_validate({"rules": [{"id": "hot", "type": "test_high_temp"}]})
    before = [r.id for r in default_rules()]
    registry.register(HighTempRule, reading=high_temp_step)
    try:
        assert [r.id for r in default_rules()] == before
        assert AlertsConfig.model_validate({"rules": [{"id": "hot", "type": "test_high_temp"}]})
    finally:
        registry.unregister("test_high_temp")
    with pytest.raises(ValidationError, match="test_high_temp"):
        AlertsConfig.model_validate({"rules": [{"id": "hot", "type": "test_high_temp"}]})


def test_an_engine_sees_a_type_registered_after_it_was_made(registered: None) -> None:
    config = AlertsConfig(rules=[HighTempRule(id="hot", open_after=1)])
    e = AlertEngine(config)
    assert kinds(e.on_reading(ST, temp(0, 31.0))) == ["opened"]
    registry.unregister("test_high_temp")  # its plans are dropped with it: nothing judges the rule now
    try:
        assert e.on_reading(ST, temp(5, 20.0)) == []
        assert len(e.active()) == 1
    finally:
        registry.register(HighTempRule, reading=high_temp_step)
    assert kinds(e.on_reading(ST, temp(10, 20.0))) == ["resolved"]


def test_an_incident_kind_defined_outside(registered: None) -> None:
    e = AlertEngine(AlertsConfig(rules=[NoiseRule(id="ti")]))
    assert kinds(e.on_incident(ST, "test_noise", at(0), 2)) == ["opened"]
    assert e.on_incident(ST, "test_noise", at(5)) == [] and e.active()[0].value == 3
    assert e.tick(at(14)) == []
    assert kinds(e.tick(at(15))) == ["resolved"] and e.state.incidents == {}
    with pytest.raises(KeyError):
        e.on_incident(ST, "test_high_temp", at(20))  # a rule type, not an incident kind


def test_the_registry_refuses_a_second_type_of_a_name_and_models_it_cannot_key() -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_exceedance_model())
    with pytest.raises(TypeError, match="type"):
        registry.register(RuleBase)
    with pytest.raises(TypeError, match="IncidentRule"):
        registry.register(HighTempRule, incident=noise)
    assert registry.get("test_high_temp") is None  # nothing half-registered


def _exceedance_model() -> type[RuleBase]:
    entry = registry.get("exceedance")
    assert entry is not None
    return entry.model


def test_the_default_rule_set_has_every_builtin_type_and_the_hooks_keep_their_order() -> None:
    names = [entry.name for entry in registry.types()]
    assert {getattr(r, "type", None) for r in default_rules()} == set(names)
    # Within one reading, verdicts come in this order (as before the registry).
    reading = [entry.name for entry, _ in registry.current.reading]
    assert reading == ["calibration_overdue", "fault_flag", "exceedance", "sudden_rise", "outfall_limit"]
    status = [entry.name for entry, _ in registry.current.status]
    assert status == [
        "offline",
        "device_down",
        "backlog",
        "dropped",
        "clock_skew",
        "controller",
        "hj212_backlog",
    ]


# ----- the engine's memory from before the registry ---------------------------------------------------------
# AlertEngine.dump() of the engine before rule types were registered (commit 4115207): an acknowledged
# exceedance, an open sudden rise and an open dead-letters alert, debounce counters for the backlog and the
# fault flag, the station's backlog, the calibration time and rise history, a dead-letters incident.
OLD_DUMP = (
    '{"v":1,"active":{"hexicun|exc|w21003":{"id":"hexicun|exc|w21003|20260715'
    'T002000Z","station":"hexicun","rule":"exc","rule_type":"exceedance","sub'
    'ject":"w21003","param":"w21003","severity":"warning","status":"acknowled'
    'ged","opened_at":"2026-07-15T00:20:00Z","last_bad_at":"2026-07-15T00:20:'
    '00Z","acknowledged_at":"2026-07-15T00:24:00Z","acknowledged_by":"ops","r'
    'esolved_at":null,"value":1.6,"title_zh":"氨氮超标（Ⅴ类）","title_en":"ammonia n'
    'itrogen exceeds target (Class V)","message_zh":"hexicun 氨氮 1.600 mg/L，Ⅴ类'
    '，目标Ⅲ类，超标 0.60 倍","message_en":"hexicun ammonia nitrogen 1.600 mg/L: Clas'
    's V, target Class III, 0.60 times over the limit","detail":{"class":"V",'
    '"target":"III","multiple":0.6000000000000001}},"hexicun|rise|w21003":{"i'
    'd":"hexicun|rise|w21003|20260715T002000Z","station":"hexicun","rule":"ri'
    'se","rule_type":"sudden_rise","subject":"w21003","param":"w21003","sever'
    'ity":"warning","status":"open","opened_at":"2026-07-15T00:20:00Z","last_'
    'bad_at":"2026-07-15T00:20:00Z","acknowledged_at":null,"acknowledged_by":'
    'null,"resolved_at":null,"value":1.6,"title_zh":"氨氮突升","title_en":"ammoni'
    'a nitrogen sudden rise","message_zh":"hexicun 氨氮 由 0.600 升至 1.600 mg/L，每'
    '小时 6（阈值 0.5）","message_en":"hexicun ammonia nitrogen rose from 0.600 to '
    '1.600 mg/L: 6 per hour (threshold 0.5)","detail":{"rate_per_hour":6.0,"f'
    'rom":0.6,"from_t":"2026-07-15T00:10:00+00:00"}},"hexicun|dl|":{"id":"hex'
    'icun|dl||20260715T002300Z","station":"hexicun","rule":"dl","rule_type":"'
    'dead_letters","subject":"","param":null,"severity":"warning","status":"o'
    'pen","opened_at":"2026-07-15T00:23:00Z","last_bad_at":"2026-07-15T00:23:'
    '00Z","acknowledged_at":null,"acknowledged_by":null,"resolved_at":null,"v'
    'alue":2.0,"title_zh":"站点消息被隔离","title_en":"Messages quarantined","messag'
    'e_zh":"hexicun 有 2 条消息无法校验或入库，已隔离（schema 2）","message_en":"hexicun: 2 me'
    "ssage(s) could not be validated or stored and were quarantined (schema 2"
    ')","detail":{"count":2,"since":"2026-07-15T00:23:00+00:00","schema":2}}}'
    ',"counters":{"hexicun|exc|w21003":{"bad":1,"good":0,"bad_since":"2026-07'
    '-15T00:20:00Z","good_since":null},"hexicun|rise|w21003":{"bad":1,"good":'
    '0,"bad_since":"2026-07-15T00:20:00Z","good_since":null},"hexicun|fault|w'
    '01009":{"bad":1,"good":0,"bad_since":"2026-07-15T00:20:00Z","good_since"'
    ':null},"hexicun|bl|":{"bad":1,"good":0,"bad_since":"2026-07-15T00:22:00Z'
    '","good_since":null},"hexicun|dl|":{"bad":1,"good":0,"bad_since":"2026-0'
    '7-15T00:23:00Z","good_since":null}},"stations":{"hexicun":{"last_heard":'
    '"2026-07-15T00:22:00Z","offline_since":null,"backlog":30,"dropped":0,"no'
    '_water":false}},"params":{"hexicun|w21003":{"first_seen":"2026-07-15T00:'
    '00:00Z","last_t":"2026-07-15T00:20:00Z","last_calibration":"2026-07-15T0'
    '0:00:00Z","last_exceedance_t":"2026-07-15T00:20:00Z","history":[["2026-0'
    '7-15T00:10:00Z",0.6],["2026-07-15T00:20:00Z",1.6]]},"hexicun|w01009":{"f'
    'irst_seen":"2026-07-15T00:20:00Z","last_t":"2026-07-15T00:20:00Z","last_'
    'calibration":null,"last_exceedance_t":null,"history":[]}},"incidents":{"'
    'hexicun|dead_letters":{"first_at":"2026-07-15T00:23:00Z","last_at":"2026'
    '-07-15T00:23:00Z","count":2,"detail":{"schema":2}}}}'
)


def _old_config() -> AlertsConfig:
    return AlertsConfig.model_validate(
        {
            "rules": [
                {"type": "exceedance", "id": "exc", "open_after": 1, "clear_after": 2},
                {
                    "type": "sudden_rise",
                    "id": "rise",
                    "min_span_s": 60,
                    "max_gap_s": 3600,
                    "rates_per_hour": {"w21003": 0.5},
                },
                {"type": "calibration_overdue", "id": "cal", "max_age_s": {"w21003": 3600}},
                {"type": "offline", "id": "off", "after_s": 600},
                {"type": "backlog", "id": "bl", "min_backlog": 10, "open_after": 2},
                {"type": "dead_letters", "id": "dl", "quiet_s": 600},
                {"type": "fault_flag", "id": "fault", "open_after": 2},
            ]
        }
    )


def test_a_dump_from_before_the_registry_loads_and_carries_on() -> None:
    e = AlertEngine.load(_old_config(), OLD_DUMP)
    assert e.dump() == OLD_DUMP  # every field kept, nothing added
    active = {a.rule: a for a in e.active()}
    assert active.keys() == {"exc", "rise", "dl"} and active["exc"].status.value == "acknowledged"
    assert json.loads(OLD_DUMP)["counters"].keys() == e.state.counters.keys()
    # Its counters and memos carry on: the next growth opens the backlog, the next D the fault alert...
    status = Status(station=ST, at=at(25), state="online", backlog=40, dropped=0)
    assert [(t.kind.value, t.alert.rule) for t in e.on_status(status)] == [("opened", "bl")]
    opened = e.on_reading(ST, Reading(param="w01009", t=at(26), value=None, flag="D"))
    assert [(t.kind.value, t.alert.rule) for t in opened] == [("opened", "fault")]
    # ...the exceedance and the rise resolve on the same ids, the quarantine after its quiet time...
    good = [Reading(param="w21003", t=at(30), value=0.5), Reading(param="w21003", t=at(40), value=0.5)]
    resolved = e.on_readings(ST, good)
    assert sorted(t.alert.id for t in resolved) == sorted([active["exc"].id, active["rise"].id])
    assert [t.alert.id for t in e.tick(at(33))] == [active["dl"].id]
    # ...and the calibration made at minute 0 is overdue an hour later (the station, silent, is offline).
    assert [t.alert.rule for t in e.tick(at(61))] == ["off", "cal"]
