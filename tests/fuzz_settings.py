"""Hypothesis budgets for the property tests: a fixed, derandomized budget in CI, a larger random one on demand.

Each property test names its CI budget (max_examples) and is collected twice: ``[ci]`` with that budget
in every normal run, and ``[long]`` with LONG_FACTOR times more random examples, marked ``long`` so that it
runs only with ``-m long``. ``QINGLIU_FUZZ=long`` gives the ``[ci]`` variant the long budget as well.
The closing note of a run reports the budget per target: the budget is the number of cases tried.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy

LONG_FACTOR = 30
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

# derandomize: the same cases on every CI run, so a red build is reproducible and never flaky.
settings.register_profile(
    "ci", derandomize=True, deadline=None, database=None, print_blob=True, suppress_health_check=_QUIET
)
settings.register_profile("long", deadline=None, print_blob=True, suppress_health_check=_QUIET)
settings.load_profile("long" if os.environ.get("QINGLIU_FUZZ") == "long" else "ci")


@dataclass(frozen=True)
class Budget:
    examples: int  # max_examples: the number of cases tried (fewer only if the strategy runs dry)
    profile: str


def budgets(ci: int) -> Any:
    """The pytest parametrization of a property test's budget: ``[ci]`` always, ``[long]`` under -m long."""
    long = Budget(ci * LONG_FACTOR, "long")
    base = long if os.environ.get("QINGLIU_FUZZ") == "long" else Budget(ci, "ci")
    return pytest.mark.parametrize(
        "budget", [pytest.param(base, id="ci"), pytest.param(long, id="long", marks=pytest.mark.long)]
    )


def check(prop: Callable[..., None], budget: Budget, *strategies: SearchStrategy[Any]) -> None:
    """Run ``prop`` on ``budget.examples`` cases drawn from ``strategies``."""
    run = settings(settings.get_profile(budget.profile), max_examples=budget.examples)
    run(given(*strategies)(prop))()
