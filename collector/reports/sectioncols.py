"""The columns every section table of the products starts with: section, river, county, level."""

from __future__ import annotations

from datetime import datetime

from collector.assessing import Assessor
from collector.assessment.periods import ZONE
from collector.reports.document import Cell, Column
from collector.sections import Section

LEVELS = {"national": ("国考", "national"), "provincial": ("省考", "provincial")}

SECTION_COLUMNS = (
    Column("section", "断面", "Section"),
    Column("river", "河流", "River"),
    Column("county", "区县", "County"),
    Column("level", "级别", "Level"),
)


def section_cells(assessor: Assessor, section: Section) -> tuple[Cell, Cell, Cell, Cell]:
    """The four columns every section table starts with: name, river, county (None where not known), level."""
    river = assessor.registry.rivers.get(section.river)
    return (
        section.name_zh,
        river.name_zh if river else section.river,
        section.county or None,
        LEVELS[section.level][0],
    )


def local_time(t: datetime) -> str:
    """A time as the products print it: Asia/Shanghai, to the minute."""
    return t.astimezone(ZONE).isoformat(timespec="minutes")


__all__ = ["LEVELS", "SECTION_COLUMNS", "local_time", "section_cells"]
