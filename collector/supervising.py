"""The collector's side of the flood-season 24-hour supervision (collector/alerts/supervision.py): for an
exceedance alert that opens or escalates in the flood season ([assessment] flood_first_month/last_month), read
what the judgement needs from the store — the item's recent values (back to where its run over target began),
the station's values of the last 24 h counted by flag, and the newest valid values of the nearest upstream
section with a station — and attach the judgement to the alert as ``detail["supervision"]``, so the
one message each notifier sends, the stored alert and the API all carry it. Outside the season, or for a station
that measures no assessed section, an alert is left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from collector.alerts.model import Alert, Transition, TransitionKind
from collector.alerts.supervision import (
    Place,
    Sample,
    Settings,
    detail,
    judge,
    over_since,
    upstream,
    validity_of_counts,
)
from collector.assessment.classes import WaterClass, parse_class
from collector.assessment.periods import FloodSeason
from collector.config import CollectorConfig
from collector.sections import Section, SectionRegistry, load_sections
from collector.store.base import Store

log = logging.getLogger("qingliu.collector")

KEY = "supervision"  # under Alert.detail
SUPERVISED = frozenset({TransitionKind.OPENED, TransitionKind.ESCALATED})
EXCEEDANCE = "exceedance"  # the rule type judged (collector/alerts/rules/quality.py)
_ONE_US = timedelta(microseconds=1)  # store ranges are half-open: include the alert's own value
_MAX_ROWS = 200_000  # a day of one item at one value a second is 86,400


def _place(section: Section, registry: SectionRegistry, target: WaterClass | None = None) -> Place:
    river = registry.rivers.get(section.river)
    return Place(
        section=section.id,
        name_zh=section.name_zh,
        name_en=section.name_en,
        water_type=section.water_type,
        target=target or WaterClass(section.target_class),
        county=section.county,
        river_zh=river.name_zh if river else section.river,
        river_en=river.name_en if river else section.river,
        station=section.station,
    )


def _samples(
    store: Store, station: str, start: datetime, end: datetime, param: str
) -> dict[str, list[Sample]]:
    """``param``'s readings of ``[start, end)``, oldest first (the newest ``_MAX_ROWS`` at most)."""
    found = store.readings(station, param=param, start=start, end=end, limit=_MAX_ROWS, newest=True)
    return {param: [Sample(r.t, r.value, r.flag) for r in found]}


class Supervisor:
    def __init__(
        self,
        store: Store,
        registry: SectionRegistry,
        season: FloodSeason,
        settings: Settings | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.season = season
        self.settings = settings or Settings()

    @classmethod
    def from_config(cls, config: CollectorConfig, store: Store) -> Supervisor:
        settings = config.assessment
        return cls(
            store,
            load_sections(settings.sections or None),
            FloodSeason(settings.flood_first_month, settings.flood_last_month),
        )

    def applies(self, transition: Transition) -> bool:
        alert = transition.alert
        return (
            transition.kind in SUPERVISED
            and alert.rule_type == EXCEEDANCE
            and alert.param is not None
            and alert.value is not None
            and self.season.contains(alert.last_bad_at)
            and self.registry.for_station(alert.station) is not None
        )

    def judge(self, alert: Alert) -> dict[str, Any]:
        """The judgement of ``alert`` (an exceedance with a param and a value) at its newest bad value."""
        section = self.registry.for_station(alert.station)
        assert section is not None and alert.param is not None and alert.value is not None
        at, settings = alert.last_bad_at, self.settings
        target = parse_class(alert.detail["target"]) if "target" in alert.detail else None
        place = _place(section, self.registry, target)
        # What the judgement reads, and no more: an alert flapping at a class limit is judged at every
        # opening, on the applier's thread. The item's values of the trend window, or of the whole validity
        # window when its run over target reaches further back; the values' counts by flag; upstream, each
        # item's newest valid value (all ``upstream`` looks at).
        start, end = at - settings.validity_window, at + _ONE_US
        recent = max(start, at - settings.trend_window)
        own = _samples(self.store, alert.station, recent, end, alert.param)
        since, reaches_back = over_since(own[alert.param], at, place, alert.param)
        if recent > start and (since is None or reaches_back):
            own = _samples(self.store, alert.station, start, end, alert.param)
        counts = self.store.flag_counts(alert.station, start, end)
        counted = validity_of_counts(settings.validity_window, alert.param, counts)
        above = next((s for s in self.registry.upstream(section.id) if s.station is not None), None)
        up_samples: Mapping[str, Sequence[Sample]] = {}
        if above is not None and above.station is not None:
            newest = self.store.latest_valid(above.station, at - settings.upstream_window, end)
            up_samples = {code: [Sample(r.t, r.value, r.flag)] for code, r in newest.items()}
        up_place = _place(above, self.registry) if above is not None else None
        up = upstream(up_place, up_samples, alert.param, at, settings.upstream_window)
        degree = judge(place, alert.param, alert.value, at, alert.opened_at, own, up, settings, counted)
        return detail(degree)

    def supervise(self, transitions: Sequence[Transition]) -> dict[str, dict[str, Any]]:
        """Alert id → the judgement, for the transitions that take one. A failure to read or judge costs the
        message only its judgement (logged): the alert itself always goes out."""
        judged: dict[str, dict[str, Any]] = {}
        for transition in transitions:
            if not self.applies(transition):
                continue
            try:
                judged[transition.alert.id] = self.judge(transition.alert)
            except Exception:
                log.exception("flood-season supervision of alert %s failed", transition.alert.id)
        return judged
