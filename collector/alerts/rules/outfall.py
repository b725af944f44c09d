"""``outfall_limit``: an outfall's valid values over its discharge limits (the permit's or the applicable
discharge standard's, collector/outfalls.py), ``open_after`` in a row; resolved after ``clear_after`` within.

The limits come with the config (``AlertsConfig.outfalls``, filled from the outfalls registry); a station that is
no outfall has none, so the rule costs it nothing. The exceedance rule leaves outfalls alone: effluent is not
judged against GB 3838.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Literal

from pydantic import Field

from collector.alerts import texts
from collector.alerts.check import Check, Context, ReadingStep, Verdicts
from collector.alerts.model import ParamMemo, alert_key
from collector.alerts.registry import register
from collector.alerts.rule import ParamCode, RuleBase
from protocols import catalogue
from protocols.flags import VALID_FLAGS
from protocols.messages import Reading

Bounds = tuple[float | None, float | None]  # (min, max); None: no limit on that side


class OutfallLimitRule(RuleBase):
    """Valid values of an outfall outside its discharge limits."""

    type: Literal["outfall_limit"] = "outfall_limit"
    params: list[ParamCode] | None = None  # None: every item the outfall has a limit for
    open_after: int = Field(default=1, ge=1)  # one hourly value over a discharge limit is a breach
    clear_after: int = Field(default=2, ge=1)


def breached(bounds: Bounds, value: float) -> bool:
    low, high = bounds
    return (high is not None and value > high) or (low is not None and value < low)


def limit_text(param: str, bounds: Bounds) -> str:
    """``50 mg/L``; a range ``6–9``; with the item's unit."""
    low, high = bounds
    unit = catalogue.get(param).unit
    if low is not None and high is not None:
        text = f"{low:g}–{high:g}"
    else:
        text = f"{high if high is not None else low:g}"
    return f"{text} {unit}" if unit else text


def multiple(bounds: Bounds, value: float) -> float | None:
    """(value − max) / max over a maximum, as GB 3838's exceedance multiple is counted; None otherwise."""
    high = bounds[1]
    if high is None or high <= 0 or value <= high:
        return None
    return (value - high) / high


def _check(
    ctx: Context, rule: OutfallLimitRule, station: str, reading: Reading, value: float, bounds: Bounds
) -> Check:
    param = reading.param
    discharge = ctx.config.outfalls[station]
    high = bounds[1]
    side = "max" if high is not None and value > high else "min"
    limit = limit_text(param, bounds)
    limit_zh, limit_en = texts.phrase(f"outfall_limit.{side}", limit=limit)
    times = multiple(bounds, value)
    times_zh, times_en = (
        texts.phrase("outfall_limit.times", multiple=times) if times is not None else ("", "")
    )
    said = texts.render(
        "outfall_limit",
        label=discharge.name_zh or station,
        label_en=discharge.name_en or station,
        **texts.names(param),
        value=texts.amount(param, value),
        limit_zh=limit_zh,
        limit_en=limit_en,
        standard=discharge.standard,
        times_zh=times_zh,
        times_en=times_en,
    )
    detail = {
        "limit_min": bounds[0],
        "limit_max": bounds[1],
        "multiple": times,
        "standard": discharge.standard,
    }
    return Check(rule, station, param, True, reading.t, *said, param=param, value=value, detail=detail)


def outfall_step(v: Verdicts, rules: list[OutfallLimitRule], station: str, param: str) -> ReadingStep | None:
    discharge = v.config.outfalls.get(station)
    bounds = discharge.limits.get(param) if discharge is not None else None
    if bounds is None:
        return None
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
            value = reading.value
            if value is None or reading.flag not in VALID_FLAGS:
                continue
            for rule, key in mine:
                if breached(bounds, value):
                    bad(
                        rule,
                        key,
                        reading.t,
                        None,
                        partial(_check, v, rule, station, reading, value, bounds),
                        i,
                    )
                elif key in active or key in counters:
                    good(rule, station, param, key, reading.t, i)

    return judge


register(OutfallLimitRule, reading=outfall_step, defaults=[OutfallLimitRule(id="outfall_limit")])
