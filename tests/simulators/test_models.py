from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from protocols.flags import Flag
from simulators.analysers.base import DeviceState
from simulators.analysers.baselines import BASELINES
from simulators.analysers.controller import SAMPLING_NO_WATER, StationController
from simulators.analysers.environment import DO, NH3N, PH, TEMP, RiverWater
from simulators.analysers.nutrient import NutrientAnalyser, Schedule
from simulators.analysers.probe import ProbeModel

JULY = datetime(2026, 7, 15, 16, 0, tzinfo=UTC)  # 00:00 Beijing time
JANUARY = datetime(2026, 1, 15, 16, 0, tzinfo=UTC)


def hourly(model: ProbeModel, start: datetime, hours: int = 24) -> list[dict[str, float | None]]:
    return [model.read(start + timedelta(hours=h)).values for h in range(hours)]


def test_probe_daily_cycle_peaks_in_the_afternoon_and_do_falls_as_water_warms() -> None:
    probe = ProbeModel("probe", water=RiverWater("hexicun", BASELINES["hexicun"], seed=1), seed=1)
    day = hourly(probe, JULY)
    temps = [v[TEMP] for v in day]
    dos = [v[DO] for v in day]
    assert all(t is not None for t in temps) and all(d is not None for d in dos)
    warmest = max(range(24), key=lambda h: temps[h])  # type: ignore[arg-type, return-value]
    assert 12 <= warmest <= 18, f"warmest at {warmest}:00 Beijing time"
    assert max(temps) - min(temps) > 2.0  # type: ignore[operator, type-var]
    assert statistics.correlation(temps, dos) < -0.5  # type: ignore[arg-type]
    phs = [v[PH] for v in day]
    assert 7.5 < min(phs) and max(phs) < 8.8  # type: ignore[operator, type-var]


def test_season_makes_winter_water_cold_and_oxygen_rich() -> None:
    water = RiverWater("hexicun", BASELINES["hexicun"])
    assert water.value(TEMP, JANUARY) < 3.0 < 18.0 < water.value(TEMP, JULY)
    assert water.value(DO, JANUARY) > water.value(DO, JULY) + 3.0
    assert water.value(NH3N, JANUARY) > water.value(NH3N, JULY)  # slow nitrification in the cold


def test_sections_differ_and_some_sit_near_class_three() -> None:
    clean = RiverWater("cigouyingqiao", BASELINES["cigouyingqiao"]).value(NH3N, JANUARY)
    dirty = RiverWater("jiehepucun", BASELINES["jiehepucun"]).value(NH3N, JANUARY)
    assert clean < 0.5 and dirty > 0.9  # class III limit 1.0 mg/L


def test_same_seed_same_river_regardless_of_read_order() -> None:
    a = ProbeModel("probe", water=RiverWater("boshuicun", seed=7), seed=7)
    b = ProbeModel("probe", water=RiverWater("boshuicun", seed=7), seed=7)
    times = [JULY + timedelta(minutes=m) for m in (0, 37, 90)]
    forward = [a.read(t).values for t in times]
    backward = [b.read(t).values for t in reversed(times)][::-1]
    assert forward == backward
    other = ProbeModel("probe", water=RiverWater("boshuicun", seed=8), seed=8)
    assert other.read(times[0]).values != forward[0]


def make_nutrient(schedule: Schedule | None = None) -> NutrientAnalyser:
    return NutrientAnalyser(
        "nh3n",
        param=NH3N,
        water=RiverWater("hexicun", BASELINES["hexicun"]),
        schedule=schedule or Schedule(),
    )


def test_schedule_slots_are_beijing_hours_and_every_n_minutes() -> None:
    slots = Schedule().slots(JULY - timedelta(seconds=1), JULY + timedelta(days=1) - timedelta(seconds=1))
    assert [s.astimezone(UTC).hour for s in slots] == [16, 20, 0, 4, 8, 12]
    short = Schedule.every(10).slots(JULY, JULY + timedelta(minutes=30))
    assert short == [JULY + timedelta(minutes=m) for m in (10, 20, 30)]
    with pytest.raises(ValueError):
        Schedule(slot_hours=(25,))
    with pytest.raises(ValueError):
        Schedule.every(10, cycle_min=20)


def test_nutrient_holds_its_result_and_result_time_changes_once_per_cycle() -> None:
    analyser = make_nutrient(Schedule(cycle_min=40))
    start = JULY + timedelta(minutes=50)  # 00:50 Beijing: the 00:00 cycle ended at 00:40
    seen: list[tuple[datetime | None, float | None]] = []
    for minute in range(0, 8 * 60, 5):
        reading = analyser.read(start + timedelta(minutes=minute))
        seen.append((reading.result_time, reading.values[NH3N]))
    times = [t for t, _ in seen]
    assert times[0] == JULY
    changes = [i for i in range(1, len(times)) if times[i] != times[i - 1]]
    # 04:40 and 08:40 Beijing time, 5-minute steps after 00:50
    assert [start + timedelta(minutes=5 * i) for i in changes] == [
        JULY + timedelta(hours=4, minutes=40),
        JULY + timedelta(hours=8, minutes=40),
    ]
    for i in range(1, len(seen)):
        if times[i] == times[i - 1]:
            assert seen[i][1] == seen[i - 1][1]  # held, not re-measured
    assert len({v for _, v in seen}) == 3


def test_nutrient_reports_measuring_during_the_cycle() -> None:
    analyser = make_nutrient(Schedule(cycle_min=40))
    assert analyser.read(JULY + timedelta(minutes=10)).measuring
    assert not analyser.read(JULY + timedelta(minutes=45)).measuring


def test_results_do_not_depend_on_how_often_the_analyser_is_read() -> None:
    often, seldom = make_nutrient(Schedule.every(30)), make_nutrient(Schedule.every(30))
    got_often = []
    for minute in range(0, 600, 7):
        got_often += often.update(JULY + timedelta(minutes=minute))
    seldom.update(JULY)
    got_seldom = seldom.update(JULY + timedelta(minutes=599))
    assert got_often[1:] == got_seldom  # the first is the result on display at switch-on


@pytest.mark.parametrize("state", [DeviceState.MAINTENANCE, DeviceState.FAULT, DeviceState.STOPPED])
def test_nutrient_produces_nothing_when_not_working(state: DeviceState) -> None:
    analyser = make_nutrient(Schedule.every(30))
    first = analyser.update(JULY)
    analyser.set_state(state)
    assert analyser.update(JULY + timedelta(hours=3)) == []
    reading = analyser.read(JULY + timedelta(hours=3))
    assert reading.state == state and reading.result_time == first[-1].result_time
    assert (Flag.FAULT in reading.alarms) == (state == DeviceState.FAULT)


def test_calibration_cycles_measure_the_check_standard_with_flag_c() -> None:
    analyser = make_nutrient(Schedule.every(30))
    analyser.update(JULY)
    analyser.set_state("calibration")
    results = analyser.update(JULY + timedelta(hours=1))
    assert results and all(r.flag == Flag.CALIBRATION for r in results)
    assert all(abs(r.value - 1.0) < 0.05 for r in results)


def test_stuck_override_and_over_range() -> None:
    analyser = make_nutrient(Schedule.every(30))
    base = analyser.update(JULY)[-1]
    analyser.stuck = True
    stuck = analyser.update(JULY + timedelta(hours=2))
    assert len(stuck) == 4 and {r.value for r in stuck} == {base.value}
    assert len({r.result_time for r in stuck}) == 4
    analyser.stuck = False
    analyser.overrides[NH3N] = 25.0  # beyond the 20 mg/L range of the profile
    analyser.range_max = 20.0
    over = analyser.update(JULY + timedelta(hours=3))
    assert over and all(r.value == 25.0 and r.flag == Flag.OVER_RANGE for r in over)
    assert Flag.OVER_RANGE in analyser.read(JULY + timedelta(hours=3)).alarms


def test_no_sample_water_stops_results_and_reports_no_water() -> None:
    water = RiverWater("hexicun")
    controller = StationController("controller", water=water)
    analyser = NutrientAnalyser(
        "nh3n", supply=controller, param=NH3N, water=water, schedule=Schedule.every(30)
    )
    analyser.update(JULY)
    water.present = False
    assert analyser.update(JULY + timedelta(hours=2)) == []
    assert analyser.read(JULY + timedelta(hours=2)).state == DeviceState.NO_WATER
    values = controller.read(JULY + timedelta(hours=2)).values
    assert values["pump_running"] == 0.0 and values["sample_flow"] == 0.0
    assert values["sampling_state"] == SAMPLING_NO_WATER and values["water_present"] == 0.0


def test_controller_ups_drains_then_station_goes_dark_and_recharges() -> None:
    controller = StationController("controller", water=RiverWater("hexicun"), drain_pct_per_h=25.0)
    controller.read(JULY)
    controller.mains = False
    half = controller.read(JULY + timedelta(hours=2)).values
    assert half["on_battery"] == 1.0 and half["mains_power"] == 0.0 and half["battery_pct"] == 50.0
    assert controller.powered()
    controller.update(JULY + timedelta(hours=5))
    assert controller.battery_pct == 0.0 and not controller.powered()
    assert controller.effective_state() == DeviceState.STOPPED
    controller.mains = True
    controller.update(JULY + timedelta(hours=6))
    assert controller.powered() and controller.battery_pct == pytest.approx(20.0)


def test_enclosure_cools_without_mains_in_winter() -> None:
    controller = StationController("controller", water=RiverWater("hexicun"))
    assert controller.read(JANUARY).values["enclosure_temp"] == pytest.approx(20.0, abs=0.5)
    controller.mains = False
    controller.battery_pct = 100.0
    for h in range(1, 7):
        controller.update(JANUARY + timedelta(hours=h))
    assert controller.enclosure_c is not None and controller.enclosure_c < 5.0


def test_probe_states() -> None:
    water = RiverWater("hexicun")
    controller = StationController("controller", water=water)
    probe = ProbeModel("probe", supply=controller, water=water)
    normal = probe.read(JULY).values
    probe.set_state("fault")
    assert probe.read(JULY).values["w01003"] is None  # the failed turbidity sensor sends its sentinel
    probe.set_state("normal")
    water.present = False
    dry = probe.read(JULY)
    assert dry.state == DeviceState.NO_WATER and dry.values["w01014"] < 10 < normal["w01014"]  # type: ignore[operator]
    water.present = True
    probe.stuck = True
    frozen = probe.read(JULY + timedelta(minutes=1)).values
    assert probe.read(JULY + timedelta(hours=3)).values == frozen
    probe.stuck = False
    probe.offsets[DO] = -2.0
    assert probe.read(JULY).values[DO] == pytest.approx(normal[DO] - 2.0)  # type: ignore[operator]
