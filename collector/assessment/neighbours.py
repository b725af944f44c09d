"""Sections upstream and downstream of a section on the same river, nearest first (STANDARDS.md §1):
to place an exceedance, look at what the river brought to the section and what it carried on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Neighbours:
    upstream: tuple[str, ...]  # nearest first
    downstream: tuple[str, ...]  # nearest first


def neighbours(order: Sequence[str], section_id: str) -> Neighbours:
    """``order`` is the river's sections from upstream to downstream. ValueError when ``section_id`` is not
    on the river or the order names a section twice."""
    seen: set[str] = set()
    for sid in order:
        if sid in seen:
            raise ValueError(f"section {sid!r} appears twice in the river's order")
        seen.add(sid)
    if section_id not in seen:
        raise ValueError(f"section {section_id!r} is not on this river ({', '.join(order) or 'no sections'})")
    at = list(order).index(section_id)
    return Neighbours(tuple(reversed(order[:at])), tuple(order[at + 1 :]))
