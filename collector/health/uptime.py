"""Uptime over a range from a station's state transitions (online / degraded / offline)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from collector.health.schedule import _aware
from protocols.messages import StationState


@dataclass(frozen=True, slots=True)
class UptimeFigures:
    range_s: float
    online_s: float
    degraded_s: float
    offline_s: float
    unknown_s: float  # before the first known state in the range

    @property
    def uptime(self) -> float | None:
        """Share of the range the station was reachable (online or degraded); unknown time counts as down."""
        return (self.online_s + self.degraded_s) / self.range_s if self.range_s > 0 else None

    @property
    def uptime_pct(self) -> float | None:
        share = self.uptime
        return None if share is None else 100.0 * share

    @property
    def fully_online(self) -> float | None:
        return self.online_s / self.range_s if self.range_s > 0 else None


def uptime(
    transitions: Iterable[tuple[datetime, StationState | str]],
    start: datetime,
    end: datetime,
    initial: StationState | str | None = None,
) -> UptimeFigures:
    """Each transition (time, new state) holds until the next one. ``initial`` is the state at ``start``
    (e.g. the last transition before the range); without it, time before the first transition is unknown.
    Transitions need not be sorted; repeated states are harmless."""
    start, end = _aware(start, "start"), _aware(end, "end")
    if end < start:
        raise ValueError("end must not be before start")
    events: list[tuple[datetime, StationState]] = []
    for t, state in transitions:
        when = _aware(t, "transition time")
        try:
            events.append((when, StationState(state)))
        except ValueError:
            raise ValueError(f"unknown station state {state!r}") from None
    events.sort(key=lambda e: e[0])
    current: StationState | None = StationState(initial) if initial is not None else None
    for t, state in events:
        if t <= start:
            current = state
    totals = {StationState.ONLINE: 0.0, StationState.DEGRADED: 0.0, StationState.OFFLINE: 0.0}
    unknown = 0.0
    cursor = start
    for t, state in [*(e for e in events if start < e[0] < end), (end, StationState.OFFLINE)]:
        span = (t - cursor).total_seconds()
        if current is None:
            unknown += span
        else:
            totals[current] += span
        current, cursor = state, t
    return UptimeFigures(
        range_s=(end - start).total_seconds(),
        online_s=totals[StationState.ONLINE],
        degraded_s=totals[StationState.DEGRADED],
        offline_s=totals[StationState.OFFLINE],
        unknown_s=unknown,
    )
