"""A product's period reference as a reader types it, checked before anything is made: daily "2026-07-01",
weekly "2026-W27", monthly "2026-07", flood "2026" (the season starting in that year). Pure."""

from __future__ import annotations

import re
from datetime import date

from collector.reports.document import ReportKind

FIRST_YEAR, LAST_YEAR = 2000, 2199  # the assessment's EARLIEST, and no further than the API looks

SHAPES: dict[ReportKind, tuple[re.Pattern[str], str]] = {
    ReportKind.DAILY: (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), "YYYY-MM-DD, e.g. 2026-07-01"),
    ReportKind.WEEKLY: (re.compile(r"(\d{4})-W(\d{2})"), "YYYY-Www (ISO week), e.g. 2026-W27"),
    ReportKind.MONTHLY: (re.compile(r"(\d{4})-(\d{2})"), "YYYY-MM, e.g. 2026-07"),
    ReportKind.FLOOD: (re.compile(r"(\d{4})"), "YYYY, the season's year, e.g. 2026"),
}

PATTERN = r"^\d{4}(-W\d{2}|-\d{2}(-\d{2})?)?$"  # any kind's shape (the API's path check)


def check_ref(kind: ReportKind | str, ref: str) -> str:
    """``ref`` when it names a period of ``kind``; ValueError saying what a period of that kind looks like."""
    kind = ReportKind(kind)
    pattern, shape = SHAPES[kind]
    found = pattern.fullmatch(ref)
    if found is None:
        raise ValueError(f"a {kind.value} period is {shape}, not {ref[:32]!r}")
    numbers = [int(g) for g in found.groups()]
    if not FIRST_YEAR <= numbers[0] <= LAST_YEAR:
        raise ValueError(f"the year must lie in {FIRST_YEAR}..{LAST_YEAR}")
    try:
        if kind is ReportKind.DAILY:
            date(*numbers)
        elif kind is ReportKind.WEEKLY:
            date.fromisocalendar(numbers[0], numbers[1], 1)
        elif kind is ReportKind.MONTHLY:
            date(numbers[0], numbers[1], 1)
    except ValueError as exc:
        raise ValueError(f"no such {kind.value} period {ref!r}: {exc}") from None
    return ref


__all__ = ["PATTERN", "SHAPES", "check_ref"]
