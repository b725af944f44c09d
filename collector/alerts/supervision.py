"""Flood-season 24-hour supervision (汛期24小时监管): how bad a section's exceedance is, judged when its alert
opens or escalates in the flood season and said in the same message.

The judgement (``Degree``): the item's class and its exceedance multiple over the section's target class (on
the value rounded per GB/T 8170, through the assessment's own ``judge_section``); how long the values have been
over the target (since the first value of the current run over it, and since the alert opened); the nearest
upstream section with a station at the same time (its class on its latest valid values, and the same item's
value); the item's trend over the last hours (least-squares slope of its valid values); and the validity of the
station's data over the last 24 h (valid share of the values received, and the flags of the others).

Pure: samples in, a judgement and its bilingual texts out. Reading the samples from the store and attaching the
judgement to the alert is collector/supervising.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from collector.alerts import texts
from collector.assessment.classes import WaterClass
from collector.assessment.classify import classify
from collector.assessment.limits import item_limits
from collector.assessment.periods import ZONE
from collector.assessment.rounding import as_number, ratio, round_param
from collector.assessment.section import ItemJudgement, judge_section
from protocols import catalogue
from protocols.flags import FLAG_NAMES, Flag, is_valid

SHARE_PLACES = 3  # a fraction: 0.955 is 95.5 %


@dataclass(frozen=True, slots=True)
class Settings:
    trend_window: timedelta = timedelta(hours=3)  # "the last few hours" of the item's values
    trend_min_values: int = 3  # fewer valid values: the trend is unknown
    # A fitted change over the window within this share of the target-class limit is steady (analyser noise).
    steady_fraction: float = 0.1
    validity_window: timedelta = timedelta(hours=24)
    # An upstream value older than this is not "at the same time" (nutrient analysers report every 4 h).
    upstream_window: timedelta = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored reading of one item: sample time, value, HJ 212 flag."""

    t: datetime
    value: float | None
    flag: str

    @property
    def valid(self) -> bool:
        return self.value is not None and is_valid(self.flag)


@dataclass(frozen=True, slots=True)
class Place:
    """A section as the judgement names it, with what it is judged against."""

    section: str
    name_zh: str
    name_en: str
    water_type: str  # river | lake (the GB 3838 column)
    target: WaterClass
    county: str = ""
    river_zh: str = ""
    river_en: str = ""
    station: str | None = None


# ----- trend -----------------------------------------------------------------------------------------------
class Direction(StrEnum):
    RISING = "rising"
    FALLING = "falling"
    STEADY = "steady"
    UNKNOWN = "unknown"  # too few valid values in the window

    @property
    def label_zh(self) -> str:
        return {"rising": "上升", "falling": "下降", "steady": "平稳", "unknown": "数据不足"}[self.value]

    @property
    def label_en(self) -> str:
        return {"rising": "rising", "falling": "falling", "steady": "steady", "unknown": "not enough data"}[
            self.value
        ]


@dataclass(frozen=True, slots=True)
class Trend:
    direction: Direction
    n: int  # valid values in the window
    per_hour: float | None  # least-squares slope, item units per hour; None when unknown


def _scale(param: str, water_type: str, target: WaterClass) -> float | None:
    """The size a change is measured against: the target-class limit (the width of the pH range)."""
    item = item_limits(param, water_type)
    if item is None:
        return None
    bound = item.limits[int(target) - 1]
    if isinstance(bound, tuple):
        return bound[1] - bound[0]
    return abs(bound)


def trend(samples: Sequence[Sample], at: datetime, place: Place, param: str, settings: Settings) -> Trend:
    """Rising, falling or steady: the least-squares line through the valid values in
    [at − trend_window, at], its change over the span of those values against ``steady_fraction`` of the
    target-class limit."""
    start = at - settings.trend_window
    points = [
        (s.t, float(s.value)) for s in samples if start <= s.t <= at and s.valid and s.value is not None
    ]
    n = len(points)
    if n < settings.trend_min_values:
        return Trend(Direction.UNKNOWN, n, None)
    t0 = points[0][0]
    xs = [(t - t0).total_seconds() / 3600.0 for t, _ in points]
    ys = [v for _, v in points]
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:  # every value at one instant
        return Trend(Direction.UNKNOWN, n, None)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    change = slope * (xs[-1] - xs[0])
    scale = _scale(param, place.water_type, place.target) or (abs(mean_y) or 1.0)
    if abs(change) <= settings.steady_fraction * scale:
        return Trend(Direction.STEADY, n, slope)
    return Trend(Direction.RISING if change > 0 else Direction.FALLING, n, slope)


# ----- how long ---------------------------------------------------------------------------------------------
def _class_of(param: str, value: float, water_type: str) -> WaterClass | None:
    """The class of a value as the bulletin judges it: on the value rounded to the item's decimals."""
    return classify(param, float(round_param(param, value)), water_type)


def over_since(
    samples: Sequence[Sample], at: datetime, place: Place, param: str
) -> tuple[datetime | None, bool]:
    """The first value of the run over target that the newest valid value at or before ``at`` belongs to,
    walking back over valid values (values flagged otherwise neither break nor extend the run); and whether
    the run reaches back to the oldest value given (then it lasted at least that long). (None, False) when
    the newest valid value is not over target."""
    since: datetime | None = None
    for sample in reversed(samples):
        if sample.t > at or not sample.valid or sample.value is None:
            continue
        water_class = _class_of(param, sample.value, place.water_type)
        if water_class is None or water_class <= place.target:
            return since, False
        since = sample.t
    return since, since is not None


# ----- validity ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Validity:
    window: timedelta
    valid: int  # the item's valid values received in the window
    total: int  # the item's values received in the window, any flag
    flags: dict[str, int]  # the item's values not valid, by flag
    station_valid: int  # the same over every item of the station
    station_total: int

    @property
    def share(self) -> Decimal | None:
        return ratio(self.valid, self.total, SHARE_PLACES) if self.total else None

    @property
    def station_share(self) -> Decimal | None:
        return ratio(self.station_valid, self.station_total, SHARE_PLACES) if self.station_total else None


def validity(
    samples: Mapping[str, Sequence[Sample]], param: str, at: datetime, window: timedelta
) -> Validity:
    """Valid share of the values received in [at − window, at], of ``param`` and of the whole station."""
    start = at - window

    def within(ss: Sequence[Sample]) -> list[Sample]:
        return [s for s in ss if start <= s.t <= at]

    item = within(samples.get(param, ()))
    flags: dict[str, int] = {}
    for s in item:
        if not s.valid:
            flags[s.flag] = flags.get(s.flag, 0) + 1
    every = [s for ss in samples.values() for s in within(ss)]
    return Validity(
        window,
        sum(1 for s in item if s.valid),
        len(item),
        dict(sorted(flags.items())),
        sum(1 for s in every if s.valid),
        len(every),
    )


def validity_of_counts(window: timedelta, param: str, counts: Mapping[str, Mapping[str, int]]) -> Validity:
    """``validity`` from the station's values counted by item and flag over the window, as a store counts them
    (a stored value with a valid flag always has a number)."""
    item = counts.get(param, {})
    every = [(flag, n) for by_flag in counts.values() for flag, n in by_flag.items()]
    return Validity(
        window,
        sum(n for flag, n in item.items() if is_valid(flag)),
        sum(item.values()),
        {flag: n for flag, n in sorted(item.items()) if not is_valid(flag)},
        sum(n for flag, n in every if is_valid(flag)),
        sum(n for _, n in every),
    )


# ----- upstream ---------------------------------------------------------------------------------------------
class UpstreamState(StrEnum):
    DATA = "data"
    NO_DATA = "no_data"  # a station upstream, but no valid value within the window
    NO_STATION = "no_station"  # no section with a station upstream on this river


@dataclass(frozen=True, slots=True)
class Upstream:
    state: UpstreamState
    place: Place | None = None
    water_class: WaterClass | None = None  # on its latest valid values in the window
    item: ItemJudgement | None = None  # the same item's latest valid value, judged against its own target
    t: datetime | None = None  # when that value was sampled


def upstream(
    place: Place | None, samples: Mapping[str, Sequence[Sample]], param: str, at: datetime, window: timedelta
) -> Upstream:
    """The state of the upstream section ``place`` (None: there is none with a station) at ``at``: the class
    of its latest valid value of each item in [at − window, at], and the same item's value."""
    if place is None:
        return Upstream(UpstreamState.NO_STATION)
    start = at - window
    latest: dict[str, Sample] = {}
    for code, ss in samples.items():
        for s in ss:
            if start <= s.t <= at and s.valid and (code not in latest or s.t > latest[code].t):
                latest[code] = s
    if not latest:
        return Upstream(UpstreamState.NO_DATA, place)
    means = {code: s.value for code, s in latest.items()}
    judgement = judge_section(means, place.water_type, place.target)
    item = judgement.item(param) if param in latest else None
    return Upstream(
        UpstreamState.DATA, place, judgement.water_class, item, latest[param].t if param in latest else None
    )


# ----- the judgement ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Degree:
    place: Place
    param: str
    at: datetime  # the value the alert opened (or escalated) on
    opened_at: datetime
    item: ItemJudgement  # value rounded, class, multiple over the target class
    over_since: datetime | None
    over_at_least: bool  # the run reaches back to the oldest value read: it lasted at least this long
    upstream: Upstream
    trend: Trend
    validity: Validity
    settings: Settings

    @property
    def over_for(self) -> timedelta | None:
        return self.at - self.over_since if self.over_since is not None else None

    @property
    def open_for(self) -> timedelta:
        return self.at - self.opened_at


def judge(
    place: Place,
    param: str,
    value: float,
    at: datetime,
    opened_at: datetime,
    samples: Mapping[str, Sequence[Sample]],
    up: Upstream,
    settings: Settings | None = None,
    counted: Validity | None = None,
) -> Degree:
    """The degree of an exceedance of ``param`` at ``place``: ``value`` sampled at ``at``, the alert open
    since ``opened_at``; ``samples`` are the station's readings by item (oldest first) over at least the
    validity window up to ``at``. With ``counted`` (the validity, counted by the caller) only ``param``'s
    samples are read, over at least the trend window and back to where its run over target began."""
    settings = settings or Settings()
    item = judge_section({param: value}, place.water_type, place.target).item(param)
    own = samples.get(param, ())
    since, at_least = over_since(own, at, place, param)
    return Degree(
        place=place,
        param=param,
        at=at,
        opened_at=opened_at,
        item=item,
        over_since=since,
        over_at_least=at_least,
        upstream=up,
        trend=trend(own, at, place, param, settings),
        validity=counted if counted is not None else validity(samples, param, at, settings.validity_window),
        settings=settings,
    )


# ----- texts ------------------------------------------------------------------------------------------------
def _local(t: datetime, tz: ZoneInfo = ZONE) -> str:
    return t.astimezone(tz).strftime("%m-%d %H:%M:%S")


def _span(seconds: float) -> tuple[str, str]:
    """A duration as the alert texts print it, in seconds below a minute (compressed tests, fast plumes)."""
    if seconds < 60:
        return f"{seconds:.0f} 秒", f"{seconds:.0f} s"
    return texts.duration(seconds)


def _window(window: timedelta) -> tuple[str, str]:
    """A configured window as a round figure: "3 小时" / "3 h", "24 小时" / "24 h"."""
    seconds = window.total_seconds()
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} 小时", f"{seconds / 3600:g} h"
    return _span(seconds)


def _percent(share: Decimal | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def _number(value: Decimal | None) -> str:
    """A rounded value as rounded: its decimals are the item's (0.310, not 0.31)."""
    return "—" if value is None else str(value)


def _rows(d: Degree) -> list[tuple[str, str, str, str]]:
    """(label_zh, label_en, zh, en) per part of the judgement."""
    place, item, param = d.place, d.item, d.param
    name_zh, name_en, unit = texts.name(param)
    rows: list[tuple[str, str, str, str]] = []

    def row(part: str, said: tuple[str, str]) -> None:
        rows.append((*texts.phrase(f"supervision.label.{part}"), *said))

    row(
        "section",
        texts.phrase(
            "supervision.section",
            section_zh=place.name_zh,
            section_en=place.name_en,
            county_zh=f"{place.county}，" if place.county else "",
            county_en=f"{place.county}, " if place.county else "",
            river_zh=place.river_zh,
            river_en=place.river_en,
        ),
    )
    water_class = item.water_class
    row(
        "class",
        texts.phrase(
            "supervision.class",
            name_zh=name_zh,
            name_en=name_en,
            value=_number(item.mean),
            unit=unit,
            class_zh=water_class.label_zh if water_class else "—",
            class_en=water_class.label_en if water_class else "—",
            target_zh=place.target.label_zh,
            target_en=place.target.label_en,
        ),
    )
    multiple = item.multiple_vs_target
    row(
        "multiple",
        texts.phrase("supervision.multiple", multiple=multiple)
        if multiple is not None
        else texts.phrase("supervision.no_multiple"),
    )
    over_for = d.over_for
    if over_for is None or d.over_since is None:
        row("duration", texts.phrase("supervision.duration_unknown"))
    else:
        span_zh, span_en = _span(over_for.total_seconds())
        open_zh, open_en = _span(d.open_for.total_seconds())
        row(
            "duration",
            texts.phrase(
                "supervision.duration",
                since=_local(d.over_since),
                at_least_zh="至少" if d.over_at_least else "",
                at_least_en=" at least" if d.over_at_least else "",
                span_zh=span_zh,
                span_en=span_en,
                open_zh=open_zh,
                open_en=open_en,
            ),
        )
    row("upstream", _upstream_text(d))
    window_zh, window_en = _window(d.settings.trend_window)
    t = d.trend
    if t.per_hour is None:
        row(
            "trend",
            texts.phrase("supervision.trend_unknown", window_zh=window_zh, window_en=window_en, n=t.n),
        )
    else:
        rate = f"{t.per_hour:+.{catalogue.get(param).decimals}f}"
        row(
            "trend",
            texts.phrase(
                "supervision.trend",
                direction_zh=t.direction.label_zh,
                direction_en=t.direction.label_en,
                window_zh=window_zh,
                window_en=window_en,
                n=t.n,
                rate=rate,
                unit=unit,
            ),
        )
    v = d.validity
    vwin_zh, vwin_en = _window(v.window)
    flags_zh, flags_en = ("", "")
    if v.flags:
        flags_zh = texts.phrase(
            "supervision.invalid_flags",
            flags="、".join(f"{FLAG_NAMES[Flag(f)][0]}({f})×{n}" for f, n in v.flags.items()),
        )[0]
        flags_en = texts.phrase(
            "supervision.invalid_flags",
            flags=", ".join(f"{FLAG_NAMES[Flag(f)][1]} ({f}) ×{n}" for f, n in v.flags.items()),
        )[1]
    row(
        "validity",
        texts.phrase(
            "supervision.validity",
            window_zh=vwin_zh,
            window_en=vwin_en,
            valid=v.valid,
            total=v.total,
            share=_percent(v.share),
            flags_zh=flags_zh,
            flags_en=flags_en,
            station_share=_percent(v.station_share),
        ),
    )
    return rows


def _upstream_text(d: Degree) -> tuple[str, str]:
    up = d.upstream
    if up.state is UpstreamState.NO_STATION or up.place is None:
        return texts.phrase("supervision.upstream_no_station")
    names = {"up_zh": up.place.name_zh, "up_en": up.place.name_en}
    if up.state is UpstreamState.NO_DATA:
        window_zh, window_en = _window(d.settings.upstream_window)
        return texts.phrase("supervision.upstream_no_data", **names, window_zh=window_zh, window_en=window_en)
    name_zh, name_en, unit = texts.name(d.param)
    water_class = up.water_class
    classes = {
        "class_zh": water_class.label_zh if water_class else "—",
        "class_en": water_class.label_en if water_class else "—",
    }
    item = up.item
    if item is None or item.mean is None or up.t is None:
        return texts.phrase(
            "supervision.upstream_no_item", **names, **classes, name_zh=name_zh, name_en=name_en
        )
    hint_zh, hint_en = ("", "")
    if item.meets_target is not None:
        hint_zh, hint_en = texts.phrase(
            "supervision.upstream_within" if item.meets_target else "supervision.upstream_over"
        )
    item_class = item.water_class
    return texts.phrase(
        "supervision.upstream",
        **names,
        **classes,
        name_zh=name_zh,
        name_en=name_en,
        value=f"{item.mean} {unit}",
        item_zh=item_class.label_zh if item_class else "—",
        item_en=item_class.label_en if item_class else "—",
        time=_local(up.t),
        hint_zh=hint_zh,
        hint_en=hint_en,
    )


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def _num(d: Decimal | None) -> float | int | None:
    return None if d is None else as_number(d)


def detail(d: Degree) -> dict[str, Any]:
    """The judgement as the alert keeps it (``detail["supervision"]``): JSON-ready figures, the rows every
    message format prints, and one paragraph per language for the dashboard."""
    place, item, up, t, v = d.place, d.item, d.upstream, d.trend, d.validity
    rows = _rows(d)
    over_for = d.over_for
    upstream: dict[str, Any] = {"state": up.state.value}
    if up.place is not None:
        upstream |= {
            "section": up.place.section,
            "section_zh": up.place.name_zh,
            "section_en": up.place.name_en,
            "station": up.place.station,
        }
    if up.state is UpstreamState.DATA:
        upstream |= {
            "class": up.water_class.roman if up.water_class else None,
            "value": _num(up.item.mean) if up.item else None,
            "item_class": up.item.water_class.roman if up.item and up.item.water_class else None,
            "meets_target": up.item.meets_target if up.item else None,
            "t": _iso(up.t),
        }
    heading_zh, heading_en = texts.phrase("supervision.heading")
    return {
        "v": 1,
        "at": _iso(d.at),
        "section": place.section,
        "section_zh": place.name_zh,
        "section_en": place.name_en,
        "county": place.county,
        "param": d.param,
        "value": _num(item.mean),
        "unit": catalogue.get(d.param).unit,
        "class": item.water_class.roman if item.water_class else None,
        "target": place.target.roman,
        "multiple": _num(item.multiple_vs_target),
        "over_since": _iso(d.over_since),
        "over_for_s": over_for.total_seconds() if over_for is not None else None,
        "over_at_least": d.over_at_least,
        "open_for_s": d.open_for.total_seconds(),
        "upstream": upstream,
        "trend": {
            "direction": t.direction.value,
            "window_h": d.settings.trend_window.total_seconds() / 3600,
            "n": t.n,
            "per_hour": t.per_hour,
        },
        "validity": {
            "window_h": v.window.total_seconds() / 3600,
            "valid": v.valid,
            "total": v.total,
            "share": _num(v.share),
            "flags": v.flags,
            "station_valid": v.station_valid,
            "station_total": v.station_total,
            "station_share": _num(v.station_share),
        },
        "heading_zh": heading_zh,
        "heading_en": heading_en,
        "rows": [{"label_zh": lz, "label_en": le, "zh": zh, "en": en} for lz, le, zh, en in rows],
        "text_zh": "；".join(f"{lz}：{zh}" for lz, _, zh, _ in rows),
        "text_en": "; ".join(f"{le}: {en}" for _, le, _, en in rows),
    }
