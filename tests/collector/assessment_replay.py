"""The hand-computed month (tests/collector/assessment/fixture_month.py) replayed through a real store: readings
through the store's apply path as ReadingBatch messages, manual results through save_manual_results, the frozen
month of hexicun through the station controller's history (water_present 0 with the ice signal).

The fixture assumes one expected value a day per item an automatic section reports: the config below says so
with ``[schedule]`` (every item once a day) and each station's ``expected_params``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from collector.assessing import Assessor, controller_exclusions
from collector.config import CollectorConfig, parse_config
from collector.controller_history import ControllerHistory
from collector.sections import SectionRegistry, load_sections
from collector.store.base import Received, Store
from collector.store.manual_rows import ManualRow
from protocols.flags import Flag
from protocols.messages import Reading, ReadingBatch, Status
from tests.collector.assessment import fixture_month as fx

NOW = datetime(2026, 4, 15, tzinfo=UTC)  # March 2026 and the 2025 flood season are over
MONTH_START = datetime(2026, 2, 28, 16, tzinfo=UTC)  # 1 March 00:00 in Asia/Shanghai


def fixture_registry() -> SectionRegistry:
    """The shipped registry cut to the fixture's six sections (their ids, rivers, levels, counties, orders)."""
    shipped = load_sections()
    chosen = tuple(s for s in shipped if s.id in fx.SECTIONS)
    assert len(chosen) == len(fx.SECTIONS)
    return SectionRegistry(shipped.rivers, chosen, "fixture")


def _items(station: str) -> list[str]:
    return sorted({p for sid, p, t, _v, _f in fx.READINGS if sid == station and t.startswith(fx.MONTH)})


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def fixture_config(tmp_path: Path) -> CollectorConfig:
    return parse_config(fixture_config_text(tmp_path))


def fixture_config_text(tmp_path: Path) -> str:
    """A collector config whose store is ``tmp_path/collector.db`` and whose schedule is the fixture's."""
    items = sorted({p for _s, p, _t, _v, _f in fx.READINGS})
    every = ", ".join(f"{p} = 86400.0" for p in items)
    # What each automatic section reports in March 2026 (hexicun: the two items that arrived, invalid).
    stations = "".join(
        f'[[stations]]\nid = "{sid}"\nexpected_params = [{", ".join(repr(p) for p in _items(sid))}]\n'
        for sid in fx.AUTOMATIC
    )
    return (
        f'[store]\nurl = "sqlite:///{tmp_path / "collector.db"}"\n'
        "[api]\nread_requires_login = false\n"  # the API tests read without signing in
        f"[schedule]\nevery_s = {{{every}}}\nslot_params = []\n" + stations
    )


def fill(store: Store) -> None:
    """Every fixture reading of an automatic section as readings batches, the others as manual results."""
    by_station: dict[str, list[Reading]] = defaultdict(list)
    manual: list[ManualRow] = []
    for n, (sid, param, t, value, flag) in enumerate(fx.READINGS):
        at = _t(t)
        if sid in fx.AUTOMATIC:
            by_station[sid].append(Reading(param=param, t=at, value=value, flag=Flag(flag)))
        else:
            manual.append(ManualRow(sid, param, at, value, flag, f"fixture:row {n + 2}"))
    for station, readings in by_station.items():
        batch = ReadingBatch(station=station, seq=1, lane="live", sent_at=NOW, readings=readings)
        result = store.apply([Received(batch, NOW)])
        assert result.readings_inserted == len(readings)
    assert store.save_manual_results(manual) == (len(manual), 0, 0)


def frozen_status() -> Status:
    """hexicun's intake frozen from the month's first instant on (the controller's ice signal)."""
    return Status(
        station="hexicun", state="online", at=MONTH_START, controller={"water_present": 0, "ice": True}
    )


def frozen_history() -> ControllerHistory:
    history = ControllerHistory()
    history.on_status(frozen_status())
    return history


def fixture_assessor(store: Store, tmp_path: Path, now: datetime = NOW) -> Assessor:
    config = fixture_config(tmp_path)
    excluded = controller_exclusions(store, frozen_history(), config.ice.max_water_temp_c)
    base = Assessor.from_config(config, store, excluded=excluded, clock=lambda: now)
    return Assessor(
        store,
        fixture_registry(),
        schedule=config.schedule,
        stations=config.stations,
        excluded=excluded,
        season=base.season,
        clock=lambda: now,
    )
