"""An alert's last value as the alerts view prints it: rounded to the parameter's decimals with its unit
(GB/T 8170 half to even), an age as a duration, a count whole (collector/alert_values.py)."""

from __future__ import annotations

import pytest

from collector.alert_values import value_texts
from collector.names import station_en


@pytest.mark.parametrize(
    ("rule_type", "param", "value", "zh", "en"),
    [
        ("exceedance", "w21003", 1.2387973070144653, "1.239 mg/L", "1.239 mg/L"),  # NH3-N: 3 decimals
        ("sudden_rise", "w21011", 0.0125, "0.012 mg/L", "0.012 mg/L"),  # TP: a tie, half to even
        ("exceedance", "w01001", 7.125, "7.12", "7.12"),  # pH: 2 decimals, no unit
        ("stale", "w21003", 5400.0, "1.5 小时", "1.5 h"),
        ("offline", None, 600.0, "10 分钟", "10 min"),
        ("backlog", None, 1234.0, "1234", "1234"),
        ("clock_skew", None, -93.27, "-93.3 秒", "-93.3 s"),
        ("exceedance", "w21003", None, "—", "—"),
    ],
)
def test_value_texts(rule_type: str, param: str | None, value: float | None, zh: str, en: str) -> None:
    assert value_texts(rule_type, param, value) == (zh, en)


def test_station_names_in_english_come_from_the_section_registry() -> None:
    assert station_en("hexicun") == "Hexicun"
    assert station_en("no-such-station") == "no-such-station"  # the id, never a Chinese name
