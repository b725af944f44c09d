"""Fault plans, the register bank, and transport-neutral request handling."""

from __future__ import annotations

import pytest

from protocols.errors import ConfigError
from protocols.modbus import (
    ModbusExceptionError,
    build_read_request,
    build_write_multiple_request,
    build_write_single_request,
)
from protocols.registers import decode, encode
from simulators.modbus.device import (
    RegisterBank,
    RegisterDevice,
    ServerStats,
    Table,
    handle_broadcast,
    handle_pdu,
)
from simulators.modbus.faults import FaultPlan

# ---------------------------------------------------------------- FaultPlan


@pytest.mark.parametrize(
    ("spec", "mode", "delay", "code", "probability"),
    [
        ("none", "none", 1.0, 4, 1.0),
        ("no_answer", "no_answer", 1.0, 4, 1.0),
        ("late:2.5", "late", 2.5, 4, 1.0),
        ("exception:6", "exception", 1.0, 6, 1.0),
        ("exception", "exception", 1.0, 4, 1.0),
        (" CRC_ERROR ", "crc_error", 1.0, 4, 1.0),
        ("garbage@0.25", "garbage", 1.0, 4, 0.25),
    ],
)
def test_fault_specs_parse(spec: str, mode: str, delay: float, code: int, probability: float) -> None:
    plan = FaultPlan.parse(spec)
    assert (plan.mode, plan.delay_s, plan.exception_code, plan.probability) == (
        mode,
        delay,
        code,
        probability,
    )


@pytest.mark.parametrize(
    "spec",
    [
        "late",
        "late:soon",
        "exception:x",
        "exception:300",
        "slow",
        "garbage:3",
        "no_answer@1.5",
        "late:-1",
        "crc_error@p",
    ],
)
def test_bad_fault_specs_are_refused_and_leave_the_plan_alone(spec: str) -> None:
    plan = FaultPlan.parse("late:3")
    with pytest.raises(ConfigError) as info:
        plan.set(spec)
    assert info.value.reason == "fault"
    assert str(plan) == "late:3"


def test_fault_plan_str_round_trips() -> None:
    for spec in ("none", "late:2.5", "exception:6", "no_answer@0.3"):
        assert str(FaultPlan.parse(spec)) == spec


def test_probability_is_reproducible_with_a_seed() -> None:
    a, b = FaultPlan.parse("no_answer@0.3", seed=7), FaultPlan.parse("no_answer@0.3", seed=7)
    seq_a = [a.draw() for _ in range(200)]
    assert seq_a == [b.draw() for _ in range(200)]
    fired = seq_a.count("no_answer")
    assert 30 < fired < 90  # about 60 of 200
    assert set(seq_a) == {"none", "no_answer"}
    assert all(FaultPlan.parse("garbage@0").draw() == "none" for _ in range(50))


def test_garbage_never_equals_the_real_answer() -> None:
    plan = FaultPlan(seed=1)
    real = b"\x01\x03\x02\x00\x01"
    for _ in range(20):
        junk = plan.garbage(len(real), avoid=real)
        assert len(junk) == len(real) and junk != real


# ---------------------------------------------------------------- RegisterBank


def make_bank() -> RegisterBank:
    bank = RegisterBank(
        1, holding=[range(0, 10), range(100, 104)], input=[range(0, 4)], writable=[range(100, 104)]
    )
    bank.set_registers("holding", 0, encode(7.25, "float32"))
    bank.set_registers("input", 0, [1, 2, 3, 4])
    return bank


def test_bank_is_a_register_device_and_reads_its_ranges() -> None:
    bank = make_bank()
    assert isinstance(bank, RegisterDevice)
    assert decode(bank.read("holding", 0, 2), "float32") == 7.25
    assert bank.read("holding", 2, 8) == [0] * 8  # never set: 0
    assert bank.read("input", 1, 3) == [2, 3, 4]


@pytest.mark.parametrize(
    ("table", "address", "count"),
    [("holding", 8, 3), ("holding", 10, 1), ("holding", 99, 2), ("input", 3, 2)],
)
def test_bank_refuses_reads_outside_its_ranges(table: str, address: int, count: int) -> None:
    with pytest.raises(ModbusExceptionError) as info:
        make_bank().read(table, address, count)  # type: ignore[arg-type]
    assert info.value.code == 2


def test_bank_writes_only_where_writable() -> None:
    bank = make_bank()
    bank.write(100, [5, 6, 7, 8])
    assert bank.read("holding", 100, 4) == [5, 6, 7, 8]
    with pytest.raises(ModbusExceptionError) as info:
        bank.write(0, [1])  # valid to read, not writable
    assert info.value.code == 2
    with pytest.raises(ModbusExceptionError):
        bank.write(103, [1, 2])
    assert bank.read("holding", 0, 2) == encode(7.25, "float32")


def test_set_registers_rejects_bad_input_and_stores_nothing() -> None:
    bank = make_bank()
    with pytest.raises(ValueError):
        bank.set_registers("holding", 9, [1, 2])
    with pytest.raises(ValueError):
        bank.set_registers("input", 0, [1, 0x10000])
    with pytest.raises(ValueError):
        bank.set_registers("coils", 0, [1])  # type: ignore[arg-type]
    assert bank.get_registers("input", 0, 2) == [1, 2]
    bank.add_range("input", range(50, 52))
    bank.set_registers("input", 50, [9, 9])
    assert bank.read("input", 50, 2) == [9, 9]
    with pytest.raises(ValueError):
        RegisterBank(248)


# ---------------------------------------------------------------- handle_pdu


def test_handle_pdu_reads_writes_and_refuses() -> None:
    bank, stats = make_bank(), ServerStats()
    assert handle_pdu(bank, build_read_request(4, 0, 2), stats).pdu == bytes.fromhex("04 04 00 01 00 02")
    assert handle_pdu(bank, build_write_single_request(101, 9), stats).pdu == build_write_single_request(
        101, 9
    )
    assert handle_pdu(bank, build_write_multiple_request(100, [1, 2]), stats).pdu == bytes.fromhex(
        "10 00 64 00 02"
    )
    assert bank.read("holding", 100, 2) == [1, 2]
    assert handle_pdu(bank, build_read_request(3, 50, 1), stats).pdu == bytes.fromhex("83 02")
    assert handle_pdu(bank, bytes.fromhex("05 00 01 FF 00"), stats).pdu == bytes.fromhex("85 01")
    assert handle_pdu(bank, bytes.fromhex("03 00 01"), stats).pdu == bytes.fromhex("83 03")  # short PDU
    assert handle_pdu(bank, b"", stats).pdu is None
    assert stats.requests == 7
    assert stats.errors["malformed"] == 2
    assert stats.exceptions == {2: 1, 1: 1, 3: 1}


def test_handle_pdu_applies_faults() -> None:
    bank, stats = make_bank(), ServerStats()
    write = build_write_single_request(100, 42)
    bank.faults.set("no_answer")
    assert handle_pdu(bank, write, stats).pdu is None
    assert bank.read("holding", 100, 1) == [0]  # a silent device did not act
    bank.faults.set("exception:6")
    assert handle_pdu(bank, write, stats).pdu == bytes.fromhex("86 06")
    bank.faults.set("late:1.5")
    reply = handle_pdu(bank, write, stats)
    assert (reply.pdu, reply.delay_s) == (write, 1.5)
    assert bank.read("holding", 100, 1) == [42]
    bank.faults.set("crc_error")
    assert handle_pdu(bank, build_read_request(4, 0, 1), stats).corrupt == "crc"
    bank.faults.set("garbage")
    assert handle_pdu(bank, build_read_request(4, 0, 1), stats).corrupt == "garbage"
    bank.faults.clear()
    assert handle_pdu(bank, build_read_request(4, 0, 1), stats).corrupt == "none"
    assert stats.faults == {"no_answer": 1, "exception": 1, "late": 1, "crc_error": 1, "garbage": 1}


def test_device_model_returning_wrong_count_is_a_device_failure() -> None:
    class Broken(RegisterBank):
        def read(self, table: Table, address: int, count: int) -> list[int]:
            return [1]  # one register whatever was asked

    assert handle_pdu(Broken(1), build_read_request(3, 0, 2), ServerStats()).pdu == bytes.fromhex("83 04")


def test_broadcast_writes_every_device() -> None:
    a, b, stats = make_bank(), make_bank(), ServerStats()
    b.faults.set("no_answer")
    handle_broadcast({1: a, 2: b}, build_write_single_request(102, 5), stats)
    assert a.read("holding", 102, 1) == [5] and b.read("holding", 102, 1) == [0]
    handle_broadcast({1: a}, build_read_request(3, 0, 1), stats)
    assert stats.errors["malformed"] == 1


def test_typed_values_round_trip_through_the_bank() -> None:
    bank = RegisterBank(1, holding=[range(0, 8)])
    bank.set_value("holding", 0, 6.75, "float32", "CDAB")
    bank.set_value("holding", 2, -2, "int16")
    assert bank.read("holding", 0, 2) == list(reversed(encode(6.75, "float32")))
    assert bank.get_value("holding", 0, "float32", "CDAB") == 6.75
    assert bank.get_value("holding", 2, "int16") == -2


def test_a_crashing_device_model_answers_device_failure() -> None:
    class Crashing(RegisterBank):
        def read(self, table: Table, address: int, count: int) -> list[int]:
            raise KeyError("model bug")

    stats = ServerStats()
    assert handle_pdu(Crashing(1), build_read_request(3, 0, 1), stats).pdu == bytes.fromhex("83 04")
    assert stats.errors["device"] == 1 and stats.exceptions == {4: 1}
