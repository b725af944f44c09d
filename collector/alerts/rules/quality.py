"""Rules on the readings themselves: ``calibration_overdue`` (no C-flagged value for too long),
``fault_flag`` (values flagged D or B), ``exceedance`` (valid values worse than the site's target class) and
``sudden_rise`` (a valid value rising faster than a plume threshold).

Each judges a parameter's readings through a ``ReadingStep`` made once per config and (station, parameter),
called once per batch, so the per-reading work is a few comparisons; texts are built only when an alert
needs them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

from pydantic import Field, PositiveFloat, model_validator

from collector.alerts import texts
from collector.alerts.check import Check, Context, ReadingStep, Verdicts
from collector.alerts.config import Site
from collector.alerts.model import ParamMemo, alert_key
from collector.alerts.registry import register
from collector.alerts.rule import NUTRIENTS, ParamCode, RuleBase
from collector.assessment.classes import WaterClass
from collector.assessment.classify import classify, exceedance_multiple
from collector.assessment.limits import item_limits
from collector.assessment.section import is_evaluated
from collector.timestamps import ONE_US, to_us
from protocols.flags import FLAG_NAMES, VALID_FLAGS, Flag
from protocols.messages import Reading, Severity

MAX_HISTORY = 2000  # valid values a sudden-rise parameter keeps
MAX_CLASSES = 4096  # classified values (and their texts) an exceedance step remembers


def _default_calibration() -> dict[str, float]:
    # Nutrient analysers run a standard-solution check every 24 h; the probe a weekly check (STANDARDS.md §7).
    return {
        **dict.fromkeys(NUTRIENTS, 48 * 3600.0),
        "w01018": 48 * 3600.0,
        **dict.fromkeys(("w01001", "w01009", "w01014", "w01003"), 8 * 86400.0),
    }


class CalibrationRule(RuleBase):
    """No C-flagged value of a parameter for longer than ``max_age_s[param]`` (checked on each tick)."""

    type: Literal["calibration_overdue"] = "calibration_overdue"
    max_age_s: dict[ParamCode, PositiveFloat] = Field(default_factory=_default_calibration)


class FaultFlagRule(RuleBase):
    """Readings of a parameter arrive flagged D (fault) or B (communication failed)."""

    type: Literal["fault_flag"] = "fault_flag"
    params: list[ParamCode] | None = None
    flags: frozenset[Flag] = frozenset({Flag.FAULT, Flag.COMM_FAILED})
    open_after: int = Field(default=2, ge=1)


class ExceedanceRule(RuleBase):
    """Valid values worse than the site's target class, ``open_after`` in a row; critical beyond class V."""

    type: Literal["exceedance"] = "exceedance"
    params: list[ParamCode] | None = None
    open_after: int = Field(default=2, ge=1)
    clear_after: int = Field(default=3, ge=1)


def _default_rates() -> dict[str, float]:
    # Per-hour rises that mark a plume rather than drift (config; tune per river).
    return {
        "w21003": 0.5,
        "w21011": 0.1,
        "w01019": 2.0,
        "w21001": 1.0,
        "w01018": 10.0,
        "w01014": 200.0,
        "w01003": 500.0,
    }


class SuddenRiseRule(RuleBase):
    """A valid value rose faster than ``rates_per_hour[param]`` since the newest valid value at least
    ``min_span_s`` and at most ``max_gap_s`` older (a pollution plume)."""

    type: Literal["sudden_rise"] = "sudden_rise"
    rates_per_hour: dict[ParamCode, PositiveFloat] = Field(default_factory=_default_rates)
    min_span_s: float = Field(default=600.0, ge=0)
    max_gap_s: float = Field(default=5 * 3600.0, gt=0)
    clear_after: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _span(self) -> SuddenRiseRule:
        if self.min_span_s >= self.max_gap_s:
            raise ValueError("min_span_s must be shorter than max_gap_s")
        return self


# ----- calibration overdue -------------------------------------------------------------------------------
def calibration_step(v: Verdicts, rules: list[CalibrationRule], station: str, param: str) -> ReadingStep:
    """Keeps the newest C-flagged sample time (for every parameter: a rule added later reads it) and clears an
    overdue alert on each C-flagged value."""
    mine = tuple((r, alert_key(station, r.id, param)) for r in rules if param in r.max_age_s)
    good, calibration = v.good, Flag.CALIBRATION

    def judge(
        memo: ParamMemo, batch: Sequence[Reading], indices: Sequence[int], newer: Sequence[int]
    ) -> None:
        last = memo.last_calibration
        for i in indices:
            reading = batch[i]
            if reading.flag is calibration:
                t = reading.t
                if last is None or t > last:
                    last = t
                for rule, key in mine:
                    good(rule, station, param, key, t, i)
        if last is not memo.last_calibration:
            memo.last_calibration = last

    return judge


def calibration_overdue(
    ctx: Context, rules: list[CalibrationRule], station: str, param: str, memo: ParamMemo, now: datetime
) -> list[Check]:
    reference = memo.last_calibration or memo.first_seen
    if reference is None:
        return []
    out = []
    for rule in rules:
        if param not in rule.max_age_s:
            continue
        age = (now - reference).total_seconds()
        if age <= rule.max_age_s[param]:
            continue  # only a C-flagged value clears an overdue calibration
        age_zh, age_en = texts.duration(age)
        said = texts.render(
            "calibration_overdue",
            **ctx.labels(station),
            **texts.names(param),
            age_zh=age_zh,
            age_en=age_en,
        )
        last = memo.last_calibration.isoformat() if memo.last_calibration else None
        detail = {"last_calibration": last}
        out.append(Check(rule, station, param, True, now, *said, param=param, value=age, detail=detail))
    return out


# ----- fault flag ----------------------------------------------------------------------------------------
def _fault_check(ctx: Context, rule: FaultFlagRule, station: str, reading: Reading) -> Check:
    flag_zh, flag_en = FLAG_NAMES[reading.flag]
    said = texts.render(
        "fault_flag",
        **ctx.labels(station),
        **texts.names(reading.param),
        flag=reading.flag.value,
        flag_zh=flag_zh,
        flag_en=flag_en,
    )
    detail = {"flag": reading.flag.value, "device": reading.device}
    return Check(rule, station, reading.param, True, reading.t, *said, param=reading.param, detail=detail)


def fault_step(v: Verdicts, rules: list[FaultFlagRule], station: str, param: str) -> ReadingStep | None:
    mine = tuple((r, alert_key(station, r.id, param)) for r in rules if r.params is None or param in r.params)
    if not mine:
        return None
    good, bad = v.good, v.bad

    def judge(
        memo: ParamMemo, batch: Sequence[Reading], indices: Sequence[int], newer: Sequence[int]
    ) -> None:
        active, counters = v.state.active, v.state.counters  # a good verdict on a key in neither: a no-op
        for i in newer:
            reading = batch[i]
            flag = reading.flag
            valid = flag in VALID_FLAGS
            for rule, key in mine:
                if flag in rule.flags:
                    bad(rule, key, reading.t, None, partial(_fault_check, v, rule, station, reading), i)
                elif valid and (key in active or key in counters):
                    good(rule, station, param, key, reading.t, i)

    return judge


# ----- exceedance ----------------------------------------------------------------------------------------
def _target_band(param: str, site: Site) -> tuple[float, float]:
    """The values that meet the limit of the site's target class for ``param``: their class is the target or
    better without classifying. Outside it ``classify`` decides (it also allows a rounding tolerance)."""
    item = item_limits(param, site.water_type)
    if item is None:
        return math.inf, -math.inf  # empty: always classify
    bound = item.limits[int(site.target_class) - 1]
    if item.direction == "range":
        assert isinstance(bound, tuple)
        return bound
    assert isinstance(bound, float)
    return (-math.inf, bound) if item.direction == "max" else (bound, math.inf)


def _exceedance_texts(
    ctx: Context, station: str, param: str, value: float, water_class: WaterClass, site: Site
) -> tuple[texts.Texts, float | None]:
    """What an exceedance says of ``value`` (of class ``water_class``) at ``station``, and its multiple."""
    multiple = exceedance_multiple(param, value, site.water_type, against=site.target_class)
    times_zh, times_en = (
        texts.phrase("exceedance.times", multiple=multiple) if multiple is not None else ("", "")
    )
    said = texts.render(
        "exceedance",
        **ctx.labels(station),
        **texts.names(param),
        value=texts.number(param, value),
        class_zh=water_class.label_zh,
        class_en=water_class.label_en,
        target_zh=site.target_class.label_zh,
        target_en=site.target_class.label_en,
        times_zh=times_zh,
        times_en=times_en,
    )
    return said, multiple


def _exceedance_check(
    ctx: Context,
    rule: ExceedanceRule,
    station: str,
    reading: Reading,
    value: float,
    water_class: WaterClass,
    site: Site,
    said_of: dict[float, tuple[texts.Texts, float | None]],
) -> Check:
    """The bad check of ``reading``; its texts from ``said_of`` (the step's, by value) when made before."""
    param = reading.param
    known = said_of.get(value)
    if known is None:
        if len(said_of) >= MAX_CLASSES:
            said_of.clear()
        known = said_of[value] = _exceedance_texts(ctx, station, param, value, water_class, site)
    said, multiple = known
    beyond_v = water_class is WaterClass.WORSE_THAN_V
    return Check(
        rule,
        station,
        param,
        True,
        reading.t,
        *said,
        param=param,
        value=value,
        severity=Severity.CRITICAL if beyond_v else None,
        detail={"class": water_class.roman, "target": site.target_class.roman, "multiple": multiple},
    )


def exceedance_step(v: Verdicts, rules: list[ExceedanceRule], station: str, param: str) -> ReadingStep | None:
    """Judges each newer valid value against the site's target class; keeps the time of the newest judged
    (for every parameter with class limits, whatever the rules)."""
    site = v.config.site(station)
    if not is_evaluated(param, site.water_type) or station in v.config.outfalls:
        return None  # an outfall's effluent is judged against its discharge limits (rules/outfall.py)
    mine = tuple((r, alert_key(station, r.id, param)) for r in rules if r.params is None or param in r.params)
    low, high = _target_band(param, site)  # within it: the target class or better
    target, water_type, good, bad = site.target_class, site.water_type, v.good, v.bad
    # The class of each value outside the band, as ``classify`` said (pure, and values reported to a few
    # decimals repeat): a value beyond the target is judged on every reading while it persists.
    classes: dict[float, WaterClass] = {}
    said_of: dict[float, tuple[texts.Texts, float | None]] = {}  # the texts of a value, made when needed

    def judge(
        memo: ParamMemo, batch: Sequence[Reading], indices: Sequence[int], newer: Sequence[int]
    ) -> None:
        last = memo.last_exceedance_t
        active, counters = v.state.active, v.state.counters  # a good verdict on a key in neither: a no-op
        for i in newer:
            reading = batch[i]
            value = reading.value
            if value is None or reading.flag not in VALID_FLAGS:
                continue
            t = reading.t
            if mine:
                if low <= value <= high:
                    water_class = target
                elif (known := classes.get(value)) is not None:
                    water_class = known
                else:
                    judged = classify(param, value, water_type)
                    assert judged is not None  # judged: the parameter has class limits
                    if len(classes) >= MAX_CLASSES:
                        classes.clear()
                    water_class = classes[value] = judged
                for rule, key in mine:
                    if water_class <= target:
                        if key in active or key in counters:
                            good(rule, station, param, key, t, i)
                    else:
                        build = partial(
                            _exceedance_check, v, rule, station, reading, value, water_class, site, said_of
                        )
                        severity = Severity.CRITICAL if water_class is WaterClass.WORSE_THAN_V else None
                        bad(rule, key, t, severity, build, i)
            last = t
        if last is not memo.last_exceedance_t:
            memo.last_exceedance_t = last

    return judge


# ----- sudden rise ---------------------------------------------------------------------------------------


def _rise_check(
    ctx: Context,
    rule: SuddenRiseRule,
    station: str,
    param: str,
    t: datetime,
    value: float,
    reference: tuple[datetime, float],
    rate: float,
    limit: float,
) -> Check:
    said = texts.render(
        "sudden_rise",
        **ctx.labels(station),
        **texts.names(param),
        start=texts.number(param, reference[1]),
        value=texts.number(param, value),
        rate=rate,
        limit=limit,
    )
    detail = {"rate_per_hour": rate, "from": reference[1], "from_t": reference[0].isoformat()}
    return Check(rule, station, param, True, t, *said, param=param, value=value, detail=detail)


def rise_step(v: Verdicts, rules: list[SuddenRiseRule], station: str, param: str) -> ReadingStep | None:
    """Compares each newer valid value with the newest one at least ``min_span_s`` older (within
    ``max_gap_s``); the parameter's history of valid values is kept in time order, so it is bisected."""
    mine = tuple(
        (
            r,
            alert_key(station, r.id, param),
            timedelta(seconds=r.min_span_s) // ONE_US,  # as the history keeps times: whole µs
            r.max_gap_s,
            r.rates_per_hour[param],
        )
        for r in rules
        if param in r.rates_per_hour
    )
    if not mine:
        return None
    keep_us = timedelta(seconds=max(r.max_gap_s for r, *_ in mine)) // ONE_US  # how far back the rules look
    good, bad = v.good, v.bad

    def judge(
        memo: ParamMemo, batch: Sequence[Reading], indices: Sequence[int], newer: Sequence[int]
    ) -> None:
        history = memo.history  # changed in place (collector/alerts/rise_history.py)
        times, values = history.times, history.values
        active, counters = v.state.active, v.state.counters  # a good verdict on a key in neither: a no-op
        for i in newer:
            reading = batch[i]
            value = reading.value
            if value is None or reading.flag not in VALID_FLAGS:
                continue
            t = reading.t
            t_us = to_us(t)
            history.drop_before(t_us - keep_us)
            for rule, key, min_span_us, max_gap_s, limit in mine:
                # The newest value at least min_span_s old (strictly older than t), if not beyond max_gap_s.
                j = history.newest_at_or_before(t_us - min_span_us, t_us)
                if j < 0:
                    continue
                span = (t_us - times[j]) / 10**6
                if span > max_gap_s:
                    continue
                rate = (value - values[j]) / (span / 3600.0)
                if rate <= limit:
                    if key in active or key in counters:
                        good(rule, station, param, key, t, i)
                    continue
                reference = history[j]
                bad(
                    rule,
                    key,
                    t,
                    None,
                    partial(_rise_check, v, rule, station, param, t, value, reference, rate, limit),
                    i,
                )
            history.append(t_us, value)
            history.keep_last(MAX_HISTORY)

    return judge


register(
    CalibrationRule,
    reading=calibration_step,
    param_tick=calibration_overdue,
    defaults=[CalibrationRule(id="calibration_overdue")],
)
register(FaultFlagRule, reading=fault_step, defaults=[FaultFlagRule(id="fault_flag")])
register(ExceedanceRule, reading=exceedance_step, defaults=[ExceedanceRule(id="exceedance")])
register(SuddenRiseRule, reading=rise_step, defaults=[SuddenRiseRule(id="sudden_rise")])
