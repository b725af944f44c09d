"""Modbus TCP slave (asyncio) serving several simulated devices by unit id.

Each request is answered in its own task, so a slow ("late") device delays only its own answers: other
connections, and other transactions on the same connection, are answered meanwhile (Modbus TCP matches
answers to requests by transaction id, so answers may come out of order).

Unknown unit id: by default answered with exception 11 (gateway target device failed to respond), as a
TCP/RTU gateway does, so a master can tell "no such unit" from a dead link at once. With
``unknown_unit="silent"`` it is not answered at all (the master times out). Either way it is counted
as error kind ``unknown_unit``.

TCP has no CRC: the ``crc_error`` fault is sent as ``garbage`` (random bytes as long as the answer, with a
non-zero protocol id so it can never pass for a valid MBAP frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Literal

from protocols.modbus import (
    MBAP_HEADER_LEN,
    ExceptionCode,
    MbapHeader,
    ModbusFrameError,
    build_exception_response,
    encode_mbap,
    parse_mbap_header,
)
from simulators.modbus.device import RegisterDevice, ServerStats, handle_pdu

log = logging.getLogger(__name__)

UnknownUnitPolicy = Literal["exception", "silent"]


class ModbusTcpServer:
    def __init__(
        self,
        devices: Mapping[int, RegisterDevice],
        *,
        unknown_unit: UnknownUnitPolicy = "exception",
        max_in_flight: int = 16,
    ) -> None:
        if unknown_unit not in ("exception", "silent"):
            raise ValueError(f"unknown_unit must be 'exception' or 'silent', got {unknown_unit!r}")
        # kept by reference: devices added to or removed from the mapping later are served accordingly
        self.devices = devices
        self.unknown_unit: UnknownUnitPolicy = unknown_unit
        self.max_in_flight = max_in_flight
        self.stats = ServerStats()
        self.connections_total = 0
        self.host = ""
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._handlers)

    async def _start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = sockname[0], sockname[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        # closing the transport ends each handler's read with EOF (cancelling the handler task
        # instead makes asyncio's stream callback log the CancelledError)
        for writer in list(self._handlers.values()):
            writer.close()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ModbusTcpServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        me = asyncio.current_task()
        assert me is not None
        self._handlers[me] = writer
        self.connections_total += 1
        write_lock = asyncio.Lock()
        in_flight = asyncio.Semaphore(self.max_in_flight)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                head = await reader.readexactly(MBAP_HEADER_LEN)
                try:
                    header = parse_mbap_header(head)
                except ModbusFrameError as exc:
                    # with a bad length or foreign protocol the stream cannot be re-synchronised
                    self.stats.errors[exc.reason] += 1
                    log.info("closing Modbus TCP connection: %s", exc)
                    break
                pdu = await reader.readexactly(header.pdu_length)
                await in_flight.acquire()
                task = asyncio.create_task(self._answer(header, pdu, writer, write_lock))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(lambda _t: in_flight.release())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for task in list(tasks):
                task.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._handlers.pop(me, None)

    async def _answer(
        self, header: MbapHeader, pdu: bytes, writer: asyncio.StreamWriter, lock: asyncio.Lock
    ) -> None:
        device = self.devices.get(header.unit_id)
        if device is None:
            self.stats.requests += 1
            self.stats.errors["unknown_unit"] += 1
            if self.unknown_unit == "silent":
                return
            response = build_exception_response(pdu[0], int(ExceptionCode.GATEWAY_TARGET_FAILED))
            self.stats.exceptions[int(ExceptionCode.GATEWAY_TARGET_FAILED)] += 1
            await self._send(writer, lock, encode_mbap(header.transaction_id, header.unit_id, response))
            return
        reply = handle_pdu(device, pdu, self.stats)
        if reply.pdu is None:
            return
        if reply.delay_s > 0:
            await asyncio.sleep(reply.delay_s)
        frame = encode_mbap(header.transaction_id, header.unit_id, reply.pdu)
        if reply.corrupt != "none":
            junk = bytearray(device.faults.garbage(len(frame), avoid=frame))
            junk[2] |= 0x80  # protocol id != 0: never a valid MBAP frame
            frame = bytes(junk)
        await self._send(writer, lock, frame)

    async def _send(self, writer: asyncio.StreamWriter, lock: asyncio.Lock, frame: bytes) -> None:
        async with lock:
            if writer.is_closing():
                return
            writer.write(frame)
            try:
                await writer.drain()
            except ConnectionError:
                self.stats.errors["io"] += 1
                return
        self.stats.responses += 1


async def start_tcp_server(
    devices: Mapping[int, RegisterDevice],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    unknown_unit: UnknownUnitPolicy = "exception",
    max_in_flight: int = 16,
) -> ModbusTcpServer:
    """Listen on ``host:port`` (port 0: any free port; read ``.port``) and serve ``devices`` by unit id."""
    server = ModbusTcpServer(devices, unknown_unit=unknown_unit, max_in_flight=max_in_flight)
    await server._start(host, port)
    return server
