"""Exponential back-off, pure: the one formula behind every retry and reconnect wait of both ends.

The caller sleeps and draws the randomness (``draw`` in [0, 1]); nothing here has a clock or a random source,
so each use is exact in tests. Two forms of the same growth:

* ``exponential(attempt, base_s, cap_s, factor)``: the wait before retry ``attempt`` (0 = the first),
  ``base_s * factor**attempt`` capped at ``cap_s`` (the MQTT reconnect, notification delivery);
* ``grow(delay_s, cap_s, factor)``: the wait after ``delay_s``, for a caller that keeps the current wait
  (a device being probed, the store being retried, a receiver process being restarted).

And two ways to spread a fleet's retries so that they do not arrive in lock-step:

* ``full_jitter(low, high, draw)``: anywhere in [low, high] (the MQTT reconnect: low .. the nominal wait);
* ``proportional_jitter(nominal, fraction, draw)``: ``nominal`` ± ``fraction`` of it (0.5 = nominal).
"""

from __future__ import annotations


def exponential(attempt: int, base_s: float, cap_s: float, factor: float = 2.0) -> float:
    """``base_s * factor**attempt``, at most ``cap_s``. ``attempt`` counts from 0."""
    if attempt < 0:
        raise ValueError("attempt numbers start at 0")
    try:
        grown = base_s * factor**attempt
    except OverflowError:  # a float power past 1e308: far beyond any cap
        return cap_s
    return min(cap_s, grown)


def grow(delay_s: float, cap_s: float, factor: float = 2.0) -> float:
    """The wait after one of ``delay_s``: ``delay_s * factor``, at most ``cap_s``."""
    return min(delay_s * factor, cap_s)


def full_jitter(low: float, high: float, draw: float) -> float:
    """A wait in [low, high], ``draw`` in [0, 1] placing it (0: low, 1: high)."""
    return low + (high - low) * draw


def proportional_jitter(nominal: float, fraction: float, draw: float) -> float:
    """``nominal`` spread by ± ``fraction`` of itself, ``draw`` in [0, 1] placing it (0.5: nominal)."""
    return nominal * (1 + fraction * (2 * draw - 1))
