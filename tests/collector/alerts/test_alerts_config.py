"""Alert configuration: validated, with errors that name the field and the problem."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from collector.alerts import AlertsConfig, StaleRule, default_rules
from collector.assessment import WaterClass


def _errors(document: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        AlertsConfig.model_validate(document)
    return str(info.value)


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ({"type": "offline", "id": "o", "after_s": -1}, "after_s"),
        ({"type": "exceedance", "id": "e", "open_after": 0}, "open_after"),
        ({"type": "exceedance", "id": "e", "clear_after_s": -5}, "clear_after_s"),
        ({"type": "stale", "id": "s", "factor": 0}, "factor"),
        ({"type": "stale", "id": "s", "intervals_s": {"w99999": 60}}, "unknown parameter code 'w99999'"),
        ({"type": "stale", "id": "s", "intervals_s": {"w21003": -60}}, "greater than 0"),
        ({"type": "exceedance", "id": "e", "params": ["nh3n"]}, "unknown parameter code 'nh3n'"),
        ({"type": "sudden_rise", "id": "r", "rates_per_hour": {"w21003": 0}}, "greater than 0"),
        ({"type": "sudden_rise", "id": "r", "min_span_s": 7200, "max_gap_s": 3600}, "min_span_s"),
        ({"type": "clock_skew", "id": "c", "max_offset_s": 10, "clear_offset_s": 20}, "clear_offset_s"),
        ({"type": "calibration_overdue", "id": "c", "max_age_s": {"w21011": -1}}, "greater than 0"),
        ({"type": "controller", "id": "c", "condition": "flooded"}, "condition"),
        ({"type": "controller", "id": "c"}, "condition"),
        ({"type": "teleport", "id": "t"}, "teleport"),
        ({"type": "offline", "id": "Bad Id"}, "id"),
        ({"type": "offline", "id": "o", "stations": ["Not A Station"]}, "not a station id"),
        ({"type": "offline", "id": "o", "colour": "red"}, "colour"),
    ],
)
def test_rule_validation_errors(rule: dict[str, Any], needle: str) -> None:
    assert needle in _errors({"rules": [rule]})


def test_duplicate_rule_ids_refused() -> None:
    message = _errors({"rules": [{"type": "offline", "id": "x"}, {"type": "stale", "id": "x"}]})
    assert "repeated: x" in message


def test_site_validation() -> None:
    assert "class" in _errors({"sites": {"hexicun": {"target_class": "VI"}}})
    assert "target class must be I–V" in _errors({"sites": {"hexicun": {"target_class": "劣V"}}})
    assert "water_type" in _errors({"sites": {"hexicun": {"water_type": "sea"}}})
    assert "not a station id" in _errors({"sites": {"Bad!": {}}})
    config = AlertsConfig.model_validate(
        {"sites": {"hexicun": {"target_class": "Ⅱ类", "water_type": "lake"}}}
    )
    assert config.site("hexicun").target_class is WaterClass.II
    assert config.site("boshuicun").target_class is WaterClass.III


def test_defaults_are_sound() -> None:
    rules = {r.id: r for r in default_rules()}
    stale = rules["stale"]
    assert isinstance(stale, StaleRule)
    assert stale.interval("w21003") == 4 * 3600 and stale.interval("w01009") == 300
    assert stale.interval("w00000") == stale.default_interval_s
    assert len(rules) == len(default_rules())
    AlertsConfig.model_validate(AlertsConfig().model_dump())  # the defaults survive a round trip
