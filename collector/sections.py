"""The section registry: every assessed section of the city (STANDARDS.md §1), not only those with a station.

Assessed sections are what the bureau judges; a station is one way of measuring one. The shipped default
(``collector/sections.toml``) lists the city's 21 sections: eight with the automatic stations of the plan, thirteen
sampled by hand once a month (their results come from ``import-manual``, collector/manual.py). A registry file is
validated like every config: a wrong field is named with its location (``sections.4.river: unknown river``).

Target classes default to III and positions and most orders along a river are display hints (see the TOML).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from protocols.errors import ConfigError
from protocols.tomldoc import parse_toml_model, read_text
from protocols.topics import is_station_id

Basin = Literal["yellow", "hai"]
Level = Literal["national", "provincial"]
WaterBody = Literal["river", "lake", "reservoir"]
TargetClass = Literal["I", "II", "III", "IV", "V"]

ID_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
_ROMAN_NUMBER = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
WHAT = "section registry"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class River(_Doc):
    id: str = Field(pattern=ID_PATTERN)
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=64)
    basin: Basin


class Section(_Doc):
    id: str = Field(pattern=ID_PATTERN)
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=64)
    river: str
    basin: Basin
    county: str = Field(default="", max_length=64)  # "" where not known (config)
    level: Level
    water_body: WaterBody = "river"
    target: TargetClass = "III"  # config: no target was found in any text we could read
    station: str | None = None  # the automatic station measuring here; None: sampled by hand
    order: int = Field(ge=1, le=1000)  # along its river, upstream → downstream
    lat: float | None = Field(default=None, ge=-90, le=90)  # approximate: a display hint only
    lon: float | None = Field(default=None, ge=-180, le=180)

    @property
    def target_class(self) -> int:
        """The target as a number 1..5 (III → 3)."""
        return _ROMAN_NUMBER[self.target]

    @property
    def water_type(self) -> Literal["river", "lake"]:
        """The GB 3838 column: lakes and reservoirs share one."""
        return "river" if self.water_body == "river" else "lake"

    @property
    def automatic(self) -> bool:
        return self.station is not None


class SectionsFile(_Doc):
    rivers: list[River] = Field(min_length=1)
    sections: list[Section] = Field(min_length=1)


def cross_check(doc: SectionsFile) -> list[str]:
    """What the field types cannot say, one ``location: problem`` per line: unique ids, orders and stations,
    known rivers, each section in its river's basin. Pure."""
    problems: list[str] = []

    def repeated(kind: str, values: list[tuple[str, str]]) -> None:
        seen: dict[str, str] = {}
        for loc, value in values:
            if value in seen:
                problems.append(f"{loc}: {kind} {value!r} repeats {seen[value]}")
            else:
                seen[value] = loc

    repeated("river id", [(f"rivers.{i}.id", r.id) for i, r in enumerate(doc.rivers)])
    repeated("section id", [(f"sections.{i}.id", s.id) for i, s in enumerate(doc.sections)])
    repeated(
        "station",
        [(f"sections.{i}.station", s.station) for i, s in enumerate(doc.sections) if s.station is not None],
    )
    repeated("order", [(f"sections.{i}.order", f"{s.river}/{s.order}") for i, s in enumerate(doc.sections)])
    rivers = {r.id: r for r in doc.rivers}
    for i, s in enumerate(doc.sections):
        river = rivers.get(s.river)
        if river is None:
            problems.append(f"sections.{i}.river: unknown river {s.river!r}; known: {', '.join(rivers)}")
        elif river.basin != s.basin:
            problems.append(f"sections.{i}.basin: {s.basin!r}, but river {river.id!r} is in {river.basin!r}")
        if s.station is not None and not is_station_id(s.station):
            problems.append(f"sections.{i}.station: not a station id: {s.station!r}")
        if (s.lat is None) != (s.lon is None):
            problems.append(f"sections.{i}: give both lat and lon, or neither")
    return problems


@dataclass(frozen=True)
class SectionRegistry:
    """The validated sections, in file order, with lookups by id, river and station."""

    rivers: dict[str, River]
    sections: tuple[Section, ...]
    source: str = ""
    _by_id: dict[str, Section] = field(init=False, repr=False, compare=False)
    _by_river: dict[str, tuple[Section, ...]] = field(init=False, repr=False, compare=False)
    _by_station: dict[str, Section] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_river = {
            river: tuple(sorted((s for s in self.sections if s.river == river), key=lambda s: s.order))
            for river in self.rivers
        }
        object.__setattr__(self, "_by_id", {s.id: s for s in self.sections})
        object.__setattr__(self, "_by_river", {r: ss for r, ss in by_river.items() if ss})
        object.__setattr__(self, "_by_station", {s.station: s for s in self.sections if s.station})

    def __iter__(self) -> Iterator[Section]:
        return iter(self.sections)

    def __len__(self) -> int:
        return len(self.sections)

    def __contains__(self, section_id: object) -> bool:
        return section_id in self._by_id

    def get(self, section_id: str) -> Section | None:
        return self._by_id.get(section_id)

    def section(self, section_id: str) -> Section:
        """The section ``section_id``; KeyError names it when unknown."""
        try:
            return self._by_id[section_id]
        except KeyError:
            raise KeyError(f"unknown section {section_id!r}") from None

    def by_name(self, name_zh: str) -> Section | None:
        """The section whose Chinese name is ``name_zh`` (names are how lab reports identify sections)."""
        for s in self.sections:
            if s.name_zh == name_zh:
                return s
        return None

    def by_river(self) -> dict[str, tuple[Section, ...]]:
        """River id → its sections upstream → downstream (rivers in file order; rivers without sections left out)."""
        return dict(self._by_river)

    def on_river(self, river: str) -> tuple[Section, ...]:
        """The sections on ``river`` upstream → downstream (empty for a river without sections)."""
        return self._by_river.get(river, ())

    def upstream(self, section_id: str) -> tuple[Section, ...]:
        """The sections above ``section_id`` on its river, nearest first."""
        on, i = self._position(section_id)
        return tuple(reversed(on[:i]))

    def downstream(self, section_id: str) -> tuple[Section, ...]:
        """The sections below ``section_id`` on its river, nearest first."""
        on, i = self._position(section_id)
        return on[i + 1 :]

    def for_station(self, station_id: str) -> Section | None:
        """The section an automatic station measures, or None."""
        return self._by_station.get(station_id)

    def _position(self, section_id: str) -> tuple[tuple[Section, ...], int]:
        section = self.section(section_id)
        on = self._by_river[section.river]
        return on, on.index(section)


def parse_sections(text: str, *, source: str = "<sections>") -> SectionRegistry:
    """Validate a registry document; ConfigError names ``source`` and every wrong field with its location."""
    doc = parse_toml_model(SectionsFile, text, source=source, what=WHAT)
    problems = cross_check(doc)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise ConfigError(f"{source}: invalid {WHAT}:\n{lines}")
    return SectionRegistry({r.id: r for r in doc.rivers}, tuple(doc.sections), source)


def default_text() -> str:
    return (resources.files("collector") / "sections.toml").read_text(encoding="utf-8")


def load_sections(path: str | None = None) -> SectionRegistry:
    """The registry at ``path``, or the shipped default (``collector/sections.toml``) when None."""
    if path is None:
        return parse_sections(default_text(), source="collector/sections.toml")
    return parse_sections(read_text(path, what=WHAT), source=str(path))
