"""The receiver's window of plausible sample times. Pure.

decode() refuses only times that cannot be represented; whether a time is plausible depends on the
receiver's clock, so the receiver applies this window (default: not before 2000-01-01, at most 10 minutes
ahead of its own clock). A reading outside it is kept with a flag and an event, never dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # before any station of ours existed
MAX_AHEAD = timedelta(minutes=10)  # NTP-disciplined clocks agree to well under this


def time_window_violation(
    t: datetime, now: datetime, *, earliest: datetime = EARLIEST, max_ahead: timedelta = MAX_AHEAD
) -> str | None:
    """Why ``t`` is outside [earliest, now + max_ahead], or None when it is inside. All times aware."""
    if t < earliest:
        return f"time {t.isoformat()} is before {earliest.isoformat()}"
    # Compare as a difference: now + max_ahead may overflow near year 9999, t - now cannot.
    if t - now > max_ahead:
        return f"time {t.isoformat()} is {_seconds(t - now)} ahead of the receiver's clock (limit {_seconds(max_ahead)})"
    return None


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():.0f} s"
