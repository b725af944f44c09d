"""An item's state against its section's target (collector/reports/risk.py): over, at warning level, or neither."""

from __future__ import annotations

from datetime import date

from collector.assessment import WaterClass, judge_section
from collector.reports.risk import State, item_state, month_bounds, worse

NH3N, TP, DO, PH, TEMP = "w21003", "w21011", "w01009", "w01001", "w01010"


def state(param: str, mean: float, target: WaterClass = WaterClass.III, ratio: float = 0.8) -> State | None:
    item = judge_section({param: mean}, "river", target).item(param)
    return item_state(item, "river", target, ratio)


def test_warning_from_the_ratio_of_the_target_limit_inclusive() -> None:
    assert state(TP, 0.160) is State.WARNING  # 0.8 × 0.2 exactly
    assert state(TP, 0.159) is None
    assert state(TP, 0.200) is State.WARNING  # at the limit: still class III, on target
    assert state(TP, 0.201) is State.OVER
    assert state(NH3N, 0.45, WaterClass.II) is State.WARNING  # target II: 0.45 ≥ 0.8 × 0.5
    assert state(NH3N, 0.44, WaterClass.II, ratio=0.9) is None  # 0.44 < 0.9 × 0.5 = 0.45
    # Rounded as judged: 1.0004 → 1.000 (on target, warning), 1.0006 → 1.001 (over).
    assert state(NH3N, 1.0004) is State.WARNING and state(NH3N, 1.0006) is State.OVER


def test_do_and_ph_are_only_ever_over() -> None:
    assert state(DO, 5.0) is None and state(DO, 4.99) is State.OVER
    assert state(PH, 8.9) is None and state(PH, 9.1) is State.OVER
    assert state(TEMP, 40.0) is None  # not evaluated


def test_worse_and_month_bounds() -> None:
    assert worse(None, State.WARNING) is State.WARNING and worse(State.OVER, State.WARNING) is State.OVER
    start, end = month_bounds(date(2026, 12, 31))
    assert (start.isoformat(), end.isoformat()) == ("2026-11-30T16:00:00+00:00", "2026-12-31T16:00:00+00:00")
