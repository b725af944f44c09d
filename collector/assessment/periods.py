"""Calendar periods of the bulletins (day, ISO week, month, quarter, year, flood season, custom range).

Periods are calendar periods in the bureau's zone, Asia/Shanghai, returned as half-open UTC ranges
[start, end) so that a store can select ``start <= t < end`` on its UTC times. The flood season is a run of
months, July–September by default (STANDARDS.md §4, config). Nothing here reads a clock: pass ``now``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

ZONE_NAME = "Asia/Shanghai"
ZONE = ZoneInfo(ZONE_NAME)


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    FLOOD = "flood"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class FloodSeason:
    """Months (inclusive) of the flood season in the bureau's zone; July–September by default (config).

    A season may cross the new year (November–February); it is named by the year it starts in.
    """

    first_month: int = 7
    last_month: int = 9
    tz: str = ZONE_NAME
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (1 <= self.first_month <= 12 and 1 <= self.last_month <= 12):
            raise ValueError(f"flood season months must be 1–12, got {self.first_month}–{self.last_month}")
        object.__setattr__(self, "_zone", ZoneInfo(self.tz))

    def contains(self, t: datetime) -> bool:
        month = _aware(t).astimezone(self._zone).month
        if self.first_month <= self.last_month:
            return self.first_month <= month <= self.last_month
        return month >= self.first_month or month <= self.last_month  # a window across the new year

    def window(self, year: int) -> tuple[date, date]:
        """First and last day (local) of the season starting in ``year``."""
        end_year = year if self.first_month <= self.last_month else year + 1
        last_day = calendar.monthrange(end_year, self.last_month)[1]
        return date(year, self.first_month, 1), date(end_year, self.last_month, last_day)


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC; ``label`` is the canonical reference ("2026-W27", "2026-Q3", …).

    ``partial`` marks the elapsed part of a running period (``running``): ``end`` is then ``now``.
    """

    kind: PeriodKind
    label: str
    start: datetime
    end: datetime
    partial: bool = False

    def contains(self, t: datetime) -> bool:
        return self.start <= _aware(t) < self.end

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def first_day(self) -> date:
        """The local date the period starts on."""
        return self.start.astimezone(ZONE).date()

    @property
    def last_day(self) -> date:
        """The local date of the period's last instant (end is exclusive)."""
        return (self.end - timedelta(microseconds=1)).astimezone(ZONE).date()


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("timestamp must carry a time zone")
    return t


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZONE).astimezone(UTC)


def _span(kind: PeriodKind, label: str, first: date, after_last: date) -> Period:
    return Period(kind, label, _utc_midnight(first), _utc_midnight(after_last))


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _shift_year(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year: the last day of February
        return day.replace(year=day.year + years, day=28)


def day(d: date) -> Period:
    return _span(PeriodKind.DAY, d.isoformat(), d, d + timedelta(days=1))


def week(year: int, number: int) -> Period:
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"ISO year {year} has no week {number}") from None
    return _span(PeriodKind.WEEK, f"{year}-W{number:02d}", monday, monday + timedelta(days=7))


def month(year: int, number: int) -> Period:
    if not 1 <= number <= 12:
        raise ValueError(f"month must be 1–12, got {number}")
    next_year, next_month = _add_months(year, number, 1)
    return _span(
        PeriodKind.MONTH, f"{year}-{number:02d}", date(year, number, 1), date(next_year, next_month, 1)
    )


def quarter(year: int, number: int) -> Period:
    if not 1 <= number <= 4:
        raise ValueError(f"quarter must be 1–4, got {number}")
    first = 3 * (number - 1) + 1
    next_year, next_month = _add_months(year, first, 3)
    return _span(
        PeriodKind.QUARTER, f"{year}-Q{number}", date(year, first, 1), date(next_year, next_month, 1)
    )


def year(number: int) -> Period:
    return _span(PeriodKind.YEAR, f"{number}", date(number, 1, 1), date(number + 1, 1, 1))


def flood(number: int, season: FloodSeason | None = None) -> Period:
    season = season or FloodSeason()
    first, last = season.window(number)
    return _span(PeriodKind.FLOOD, f"{number}", first, last + timedelta(days=1))


def custom(first: date, last: date) -> Period:
    """Local days ``first`` to ``last``, both included."""
    if last < first:
        raise ValueError(f"custom period ends before it starts: {first.isoformat()}..{last.isoformat()}")
    return _span(
        PeriodKind.CUSTOM, f"{first.isoformat()}..{last.isoformat()}", first, last + timedelta(days=1)
    )


_FORMS = {
    PeriodKind.DAY: (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), "2026-07-15"),
    PeriodKind.WEEK: (re.compile(r"(\d{4})-W(\d{2})", re.IGNORECASE), "2026-W27"),
    PeriodKind.MONTH: (re.compile(r"(\d{4})-(\d{2})"), "2026-07"),
    PeriodKind.QUARTER: (re.compile(r"(\d{4})-Q(\d)", re.IGNORECASE), "2026-Q3"),
    PeriodKind.YEAR: (re.compile(r"(\d{4})"), "2026"),
    PeriodKind.FLOOD: (re.compile(r"(\d{4})"), "2026"),
    PeriodKind.CUSTOM: (re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})"), "2026-07-01..2026-07-15"),
}


def _kind(kind: PeriodKind | str) -> PeriodKind:
    try:
        return PeriodKind(kind)
    except ValueError:
        names = ", ".join(k.value for k in PeriodKind)
        raise ValueError(f"period kind must be one of {names}, got {kind!r}") from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a calendar date: {text!r}") from None


def parse_period(kind: PeriodKind | str, ref: str, season: FloodSeason | None = None) -> Period:
    """The period of ``kind`` named by ``ref`` ("2026-07-15", "2026-W27", "2026-07", "2026-Q3", "2026",
    flood "2026", custom "2026-07-01..2026-07-15"); ValueError says what form was expected."""
    k = _kind(kind)
    pattern, example = _FORMS[k]
    match = pattern.fullmatch(ref.strip()) if isinstance(ref, str) else None
    if match is None:
        raise ValueError(f"a {k.value} period is written like {example!r}, got {ref!r}")
    groups = match.groups()
    try:
        if k is PeriodKind.DAY:
            return day(_date(match.group(0)))
        if k is PeriodKind.CUSTOM:
            return custom(_date(groups[0]), _date(groups[1]))
        numbers = [int(g) for g in groups]
        if numbers[0] < 1:
            raise ValueError("year must be 1 or later")
        if k is PeriodKind.WEEK:
            return week(numbers[0], numbers[1])
        if k is PeriodKind.MONTH:
            return month(numbers[0], numbers[1])
        if k is PeriodKind.QUARTER:
            return quarter(numbers[0], numbers[1])
        if k is PeriodKind.YEAR:
            return year(numbers[0])
        return flood(numbers[0], season)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"bad {k.value} period {ref!r}: {exc}") from None


def _season_of(period: Period) -> FloodSeason:
    return FloodSeason(period.first_day.month, period.last_day.month)


def _whole(period: Period) -> Period:
    if period.partial:
        raise ValueError("a running period has no previous or last-year period; use the whole period")
    return period


def previous(period: Period) -> Period:
    """The period of the same kind just before: the day, week, month, quarter, year or flood season before;
    for a custom range, the range of the same number of days ending where it starts."""
    p = _whole(period)
    first = p.first_day
    if p.kind is PeriodKind.DAY:
        return day(first - timedelta(days=1))
    if p.kind is PeriodKind.WEEK:
        iso = (first - timedelta(days=7)).isocalendar()
        return week(iso.year, iso.week)
    if p.kind is PeriodKind.MONTH:
        return month(*_add_months(first.year, first.month, -1))
    if p.kind is PeriodKind.QUARTER:
        y, m = _add_months(first.year, first.month, -3)
        return quarter(y, (m - 1) // 3 + 1)
    if p.kind is PeriodKind.YEAR:
        return year(first.year - 1)
    if p.kind is PeriodKind.FLOOD:
        return flood(first.year - 1, _season_of(p))
    days = (p.last_day - first).days + 1
    return custom(first - timedelta(days=days), first - timedelta(days=1))


def same_last_year(period: Period) -> Period:
    """The same period a year earlier (for ΔCWQI): the same date (29 February → 28 February), ISO week
    number (week 53 → week 52 when last year has none), month, quarter, year, season or date range."""
    p = _whole(period)
    first = p.first_day
    if p.kind is PeriodKind.DAY:
        return day(_shift_year(first, -1))
    if p.kind is PeriodKind.WEEK:
        iso = first.isocalendar()
        weeks = date(iso.year - 1, 12, 28).isocalendar().week  # 28 December is always in the last ISO week
        return week(iso.year - 1, min(iso.week, weeks))
    if p.kind is PeriodKind.MONTH:
        return month(first.year - 1, first.month)
    if p.kind is PeriodKind.QUARTER:
        return quarter(first.year - 1, (first.month - 1) // 3 + 1)
    if p.kind is PeriodKind.YEAR:
        return year(first.year - 1)
    if p.kind is PeriodKind.FLOOD:
        return flood(first.year - 1, _season_of(p))
    return custom(_shift_year(first, -1), _shift_year(p.last_day, -1))


def running(period: Period, now: datetime) -> Period:
    """The part of ``period`` elapsed at ``now`` (a running month or flood season so far).

    The whole period once it is over; ValueError before it has started.
    """
    now = _aware(now).astimezone(UTC)
    if now <= period.start:
        raise ValueError(f"{period.kind.value} {period.label} has not started at {now.isoformat()}")
    if now >= period.end:
        return period
    return replace(period, end=now, partial=True)
