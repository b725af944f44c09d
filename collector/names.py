"""A station's name in English: its section's ``name_en`` in the shipped registry (collector/sections.toml),
else its id (ASCII, never the Chinese name): what English pages, alert texts and notifications print, so that
the English part of a text carries no Chinese (issue 18)."""

from __future__ import annotations

from functools import cache

from collector.sections import load_sections


@cache
def _english() -> dict[str, str]:
    return {s.station: s.name_en for s in load_sections() if s.station}


def station_en(station: str) -> str:
    return _english().get(station, station)
