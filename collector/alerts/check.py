"""The contract between the alert engine and its rule types: a ``Check`` (one rule's verdict on one key at one
moment), what a check may ask of the engine (``Context``), and how reading rules hand in verdicts
(``Verdicts``, ``ReadingStep``). Rule modules depend on this, the engine implements it; neither names the
other's details.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from collector.alerts.model import EngineState, ParamMemo
from protocols.messages import Reading, Severity

if TYPE_CHECKING:
    from collector.alerts.config import AlertsConfig
    from collector.alerts.rule import RuleBase


@dataclass(slots=True)
class Check:
    """One rule's verdict on one key (station, rule, subject) at one moment. A bad check carries the texts and
    value an alert opens (or is updated) with; a good one needs none."""

    rule: RuleBase
    station: str
    subject: str
    bad: bool
    at: datetime
    title_zh: str = ""
    title_en: str = ""
    message_zh: str = ""
    message_en: str = ""
    param: str | None = None
    severity: Severity | None = None  # None: the rule's own
    value: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Context(Protocol):
    """What a rule's check may read from the engine (never change: the engine owns the state)."""

    @property
    def config(self) -> AlertsConfig: ...

    @property
    def state(self) -> EngineState: ...

    def label(self, station: str) -> str:
        """How messages name a station: its section's Chinese name where configured, else its id."""
        ...

    def labels(self, station: str) -> dict[str, str]:
        """``label`` (Chinese) and ``label_en`` (English, collector/names.py) as ``texts.render`` fields."""
        ...


class Verdicts(Context, Protocol):
    """The engine as a reading rule sees it: verdicts go in tagged with the reading's position ``i`` in its
    batch, so a batch gives the same transitions in the same order as its readings one by one."""

    def good(self, rule: RuleBase, station: str, param: str, key: str, at: datetime, i: int) -> None:
        """A good verdict on ``key`` (an alert key). It does nothing unless ``key`` holds an active alert
        (``state.active``) or a count (``state.counters``): a step may test that itself and skip the call
        (it would run per reading)."""
        ...

    def bad(
        self,
        rule: RuleBase,
        key: str,
        at: datetime,
        severity: Severity | None,
        build: Callable[[], Check],
        i: int,
    ) -> None:
        """A bad verdict on ``key``; ``build`` makes its check, only when the texts are needed."""
        ...


class ReadingStep(Protocol):
    """One rule type's work on the readings of one (station, param), made once per config by the rule type's
    reading hook and called once per batch with that parameter's readings: a loop of its own, so the
    per-reading work stays a few comparisons on locals (this runs for every reading the collector stores)."""

    def __call__(
        self, memo: ParamMemo, batch: Sequence[Reading], indices: Sequence[int], newer: Sequence[int]
    ) -> None:
        """Judge ``batch[i] for i in indices`` (the parameter's readings, in arrival order; ``i`` is the
        position a verdict is tagged with). ``newer``: those of ``indices`` whose reading is later than any
        of this parameter seen before it (sequence rules judge only those, so a backfill cannot re-open old
        alerts). ``memo`` already counts these readings in ``first_seen`` / ``last_t``; the step owns its
        own fields of it and writes them once, at the end (pydantic attribute writes are slow)."""
        ...
