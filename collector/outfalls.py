"""The outfalls registry: discharge points with their own automatic monitor, and the section each one flows to
(the chain "pollution source → outfall → water body", STANDARDS.md §1 and §11).

An outfall's monitor reports over HJ 212 (ST 32) as a data logger of ``[hj212] loggers`` with ``outfall = ID``;
its readings are stored under the outfall's id as a station's are. Each outfall has discharge limits per item
(the permit's or the applicable discharge standard's, with that source named); a value over them raises the
``outfall_limit`` alert (collector/alerts/rules/outfall.py), and a section's exceedance alert names the outfalls
upstream of it (collector/sourcing.py).

The shipped default (``collector/outfalls.toml``) is validated against the section registry in use: a wrong field
is named with its place (``outfalls.1.section: unknown section 'x'``). Positions, MNs and most limits are
configuration to be confirmed (see the TOML).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collector.sections import ID_PATTERN, Section, SectionRegistry
from protocols import catalogue
from protocols.errors import ConfigError
from protocols.tomldoc import parse_toml_model, read_text

WHAT = "outfalls registry"

# What an outfall monitor measures (HJ 212 ST 32): COD, NH3-N, TP, TN, pH, flow.
OUTFALL_ITEMS = ("w01018", "w21003", "w21011", "w21001", "w01001", "w00000")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Doc):
    """The allowed values of one item: at most ``max``, at least ``min`` (pH has both)."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some(self) -> Limit:
        if self.min is None and self.max is None:
            raise ValueError("give max, min or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self

    def breached(self, value: float) -> bool:
        return (self.max is not None and value > self.max) or (self.min is not None and value < self.min)

    def multiple(self, value: float) -> float | None:
        """How many times over the maximum (GB 3838's way: (value − limit) / limit); None without one."""
        if self.max is None or self.max <= 0 or value <= self.max:
            return None
        return (value - self.max) / self.max


class Outfall(_Doc):
    id: str = Field(pattern=ID_PATTERN)  # also the id its readings are stored under
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    enterprise_zh: str = Field(min_length=1, max_length=128)
    enterprise_en: str = Field(default="", max_length=200)
    river: str  # a river of the section registry
    section: str  # the section downstream (a section id of the section registry)
    # Along the river on the sections' scale (a section at order 4 and the next at 5: 4.5 lies between them).
    order: float = Field(gt=0, le=1000)
    mn: str = Field(default="", pattern=r"^(|[A-Za-z0-9_-]{1,24})$")  # its monitor's HJ 212 MN; "" not known
    standard: str = Field(min_length=1, max_length=200)  # where the limits come from: permit or standard
    limits: dict[str, Limit] = Field(min_length=1)  # item code → limit
    items: list[str] = Field(default_factory=lambda: list(OUTFALL_ITEMS))  # what its monitor reports
    lat: float | None = Field(default=None, ge=-90, le=90)  # display hints only
    lon: float | None = Field(default=None, ge=-180, le=180)


class OutfallsFile(_Doc):
    outfalls: list[Outfall] = Field(default_factory=list)


def cross_check(doc: OutfallsFile, sections: SectionRegistry) -> list[str]:
    """What the field types cannot say, one ``location: problem`` per line: unique ids and MNs, known items,
    rivers and sections, and the section being the nearest one downstream of the outfall on its river. Pure."""
    problems: list[str] = []
    seen_ids: dict[str, int] = {}
    seen_mns: dict[str, int] = {}
    for i, o in enumerate(doc.outfalls):
        loc = f"outfalls.{i}"
        if o.id in seen_ids:
            problems.append(f"{loc}.id: {o.id!r} repeats outfalls.{seen_ids[o.id]}.id")
        seen_ids.setdefault(o.id, i)
        if o.id in sections or sections.for_station(o.id) is not None:
            problems.append(f"{loc}.id: {o.id!r} is a section or station id; an outfall needs its own")
        if o.mn:
            if o.mn in seen_mns:
                problems.append(f"{loc}.mn: {o.mn!r} repeats outfalls.{seen_mns[o.mn]}.mn")
            seen_mns.setdefault(o.mn, i)
        for code in [*o.limits, *o.items]:
            if not catalogue.is_known(code):
                problems.append(f"{loc}.limits: unknown parameter code {code!r}")
        if o.river not in sections.rivers:
            problems.append(f"{loc}.river: unknown river {o.river!r}; known: {', '.join(sections.rivers)}")
        section = sections.get(o.section)
        if section is None:
            problems.append(f"{loc}.section: unknown section {o.section!r}")
        elif section.river == o.river:
            below = [s for s in sections.on_river(o.river) if s.order > o.order]
            if section.order <= o.order:
                problems.append(
                    f"{loc}.order: {o.order:g} is not above section {o.section!r} ({section.order})"
                )
            elif below and below[0].id != section.id:
                problems.append(
                    f"{loc}.section: the nearest section below order {o.order:g} on {o.river!r} is "
                    f"{below[0].id!r}, not {o.section!r}"
                )
        if (o.lat is None) != (o.lon is None):
            problems.append(f"{loc}: give both lat and lon, or neither")
    return problems


@dataclass(frozen=True)
class OutfallRegistry:
    """The validated outfalls, in file order, with the lookups the alerts and the API need."""

    outfalls: tuple[Outfall, ...]
    source: str = ""
    _by_id: dict[str, Outfall] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {o.id: o for o in self.outfalls})

    def __iter__(self) -> Iterator[Outfall]:
        return iter(self.outfalls)

    def __len__(self) -> int:
        return len(self.outfalls)

    def __contains__(self, outfall_id: object) -> bool:
        return outfall_id in self._by_id

    def get(self, outfall_id: str) -> Outfall | None:
        return self._by_id.get(outfall_id)

    def upstream_of(self, section: Section) -> tuple[Outfall, ...]:
        """The outfalls whose water reaches ``section``: those that name it as their section downstream, and
        those on its river above it; nearest first (highest order), then file order."""
        found = [
            o
            for o in self.outfalls
            if o.section == section.id or (o.river == section.river and o.order < section.order)
        ]
        return tuple(sorted(found, key=lambda o: -o.order if o.river == section.river else 0.0))


def parse_outfalls(text: str, sections: SectionRegistry, *, source: str = "<outfalls>") -> OutfallRegistry:
    """Validate a registry document against ``sections``; ConfigError names ``source`` and every wrong field."""
    doc = parse_toml_model(OutfallsFile, text, source=source, what=WHAT)
    problems = cross_check(doc, sections)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise ConfigError(f"{source}: invalid {WHAT}:\n{lines}")
    return OutfallRegistry(tuple(doc.outfalls), source)


def default_text() -> str:
    return (resources.files("collector") / "outfalls.toml").read_text(encoding="utf-8")


def load_outfalls(sections: SectionRegistry, path: str | None = None) -> OutfallRegistry:
    """The registry at ``path``, or the shipped default (``collector/outfalls.toml``) when None or ""."""
    if not path:
        return parse_outfalls(default_text(), sections, source="collector/outfalls.toml")
    return parse_outfalls(read_text(path, what=WHAT), sections, source=str(path))
