"""The agent's own Modbus TCP master (agent/acquisition/tcp.py) against scripted slaves over real TCP: every
kind of bad answer is told apart, late answers are skipped by transaction id, and a connection that stops
making sense is renewed."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

import pytest

from agent.acquisition.errors import ReadFailed
from agent.acquisition.tcp import STALE_AFTER, TcpLink, parse_read_reply
from tests.agent.acquisition.acq_slaves import free_port

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def reply(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def registers(function: int, values: list[int]) -> bytes:
    return struct.pack(f">BB{len(values)}H", function, 2 * len(values), *values)


async def request(reader: asyncio.StreamReader) -> tuple[int, int, int, int, int]:
    tid, proto, length, unit = struct.unpack(">HHHB", await reader.readexactly(7))
    assert proto == 0
    function, address, count = struct.unpack(">BHH", await reader.readexactly(length - 1))
    return tid, unit, function, address, count


async def serve(script: Script, body: Callable[[TcpLink, list[int]], Awaitable[None]]) -> list[int]:
    """Runs ``body`` against a link to a server that runs ``script`` for each connection (numbered from 0);
    returns the connection numbers seen."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = len(connections)
        connections.append(number)
        try:
            await script(reader, writer, number)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = TcpLink("127.0.0.1", port, timeout_s=0.2)
    try:
        await body(link, connections)
    finally:
        link.close()
        server.close()
    return connections


def test_reads_holding_and_input_registers_on_one_connection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        while True:
            tid, unit, function, address, count = await request(reader)
            writer.write(
                reply(tid, unit, registers(function, [address + i + function for i in range(count)]))
            )

    async def body(link: TcpLink, _c: list[int]) -> None:
        assert await link.read(1, "holding", 10, 3) == [13, 14, 15]
        assert await link.read(7, "input", 0, 2) == [4, 5]
        assert link.connects == 1

    assert asyncio.run(serve(script, body)) == [0]


def test_a_late_answer_is_skipped_by_its_transaction_id_and_the_connection_kept() -> None:
    held: list[tuple[int, int]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        while True:
            tid, unit, function, _address, count = await request(reader)
            if unit == 9:  # a slow unit: its answer comes only with the next request's
                held.append((tid, unit))
                continue
            for old_tid, old_unit in held:
                writer.write(reply(old_tid, old_unit, registers(function, [999] * count)))
            held.clear()
            writer.write(reply(tid, unit, registers(function, [1] * count)))

    async def body(link: TcpLink, _c: list[int]) -> None:
        with pytest.raises(ReadFailed) as slow:
            await link.read(9, "holding", 0, 2)
        assert slow.value.kind == "timeout"
        assert await link.read(1, "holding", 0, 2) == [1, 1]  # not the slow unit's 999s
        assert link.connects == 1

    asyncio.run(serve(script, body))


@pytest.mark.parametrize(
    ("answer", "kind", "renewed"),
    [
        (lambda tid: reply(tid, 1, bytes([0x83, 2])), "exception", False),
        (lambda tid: reply(tid, 2, registers(3, [1, 2])), "garbage", True),  # another unit
        (lambda tid: reply(tid, 1, registers(4, [1, 2])), "garbage", False),  # another function
        (lambda tid: reply(tid, 1, registers(3, [1])), "garbage", False),  # too few registers
        (lambda tid: struct.pack(">HHHB", tid, 7, 5, 1) + registers(3, [1]), "garbage", True),  # not Modbus
        (lambda tid: struct.pack(">HHHB", tid, 0, 9, 1) + b"\x03", "connection", True),  # cut mid-frame
    ],
)
def test_each_bad_answer_is_told_apart(answer: Callable[[int], bytes], kind: str, renewed: bool) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        tid, unit, function, _address, count = await request(reader)
        writer.write(answer(tid) if number == 0 else reply(tid, unit, registers(function, [5] * count)))
        await writer.drain()
        if number == 0 and kind == "connection":
            return  # closes: the frame stays cut
        while True:
            tid, unit, function, _address, count = await request(reader)
            writer.write(reply(tid, unit, registers(function, [5] * count)))

    async def body(link: TcpLink, _c: list[int]) -> None:
        with pytest.raises(ReadFailed) as failed:
            await link.read(1, "holding", 0, 2)
        assert failed.value.kind == kind
        if kind == "exception":
            assert failed.value.code == 2
        assert await link.read(1, "holding", 0, 2) == [5, 5]  # the link goes on

    connections = asyncio.run(serve(script, body))
    assert connections == ([0, 1] if renewed else [0])


def test_a_connection_that_answers_nothing_is_renewed_after_a_few_timeouts() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        while True:
            tid, unit, function, _address, count = await request(reader)
            if number > 0:  # the first connection is half-dead: it takes requests and answers nothing
                writer.write(reply(tid, unit, registers(function, [3] * count)))

    async def body(link: TcpLink, connections: list[int]) -> None:
        for _ in range(STALE_AFTER):
            with pytest.raises(ReadFailed) as failed:
                await link.read(1, "input", 0, 1)
            assert failed.value.kind == "timeout"
        assert connections == [0]
        assert await link.read(1, "input", 0, 1) == [3]
        assert link.connects == 2

    asyncio.run(serve(script, body))


def test_nothing_listening_is_a_connection_failure() -> None:
    async def main() -> None:
        link = TcpLink("127.0.0.1", free_port(), timeout_s=0.2)
        with pytest.raises(ReadFailed) as failed:
            await link.read(1, "holding", 0, 1)
        assert failed.value.kind == "connection" and "cannot connect" in str(failed.value)

    asyncio.run(main())


@pytest.mark.parametrize("pdu", [b"", b"\x03", b"\x03\x04\x00\x01", b"\x83", b"\x10\x02\x00\x01"])
def test_short_and_odd_pdus_are_garbage_or_exceptions_never_a_crash(pdu: bytes) -> None:
    with pytest.raises(ReadFailed) as failed:
        parse_read_reply(pdu, 1, 3, 2)
    assert failed.value.kind in {"garbage", "exception"}
