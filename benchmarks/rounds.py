"""Ratios that mean something on a noisy machine (issue 17): alternating rounds, each over a window of seconds.

A ratio is ours ÷ a baseline measured in the same run. One measurement of each is noise (±20-40 % here), so
``alternate`` takes ``rounds`` pairs in turn — ours, baseline, ours, baseline, … — each measured over at least
``window`` seconds, prints every round, and reports the median of the per-round ratios with their spread
(min–max). ``add_options`` gives a benchmark its ``--window`` (default 3 s) and ``--rounds`` (default 5);
below those the run is a smoke run and says so. ``conclude`` prints a benchmark's last line: PASS or FAIL with
each figure and its bound; its return value is the exit status (1 on FAIL).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WINDOW_S = 3.0  # issue 17: every ratio over windows of at least 3 s …
ROUNDS = 5  # … median of at least 5 alternating rounds


def add_options(parser: argparse.ArgumentParser, *, window: float = WINDOW_S, rounds: int = ROUNDS) -> None:
    parser.add_argument(
        "--window",
        type=float,
        default=window,
        help=f"seconds each side of a round is measured over at least (default {window:g}; < {WINDOW_S:g}: smoke run)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=rounds,
        help=f"alternating rounds (ours, baseline) per ratio; the median counts (default {rounds}; < {ROUNDS}: smoke run)",
    )


def smoke_note(window: float, rounds: int) -> str | None:
    """What to print when ``window``/``rounds`` are below issue 17's minimum (the figures then mean little)."""
    if window >= WINDOW_S and rounds >= ROUNDS:
        return None
    return (
        f"note: {rounds} rounds of {window:g} s is below the minimum of {ROUNDS} rounds of {WINDOW_S:g} s: "
        "a smoke run, its verdict is not a measurement"
    )


@dataclass(frozen=True)
class Sample:
    """One side of one round: ``value`` (a rate, or a cost) measured over ``seconds``."""

    value: float
    seconds: float


Step = Callable[[], tuple[int, float]]  # one unit of work: (units done, seconds it took)


def over_window(window: float, step: Step) -> Sample:
    """Units/s of ``step`` called again and again until the seconds it reports add up to ``window``.

    Each step times itself, so that setting up a pass (a fresh database, say) is not counted."""
    units, busy = 0, 0.0
    while busy < window:
        n, seconds = step()
        units += n
        busy += seconds
    return Sample(units / busy if busy > 0 else 0.0, busy)


def timed(run: Callable[[], object], units: int) -> tuple[int, float]:
    """A ``Step``'s answer for ``run()``, which does ``units`` units of work."""
    start = time.perf_counter()
    run()
    return units, time.perf_counter() - start


@dataclass
class Ratio:
    """The rounds of one ratio, ours ÷ baseline per round."""

    name: str
    window: float = 0.0  # what each side was asked to last at least
    ours: list[Sample] = field(default_factory=list)
    baseline: list[Sample] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [
            o.value / b.value if b.value else float("nan")
            for o, b in zip(self.ours, self.baseline, strict=True)
        ]

    @property
    def median(self) -> float:
        return statistics.median(self.ratios) if self.ours else float("nan")

    @property
    def spread(self) -> tuple[float, float]:
        values = self.ratios
        return (min(values), max(values)) if values else (float("nan"), float("nan"))

    @property
    def shortest(self) -> float:
        """The shortest window any side of any round was measured over."""
        return min((s.seconds for s in (*self.ours, *self.baseline)), default=0.0)

    def summary(self) -> str:
        low, high = self.spread
        short = f", below the {self.window:g} s asked" if self.shortest < self.window else ""
        return (
            f"{self.name}: median {self.median:.3f} over {len(self.ours)} rounds (spread {low:.3f}–{high:.3f}; "
            f"shortest window {self.shortest:.2f} s{short})"
        )

    def check(self, bound: float, *, at_most: bool = False, also: bool = True) -> Check:
        """The median against ``bound``: ≥ by default, ≤ with ``at_most``; ``also`` must hold too."""
        median = self.median
        ok = also and (median <= bound if at_most else median >= bound)
        return Check(self.name, f"{median:.3f}", f"{'≤' if at_most else '≥'} {bound:g}", ok)


def alternate(
    name: str,
    ours: Callable[[int], Sample],
    baseline: Callable[[int], Sample],
    *,
    rounds: int,
    window: float,
    unit: str,
    fmt: str = ",.0f",
    labels: tuple[str, str] = ("ours", "baseline"),
) -> Ratio:
    """``rounds`` rounds of ``ours(r)`` then ``baseline(r)`` (r from 1), each printed as it ends; then the median
    ratio and its spread. The callables measure over ``window`` themselves (``over_window`` or their own); a
    side that lasted less is named in the summary."""
    ratio = Ratio(name, window)
    for r in range(1, rounds + 1):
        mine = ours(r)
        theirs = baseline(r)
        ratio.ours.append(mine)
        ratio.baseline.append(theirs)
        print(
            f"  round {r}: {labels[0]} {mine.value:{fmt}} {unit} ({mine.seconds:.2f} s), "
            f"{labels[1]} {theirs.value:{fmt}} {unit} ({theirs.seconds:.2f} s) → ratio {ratio.ratios[-1]:.3f}",
            flush=True,
        )
    print(f"  {ratio.summary()}", flush=True)
    return ratio


@dataclass(frozen=True)
class Check:
    """One verdict of a benchmark: its figure against its bound."""

    name: str
    figure: str
    bound: str
    ok: bool


def conclude(checks: Sequence[Check]) -> int:
    """Print the last line — PASS or FAIL, then every figure with its bound — and return the exit status."""
    ok = bool(checks) and all(c.ok for c in checks)
    parts = "; ".join(f"{c.name} {c.figure} (bound {c.bound}{'' if c.ok else ': missed'})" for c in checks)
    print(f"{'PASS' if ok else 'FAIL'}: {parts or 'nothing measured'}", flush=True)
    return 0 if ok else 1
