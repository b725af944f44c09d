from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from protocols.flags import Flag
from protocols.modbus import ExceptionCode, ModbusExceptionError
from protocols.profiles import FieldMap, Profile, builtin_names, load_profile
from protocols.registers import decode
from simulators.analysers.base import DeviceState, Reading
from simulators.clock import ManualClock
from simulators.fleet import DEVICE_LAYOUT, DeviceSlot, Station, build_station
from simulators.register_image import SimulatedDevice, register_image, status_value

T0 = datetime(2026, 7, 15, 3, 17, tzinfo=UTC)


def decode_field(image: dict[int, int], field: FieldMap) -> float | None:
    """What an agent would read (the inverse the simulator must honour)."""
    raw = decode([image[field.address + i] for i in range(field.width)], field.type, field.order)
    if field.missing is not None and raw == field.missing:
        return None
    return raw * field.scale + field.offset


def tolerance(field: FieldMap) -> float:
    return abs(field.scale) / 2 + 1e-9 if field.type.startswith(("int", "uint")) else 0.0


@pytest.fixture
def station() -> tuple[ManualClock, Station]:
    clock = ManualClock(T0)
    return clock, build_station("huayuanzi", clock, seed=3)


def test_every_profile_is_served_by_the_fleet() -> None:
    assert sorted(slot.profile for slot in DEVICE_LAYOUT) == builtin_names()


@pytest.mark.parametrize("slot", DEVICE_LAYOUT, ids=[s.name for s in DEVICE_LAYOUT])
def test_round_trip_decodes_to_the_model_values(
    slot: DeviceSlot, station: tuple[ManualClock, Station]
) -> None:
    _, st = station
    device: SimulatedDevice = st.device(slot.name)
    reading = device.refresh()
    image = register_image(device.profile, reading)
    words = device.get_registers(device.profile.table, 0, max(image) + 1)
    assert {a: words[a] for a in image} == image  # the bank carries the image
    for field in device.profile.fields:
        key = field.param or field.signal or ""
        expected = reading.values[key]
        got = decode_field(image, field)
        assert expected is not None and got is not None
        if field.type == "float32":
            assert got == pytest.approx(expected, rel=1e-6)
        elif field.type == "float64":
            assert got == expected
        else:
            assert abs(got - expected) <= tolerance(field), key
    if device.profile.result_time is not None:
        rt = device.profile.result_time
        seconds = decode([image[rt.address], image[rt.address + 1]], rt.type, rt.order)
        assert reading.result_time is not None and seconds == int(reading.result_time.timestamp())
    if device.profile.status is not None:
        assert (
            device.profile.status.values.get(image[device.profile.status.address], Flag.NORMAL) == Flag.NORMAL
        )


@pytest.mark.parametrize("name", [n for n in builtin_names() if load_profile(n).status is not None])
@pytest.mark.parametrize("state", list(DeviceState))
def test_states_map_to_the_profiles_status_flags(name: str, state: DeviceState) -> None:
    profile = load_profile(name)
    assert profile.status is not None
    value = status_value(profile, profile.status, state, measuring=False)
    expected = {
        DeviceState.NORMAL: Flag.NORMAL,
        DeviceState.CALIBRATION: Flag.CALIBRATION,
        DeviceState.MAINTENANCE: Flag.MAINTENANCE,
        DeviceState.FAULT: Flag.FAULT,
        DeviceState.STOPPED: Flag.STOPPED,
        DeviceState.NO_WATER: Flag.STOPPED,
    }[state]
    assert profile.status.values.get(value, Flag.NORMAL) == expected


def test_nutrient_status_codes_follow_the_vendor_layout() -> None:
    profile = load_profile("nutrient_nh3n")
    assert profile.status is not None
    codes = {s: status_value(profile, profile.status, s) for s in DeviceState}
    assert codes[DeviceState.NO_WATER] == 6 and codes[DeviceState.STOPPED] == 5
    assert status_value(profile, profile.status, DeviceState.NORMAL, measuring=True) == 1


def test_missing_result_writes_the_sentinel_and_zero_result_time() -> None:
    for name, sentinel_words in (("nutrient_tp", None), ("cod_analyser", [0xFFFF, 0xFFFF])):
        profile = load_profile(name)
        param = profile.fields[0].param
        assert param is not None
        image = register_image(profile, Reading(values={param: None}, state=DeviceState.NORMAL))
        assert decode_field(image, profile.fields[0]) is None
        if sentinel_words:
            assert [image[0], image[1]] == sentinel_words
        assert profile.result_time is not None
        assert image[profile.result_time.address] == image[profile.result_time.address + 1] == 0


def test_alarm_bits_and_fault_status_in_registers() -> None:
    profile = load_profile("nutrient_codmn")
    reading = Reading(
        values={"w01019": 25.0},
        state=DeviceState.FAULT,
        result_time=T0,
        alarms=frozenset({Flag.FAULT, Flag.OVER_RANGE}),
    )
    image = register_image(profile, reading)
    assert image[5] == 0b11 and image[4] == 4


def test_cod_scaled_integer_encoding() -> None:
    profile = load_profile("cod_analyser")
    image = register_image(
        profile, Reading(values={"w01018": 17.236}, state=DeviceState.NORMAL, result_time=T0)
    )
    assert decode([image[0], image[1]], "int32", "ABCD") == 1724


def test_probe_nan_when_a_field_has_no_sentinel() -> None:
    profile: Profile = load_profile("multiparam_probe")
    values: dict[str, float | None] = {f.param: 1.0 for f in profile.fields if f.param}
    values["w01010"] = None
    image = register_image(profile, Reading(values=values, state=DeviceState.NORMAL))
    assert math.isnan(decode([image[0], image[1]], "float32"))


def test_device_refreshes_on_each_read_and_refuses_outside_its_map(
    station: tuple[ManualClock, Station],
) -> None:
    clock, st = station
    probe: SimulatedDevice = st.device("probe")
    first = probe.read("holding", 0, 2)
    clock.advance(hours=6)
    assert probe.read("holding", 0, 2) != first
    assert len(probe.read("holding", 0, 21)) == 21  # block read across the gap to the status register
    with pytest.raises(ModbusExceptionError) as exc:
        probe.read("holding", 20, 2)
    assert exc.value.code == ExceptionCode.ILLEGAL_DATA_ADDRESS
    with pytest.raises(ModbusExceptionError):
        probe.read("input", 0, 2)
    with pytest.raises(ModbusExceptionError):
        probe.write(0, [1])
    cod: SimulatedDevice = st.device("cod")
    assert len(cod.read("input", 0, 6)) == 6


def test_fault_plan_and_power(station: tuple[ManualClock, Station]) -> None:
    clock, st = station
    device: SimulatedDevice = st.device("tp")
    device.set_fault("late:2.5")
    assert device.faults.mode == "late" and device.faults.delay_s == 2.5
    st.tick(clock.now())
    st.controller.mains = False
    st.controller.battery_pct = 1.0
    clock.advance(hours=1)
    st.tick(clock.now())
    assert all(d.faults.mode == "no_answer" for d in st.devices.values())
    st.controller.mains = True
    clock.advance(minutes=1)
    st.tick(clock.now())
    assert device.faults.mode == "late" and st.device("probe").faults.mode == "none"
    before = str(device.faults)
    with pytest.raises(Exception, match="fault spec"):
        device.set_fault("sometimes")
    assert str(device.faults) == before


def test_result_time_advances_in_registers_with_a_short_cycle() -> None:
    clock = ManualClock(T0)
    from simulators.analysers.nutrient import Schedule

    st = build_station("hexicun", clock, schedule=Schedule.every(2))
    nh3n: SimulatedDevice = st.device("nh3n")
    rt = nh3n.profile.result_time
    assert rt is not None
    seen = set()
    for _ in range(10):
        words = nh3n.read("holding", 0, 6)
        seen.add(decode(words[rt.address : rt.address + 2], rt.type, rt.order))
        clock.advance(minutes=1)
    assert len(seen) == 5
    assert max(seen) - min(seen) == 4 * 120
    assert max(seen) <= (clock.now() - timedelta(minutes=1)).timestamp()
