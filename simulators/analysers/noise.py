"""Deterministic noise: a function of (seed, key, time), never of how often or in what order it is asked.

A simulator read at random moments by a poller must give the same river for the same seed, so no sequential
random generator is kept; every value is hashed from its coordinates.
"""

from __future__ import annotations

import hashlib
import math
import random


def _unit(seed: int, key: str, index: int) -> float:
    """A uniform number in [-1, 1) for one knot."""
    digest = hashlib.blake2b(f"{seed}|{key}|{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**63 - 1.0


def smooth(seed: int, key: str, t: float, period_s: float) -> float:
    """Smooth noise in [-1, 1]: random knots every ``period_s`` seconds joined by cosine easing."""
    x = t / period_s
    index = math.floor(x)
    frac = x - index
    weight = (1.0 - math.cos(math.pi * frac)) / 2.0
    a, b = _unit(seed, key, index), _unit(seed, key, index + 1)
    return a + (b - a) * weight


def gauss(seed: int, key: str, t: float, resolution_s: float = 1.0) -> float:
    """Standard-normal noise, constant within each ``resolution_s`` slice of time."""
    index = math.floor(t / resolution_s)
    digest = hashlib.blake2b(f"{seed}|{key}|g|{index}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big")).gauss(0.0, 1.0)
