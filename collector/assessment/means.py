"""Period means over valid values only (STANDARDS.md §3, §5): N and T enter, every other flag is counted.

The store computes the same sums in SQL for whole periods; this is the reference for a list of samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from protocols.flags import VALID_FLAGS, Flag


@dataclass(frozen=True, slots=True)
class PeriodMean:
    mean: float | None  # None when no valid value fell in the period
    valid: int  # values with a valid flag (N, T)
    total: int  # all values offered, whatever their flag
    flag: Flag  # N with a mean; B (no valid value) otherwise, as HJ 212 reports such an interval


def _flag(flag: Flag | str) -> Flag:
    try:
        return Flag(flag)
    except ValueError:
        raise ValueError(f"unknown HJ 212 flag {flag!r}") from None


def period_mean(samples: Iterable[tuple[float | None, Flag | str]]) -> PeriodMean:
    """Arithmetic mean of the values whose flag is valid (N or T); others are counted, never averaged."""
    total = 0
    valid: list[float] = []
    for value, flag in samples:
        total += 1
        if _flag(flag) not in VALID_FLAGS:
            continue
        if value is None or not math.isfinite(value):
            raise ValueError(f"a value flagged {Flag(flag).value} must be a finite number, got {value!r}")
        valid.append(float(value))
    if not valid:
        return PeriodMean(None, 0, total, Flag.COMM_FAILED)
    # fsum: a mean of many values should not drift across a class limit through rounding.
    return PeriodMean(math.fsum(valid) / len(valid), len(valid), total, Flag.NORMAL)
