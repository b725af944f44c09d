"""The simulated stations: each one a river, seven devices on units 1-7 behind one gateway, and a manifest.

Units per station: probe 1, nh3n 2, codmn 3, tp 4, tn 5, cod 6, controller 7 — served on one Modbus TCP port
per station, as a serial-to-Ethernet gateway does, or over RTU on a serial line.

Manifest (JSON), read by the demo to write agent configs::

    {"stations": [{"id": "hexicun", "name_zh": "河西村", "river": "fen", "host": "127.0.0.1", "port": 5020,
                   "transport": "tcp",
                   "devices": [{"name": "probe", "profile": "multiparam_probe", "unit": 1, "interval_s": 60.0,
                                "table": "holding", "params": ["w01010", ...]}, ...]}],
     "clock": {"start": "...Z", "speed": 1.0}, "scenario": null | {...}, "journal": null | "path"}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from protocols.profiles import Profile, load_profile
from protocols.sections import SECTIONS
from simulators.analysers.base import AnalyserModel, Result
from simulators.analysers.baselines import baseline_for
from simulators.analysers.controller import StationController
from simulators.analysers.environment import RiverWater
from simulators.analysers.nutrient import NutrientAnalyser, Schedule
from simulators.analysers.probe import ProbeModel
from simulators.clock import Clock
from simulators.journal import Journal
from simulators.register_image import SimulatedDevice


@dataclass(frozen=True, slots=True)
class DeviceSlot:
    name: str
    profile: str
    unit: int
    param: str | None = None  # the wet-chemistry analyser's parameter


DEVICE_LAYOUT: tuple[DeviceSlot, ...] = (
    DeviceSlot("probe", "multiparam_probe", 1),
    DeviceSlot("nh3n", "nutrient_nh3n", 2, "w21003"),
    DeviceSlot("codmn", "nutrient_codmn", 3, "w01019"),
    DeviceSlot("tp", "nutrient_tp", 4, "w21011"),
    DeviceSlot("tn", "nutrient_tn", 5, "w21001"),
    DeviceSlot("cod", "cod_analyser", 6, "w01018"),
    DeviceSlot("controller", "station_controller", 7),
)
DEVICE_NAMES: tuple[str, ...] = tuple(slot.name for slot in DEVICE_LAYOUT)
ANALYSER_NAMES: tuple[str, ...] = tuple(n for n in DEVICE_NAMES if n != "controller")


def _range_max(profile: Profile, param: str) -> float | None:
    for f in profile.fields:
        if f.param == param and f.range is not None:
            return f.range[1]
    return None


@dataclass
class Station:
    id: str
    water: RiverWater
    controller: StationController
    models: dict[str, AnalyserModel]
    devices: dict[str, SimulatedDevice] = field(default_factory=dict)
    _last_tick: datetime | None = None

    @property
    def name_zh(self) -> str:
        section = SECTIONS.get(self.id)
        return section.name_zh if section else self.id

    def by_unit(self) -> dict[int, SimulatedDevice]:
        return {d.unit_id: d for d in self.devices.values()}

    def device(self, name: str) -> SimulatedDevice:
        try:
            return self.devices[name]
        except KeyError:
            raise KeyError(
                f"station {self.id} has no device {name!r}; it has {', '.join(self.devices)}"
            ) from None

    def tick(self, now: datetime) -> None:
        """Advance the station to ``now``: battery, cycles finished, devices dark or lit."""
        if self._last_tick is not None and now < self._last_tick:
            return  # never backwards
        self._last_tick = now
        self.controller.update(now)
        for model in self.models.values():
            if isinstance(model, NutrientAnalyser):
                model.update(now)
        powered = self.controller.powered()
        for device in self.devices.values():
            device.set_powered(powered)
        self.water.prune(now)


def build_station(
    station_id: str,
    clock: Clock,
    *,
    seed: int = 0,
    schedule: Schedule | None = None,
    journal: Journal | None = None,
) -> Station:
    schedule = schedule or Schedule()
    water = RiverWater(station_id, baseline_for(station_id), seed=seed)
    controller = StationController("controller", water=water, schedule=schedule, seed=seed)
    models: dict[str, AnalyserModel] = {}
    station = Station(station_id, water, controller, models)
    for slot in DEVICE_LAYOUT:
        profile = load_profile(slot.profile)
        model: AnalyserModel
        if slot.name == "controller":
            model = controller
        elif slot.param is None:
            model = ProbeModel(slot.name, supply=controller, water=water, seed=seed)
        else:
            model = NutrientAnalyser(
                slot.name,
                supply=controller,
                param=slot.param,
                water=water,
                schedule=schedule,
                seed=seed,
                range_max=_range_max(profile, slot.param),
            )
            if journal is not None:
                model.on_result = _journal_writer(journal, station_id, slot.name)
        models[slot.name] = model
        station.devices[slot.name] = SimulatedDevice(
            slot.unit, slot.name, profile, model, clock, on_refresh=station.tick
        )
    return station


def _journal_writer(journal: Journal, station: str, device: str) -> Any:
    def write(result: Result) -> None:
        journal.write(station, device, result)

    return write


@dataclass
class Fleet:
    clock: Clock
    stations: dict[str, Station]

    def tick(self, now: datetime | None = None) -> None:
        now = self.clock.now() if now is None else now
        for station in self.stations.values():
            station.tick(now)


def build_fleet(
    clock: Clock,
    station_ids: Iterable[str] | None = None,
    *,
    seed: int = 0,
    schedule: Schedule | None = None,
    journal: Journal | None = None,
) -> Fleet:
    ids = list(station_ids) if station_ids is not None else list(SECTIONS)
    unknown = [s for s in ids if s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown station(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    if len(set(ids)) != len(ids):
        raise ValueError("a station is listed twice")
    return Fleet(
        clock, {s: build_station(s, clock, seed=seed, schedule=schedule, journal=journal) for s in ids}
    )


def station_entry(
    station: Station,
    host: str,
    port: int | None,
    *,
    transport: str = "tcp",
    serial: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    section = SECTIONS.get(station.id)
    devices = []
    for device in sorted(station.devices.values(), key=lambda d: d.unit_id):
        devices.append(
            {
                "name": device.name,
                "profile": device.profile.name,
                "unit": device.unit_id,
                "interval_s": device.profile.default_interval_s,
                "table": device.profile.table,
                "params": [f.param for f in device.profile.fields if f.param is not None],
            }
        )
    entry: dict[str, Any] = {
        "id": station.id,
        "name_zh": station.name_zh,
        "river": section.river if section else None,
        "transport": transport,
        "host": host,
        "port": port,
        "devices": devices,
    }
    if serial is not None:
        entry["serial"] = dict(serial)
    return entry


def write_manifest(path: str | Path, manifest: Mapping[str, Any]) -> None:
    """Write atomically: a reader polling for the file never sees half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
