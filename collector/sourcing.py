"""The collector's side of "possible sources" (collector/alerts/sources.py): when a section's exceedance alert
opens or escalates, read the readings of the outfalls upstream of that section (collector/outfalls.py) over the
window before the alert's newest bad value, judge them against their discharge limits, and attach the judgement
to the alert: ``detail["sources"]`` and a clause at the end of its messages that names the outfalls (those over
a limit first). A station that measures no assessed section, or a section without an outfall upstream, leaves the
alert as it is. Beside the flood-season supervision (collector/supervising.py), which it does not touch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from collector.alerts.model import Alert, Transition, TransitionKind
from collector.alerts.sources import CLAUSE, Extremes, detail, judge, message_clause
from collector.config import CollectorConfig
from collector.outfalls import Outfall, OutfallRegistry
from collector.sections import SectionRegistry, load_sections
from collector.store.base import Store

log = logging.getLogger("qingliu.collector")

KEY = "sources"  # under Alert.detail
TRACED = frozenset({TransitionKind.OPENED, TransitionKind.ESCALATED})
EXCEEDANCE = "exceedance"  # the rule type traced (collector/alerts/rules/quality.py)
_ONE_US = timedelta(microseconds=1)  # store ranges are half-open: include a value at the alert's own time


class SourceFinder:
    def __init__(
        self, store: Store, sections: SectionRegistry, outfalls: OutfallRegistry, window: timedelta
    ) -> None:
        self.store = store
        self.sections = sections
        self.outfalls = outfalls
        self.window = window

    @classmethod
    def from_config(cls, config: CollectorConfig, store: Store) -> SourceFinder:
        sections = load_sections(config.assessment.sections or None)
        window = timedelta(seconds=config.outfalls.window_s)
        return cls(store, sections, config.outfall_registry(), window)

    def upstream(self, station: str) -> tuple[Outfall, ...]:
        """The outfalls upstream of the section ``station`` measures (none for a station without one)."""
        section = self.sections.for_station(station)
        return self.outfalls.upstream_of(section) if section is not None else ()

    def applies(self, transition: Transition) -> bool:
        alert = transition.alert
        return (
            transition.kind in TRACED and alert.rule_type == EXCEEDANCE and bool(self.upstream(alert.station))
        )

    def trace(self, alert: Alert) -> tuple[dict[str, Any], tuple[str, str]]:
        """The judgement of the outfalls upstream of ``alert``'s section over the window up to its newest bad
        value, and the clause its messages take."""
        at = alert.last_bad_at
        outfalls = self.upstream(alert.station)
        found = {o.id: self.extremes(o, at - self.window, at + _ONE_US) for o in outfalls}
        states = judge(outfalls, found)
        return detail(states, at, self.window), message_clause(states, self.window)

    def extremes(self, outfall: Outfall, start: datetime, end: datetime) -> dict[str, Extremes]:
        """The outfall's limited items in ``[start, end)``, as far as the judgement needs them, computed by the
        store: it runs at every opening of an exceedance downstream, and an outfall monitor reporting each
        minute has 2,160 readings in six hours (reading them as objects made a flapping station's backlog
        apply at half the speed)."""
        ranges = self.store.valid_ranges(outfall.id, tuple(outfall.limits), start, end)
        return {p: Extremes(r.n, (r.low_t, r.low), (r.high_t, r.high)) for p, r in ranges.items()}

    def find(self, transitions: Sequence[Transition]) -> dict[str, tuple[dict[str, Any], tuple[str, str]]]:
        """Alert id → (judgement, message clause), for the transitions that take one. A failure costs the
        message only its sources (logged): the alert itself always goes out."""
        found: dict[str, tuple[dict[str, Any], tuple[str, str]]] = {}
        for transition in transitions:
            if not self.applies(transition):
                continue
            try:
                found[transition.alert.id] = self.trace(transition.alert)
            except Exception:
                log.exception("possible sources of alert %s failed", transition.alert.id)
        return found


def attach(alert: Alert, judged: dict[str, Any], clause: tuple[str, str]) -> None:
    """Put the judgement in ``alert`` and the clause at the end of its messages (once: a message that already
    ends with a clause of sources has it replaced)."""
    alert.detail[KEY] = judged
    held = alert.detail.get(CLAUSE)
    zh, en = alert.message_zh, alert.message_en
    if isinstance(held, list) and len(held) == 2:
        zh = zh.removesuffix(held[0])
        en = en.removesuffix(held[1])
    alert.message_zh, alert.message_en = zh + clause[0], en + clause[1]
    alert.detail[CLAUSE] = list(clause)
