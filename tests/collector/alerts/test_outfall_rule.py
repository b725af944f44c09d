"""``outfall_limit`` (collector/alerts/rules/outfall.py): an outfall's valid values against its discharge limits,
with its own texts; the exceedance rule leaves an outfall's effluent alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.alerts import AlertEngine, AlertsConfig, ExceedanceRule, TransitionKind
from collector.alerts.config import Discharge
from collector.alerts.rules.outfall import OutfallLimitRule
from protocols.messages import Reading

T0 = datetime(2026, 7, 15, 0, 0, tzinfo=UTC)
OUT = "hutuo_demo"
COD, PH, NH3N, FLOW = "w01018", "w01001", "w21003", "w00000"
DISCHARGE = Discharge(
    name_zh="滹沱河演示排口",
    name_en="Hutuo demo outfall",
    standard="GB 18918-2002 一级A",
    limits={COD: (None, 50.0), PH: (6.0, 9.0), NH3N: (None, 5.0)},
)


def reading(param: str, hours: float, value: float | None, flag: str = "N") -> Reading:
    return Reading(param=param, t=T0 + timedelta(hours=hours), value=value, flag=flag)


def engine(**rule: object) -> AlertEngine:
    rules = [OutfallLimitRule(id="outfall_limit", **rule), ExceedanceRule(id="exceedance")]
    return AlertEngine(AlertsConfig(rules=rules, outfalls={OUT: DISCHARGE}))


def test_a_value_over_the_limit_opens_with_the_value_rounded_the_limit_and_its_source() -> None:
    e = engine()
    assert e.on_reading(OUT, reading(COD, 0, 42.0)) == []
    opened = e.on_reading(OUT, reading(COD, 1, 64.04))
    assert [t.kind for t in opened] == [TransitionKind.OPENED]
    alert = opened[0].alert
    assert (alert.rule_type, alert.param, alert.value) == ("outfall_limit", COD, 64.04)
    assert alert.title_zh == "化学需氧量超排放限值" and alert.title_en == "COD over the discharge limit"
    # (64.04 − 50) / 50 = 0.2808 → 0.28 times over
    assert (
        alert.message_zh
        == "滹沱河演示排口 化学需氧量 64.0 mg/L，超过排放限值 50 mg/L（GB 18918-2002 一级A），超标 0.28 倍"
    )
    assert alert.message_en == (
        "Hutuo demo outfall COD 64.0 mg/L: over its discharge limit of 50 mg/L (GB 18918-2002 一级A), "
        "0.28 times over the limit"
    )
    assert alert.detail["limit_max"] == 50.0 and alert.detail["multiple"] == pytest.approx(0.2808)


def test_ph_below_its_range_says_the_lower_bound_and_no_multiple() -> None:
    alert = engine().on_reading(OUT, reading(PH, 0, 5.234))[0].alert
    assert alert.message_zh == "滹沱河演示排口 pH 5.23，低于排放限值下限 6–9（GB 18918-2002 一级A）"
    assert alert.message_en.endswith(
        "pH 5.23: below its discharge limit's lower bound of 6–9 (GB 18918-2002 一级A)"
    )
    assert alert.detail["multiple"] is None


def test_it_resolves_after_two_values_within_and_ignores_values_not_valid() -> None:
    e = engine()
    assert e.on_reading(OUT, reading(NH3N, 0, 6.1))[0].kind is TransitionKind.OPENED
    assert e.on_reading(OUT, reading(NH3N, 1, 80.0, "D")) == []  # a fault-flagged value judges nothing
    assert e.on_reading(OUT, reading(NH3N, 2, None, "B")) == []
    assert e.on_reading(OUT, reading(NH3N, 3, 5.0)) == []  # at the limit: within
    resolved = e.on_reading(OUT, reading(NH3N, 4, 2.4))
    assert [t.kind for t in resolved] == [TransitionKind.RESOLVED]


def test_an_item_without_a_limit_and_a_station_without_limits_are_not_judged() -> None:
    e = engine()
    assert e.on_reading(OUT, reading(FLOW, 0, 9999.0)) == []  # no flow limit given here
    assert e.on_reading("jiehepucun", reading(COD, 0, 999.0)) == []  # no outfall: no discharge limit


def test_effluent_is_not_judged_against_gb_3838_but_a_station_still_is() -> None:
    e = engine(params=[NH3N])
    # 4 mg/L NH3-N is worse than class V in a river but within the outfall's 5 mg/L.
    assert e.on_readings(OUT, [reading(NH3N, 0, 4.0), reading(NH3N, 1, 4.2)]) == []
    assert e.on_readings(OUT, [reading(COD, 0, 70.0)]) == []  # params=[NH3N]: COD is not this rule's
    station = e.on_readings("jiehepucun", [reading(NH3N, 0, 4.0), reading(NH3N, 1, 4.2)])
    assert [(t.kind, t.alert.rule_type) for t in station] == [(TransitionKind.OPENED, "exceedance")]
