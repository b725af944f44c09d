from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from protocols.errors import ConfigError
from protocols.flags import Flag
from simulators.analysers.base import DeviceState
from simulators.analysers.environment import NH3N, TEMP, TURB
from simulators.analysers.nutrient import Schedule
from simulators.clock import ManualClock
from simulators.fleet import Fleet, build_fleet
from simulators.journal import Journal
from simulators.scenarios import ScenarioRunner, builtin_scenarios, load_scenario, parse_scenario

T0 = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)
EXPECTED = {"winter_icing", "summer_flood", "pollution_plume", "routine_maintenance", "analyser_fault"}


def run(
    name: str,
    stations: list[str],
    *,
    schedule: Schedule | None = None,
    start: datetime = T0,
    journal: Journal | None = None,
) -> tuple[ManualClock, Fleet, ScenarioRunner]:
    clock = ManualClock(start)
    fleet = build_fleet(clock, stations, schedule=schedule or Schedule.every(10), journal=journal)
    fleet.tick()
    return clock, fleet, ScenarioRunner(load_scenario(name), fleet.stations, clock.now())


def advance_to(
    clock: ManualClock, fleet: Fleet, runner: ScenarioRunner, minute: float, step_min: float = 5
) -> None:
    target = runner.begin + timedelta(minutes=minute)
    while clock.now() < target:
        clock.set(min(target, clock.now() + timedelta(minutes=step_min)))
        runner.tick(clock.now())
        fleet.tick(clock.now())


# --- loader ---------------------------------------------------------------------------------------------------


def test_builtin_scenarios_all_load() -> None:
    assert EXPECTED <= set(builtin_scenarios())
    for name in builtin_scenarios():
        scenario = load_scenario(name)
        assert scenario.name == name and scenario.steps


def test_scenario_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\nstations = ["hexicun"]\n[[steps]]\nat_min = 5\naction = "door"\nopen = true\n'
    )
    assert load_scenario(str(path)).steps[0].action == "door"


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        (
            'name = "x"\n[[steps]]\nat_min = 1\naction = "fault"\ndevice = "tp"\nplan = "late:soon"\n',
            "steps[0].plan",
            "not a number",
        ),
        (
            'name = "x"\n[[steps]]\nat_min = 1\naction = "state"\ndevice = "pH-meter"\nstate = "fault"\n',
            "steps[0].device",
            "unknown device",
        ),
        (
            'name = "x"\n[[steps]]\nat_min = 1\naction = "state"\ndevice = "tp"\nstate = "broken"\n',
            "steps[0].state",
            "must be one of",
        ),
        (
            'name = "x"\n[[steps]]\nat_min = 1\nstation = "paris"\naction = "door"\nopen = true\n',
            "steps[0].station",
            "unknown station",
        ),
        (
            'name = "x"\n[[steps]]\nat_min = 1\naction = "water"\nparam = "w21003"\noffset = 1\nfactor = 2\n',
            "steps[0]",
            "exactly one",
        ),
        (
            'name = "x"\n[[steps]]\nat_min = 1\naction = "water"\nparam = "w99999"\noffset = 1\n',
            "steps[0].param",
            "not a river parameter",
        ),
        ('name = "x"\n[[steps]]\nat_min = -1\naction = "door"\nopen = true\n', "steps[0].at_min", "at least"),
        ('name = "x"\n[[steps]]\nat_min = 1\naction = "explode"\n', "steps[0]", "does not match"),
        (
            'name = "x"\n[[steps]]\nat_min = 1\naction = "door"\nopen = true\ncolour = "red"\n',
            "steps[0].colour",
            "is not a known setting",
        ),
        (
            'name = "x"\n[[steps]]\nat_min = 1\naction = "plume"\nriver = "hutuo"\noffsets = {w21003 = 1}\n'
            "travel_min = [60]\n",
            "steps[0]",
            "travel_min lists 1",
        ),
        ('name = "x"\nstations = ["hexicun", "atlantis"]\n', "stations", "unknown station"),
        ('name = "x"\n[[network_drops]]\nat_min = 3\n', "network_drops[0].duration_min", "is required"),
    ],
)
def test_bad_scenarios_name_the_field(text: str, where: str, why: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_scenario(text, source="bad.toml")
    message = str(exc.value)
    assert "bad.toml" in message and f"{where}:" in message and why in message


def test_not_toml_and_unknown_name() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_scenario("name = ", source="broken.toml")
    with pytest.raises(ConfigError, match="unknown scenario 'tsunami'"):
        load_scenario("tsunami")


# --- effects --------------------------------------------------------------------------------------------------


def test_winter_icing_freezes_the_intake_and_stops_the_pump() -> None:
    clock, fleet, runner = run("winter_icing", ["hexicun"])
    st = fleet.stations["hexicun"]
    advance_to(clock, fleet, runner, 130)
    assert st.water.value(TEMP, clock.now()) == pytest.approx(0.1)
    assert st.models["nh3n"].effective_state() == DeviceState.NORMAL
    advance_to(clock, fleet, runner, 160)
    controller = st.controller.read(clock.now()).values
    assert controller["pump_running"] == 0.0 and controller["water_present"] == 0.0
    for name in ("probe", "nh3n", "codmn", "tp", "tn", "cod"):
        assert st.models[name].read(clock.now()).state == DeviceState.NO_WATER
    assert st.device("nh3n").read("holding", 4, 1) == [6]  # status 6: no sample water
    advance_to(clock, fleet, runner, 230)
    values = st.controller.read(clock.now()).values
    assert values["mains_power"] == 0.0 and values["on_battery"] == 1.0
    advance_to(clock, fleet, runner, 580)
    assert st.controller.pump_running() and st.models["nh3n"].effective_state() == DeviceState.NORMAL
    drops = runner.network_drops()
    assert drops == [
        {"station": s, "start": T0 + timedelta(minutes=180), "end": T0 + timedelta(minutes=300)}
        for s in ("chuanhutun", "hexicun", "cigouyingqiao")
    ]


def test_summer_flood_spikes_turbidity_then_the_station_goes_dark_and_comes_back() -> None:
    july = datetime(2026, 7, 20, 0, 0, tzinfo=UTC)
    clock, fleet, runner = run("summer_flood", ["jiehepucun"], start=july)
    st = fleet.stations["jiehepucun"]
    before = st.water.value(TURB, july)
    advance_to(clock, fleet, runner, 120)
    assert st.water.value(TURB, clock.now()) > 10 * before
    assert st.controller.read(clock.now()).values["on_battery"] == 1.0
    advance_to(clock, fleet, runner, 250)
    assert 0 < st.controller.battery_pct < 30
    assert all(d.faults.mode == "none" for d in st.devices.values())
    advance_to(clock, fleet, runner, 300)
    assert st.controller.battery_pct == 0.0
    assert all(d.faults.mode == "no_answer" for d in st.devices.values())
    advance_to(clock, fleet, runner, 460)
    assert all(d.faults.mode == "none" for d in st.devices.values())
    assert st.controller.read(clock.now()).values["mains_power"] == 1.0


def test_pollution_plume_reaches_hutuo_stations_in_order_and_diluted() -> None:
    hutuo = ["bifengcun", "boshuicun", "jiehepucun"]
    journal = Journal()
    clock, fleet, runner = run(
        "pollution_plume", [*hutuo, "hexicun"], schedule=Schedule.every(30), journal=journal
    )
    baseline = {s: fleet.stations[s].water.natural(NH3N, T0) for s in hutuo}
    arrival: dict[str, datetime] = {}
    peak: dict[str, float] = {}
    for minute in range(0, 1500, 10):
        advance_to(clock, fleet, runner, minute, step_min=10)
        for s in hutuo:
            excess = fleet.stations[s].water.value(NH3N, clock.now()) - fleet.stations[s].water.natural(
                NH3N, clock.now()
            )
            peak[s] = max(peak.get(s, 0.0), excess)
            if excess > 0.01 and s not in arrival:  # onset
                arrival[s] = clock.now()
    assert list(sorted(arrival, key=arrival.__getitem__)) == hutuo
    assert arrival["boshuicun"] - arrival["bifengcun"] == timedelta(minutes=180)
    assert arrival["jiehepucun"] - arrival["boshuicun"] == timedelta(minutes=240)
    assert peak["bifengcun"] == pytest.approx(3.0) and peak["boshuicun"] == pytest.approx(2.1)
    assert peak["jiehepucun"] == pytest.approx(1.47)
    # The analysers saw it, in the same order, each well above its own level.
    first_high: dict[str, str] = {}
    for record in journal.records:
        station = record["station"]
        if record["param"] == NH3N and station in hutuo and record["value"] > baseline[station] + 0.7:
            first_high.setdefault(station, record["result_time"])
    assert sorted(first_high, key=first_high.__getitem__) == hutuo
    assert fleet.stations["hexicun"].water.adjustments == {}  # not on the Hutuo


def test_routine_calibration_gives_c_results_then_normal_again() -> None:
    journal = Journal()
    clock, fleet, runner = run("routine_maintenance", ["leijiaping"], journal=journal)
    st = fleet.stations["leijiaping"]
    advance_to(clock, fleet, runner, 215)
    assert st.models["probe"].state == DeviceState.MAINTENANCE and st.controller.door_open
    assert st.device("probe").read("holding", 20, 1) == [2]
    advance_to(clock, fleet, runner, 250)
    assert st.models["probe"].state == DeviceState.NORMAL and not st.controller.door_open
    nh3n = [r for r in journal.records if r["device"] == "nh3n"]

    def flag_at(minute: int) -> str:
        stamp = (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return next(r["flag"] for r in nh3n if r["result_time"] == stamp)

    assert flag_at(20) == Flag.NORMAL and flag_at(40) == Flag.CALIBRATION and flag_at(80) == Flag.CALIBRATION
    assert flag_at(100) == Flag.NORMAL


def test_analyser_fault_scenario() -> None:
    journal = Journal()
    clock, fleet, runner = run("analyser_fault", ["hexicun"], journal=journal)
    st = fleet.stations["hexicun"]
    advance_to(clock, fleet, runner, 100)
    assert st.device("tp").read("holding", 4, 2) == [4, 1]  # status fault, alarm bit 0
    assert str(st.device("codmn").faults) == "exception:4"
    assert str(st.device("probe").faults) == "late:2.5"
    values = {
        r["value"] for r in journal.records if r["device"] == "nh3n" and r["result_time"] > "2026-01-10T02"
    }
    assert len(values) == 1  # stuck: the same value every cycle
    tp_results = [r for r in journal.records if r["device"] == "tp" and r["result_time"] > "2026-01-10T02:30"]
    assert tp_results == []
    advance_to(clock, fleet, runner, 400)
    assert str(st.device("codmn").faults) == "none" and st.models["tp"].state == DeviceState.NORMAL


def test_clear_step_and_stations_outside_the_fleet_are_skipped() -> None:
    scenario = parse_scenario(
        'name = "x"\nstations = ["hexicun", "boshuicun"]\n'
        '[[steps]]\nat_min = 0\naction = "state"\ndevice = "all"\nstate = "maintenance"\n'
        '[[steps]]\nat_min = 0\naction = "override"\ndevice = "tn"\nparam = "w21001"\nvalue = 9.5\n'
        '[[steps]]\nat_min = 0\naction = "water"\nparam = "w21011"\nfactor = 3\n'
        '[[steps]]\nat_min = 10\naction = "clear"\n'
    )
    clock = ManualClock(T0)
    fleet = build_fleet(clock, ["hexicun"])
    runner = ScenarioRunner(scenario, fleet.stations, T0)
    runner.tick(T0)
    st = fleet.stations["hexicun"]
    assert st.models["tn"].overrides == {"w21001": 9.5} and st.controller.state == DeviceState.MAINTENANCE
    assert st.water.adjustments
    runner.tick(T0 + timedelta(minutes=10))
    assert st.models["tn"].overrides == {} and st.water.adjustments == {}
    assert all(m.state == DeviceState.NORMAL for m in st.models.values())
    assert runner.pending == 0 and {s for _, s, _ in runner.applied} == {"hexicun"}
