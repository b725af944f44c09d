"""The flood-season runoff scenario (simulators/scenarios/flood_runoff.toml): the first flush of a storm travels
down the Hutuo, upstream station first, diluted on the way, and a lightning surge cuts one analyser's link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simulators.analysers.environment import TP
from simulators.analysers.nutrient import Schedule
from simulators.clock import ManualClock
from simulators.fleet import build_fleet
from simulators.scenarios import ScenarioRunner, load_scenario

JULY = datetime(2026, 7, 20, 0, 0, tzinfo=UTC)
HUTUO = ["bifengcun", "boshuicun", "jiehepucun"]  # upstream → downstream
TP_III = 0.2  # GB 3838 class III limit of total phosphorus in rivers, mg/L


def test_runoff_reaches_the_hutuo_stations_in_order_over_class_iii() -> None:
    clock = ManualClock(JULY)
    fleet = build_fleet(clock, HUTUO, schedule=Schedule.every(10))
    fleet.tick()
    runner = ScenarioRunner(load_scenario("flood_runoff"), fleet.stations, clock.now())
    arrival: dict[str, datetime] = {}
    ratio: dict[str, float] = {}
    faults: dict[int, str] = {}
    for minute in range(0, 600, 5):
        now = JULY + timedelta(minutes=minute)
        clock.set(now)
        runner.tick(now)
        fleet.tick(now)
        for s in HUTUO:
            water = fleet.stations[s].water
            factor = water.value(TP, now) / water.natural(TP, now)
            ratio[s] = max(ratio.get(s, 0.0), factor)
            if factor > 1.01 and s not in arrival:
                arrival[s] = now
            if factor > 1.5:  # well into the wave: over class III from a natural ~0.1 mg/L
                assert water.value(TP, now) > TP_III, (s, minute)
        faults[minute] = fleet.stations["boshuicun"].devices["tp"].faults.mode
    assert sorted(arrival, key=arrival.__getitem__) == HUTUO
    assert arrival["boshuicun"] - arrival["bifengcun"] == timedelta(minutes=120)
    assert arrival["jiehepucun"] - arrival["boshuicun"] == timedelta(minutes=120)
    # Diluted on the way: ×4, ×3.2, ×2.6 at the peak.
    assert [round(ratio[s], 2) for s in HUTUO] == [4.0, 3.2, 2.6]
    # The surge cuts 泊水村's TP link from minute 160 to 180.
    assert faults[155] == "none" and faults[165] == "no_answer" and faults[175] == "no_answer"
    assert faults[185] == "none"
