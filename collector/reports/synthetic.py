"""Whether a product's period holds synthetic demo history (simulators/history.py, readings of device
"synthetic"), so that the product says so in its notes and nobody takes it for measurements."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from collector.config import default_stations
from collector.reports.document import Text
from collector.store.base import Store

# simulators/history.py DEVICE: the collector may not import the simulators (docs/ARCHITECTURE.md).
SYNTHETIC_DEVICE = "synthetic"

NOTE = Text(
    "合成演示数据：本产品所用数据为模拟生成的历史数据，并非实测，仅供演示。",
    "Synthetic demo data: the figures of this product come from a simulated history, not from measurements.",
)


def synthetic_note(
    store: Store, start: datetime, end: datetime, stations: Iterable[str] | None = None
) -> Text | None:
    """``NOTE`` when a reading of the first or last one of a station in [start, end) is synthetic, else None.

    Cheap: two one-row indexed reads per station (default: the city plan's eight). A synthetic history fills
    whole months up to when it was made and live data follow it, so a range holding any of it has it at one
    of its ends at some station."""
    ids = list(stations) if stations is not None else [s.id for s in default_stations()]
    for station in ids:
        for newest in (False, True):
            rows = store.readings(station, start=start, end=end, limit=1, newest=newest)
            if rows and rows[0].device == SYNTHETIC_DEVICE:
                return NOTE
    return None


__all__ = ["NOTE", "SYNTHETIC_DEVICE", "synthetic_note"]
