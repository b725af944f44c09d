"""The Modbus TCP slave against real masters: pymodbus 3.16.1 clients, mbpoll, and raw sockets."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient, ModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from protocols.modbus import encode_mbap
from protocols.registers import decode, encode
from simulators.modbus import RegisterBank, start_tcp_server
from simulators.modbus.tcp_server import ModbusTcpServer
from tests.simulators.modbus.conftest import MbpollRunner, parse_mbpoll

FLOATS = [1.5, 22.25, -3.0, 7.125, 1013.5]


def run(coro: Coroutine[Any, Any, None], timeout: float = 30.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout))


def make_devices() -> dict[int, RegisterBank]:
    one = RegisterBank(1, holding=[range(0, 20)], input=[range(0, 10)])
    one.set_registers("holding", 0, [w for x in FLOATS for w in encode(x, "float32")])
    one.set_registers("input", 0, [11, 12, 13])
    two = RegisterBank(2, holding=[range(0, 10)], input=[range(0, 10)])
    two.set_registers("holding", 0, [200, 201])
    return {1: one, 2: two}


async def with_server(
    body: Callable[[ModbusTcpServer, dict[int, RegisterBank]], Awaitable[None]], **kwargs: Any
) -> ModbusTcpServer:
    devices = make_devices()
    server = await start_tcp_server(devices, "127.0.0.1", 0, **kwargs)
    try:
        assert server.port > 0
        await body(server, devices)
    finally:
        await server.close()
    return server


async def client_for(server: ModbusTcpServer, timeout: float = 1.0) -> AsyncModbusTcpClient:
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=timeout, retries=0)
    assert await client.connect()
    return client


def test_async_client_reads_and_writes() -> None:
    async def body(server: ModbusTcpServer, devices: dict[int, RegisterBank]) -> None:
        client = await client_for(server)
        try:
            rr = await client.read_holding_registers(0, count=10, device_id=1)
            assert not rr.isError()
            assert [decode(rr.registers[i : i + 2], "float32") for i in range(0, 10, 2)] == FLOATS
            ri = await client.read_input_registers(0, count=3, device_id=1)
            assert ri.registers == [11, 12, 13]
            rr2 = await client.read_holding_registers(0, count=2, device_id=2)
            assert rr2.registers == [200, 201]
            assert not (await client.write_registers(12, [7, 8, 9], device_id=1)).isError()
            assert not (await client.write_register(19, 0xFFFF, device_id=1)).isError()
            assert devices[1].get_registers("holding", 12, 3) == [7, 8, 9]
            assert devices[1].get_registers("holding", 19, 1) == [0xFFFF]
            bad = await client.read_holding_registers(15, count=10, device_id=1)
            assert bad.isError() and bad.exception_code == 2
        finally:
            client.close()

    server = asyncio.run(with_server(body))
    assert server.stats.requests == 6 and server.stats.responses == 6
    assert server.stats.exceptions == {2: 1}


def test_sync_client_and_mbpoll_read_floats(mbpoll: MbpollRunner) -> None:
    async def body(server: ModbusTcpServer, devices: dict[int, RegisterBank]) -> None:
        def sync_read() -> list[int]:
            client = ModbusTcpClient("127.0.0.1", port=server.port, timeout=1, retries=0)
            assert client.connect()
            try:
                return list(client.read_holding_registers(0, count=10, device_id=1).registers)
            finally:
                client.close()

        assert await asyncio.to_thread(sync_read) == devices[1].get_registers("holding", 0, 10)
        rc, out = await asyncio.to_thread(
            mbpoll, f"-m tcp -a 1 -r 1 -c 5 -t 4:float -B -1 -p {server.port} 127.0.0.1"
        )
        assert rc == 0, out
        assert parse_mbpoll(out) == {1: 1.5, 3: 22.25, 5: -3.0, 7: 7.125, 9: 1013.5}

    asyncio.run(with_server(body))


def test_mbpoll_sees_an_injected_exception(mbpoll: MbpollRunner) -> None:
    async def body(server: ModbusTcpServer, devices: dict[int, RegisterBank]) -> None:
        devices[1].faults.set("exception:4")
        _, out = await asyncio.to_thread(mbpoll, f"-m tcp -a 1 -r 1 -c 2 -t 4 -1 -p {server.port} 127.0.0.1")
        assert "Slave device or server failure" in out, out
        assert parse_mbpoll(out) == {}

    asyncio.run(with_server(body))


def test_faults_seen_by_the_async_client() -> None:
    async def body(server: ModbusTcpServer, devices: dict[int, RegisterBank]) -> None:
        client = await client_for(server, timeout=0.5)
        try:
            devices[1].faults.set("exception:6")
            rr = await client.read_holding_registers(0, count=2, device_id=1)
            assert rr.isError() and rr.exception_code == 6
            devices[1].faults.set("no_answer")
            with pytest.raises(ModbusIOException):
                await client.read_holding_registers(0, count=2, device_id=1)
            assert (await client.read_holding_registers(0, count=2, device_id=2)).registers == [200, 201]
            devices[1].faults.set("late:0.3")
            t0 = time.perf_counter()
            rr = await client.read_input_registers(0, count=1, device_id=1)
            assert rr.registers == [11] and time.perf_counter() - t0 >= 0.28
        finally:
            client.close()
        for mode in ("garbage", "crc_error"):  # TCP has no CRC: both send a mangled frame
            devices[1].faults.set(mode)
            client = await client_for(server, timeout=0.5)
            try:
                with pytest.raises(ModbusIOException):
                    await client.read_holding_registers(0, count=2, device_id=1)
            finally:
                client.close()

    server = asyncio.run(with_server(body))
    assert server.stats.faults == {"exception": 1, "no_answer": 1, "late": 1, "garbage": 1, "crc_error": 1}


def test_unknown_unit_exception_11_or_silence() -> None:
    async def gateway(server: ModbusTcpServer, devices: dict[int, RegisterBank]) -> None:
        client = await client_for(server)
        try:
            rr = await client.read_holding_registers(0, count=1, device_id=9)
            assert rr.isError() and rr.exception_code == 11
        finally:
            client.close()

    server = asyncio.run(with_server(gateway))
    assert server.stats.errors["unknown_unit"] == 1

    async def silent(server: ModbusTcpServer, devices: dict[int, RegisterBank]) -> None:
        client = await client_for(server, timeout=0.3)
        try:
            with pytest.raises(ModbusIOException):
                await client.read_holding_registers(0, count=1, device_id=9)
        finally:
            client.close()

    server = asyncio.run(with_server(silent, unknown_unit="silent"))
    assert server.stats.errors["unknown_unit"] == 1 and server.stats.responses == 0


def test_a_slow_device_does_not_hold_up_other_connections() -> None:
    async def body(server: ModbusTcpServer, devices: dict[int, RegisterBank]) -> None:
        devices[2].faults.set("late:1.0")
        slow, fast = await client_for(server, timeout=3), await client_for(server)
        try:
            t0 = time.perf_counter()
            slow_read = asyncio.ensure_future(slow.read_holding_registers(0, count=2, device_id=2))
            await asyncio.sleep(0.05)  # the slow request is in the server
            for _ in range(5):
                assert (await fast.read_input_registers(0, count=1, device_id=1)).registers == [11]
            fast_done = time.perf_counter() - t0
            assert (await slow_read).registers == [200, 201]
            slow_done = time.perf_counter() - t0
            assert fast_done < 0.7 < 0.95 <= slow_done
        finally:
            slow.close()
            fast.close()

    asyncio.run(with_server(body))


def test_many_concurrent_connections() -> None:
    async def body(server: ModbusTcpServer, devices: dict[int, RegisterBank]) -> None:
        clients = [await client_for(server, timeout=3) for _ in range(20)]
        try:
            results = await asyncio.gather(
                *(c.read_holding_registers(0, count=2, device_id=1 + i % 2) for i, c in enumerate(clients))
            )
            assert server.connections == 20
            expected = {1: devices[1].get_registers("holding", 0, 2), 2: [200, 201]}
            assert [r.registers for r in results] == [expected[1 + i % 2] for i in range(20)]
        finally:
            for c in clients:
                c.close()

    server = asyncio.run(with_server(body))
    assert server.connections_total == 20 and server.stats.responses == 20


def _raw_exchange(port: int, data: bytes, expect: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(data)
        got = b""
        while len(got) < expect:
            chunk = sock.recv(expect - len(got))
            if not chunk:
                break
            got += chunk
        return got


def test_raw_malformed_frames() -> None:
    async def body(server: ModbusTcpServer, devices: dict[int, RegisterBank]) -> None:
        # a PDU too short for its function: framing is intact, so exception 3 comes back
        answer = await asyncio.to_thread(
            _raw_exchange, server.port, encode_mbap(7, 1, bytes.fromhex("03 00")), 9
        )
        assert answer == encode_mbap(7, 1, bytes.fromhex("83 03"))
        # unsupported function: exception 1
        answer = await asyncio.to_thread(
            _raw_exchange, server.port, encode_mbap(8, 1, bytes.fromhex("01 00 00 00 01")), 9
        )
        assert answer == encode_mbap(8, 1, bytes.fromhex("81 01"))
        # foreign protocol id: the connection is closed, nothing answered
        foreign = struct.pack(">HHHB", 9, 1, 6, 1) + bytes.fromhex("03 00 00 00 01")
        assert await asyncio.to_thread(_raw_exchange, server.port, foreign, 9) == b""
        # pipelined requests on one connection are all answered, matched by transaction id
        two = encode_mbap(1, 2, bytes.fromhex("03 00 00 00 01")) + encode_mbap(
            2, 2, bytes.fromhex("03 00 01 00 01")
        )
        answer = await asyncio.to_thread(_raw_exchange, server.port, two, 22)
        assert sorted([answer[:11], answer[11:]]) == [
            encode_mbap(1, 2, bytes.fromhex("03 02 00 C8")),
            encode_mbap(2, 2, bytes.fromhex("03 02 00 C9")),
        ]

    server = asyncio.run(with_server(body))
    assert server.stats.errors["malformed"] == 1
    assert server.stats.errors["mbap_protocol"] == 1
    assert server.stats.exceptions == {3: 1, 1: 1}


def test_close_ends_open_connections() -> None:
    async def main() -> None:
        server = await start_tcp_server(make_devices())
        client = await client_for(server)
        assert server.connections == 1
        await server.close()
        assert server.connections == 0
        client.close()
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", server.port)

    run(main())
