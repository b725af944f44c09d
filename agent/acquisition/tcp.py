"""Modbus TCP master: one connection per host:port, shared by the units behind it (a gateway).

Our own client rather than pymodbus's: the agent only reads registers (functions 3 and 4), the frames come from
protocols/modbus.py (the codec the simulators' slaves answer with), and pymodbus's client package costs ~2 MiB
resident on a station PC whose whole budget is 30 (issue 17; it loads its server datastore and builds a TLS
context at import). Interoperability with real slaves is tested against pymodbus's own server and the
simulators.

One request at a time per connection, as most gateways require. Retries are ours (the device schedule backs off
a dead host); so is reconnection: a failed connect or a dropped connection fails the read, the next read connects
again. A reply that comes after its request timed out is recognised by its transaction id and skipped, so a
silent unit behind a gateway does not cost the others their connection; a connection that answers nothing for
``STALE_AFTER`` requests in a row, or sends bytes that are not Modbus, is closed and opened afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from agent.acquisition.errors import FailureKind, ReadFailed
from protocols import modbus

FUNCTION = {"holding": modbus.READ_HOLDING, "input": modbus.READ_INPUT}
STALE_AFTER = 3  # timeouts in a row, with no reply at all between them, before the connection is renewed


class TcpLink:
    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.connects = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        self._tid = 0
        self._silent_in_a_row = 0
        # A reply's header read and its PDU not yet: on a timeout the stream is cut there.
        self._mid_frame = False

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is not None and self._writer is not None and not self._writer.is_closing():
            return self._reader, self._writer
        self.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout_s * 2
            )
        except (TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise ReadFailed("connection", f"cannot connect to {self.where}: {reason}") from None
        self._reader, self._writer = reader, writer
        self._silent_in_a_row = 0
        self.connects += 1
        return reader, writer

    def _fail(self, kind: FailureKind, message: str, *, drop: bool) -> ReadFailed:
        if drop:
            self.close()
        return ReadFailed(kind, message)

    async def read(self, unit: int, table: str, address: int, count: int) -> list[int]:
        function = FUNCTION[table]
        request_pdu = modbus.build_read_request(function, address, count)
        async with self._lock:
            reader, writer = await self._connect()
            self._tid = (self._tid + 1) & 0xFFFF
            tid = self._tid
            try:
                writer.write(modbus.encode_mbap(tid, unit, request_pdu))
                async with asyncio.timeout(self.timeout_s):
                    await writer.drain()
                    pdu = await self._reply(reader, tid, unit)
            except TimeoutError:
                self._silent_in_a_row += 1
                stale = self._mid_frame or self._silent_in_a_row >= STALE_AFTER
                raise self._fail("timeout", f"{self.where} unit {unit}: no answer", drop=stale) from None
            except (OSError, asyncio.IncompleteReadError) as exc:
                reason = str(exc) or type(exc).__name__
                raise self._fail(
                    "connection", f"{self.where}: connection lost: {reason}", drop=True
                ) from None
            except modbus.ModbusFrameError as exc:
                raise self._fail("garbage", f"{self.where} unit {unit}: {exc}", drop=True) from None
        return parse_read_reply(pdu, unit, function, count)

    async def _reply(self, reader: asyncio.StreamReader, tid: int, unit: int) -> bytes:
        """The PDU answering transaction ``tid``; late replies to earlier requests are skipped."""
        while True:
            header = modbus.parse_mbap_header(await reader.readexactly(modbus.MBAP_HEADER_LEN))
            self._mid_frame = True
            pdu = await reader.readexactly(header.pdu_length)
            self._mid_frame = False
            self._silent_in_a_row = 0
            if header.transaction_id != tid:
                continue  # the answer to a request that already timed out
            if header.unit_id != unit:
                raise modbus.ModbusFrameError(
                    f"reply from unit {header.unit_id}, asked unit {unit}", reason="wrong_unit"
                )
            return pdu

    def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        self._mid_frame = False
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()


def parse_read_reply(pdu: bytes, unit: int, function: int, count: int) -> list[int]:
    """The registers of a read reply's PDU, or ReadFailed saying what was wrong with it. Pure."""
    if not pdu:
        raise ReadFailed("garbage", f"unit {unit}: empty reply")
    if pdu[0] == function | 0x80:
        code = pdu[1] if len(pdu) > 1 else None
        raise ReadFailed("exception", f"unit {unit} answered exception {code}", code=code)
    if pdu[0] != function:
        raise ReadFailed("garbage", f"reply has function 0x{pdu[0]:02x}, expected 0x{function:02x}")
    data = pdu[2:]
    if len(pdu) < 2 or pdu[1] != 2 * count or len(data) != 2 * count:
        raise ReadFailed("garbage", f"asked {count} registers, reply carries {len(data)} bytes")
    return list(struct.unpack(f">{count}H", data))
