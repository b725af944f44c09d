"""Manual (laboratory) results as the store keeps them: one value per (section, param, t).

Re-importing the same result changes nothing. A different value or flag for a key already held replaces it (the
newer import is the bureau's correction) and the replaced row is kept in ``manual_result_history``, so nothing is
lost and a changed count is reported. The comparison is pure and shared by both engines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

ManualKey = tuple[str, str, int]  # section, param, t in µs since the epoch (UTC)


@dataclass(frozen=True, slots=True)
class ManualRow:
    """One validated manual result. ``t_utc`` is aware UTC; ``source`` names the file and row."""

    section: str
    param: str
    t_utc: datetime
    value: float
    flag: str
    source: str


@dataclass(frozen=True, slots=True)
class StoredManualResult:
    section: str
    param: str
    t: datetime
    value: float
    flag: str
    source: str
    imported_at: datetime


@dataclass(frozen=True, slots=True)
class ManualPlan:
    """What saving a set of rows does: rows to insert, rows that replace a held one, and how many are unchanged."""

    insert: list[tuple[ManualKey, ManualRow]]
    replace: list[tuple[ManualKey, ManualRow]]
    unchanged: int


def plan_manual(
    rows: Sequence[tuple[ManualKey, ManualRow]], held: Mapping[ManualKey, tuple[float, str]]
) -> ManualPlan:
    """Sort ``rows`` against the ``held`` (value, flag) of their keys. Pure. A key given twice is a ValueError
    (which of the two is the result?): collector/manual.py refuses such a file row by row before this."""
    insert: list[tuple[ManualKey, ManualRow]] = []
    replace: list[tuple[ManualKey, ManualRow]] = []
    unchanged = 0
    seen: set[ManualKey] = set()
    for key, row in rows:
        if key in seen:
            raise ValueError(f"manual result {row.section}/{row.param}/{row.t_utc.isoformat()} given twice")
        seen.add(key)
        before = held.get(key)
        if before is None:
            insert.append((key, row))
        elif before == (row.value, row.flag):
            unchanged += 1
        else:
            replace.append((key, row))
    return ManualPlan(insert, replace, unchanged)
