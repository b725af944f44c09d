"""Station controller signal history as intervals, and the ice / no-water periods derived from it.

The status message carries the controller's signals as they are now; this keeps, per station and signal,
the runs of equal value as intervals [from, to) (``to`` None while the run lasts). A status older than the
newest one seen for the station is ignored (and counted): a stale retained status must not rewrite history.

No-water periods (the intake is dry or frozen: capture slots inside them are excluded, STANDARDS.md §7) are
the union of ``water_present == 0`` and ``sampling_state == 3``. Each is labelled:

* ``ice`` when the controller's own ``ice`` signal was set during it, or when a valid water temperature
  (w01010) at or below ``max_water_temp_c`` (0.5 °C) was read from ``ICE_LOOKBACK`` (6 h) before the period
  until its end — water that cold at the intake means a frozen river, not a dry one;
* ``no_water`` otherwise (a dry river, a blocked intake).

An open period ends at ``now``. A station that goes silent in a no-water period stays in it until it reports
again: silence is not evidence that water came back.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from protocols.messages import Status

TRACKED = ("water_present", "sampling_state", "mains_power", "on_battery", "ice")
MAX_INTERVALS = 2000  # per station and signal: the oldest are forgotten first
ICE_LOOKBACK = timedelta(hours=6)
WATER_TEMP = "w01010"

Value = float | bool | str
Reason = Literal["ice", "no_water"]


@dataclass(frozen=True, slots=True)
class Interval:
    value: Value
    start: datetime
    end: datetime | None = None  # None: still current


@dataclass(frozen=True, slots=True)
class Excluded:
    start: datetime
    end: datetime
    reason: Reason

    def as_dict(self) -> dict[str, Any]:
        return {"from": _iso(self.start), "to": _iso(self.end), "reason": self.reason}


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _no_water(signal: str, value: Value) -> bool:
    if signal == "water_present":
        return value == 0 or value is False
    if signal == "sampling_state":
        return value == 3
    return False


class ControllerHistory:
    """Thread-safe: the writer feeds statuses, the API reads periods."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signals: dict[str, dict[str, list[Interval]]] = {}
        self._last_at: dict[str, datetime] = {}
        self.counters: Counter[str] = Counter()

    def on_status(self, status: Status) -> bool:
        """Record the status' tracked signals; False (counted) when it is older than one already seen."""
        with self._lock:
            last = self._last_at.get(status.station)
            if last is not None and status.at < last:
                self.counters["stale_statuses"] += 1
                return False
            self._last_at[status.station] = status.at
            signals = self._signals.setdefault(status.station, {})
            for name in TRACKED:
                if name not in status.controller:
                    continue
                value = status.controller[name]
                runs = signals.setdefault(name, [])
                if runs and runs[-1].end is None:
                    if runs[-1].value == value:
                        continue
                    runs[-1] = Interval(runs[-1].value, runs[-1].start, status.at)
                runs.append(Interval(value, status.at))
                if len(runs) > MAX_INTERVALS:
                    del runs[: len(runs) - MAX_INTERVALS]
            return True

    def intervals(self, station: str, signal: str) -> list[Interval]:
        with self._lock:
            return list(self._signals.get(station, {}).get(signal, []))

    def no_water_periods(
        self, station: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """[a, b) periods without sample water, clipped to [start, end), merged across the two signals."""
        spans = []
        for signal in ("water_present", "sampling_state"):
            for run in self.intervals(station, signal):
                if not _no_water(signal, run.value):
                    continue
                a, b = max(run.start, start), min(run.end or end, end)
                if a < b:
                    spans.append((a, b))
        return _merge(spans)

    def ice_signal(self, station: str, start: datetime, end: datetime) -> bool:
        return any(
            bool(run.value) and run.value != "0" and run.start < end and (run.end is None or run.end > start)
            for run in self.intervals(station, "ice")
        )

    def excluded(
        self,
        station: str,
        start: datetime,
        end: datetime,
        water_temps: Sequence[tuple[datetime, float]],
        max_water_temp_c: float = 0.5,
    ) -> list[Excluded]:
        """The ice / no-water periods of ``station`` in [start, end), labelled (see the module text)."""
        out = []
        for a, b in self.no_water_periods(station, start, end):
            ice = self.ice_signal(station, a, b) or is_ice(a, b, water_temps, max_water_temp_c)
            out.append(Excluded(a, b, "ice" if ice else "no_water"))
        return out

    # -- persistence -----------------------------------------------------------------------------------------

    def dump(self) -> str:
        with self._lock:
            return json.dumps(
                {
                    "v": 1,
                    "last_at": {s: _iso(t) for s, t in self._last_at.items()},
                    "signals": {
                        station: {
                            name: [[r.value, _iso(r.start), _iso(r.end) if r.end else None] for r in runs]
                            for name, runs in signals.items()
                        }
                        for station, signals in self._signals.items()
                    },
                }
            )

    @classmethod
    def load(cls, text: str) -> ControllerHistory:
        """The history saved by ``dump``; ValueError when the text is not one."""
        history = cls()
        try:
            doc = json.loads(text)
            if doc.get("v") != 1:
                raise ValueError(f"unknown controller history version {doc.get('v')!r}")
            history._last_at = {s: _parse(t) for s, t in doc["last_at"].items()}
            for station, signals in doc["signals"].items():
                history._signals[station] = {
                    name: [Interval(v, _parse(a), _parse(b) if b else None) for v, a, b in runs]
                    for name, runs in signals.items()
                }
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a controller history: {exc}") from None
        return history


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text!r}")
    return value


def is_ice(
    start: datetime, end: datetime, water_temps: Iterable[tuple[datetime, float]], max_water_temp_c: float
) -> bool:
    """Whether a no-water period [start, end) is ice: a valid water temperature at or below the threshold
    from ``ICE_LOOKBACK`` before it until its end. Pure."""
    return any(start - ICE_LOOKBACK <= t < end and v <= max_water_temp_c for t, v in water_temps)


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
