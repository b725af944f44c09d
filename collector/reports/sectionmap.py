"""The class-coloured section map chart (ChartKind.SECTION_MAP) of any list of assessed sections: one line per
river upstream → downstream, a dot per section."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collector.assessing import SectionAssessment
from collector.reports.document import Chart, ChartKind
from collector.sections import SectionRegistry


def section_map(
    registry: SectionRegistry,
    assessed: Sequence[SectionAssessment],
    *,
    key: str = "section_map",
    title_zh: str = "断面水质类别分布",
    title_en: str = "Section classes along the rivers",
) -> Chart:
    by_id = {a.section.id: a for a in assessed}
    rivers: list[dict[str, Any]] = []
    for river_id, on in registry.by_river().items():
        entries = []
        for section in on:
            a = by_id.get(section.id)
            if a is None:
                continue
            j = a.judgement
            entries.append(
                {
                    "id": section.id,
                    "name_zh": section.name_zh,
                    "name_en": section.name_en,
                    "class": j.water_class.roman if j.water_class is not None else None,
                    "target": section.target,
                    "meets": j.meets_target,
                    "status": j.status.value,
                }
            )
        if entries:
            river = registry.rivers[river_id]
            rivers.append(
                {"id": river.id, "name_zh": river.name_zh, "name_en": river.name_en, "sections": entries}
            )
    return Chart(key, ChartKind.SECTION_MAP, title_zh, title_en, {"rivers": rivers})


__all__ = ["section_map"]
