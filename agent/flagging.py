"""Edge flagging: the doubt the agent can see, put into the HJ 212 flag or raised as an event. Pure.

Values are never clamped or rewritten (STANDARDS.md §5). The choices made here:

- above the field's measurement range → T (the analyser's reading is over its upper limit); below the range
  is not a flag of its own (small negatives near zero are ordinary instrument noise);
- pH outside 0-14 is physically impossible → D (analyser fault) and a ``logic_violation`` event;
- TP > TN and NH3-N > TN are impossible together, but either value could be the wrong one, so they raise a
  ``logic_violation`` event and change no flag (HJ 212 has no "suspect" letter);
- the same raw value for ``stuck_after_s`` → one ``stuck_value`` event, re-armed when the value changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from protocols.flags import Flag

PH, TP, TN, NH3N = "w01001", "w21011", "w21001", "w21003"


def range_flag(value: float, measurement_range: tuple[float, float] | None) -> Flag:
    """T when ``value`` is above the measurement range's upper limit, else N."""
    if measurement_range is not None and value > measurement_range[1]:
        return Flag.OVER_RANGE
    return Flag.NORMAL


def value_flag(param: str, value: float) -> Flag:
    """A flag from the value alone: D where the value is physically impossible."""
    if param == PH and not 0.0 <= value <= 14.0:
        return Flag.FAULT
    return Flag.NORMAL


@dataclass(frozen=True)
class Violation:
    rule: str  # stable key: "ph_range", "tp_gt_tn", "nh3n_gt_tn"
    message: str
    values: dict[str, float]


def logic_violations(latest: Mapping[str, float]) -> list[Violation]:
    """Impossible combinations among a station's latest values (STANDARDS.md §7)."""
    found: list[Violation] = []
    ph = latest.get(PH)
    if ph is not None and not 0.0 <= ph <= 14.0:
        found.append(Violation("ph_range", f"pH {ph:g} is outside 0-14", {PH: ph}))
    tn = latest.get(TN)
    if tn is not None:
        for code, rule, name in ((TP, "tp_gt_tn", "TP"), (NH3N, "nh3n_gt_tn", "NH3-N")):
            other = latest.get(code)
            if other is not None and other > tn:
                found.append(
                    Violation(rule, f"{name} {other:g} mg/L exceeds TN {tn:g} mg/L", {code: other, TN: tn})
                )
    return found


class LogicMonitor:
    """Keeps a station's latest values and reports each violation once when it starts (re-armed on clear)."""

    def __init__(self) -> None:
        self.latest: dict[str, float] = {}
        self._active: set[str] = set()

    def update(self, values: Mapping[str, float]) -> list[Violation]:
        self.latest.update(values)
        current = logic_violations(self.latest)
        new = [v for v in current if v.rule not in self._active]
        self._active = {v.rule for v in current}
        return new


@dataclass
class _Run:
    raw: float
    since: datetime
    reported: bool = False


class StuckDetector:
    """Reports a value that has not changed for ``stuck_after_s``: once per run of equal values."""

    def __init__(self, stuck_after_s: float) -> None:
        self.stuck_after_s = stuck_after_s
        self._runs: dict[tuple[str, str], _Run] = {}

    def observe(self, device: str, param: str, raw: float, t: datetime) -> datetime | None:
        """Record a raw value; returns the start of the run when it has just become stuck, else None."""
        key = (device, param)
        run = self._runs.get(key)
        if run is None or run.raw != raw or t < run.since:
            self._runs[key] = _Run(raw, t)
            return None
        if not run.reported and (t - run.since).total_seconds() >= self.stuck_after_s:
            run.reported = True
            return run.since
        return None
