"""The Modbus RTU slave on a socat virtual serial line, against mbpoll, pymodbus and raw bytes."""

from __future__ import annotations

import asyncio
import os
import select
import statistics
import time
import tty
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusIOException

from protocols.modbus import (
    build_read_request,
    build_write_single_request,
    encode_rtu,
    rtu_transaction_time_s,
)
from protocols.registers import encode
from simulators.modbus import RegisterBank, start_rtu_server
from simulators.modbus.rtu_server import ModbusRtuServer
from tests.simulators.modbus.conftest import MbpollRunner, parse_mbpoll

FLOATS = [4.5, 0.125, -12.0, 8.25, 350.75]


def make_devices() -> dict[int, RegisterBank]:
    one = RegisterBank(1, holding=[range(0, 20)], input=[range(0, 10)])
    one.set_registers("holding", 0, [w for x in FLOATS for w in encode(x, "float32")])
    one.set_registers("input", 0, [21, 22])
    two = RegisterBank(2, holding=[range(0, 10)])
    two.set_registers("holding", 0, [300, 301])
    return {1: one, 2: two}


def serve(
    line: tuple[str, str],
    body: Callable[[ModbusRtuServer, dict[int, RegisterBank]], Awaitable[None]],
    **kwargs: Any,
) -> ModbusRtuServer:
    async def main() -> ModbusRtuServer:
        devices = make_devices()
        server = await start_rtu_server(devices, line[0], **kwargs)
        try:
            await body(server, devices)
        finally:
            await server.close()
        return server

    return asyncio.run(asyncio.wait_for(main(), 40))


def serial_client(path: str, timeout: float = 0.5) -> ModbusSerialClient:
    client = ModbusSerialClient(path, baudrate=9600, parity="N", timeout=timeout, retries=0)
    assert client.connect()
    return client


def test_mbpoll_and_pymodbus_read_floats(socat_pty: tuple[str, str], mbpoll: MbpollRunner) -> None:
    async def body(server: ModbusRtuServer, devices: dict[int, RegisterBank]) -> None:
        rc, out = await asyncio.to_thread(
            mbpoll, f"-m rtu -a 1 -b 9600 -P none -r 1 -c 5 -t 4:float -B -1 {socat_pty[1]}"
        )
        assert rc == 0, out
        assert parse_mbpoll(out) == {1: 4.5, 3: 0.125, 5: -12.0, 7: 8.25, 9: 350.75}

        def with_pymodbus() -> None:
            client = serial_client(socat_pty[1])
            try:
                rr = client.read_holding_registers(0, count=10, device_id=1)
                assert rr.registers == devices[1].get_registers("holding", 0, 10)
                assert client.read_input_registers(0, count=2, device_id=1).registers == [21, 22]
                assert client.read_holding_registers(0, count=2, device_id=2).registers == [300, 301]
                assert not client.write_registers(10, [1, 2, 3], device_id=1).isError()
                assert not client.write_register(5, 77, device_id=2).isError()
                bad = client.read_input_registers(9, count=2, device_id=1)
                assert bad.isError() and bad.exception_code == 2
            finally:
                client.close()

        await asyncio.to_thread(with_pymodbus)
        assert devices[1].get_registers("holding", 10, 3) == [1, 2, 3]
        assert devices[2].get_registers("holding", 5, 1) == [77]

    server = serve(socat_pty, body)
    assert server.stats.requests == 7 and server.stats.responses == 7
    assert server.stats.errors["crc"] == 0


def test_faults_on_a_shared_line(socat_pty: tuple[str, str]) -> None:
    async def body(server: ModbusRtuServer, devices: dict[int, RegisterBank]) -> None:
        def client_side() -> None:
            client = serial_client(socat_pty[1], timeout=0.4)
            try:
                devices[1].faults.set("exception:4")
                rr = client.read_holding_registers(0, count=2, device_id=1)
                assert rr.isError() and rr.exception_code == 4
                # unit 2 is silent; unit 1 on the same line, same open port, still answers
                devices[1].faults.clear()
                devices[2].faults.set("no_answer")
                t0 = time.perf_counter()
                with pytest.raises(ModbusIOException):
                    client.read_holding_registers(0, count=2, device_id=2)
                assert time.perf_counter() - t0 >= 0.35
                assert client.read_input_registers(0, count=2, device_id=1).registers == [21, 22]
                devices[1].faults.set("crc_error")
                with pytest.raises(ModbusIOException):
                    client.read_input_registers(0, count=2, device_id=1)
                devices[1].faults.set("garbage")
                with pytest.raises(ModbusIOException):
                    client.read_input_registers(0, count=2, device_id=1)
                devices[1].faults.set("late:0.25")
                t0 = time.perf_counter()
                assert client.read_input_registers(0, count=2, device_id=1).registers == [21, 22]
                assert time.perf_counter() - t0 >= 0.24
                devices[1].faults.clear()
                time.sleep(0.1)  # let any leftover bytes of the mangled answers drain
                assert client.read_input_registers(0, count=2, device_id=1).registers == [21, 22]
            finally:
                client.close()

        await asyncio.to_thread(client_side)

    server = serve(socat_pty, body)
    assert server.stats.faults == {"exception": 1, "no_answer": 1, "crc_error": 1, "garbage": 1, "late": 1}


def test_mbpoll_reports_crc_error_and_exception(socat_pty: tuple[str, str], mbpoll: MbpollRunner) -> None:
    args = f"-m rtu -a 1 -b 9600 -P none -r 1 -c 2 -t 4 -o 0.5 -1 {socat_pty[1]}"

    async def body(server: ModbusRtuServer, devices: dict[int, RegisterBank]) -> None:
        devices[1].faults.set("crc_error")
        _, out = await asyncio.to_thread(mbpoll, args)
        assert "Invalid CRC" in out, out
        assert parse_mbpoll(out) == {}
        devices[1].faults.set("exception:6")
        _, out = await asyncio.to_thread(mbpoll, args)
        assert "busy" in out.lower(), out

    serve(socat_pty, body)


class RawLine:
    """The master end of the line driven byte by byte."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def receive(self, expect: int, timeout: float = 0.5) -> bytes:
        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < expect:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                break
            got += os.read(self.fd, 256)
        return got

    def close(self) -> None:
        os.close(self.fd)


def test_noise_partial_frames_other_units_and_broadcast(socat_pty: tuple[str, str]) -> None:
    read1 = encode_rtu(1, build_read_request(4, 0, 2))
    answer1 = encode_rtu(1, bytes.fromhex("04 04 00 15 00 16"))

    async def body(server: ModbusRtuServer, devices: dict[int, RegisterBank]) -> None:
        def master() -> None:
            line = RawLine(socat_pty[1])
            try:
                line.send(b"\xff\x63\x00" + read1)  # line noise before a request
                assert line.receive(len(answer1)) == answer1
                bad = bytearray(read1)
                bad[-1] ^= 0x55
                line.send(bytes(bad))  # corrupted request: silently dropped
                assert line.receive(1, timeout=0.2) == b""
                line.send(read1[:4])  # half a frame, then silence longer than the frame gap
                time.sleep(0.2)
                line.send(read1)
                assert line.receive(len(answer1)) == answer1
                line.send(encode_rtu(9, build_read_request(3, 0, 1)))  # another unit's request
                assert line.receive(1, timeout=0.2) == b""
                line.send(encode_rtu(0, build_write_single_request(3, 4242)))  # broadcast
                assert line.receive(1, timeout=0.2) == b""
            finally:
                line.close()

        await asyncio.to_thread(master)
        assert devices[1].get_registers("holding", 3, 1) == [4242]
        assert devices[2].get_registers("holding", 3, 1) == [4242]

    server = serve(socat_pty, body)
    errors = server.stats.errors
    assert errors["crc"] == 2 and errors["dropped_bytes"] == 3 + len(read1)
    assert errors["incomplete"] == 1 and errors["unknown_unit"] == 1
    assert server.stats.responses == 2


def test_wire_time_emulation(socat_pty: tuple[str, str]) -> None:
    wire = rtu_transaction_time_s(8, 25, 9600)  # 10-register read, 8N1: 36.5 characters ≈ 38 ms

    def timed_reads(path: str) -> list[float]:
        client = serial_client(path, timeout=1)
        try:
            times = []
            for _ in range(6):
                t0 = time.perf_counter()
                assert len(client.read_holding_registers(0, count=10, device_id=1).registers) == 10
                times.append(time.perf_counter() - t0)
            return times
        finally:
            client.close()

    emulated: list[float] = []

    async def body(server: ModbusRtuServer, devices: dict[int, RegisterBank]) -> None:
        assert server.wire_time_s(8, 25) == pytest.approx(wire)
        emulated.extend(await asyncio.to_thread(timed_reads, socat_pty[1]))

    serve(socat_pty, body, baudrate=9600, emulate_wire_time=True)
    assert min(emulated) >= 0.9 * wire, emulated

    plain: list[float] = []

    async def body_plain(server: ModbusRtuServer, devices: dict[int, RegisterBank]) -> None:
        plain.extend(await asyncio.to_thread(timed_reads, socat_pty[1]))

    serve(socat_pty, body_plain, baudrate=9600)
    # without emulation a pty answers far faster than the wire would (the median resists load spikes)
    assert statistics.median(plain) < 0.9 * wire, plain


def test_even_parity_costs_11_bits_per_character(socat_pty: tuple[str, str]) -> None:
    async def body(server: ModbusRtuServer, devices: dict[int, RegisterBank]) -> None:
        assert server.char_time_s == pytest.approx(11 / 9600)
        assert server.wire_time_s(8, 25) == pytest.approx(36.5 * 11 / 9600)
        assert server.frame_gap_s == pytest.approx(3.5 * 11 / 9600)

    serve(socat_pty, body, parity="E", emulate_wire_time=True)
