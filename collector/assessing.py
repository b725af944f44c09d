"""The section assessment's I/O side: reads the store and hands the pure judgement (collector/assessment/) its
inputs. Nothing here judges, rounds or ranks; it gathers.

For a section and a period it takes, per item, the valid-value aggregate (count, sum, maximum and when) that the
store computes in SQL: the automatic readings of the section's station (``period_stats``) and the manual results
of the section (``manual_period_stats``). Automatic data take priority (STANDARDS.md §2): an item the station
measured with at least one valid value in the period is judged on its readings; a manual result fills an item
the station did not measure or has no valid value for. Each item carries its source.

Expected counts (for completeness) come from the collector's ``[schedule]`` and the station's
``expected_params`` (collector/health/schedule.py), less the slots inside ice / no-water periods of the station
controller (collector/controller_history.py), as capture rates count them. A period covered whole by such
periods is "not measured" (结冰/断流), not data; an item without a valid value in a period that had some is
marked the same way. Manual sampling has no schedule: no expected count.

A period still running (this month) is judged on its elapsed part (``Period.partial``); a period that has not
started, lies before 2000 or is a custom range of more than ``MAX_CUSTOM_DAYS`` is a ValueError.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from collector.assessment import (
    ClassCounts,
    Cwqi,
    FloodSeason,
    Intensity,
    ItemInput,
    NotMeasured,
    Period,
    PeriodKind,
    Ranked,
    RankedIntensity,
    RiverGrade,
    SectionFacts,
    SectionJudgement,
    area_cwqi,
    class_counts,
    common_items,
    delta_cwqi,
    flood_intensity,
    judge_period,
    judgement_cwqi,
    parse_class,
    parse_period,
    rank_cwqi,
    rank_delta,
    rank_intensity,
    river_grade,
    running,
    same_last_year,
)
from collector.assessment.cwqi import DEFAULT_ITEMS
from collector.assessment.limits import WaterType
from collector.assessment.periods import ZONE, flood
from collector.config import CollectorConfig, ScheduleConfig, StationConfig
from collector.controller_history import ICE_LOOKBACK, WATER_TEMP, ControllerHistory, Excluded
from collector.health.schedule import Schedule, schedules
from collector.memories import CONTROLLER_STATE_KEY
from collector.sections import River, Section, SectionRegistry, load_sections
from collector.store.base import Store
from collector.store.stats import ItemStats
from protocols import catalogue
from protocols.flags import VALID_FLAGS

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # as the API's bound: the network is younger
MAX_CUSTOM_DAYS = 366
AUTOMATIC, MANUAL = "automatic", "manual"
_ORDER = {code: i for i, code in enumerate(catalogue.PARAMETERS)}
_VALID_CODES = frozenset(str(f) for f in VALID_FLAGS)

ExcludedFn = Callable[[str, datetime, datetime], Sequence[Excluded]]
"""(station, start, end) → its ice / no-water periods in [start, end)."""


@dataclass(frozen=True, slots=True)
class SectionAssessment:
    section: Section
    period: Period
    judgement: SectionJudgement
    sources: Mapping[str, str]  # param → "automatic" | "manual" (items with a valid value)
    cwqi: Cwqi | None  # over the section's own measured CWQI items


@dataclass(frozen=True, slots=True)
class RiverView:
    river: River
    sections: tuple[str, ...]  # upstream → downstream
    grade: RiverGrade | None  # None below five classed sections


@dataclass(frozen=True, slots=True)
class CityAssessment:
    period: Period
    sections: tuple[SectionAssessment, ...]  # registry order
    counts: dict[str, ClassCounts]  # national, provincial, all
    rivers: tuple[RiverView, ...]


@dataclass(frozen=True, slots=True)
class SectionCwqi:
    section: Section
    cwqi: Cwqi | None  # own items
    now: Cwqi | None  # over the report's common items
    last_year: Cwqi | None
    delta: Decimal | None  # percent, 2 places


@dataclass(frozen=True, slots=True)
class AreaCwqi:
    name: str  # a county, or "city"
    sections: tuple[str, ...]  # with a figure now
    now: Cwqi | None
    last_year: Cwqi | None  # over the sections with a figure both years
    delta: Decimal | None
    now_paired: Cwqi | None = None  # now, over the same sections as last_year (what delta compares)


@dataclass(frozen=True, slots=True)
class CwqiReport:
    period: Period
    last_year_period: Period
    items: frozenset[str]  # the items every figure below covers (like with like, STANDARDS.md §8)
    sections: tuple[SectionCwqi, ...]
    counties: tuple[AreaCwqi, ...]  # counties the registry names ("" is no county: city only)
    city: AreaCwqi
    county_ranking: tuple[Ranked, ...]  # by CWQI, cleanest first
    county_delta_ranking: tuple[Ranked, ...]  # by ΔCWQI, most improved first
    section_delta_ranking: tuple[Ranked, ...]


@dataclass(frozen=True, slots=True)
class FloodReport:
    year: int
    period: Period  # the season, or its elapsed part while it runs
    sections: tuple[tuple[Section, Intensity], ...]
    ranking: tuple[RankedIntensity, ...]


@dataclass(frozen=True, slots=True)
class NeighbourView:
    section: SectionAssessment
    upstream: tuple[SectionAssessment, ...]  # nearest first
    downstream: tuple[SectionAssessment, ...]  # nearest first


def utcnow() -> datetime:
    return datetime.now(UTC)


def current_ref(kind: PeriodKind, now: datetime) -> str:
    """The ``ref`` of the period of ``kind`` that contains ``now`` (local time of the bulletins)."""
    local = now.astimezone(ZONE)
    if kind is PeriodKind.DAY:
        return local.date().isoformat()
    if kind is PeriodKind.WEEK:
        iso = local.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if kind is PeriodKind.MONTH:
        return f"{local.year:04d}-{local.month:02d}"
    if kind is PeriodKind.QUARTER:
        return f"{local.year:04d}-Q{(local.month - 1) // 3 + 1}"
    if kind in (PeriodKind.YEAR, PeriodKind.FLOOD):
        return f"{local.year:04d}"
    raise ValueError("a custom period needs ref=YYYY-MM-DD..YYYY-MM-DD")


def controller_exclusions(store: Store, controller: ControllerHistory, max_water_temp_c: float) -> ExcludedFn:
    """Ice / no-water periods from a controller history and the store's water temperatures (as the service's
    ``excluded_periods``): for a reader of the store without a running collector (the CLI)."""

    def excluded(station: str, start: datetime, end: datetime) -> list[Excluded]:
        periods = controller.no_water_periods(station, start, end)
        if not periods:
            return []
        rows = store.readings(
            station, param=WATER_TEMP, start=periods[0][0] - ICE_LOOKBACK, end=end, limit=1_000_000
        )
        temps = [(r.t, r.value) for r in rows if r.value is not None and r.flag in _VALID_CODES]
        return controller.excluded(station, start, end, temps, max_water_temp_c)

    return excluded


def stored_exclusions(store: Store, max_water_temp_c: float) -> ExcludedFn:
    """``controller_exclusions`` over the controller history the collector last saved in ``store``."""
    text = store.load_blob(CONTROLLER_STATE_KEY)
    try:
        controller = ControllerHistory.load(text) if text else ControllerHistory()
    except ValueError:
        controller = ControllerHistory()  # unreadable: no exclusions, as the service itself restores it
    return controller_exclusions(store, controller, max_water_temp_c)


def _covers(windows: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    """Whether the union of ``windows`` covers [start, end)."""
    reached = start
    for a, b in sorted(windows):
        if a > reached:
            return False
        reached = max(reached, b)
        if reached >= end:
            return True
    return reached >= end


def _reason(excluded: Iterable[Excluded]) -> NotMeasured:
    return NotMeasured.ICE if any(e.reason == "ice" for e in excluded) else NotMeasured.DRY


@functools.lru_cache(maxsize=256)
def _expected(schedule: Schedule, start: datetime, end: datetime) -> int:
    return schedule.expected_count(start, end)


def expected_count(
    schedule: Schedule, start: datetime, end: datetime, windows: Sequence[tuple[datetime, datetime]] = ()
) -> int:
    """Values ``schedule`` expects in [start, end), less those inside ``windows`` (ice / no water)."""
    if not windows:
        return _expected(schedule, start, end)
    return sum(1 for t in schedule.expected_times(start, end) if not any(a <= t < b for a, b in windows))


def _pick(auto: ItemStats | None, manual: ItemStats | None) -> tuple[ItemStats | None, str | None]:
    """Automatic data first (STANDARDS.md §2); a manual result fills an item without a valid reading."""
    if auto is not None and auto.n_valid:
        return auto, AUTOMATIC
    if manual is not None and manual.n_valid:
        return manual, MANUAL
    return auto, None


class Assessor:
    """Gathers what the judgement needs from ``store`` for the sections of ``registry``."""

    def __init__(
        self,
        store: Store,
        registry: SectionRegistry,
        *,
        schedule: ScheduleConfig | None = None,
        stations: Sequence[StationConfig] = (),
        excluded: ExcludedFn | None = None,
        season: FloodSeason | None = None,
        cwqi_items: Iterable[str] = DEFAULT_ITEMS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.registry = registry
        self.schedule = schedule or ScheduleConfig()
        self._stations = {s.id: s for s in stations}
        self._excluded = excluded
        self.season = season or FloodSeason()
        self.cwqi_items = frozenset(cwqi_items)
        self.clock = clock

    @classmethod
    def from_config(
        cls,
        config: CollectorConfig,
        store: Store,
        *,
        excluded: ExcludedFn | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Assessor:
        """With ``excluded`` None, the ice / no-water periods come from the controller history saved in the store."""
        settings = config.assessment
        return cls(
            store,
            load_sections(settings.sections or None),
            schedule=config.schedule,
            stations=config.stations,
            excluded=excluded or stored_exclusions(store, config.ice.max_water_temp_c),
            season=FloodSeason(settings.flood_first_month, settings.flood_last_month),
            cwqi_items=settings.cwqi_items if settings.cwqi_items is not None else DEFAULT_ITEMS,
            clock=clock,
        )

    # -- periods ---------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def period(self, kind: str, ref: str) -> Period:
        """The period ``kind``/``ref`` (collector/assessment/periods.py), cut at now while it runs."""
        return self._bounded(parse_period(kind, ref, self.season))

    def window(self, start: datetime, end: datetime) -> Period:
        """An arbitrary [start, end) (aware) as a custom period, cut at now."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("times must carry a time zone")
        if start >= end:
            raise ValueError("'from' must be before 'to'")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        label = f"{start.isoformat()}..{end.isoformat()}".replace("+00:00", "Z")
        return self._bounded(Period(PeriodKind.CUSTOM, label, start, end))

    def _bounded(self, period: Period) -> Period:
        if period.start < EARLIEST:
            raise ValueError(f"a period must start on or after {EARLIEST.date().isoformat()}")
        if period.kind is PeriodKind.CUSTOM and period.duration > timedelta(days=MAX_CUSTOM_DAYS):
            raise ValueError(f"a custom period may span at most {MAX_CUSTOM_DAYS} days")
        return running(period, self.now())  # ValueError when it has not started

    def whole(self, period: Period) -> Period:
        """A running period's whole (this month, not only its elapsed part)."""
        return parse_period(period.kind, period.label, self.season) if period.partial else period

    def exclusions(self, station: str, start: datetime, end: datetime) -> Sequence[Excluded]:
        """The ice / no-water periods of ``station`` in [start, end) that the assessment leaves out (none
        without an exclusion source): for the reports' station operation, counted as the capture rates count."""
        return self._excluded(station, start, end) if self._excluded is not None else ()

    # -- sections --------------------------------------------------------------------------------------------

    def section(self, section_id: str, period: Period) -> SectionAssessment:
        """One section; KeyError for an unknown id."""
        return self.sections(period, [self.registry.section(section_id)])[0]

    def sections(self, period: Period, sections: Sequence[Section] | None = None) -> list[SectionAssessment]:
        """Every section given (default: the registry's), from one aggregate query per source."""
        chosen = list(self.registry.sections if sections is None else sections)
        stations = sorted({s.station for s in chosen if s.station})
        auto = self.store.period_stats(stations, period.start, period.end, max_time=False) if stations else {}
        manual = self.store.manual_period_stats(
            [s.id for s in chosen], period.start, period.end, max_time=False
        )
        by_station: dict[str, dict[str, ItemStats]] = {}
        for (station, param), stats in auto.items():
            by_station.setdefault(station, {})[param] = stats
        by_section: dict[str, dict[str, ItemStats]] = {}
        for (sid, param), stats in manual.items():
            by_section.setdefault(sid, {})[param] = stats
        return [
            self._assess(s, period, by_station.get(s.station or "", {}), by_section.get(s.id, {}))
            for s in chosen
        ]

    def _plan(self, section: Section) -> dict[str, Schedule]:
        if section.station is None:
            return {}
        site = self._stations.get(section.station) or StationConfig(id=section.station)
        return schedules(site, self.schedule)

    def _assess(
        self,
        section: Section,
        period: Period,
        auto: Mapping[str, ItemStats],
        manual: Mapping[str, ItemStats],
    ) -> SectionAssessment:
        plan = self._plan(section)
        excluded: Sequence[Excluded] = ()
        if section.station is not None and self._excluded is not None:
            excluded = self._excluded(section.station, period.start, period.end)
        windows = [(e.start, e.end) for e in excluded]
        whole = _reason(excluded) if excluded and _covers(windows, period.start, period.end) else None
        partly = _reason(excluded) if excluded else None
        params = sorted(
            {p for p in (*plan, *auto, *manual) if catalogue.is_known(p)},
            key=lambda p: _ORDER.get(p, 1 << 30),
        )
        items: dict[str, ItemInput] = {}
        sources: dict[str, str] = {}
        for param in params:
            stats, source = _pick(auto.get(param), manual.get(param))
            expected = (
                expected_count(plan[param], period.start, period.end, windows) if param in plan else None
            )
            if source == MANUAL:
                expected = None  # sampled by hand: no schedule to be complete against
            valid = stats.n_valid if stats is not None else 0
            total = stats.sum_valid if stats is not None else 0.0
            items[param] = ItemInput.from_sum(total, valid, expected, None if valid else partly)
            if source is not None:
                sources[param] = source
        facts = SectionFacts(WaterType(section.water_body), parse_class(section.target), section.level)
        judgement = judge_period(facts, items, whole)
        return SectionAssessment(
            section, period, judgement, sources, judgement_cwqi(judgement, self.cwqi_items)
        )

    def city(self, period: Period) -> CityAssessment:
        """Every section, the counts and shares by level and the grade of each river."""
        assessed = self.sections(period)
        classes = {a.section.id: a.judgement.water_class for a in assessed}
        counts = class_counts((a.section.level, a.judgement.water_class) for a in assessed)
        rivers = tuple(
            RiverView(
                self.registry.rivers[river],
                tuple(s.id for s in on),
                river_grade(classes.get(s.id) for s in on),
            )
            for river, on in self.registry.by_river().items()
        )
        return CityAssessment(period, tuple(assessed), counts, rivers)

    # -- CWQI ------------------------------------------------------------------------------------------------

    def cwqi(self, period: Period) -> CwqiReport:
        """CWQI per section, county and city with ΔCWQI against the same period a year earlier; every figure
        over the items all sections' figures (both years) share, so that rankings compare like with like."""
        last_period = same_last_year(self.whole(period))
        now = self.sections(period)
        before = {a.section.id: a for a in self.sections(last_period)}
        own = {a.section.id: a.cwqi for a in now}
        figures = [f for f in own.values() if f] + [a.cwqi for a in before.values() if a.cwqi]
        items = common_items(figures) if figures else frozenset()

        def over(a: SectionAssessment | None) -> Cwqi | None:
            return judgement_cwqi(a.judgement, items) if a is not None and items else None

        rows: list[SectionCwqi] = []
        for a in now:
            now_c, last_c = over(a), over(before.get(a.section.id))
            delta = delta_cwqi(now_c, last_c) if now_c and last_c else None
            rows.append(SectionCwqi(a.section, a.cwqi, now_c, last_c, delta))

        counties: dict[str, list[SectionCwqi]] = {}
        for row in rows:
            if row.section.county:
                counties.setdefault(row.section.county, []).append(row)
        areas = tuple(_area(name, members) for name, members in counties.items())
        city = _area("city", rows)
        with_figure = {a.name: a.now for a in areas if a.now is not None}
        area_pairs = {a.name: (a.now_paired, a.last_year) for a in areas if a.now_paired and a.last_year}
        section_pairs = {r.section.id: (r.now, r.last_year) for r in rows if r.now and r.last_year}
        return CwqiReport(
            period=period,
            last_year_period=last_period,
            items=items,
            sections=tuple(rows),
            counties=areas,
            city=city,
            county_ranking=tuple(rank_cwqi(with_figure)),
            county_delta_ranking=tuple(rank_delta(area_pairs)),
            section_delta_ranking=tuple(rank_delta(section_pairs)),
        )

    # -- flood season ----------------------------------------------------------------------------------------

    def flood(self, year: int) -> FloodReport:
        """Flood-season intensity of every section for the season of ``year`` (so far, while it runs)."""
        period = self._bounded(flood(year, self.season))
        chosen = list(self.registry.sections)
        stations = sorted({s.station for s in chosen if s.station})
        auto = self.store.period_stats(stations, period.start, period.end) if stations else {}
        manual = self.store.manual_period_stats([s.id for s in chosen], period.start, period.end)
        results: list[tuple[Section, Intensity]] = []
        for section in chosen:
            mine = {p: st for (k, p), st in auto.items() if k == section.station}
            hand = {p: st for (k, p), st in manual.items() if k == section.id}
            series = {}
            for param in sorted({*mine, *hand}, key=lambda p: _ORDER.get(p, 1 << 30)):
                stats, source = _pick(mine.get(param), hand.get(param))
                if not catalogue.is_known(param) or source is None or stats is None:
                    continue
                if stats.max_valid is not None and stats.max_t is not None:
                    series[param] = [(stats.max_t, stats.max_valid, "N")]
            intensity = flood_intensity(
                series, WaterType(section.water_body), parse_class(section.target), period
            )
            results.append((section, intensity))
        ranking = rank_intensity({s.id: i for s, i in results})
        return FloodReport(year, period, tuple(results), tuple(ranking))

    # -- upstream / downstream -------------------------------------------------------------------------------

    def neighbours(self, section_id: str, period: Period) -> NeighbourView:
        """The section with the sections above and below it on its river, each over ``period``."""
        up = self.registry.upstream(section_id)
        down = self.registry.downstream(section_id)
        assessed = self.sections(period, [self.registry.section(section_id), *up, *down])
        return NeighbourView(assessed[0], tuple(assessed[1 : 1 + len(up)]), tuple(assessed[1 + len(up) :]))


def _area(name: str, members: Sequence[SectionCwqi]) -> AreaCwqi:
    """An area's CWQI over its sections with a figure; ΔCWQI over those with a figure both years."""
    now = area_cwqi([m.now for m in members if m.now is not None])
    paired = [m for m in members if m.now is not None and m.last_year is not None]
    now_pair = area_cwqi([m.now for m in paired if m.now is not None])
    last = area_cwqi([m.last_year for m in paired if m.last_year is not None])
    delta = delta_cwqi(now_pair, last) if now_pair and last else None
    ids = tuple(m.section.id for m in members if m.now is not None)
    return AreaCwqi(name, ids, now, last, delta, now_pair)


__all__ = [
    "AUTOMATIC",
    "MANUAL",
    "AreaCwqi",
    "Assessor",
    "CityAssessment",
    "CwqiReport",
    "ExcludedFn",
    "FloodReport",
    "NeighbourView",
    "RiverView",
    "SectionAssessment",
    "SectionCwqi",
    "controller_exclusions",
    "current_ref",
    "expected_count",
    "stored_exclusions",
]
