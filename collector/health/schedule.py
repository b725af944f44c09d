"""When values are expected: every ``interval_s`` (probes) or at fixed local hours (nutrient analysers), and
which schedule applies to each parameter a station is expected to report (``schedules``)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:  # the config models are only read here: health stays free of the config's imports
    from collector.config import ScheduleConfig, StationConfig

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware(t: datetime, name: str) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"{name} must carry a time zone (UTC)")
    return t.astimezone(UTC)


class Schedule(BaseModel):
    """Either ``interval_s`` (slots aligned to multiples of it since the Unix epoch, UTC) or ``slot_hours``
    (local hours of the day in ``tz``, e.g. 0/4/8/12/16/20 for 4-hourly nutrient analysers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_s: float | None = Field(default=None, gt=0)
    slot_hours: tuple[int, ...] | None = None
    tz: str = "Asia/Shanghai"

    @field_validator("slot_hours")
    @classmethod
    def _hours(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("slot_hours must name at least one hour")
        if any(h < 0 or h > 23 for h in value):
            raise ValueError(f"slot hours must be 0–23, got {list(value)}")
        if len(set(value)) != len(value):
            raise ValueError(f"slot hours must not repeat, got {list(value)}")
        return tuple(sorted(value))

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.interval_s is None) == (self.slot_hours is None):
            raise ValueError("a schedule needs exactly one of interval_s or slot_hours")
        return self

    @classmethod
    def every(cls, interval_s: float) -> Schedule:
        return cls(interval_s=interval_s)

    @classmethod
    def slots(cls, hours: tuple[int, ...] = (0, 4, 8, 12, 16, 20), tz: str = "Asia/Shanghai") -> Schedule:
        return cls(slot_hours=hours, tz=tz)

    @property
    def nominal_interval_s(self) -> float:
        """The longest gap between two expected values (what 'stale' should be measured against)."""
        if self.interval_s is not None:
            return self.interval_s
        assert self.slot_hours is not None
        hours = list(self.slot_hours)
        gaps = [b - a for a, b in itertools.pairwise(hours)] + [hours[0] + 24 - hours[-1]]
        return max(gaps) * 3600.0

    def expected_times(self, start: datetime, end: datetime) -> list[datetime]:
        """Expected value times in [start, end), UTC, ascending."""
        start, end = _aware(start, "start"), _aware(end, "end")
        if end <= start:
            return []
        if self.interval_s is not None:
            step = self.interval_s
            first = math.ceil((start - _EPOCH).total_seconds() / step)
            last = math.ceil((end - _EPOCH).total_seconds() / step)
            return [_EPOCH + timedelta(seconds=k * step) for k in range(first, last)]
        assert self.slot_hours is not None
        zone = ZoneInfo(self.tz)
        day = start.astimezone(zone).date() - timedelta(days=1)
        last_day = end.astimezone(zone).date()
        times: list[datetime] = []
        while day <= last_day:
            for hour in self.slot_hours:
                t = datetime(day.year, day.month, day.day, hour, tzinfo=zone).astimezone(UTC)
                if start <= t < end:
                    times.append(t)
            day += timedelta(days=1)
        return times

    def expected_count(self, start: datetime, end: datetime) -> int:
        return len(self.expected_times(start, end))


def schedules(site: StationConfig, config: ScheduleConfig) -> dict[str, Schedule]:
    """Expected-value schedule of each parameter the station is expected to report."""
    known: dict[str, Schedule] = {code: Schedule.every(s) for code, s in config.every_s.items()}
    for code in config.slot_params:
        known[code] = Schedule.slots(tuple(config.slot_hours), config.timezone)
    wanted = site.expected_params if site.expected_params is not None else list(known)
    return {code: known[code] for code in wanted if code in known}
