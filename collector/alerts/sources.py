"""Possible sources of a section's exceedance: the outfalls upstream of it (collector/outfalls.py) and how their
effluent stood over the same window — per item with a discharge limit, the worst valid value in the window
against the limit, and whether it was over.

Pure: outfalls and their samples in, a judgement and its bilingual texts out. Reading the samples from the store
and attaching the judgement to the alert (``detail["sources"]`` and a clause of its message) is
collector/sourcing.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from collector.alerts import texts
from collector.alerts.rules.outfall import Bounds, breached, limit_text
from collector.alerts.supervision import Sample
from collector.outfalls import Outfall

MAX_IN_MESSAGE = 5  # outfalls named in the message itself (all of them are in the detail)
CLAUSE = "sources_clause"  # under Alert.detail: [zh, en], the clause the messages took when traced


@dataclass(frozen=True, slots=True)
class ItemState:
    """One limited item of one outfall over the window: its worst valid value (None: no valid value)."""

    param: str
    bounds: Bounds
    value: float | None
    t: datetime | None
    n: int  # valid values in the window

    @property
    def over(self) -> bool:
        return self.value is not None and breached(self.bounds, self.value)


@dataclass(frozen=True, slots=True)
class SourceState:
    outfall: Outfall
    items: tuple[ItemState, ...]

    @property
    def over(self) -> bool:
        return any(item.over for item in self.items)

    @property
    def has_data(self) -> bool:
        return any(item.value is not None for item in self.items)


def _distance(bounds: Bounds, value: float) -> float:
    """How far outside the limit ``value`` lies (negative: how far inside), in units of the limit."""
    low, high = bounds
    scores = []
    if high is not None:
        scores.append((value - high) / (abs(high) or 1.0))
    if low is not None:
        scores.append((low - value) / (abs(low) or 1.0))
    return max(scores)


@dataclass(frozen=True, slots=True)
class Extremes:
    """An item's valid values in the window, as much as the judgement needs: how many, and the lowest and the
    highest as (time first seen, value). The store computes them (collector/sourcing.py); ``extremes`` does
    from samples."""

    n: int
    low: tuple[datetime, float]
    high: tuple[datetime, float]


def extremes(samples: Sequence[Sample], start: datetime, end: datetime) -> Extremes | None:
    """The Extremes of the valid ``samples`` in [start, end] (oldest first); None: no valid value."""
    n = 0
    low: tuple[datetime, float] | None = None
    high: tuple[datetime, float] | None = None
    for s in samples:
        if not (start <= s.t <= end) or not s.valid or s.value is None:
            continue
        n += 1
        if low is None or s.value < low[1] or (s.value == low[1] and s.t < low[0]):
            low = (s.t, s.value)
        if high is None or s.value > high[1] or (s.value == high[1] and s.t < high[0]):
            high = (s.t, s.value)
    if low is None or high is None:
        return None
    return Extremes(n, low, high)


def worst(found: Extremes, bounds: Bounds) -> ItemState:
    """The valid value farthest beyond (or least within) ``bounds``: for an upper limit the highest, for a lower
    one the lowest, for a range whichever lies farther out (the earlier on a tie). ``param`` is filled by the
    caller."""
    low, high = bounds
    if low is None:
        t, value = found.high
    elif high is None:
        t, value = found.low
    else:
        up, down = _distance(bounds, found.high[1]), _distance(bounds, found.low[1])
        t, value = found.high if up > down or (up == down and found.high[0] <= found.low[0]) else found.low
    return ItemState("", bounds, value, t, found.n)


def judge(outfalls: Sequence[Outfall], found: Mapping[str, Mapping[str, Extremes]]) -> list[SourceState]:
    """Each outfall's limited items over the window, outfalls over a limit first (else in the order given:
    nearest first). ``found``: outfall id → item → its valid values' Extremes (absent: no valid value)."""
    states = []
    for outfall in outfalls:
        own = found.get(outfall.id, {})
        items = []
        for param, limit in outfall.limits.items():
            bounds: Bounds = (limit.min, limit.max)
            item = own.get(param)
            if item is None:
                items.append(ItemState(param, bounds, None, None, 0))
            else:
                state = worst(item, bounds)
                items.append(ItemState(param, bounds, state.value, state.t, state.n))
        states.append(SourceState(outfall, tuple(items)))
    return sorted(states, key=lambda s: not s.over)  # stable: the given order within each group


# ----- texts ------------------------------------------------------------------------------------------------
def _window(window: timedelta) -> tuple[str, str]:
    hours = window.total_seconds() / 3600
    if hours >= 1:
        return f"{hours:g} 小时", f"{hours:g} h"
    return f"{window.total_seconds() / 60:g} 分钟", f"{window.total_seconds() / 60:g} min"


def _item_text(item: ItemState) -> tuple[str, str]:
    name_zh, name_en, _ = texts.name(item.param)
    state_zh, state_en = texts.phrase("sources.over" if item.over else "sources.within")
    return texts.phrase(
        "sources.item",
        name_zh=name_zh,
        name_en=name_en,
        value=texts.amount(item.param, item.value),
        limit=limit_text(item.param, item.bounds),
        state_zh=state_zh,
        state_en=state_en,
    )


def outfall_text(state: SourceState, window: timedelta) -> tuple[str, str]:
    """One outfall in the message: its items over the limit; else all items and 达标; else no data."""
    o = state.outfall
    if not state.has_data:
        window_zh, window_en = _window(window)
        items_zh, items_en = texts.phrase("sources.no_data", window_zh=window_zh, window_en=window_en)
    else:
        shown = [i for i in state.items if i.over] or [i for i in state.items if i.value is not None]
        said = [_item_text(i) for i in shown]
        items_zh, items_en = "、".join(zh for zh, _ in said), ", ".join(en for _, en in said)
    return texts.phrase(
        "sources.outfall",
        outfall_zh=o.name_zh,
        outfall_en=o.name_en,
        items_zh=items_zh,
        items_en=items_en,
    )


def message_clause(states: Sequence[SourceState], window: timedelta) -> tuple[str, str]:
    """The clause appended to the exceedance's message ("" when no outfall lies upstream)."""
    if not states:
        return "", ""
    said = [outfall_text(s, window) for s in states[:MAX_IN_MESSAGE]]
    return texts.phrase(
        "sources.message",
        list_zh="；".join(zh for zh, _ in said),
        list_en="; ".join(en for _, en in said),
    )


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def detail(states: Sequence[SourceState], at: datetime, window: timedelta) -> dict[str, Any]:
    """The judgement as the alert keeps it (``detail["sources"]``): per outfall its items, JSON-ready, and one
    line per language for the dashboard."""
    heading_zh, heading_en = texts.phrase("sources.heading")
    said = [outfall_text(s, window) for s in states]
    return {
        "v": 1,
        "at": _iso(at),
        "window_h": window.total_seconds() / 3600,
        "heading_zh": heading_zh,
        "heading_en": heading_en,
        "over": [s.outfall.id for s in states if s.over],
        "outfalls": [
            {
                "id": s.outfall.id,
                "name_zh": s.outfall.name_zh,
                "name_en": s.outfall.name_en,
                "enterprise_zh": s.outfall.enterprise_zh,
                "enterprise_en": s.outfall.enterprise_en,
                "river": s.outfall.river,
                "section": s.outfall.section,
                "standard": s.outfall.standard,
                "over": s.over,
                "items": [
                    {
                        "param": i.param,
                        "value": i.value,
                        "t": _iso(i.t),
                        "n": i.n,
                        "min": i.bounds[0],
                        "max": i.bounds[1],
                        "over": i.over,
                    }
                    for i in s.items
                ],
                "text_zh": zh,
                "text_en": en,
            }
            for s, (zh, en) in zip(states, said, strict=True)
        ],
        "text_zh": "；".join(zh for zh, _ in said) if said else texts.phrase("sources.none")[0],
        "text_en": "; ".join(en for _, en in said) if said else texts.phrase("sources.none")[1],
    }


def with_clause(message_zh: str, message_en: str, detail: Mapping[str, Any]) -> tuple[str, str]:
    """An alert's messages with the clause of its sources at the end: a later value of the same exceedance
    replaces the alert's messages with the rule's own text, and the sources named when it opened still hold."""
    clause = detail.get(CLAUSE)
    if not (isinstance(clause, list) and len(clause) == 2 and all(isinstance(c, str) for c in clause)):
        return message_zh, message_en
    zh = message_zh if message_zh.endswith(clause[0]) else message_zh + clause[0]
    en = message_en if message_en.endswith(clause[1]) else message_en + clause[1]
    return zh, en
