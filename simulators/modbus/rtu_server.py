"""Modbus RTU slave (asyncio) on a serial device path: one RS-485 bus with several unit ids.

The line is read through a raw non-blocking file descriptor registered with the event loop, so it
works on a socat pty (``socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B``) and on a real tty.

Strict request/response: requests are answered one at a time in arrival order, so a ``late`` device
holds up the whole bus, as on a real line. Requests for unit ids not served here are ignored (counted as
error kind ``unknown_unit``: on a shared bus they may belong to a device we do not simulate). Unit 0 is a
broadcast: writes are applied to every device, never answered.

Frame ends: a request's length follows from its function code; a partial frame is discarded when the
line stays silent for ``frame_gap_s`` (the 3.5-character time when wire time is emulated, else 50 ms,
because a pty delivers bytes in scheduler-sized bursts).

Wire time: a pty ignores the baud rate. With ``emulate_wire_time`` each answer is held back so that it
arrives when it would on the wire: request + 3.5-character gap + response, counting
1 start + 8 data + 1 parity (unless parity N) + ``stopbits`` stop bits per character (10 bits for
8N1, 11 for 8E1/8O1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from protocols.modbus import (
    RtuFrame,
    RtuRequestSplitter,
    crc16_modbus,
    encode_rtu,
    rtu_char_time_s,
    rtu_silent_interval_s,
    rtu_transaction_time_s,
)
from simulators.modbus.device import RegisterDevice, ServerStats, handle_broadcast, handle_pdu
from simulators.ptyline import PtyLine

log = logging.getLogger(__name__)

DEFAULT_PTY_GAP_S = 0.05


class ModbusRtuServer:
    def __init__(
        self,
        devices: Mapping[int, RegisterDevice],
        port_path: str,
        *,
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        emulate_wire_time: bool = False,
        frame_gap_s: float | None = None,
    ) -> None:
        self.devices = devices  # by reference: later changes to the mapping take effect
        self.port_path = port_path
        self.baudrate = baudrate
        self.parity = parity.upper()
        self.stopbits = stopbits
        self.emulate_wire_time = emulate_wire_time
        self.char_time_s = rtu_char_time_s(baudrate, self.parity, stopbits)
        self.silent_interval_s = rtu_silent_interval_s(baudrate, self.parity, stopbits)
        if frame_gap_s is None:
            frame_gap_s = self.silent_interval_s if emulate_wire_time else DEFAULT_PTY_GAP_S
        self.frame_gap_s = frame_gap_s
        self.stats = ServerStats()
        self.splitter = RtuRequestSplitter()
        self.line = PtyLine(
            port_path, self._on_data, label="Modbus RTU line", on_io_error=self._count_io_error
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[RtuFrame, float]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._last_rx = 0.0
        self._gap_timer: asyncio.TimerHandle | None = None
        self._seen = {"crc": 0, "dropped_bytes": 0, "incomplete": 0}

    def wire_time_s(self, request_len: int, response_len: int) -> float:
        """Wire time of one transaction at this line's settings."""
        return rtu_transaction_time_s(request_len, response_len, self.baudrate, self.parity, self.stopbits)

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.line.open()
        self._worker = asyncio.create_task(self._work(), name=f"modbus-rtu {self.port_path}")

    async def close(self) -> None:
        if self._gap_timer is not None:
            self._gap_timer.cancel()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        self.line.close()

    async def __aenter__(self) -> ModbusRtuServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- receive side (event-loop callbacks)

    def _count_io_error(self) -> None:
        self.stats.errors["io"] += 1

    def _on_data(self, data: bytes) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self._last_rx = now
        for frame in self.splitter.feed(data):
            self._queue.put_nowait((frame, now))
        self._sync_counters()
        if self.splitter.pending and self._gap_timer is None:
            self._gap_timer = self._loop.call_later(self.frame_gap_s, self._on_gap)

    def _on_gap(self) -> None:
        assert self._loop is not None
        self._gap_timer = None
        if not self.splitter.pending:
            return
        quiet = self._loop.time() - self._last_rx
        if quiet >= self.frame_gap_s:
            self.splitter.flush()
            self._sync_counters()
        else:
            self._gap_timer = self._loop.call_later(self.frame_gap_s - quiet, self._on_gap)

    def _sync_counters(self) -> None:
        s = self.splitter
        for kind, value in (
            ("crc", s.crc_errors),
            ("dropped_bytes", s.dropped_bytes),
            ("incomplete", s.incomplete_frames),
        ):
            if value != self._seen[kind]:
                self.stats.errors[kind] += value - self._seen[kind]
                self._seen[kind] = value

    # -- answer side (one task: strict request/response)

    async def _work(self) -> None:
        while True:
            frame, received_at = await self._queue.get()
            try:
                await self._answer(frame, received_at)
            except OSError as exc:
                self.stats.errors["io"] += 1
                log.warning("Modbus RTU line %s: write failed: %s", self.port_path, exc)

    async def _answer(self, frame: RtuFrame, received_at: float) -> None:
        assert self._loop is not None
        if frame.unit_id == 0:
            handle_broadcast(self.devices, frame.pdu, self.stats)
            return
        device = self.devices.get(frame.unit_id)
        if device is None:
            self.stats.errors["unknown_unit"] += 1
            return
        reply = handle_pdu(device, frame.pdu, self.stats)
        if reply.pdu is None:
            return
        out = encode_rtu(frame.unit_id, reply.pdu)
        if reply.corrupt == "crc":
            good = crc16_modbus(out[:-2])
            out = out[:-2] + (good ^ 0xA55A).to_bytes(2, "little")
        elif reply.corrupt == "garbage":
            junk = bytearray(device.faults.garbage(len(out), avoid=out))
            if len(junk) >= 4 and crc16_modbus(bytes(junk[:-2])) == int.from_bytes(junk[-2:], "little"):
                junk[-1] ^= 0xFF  # random bytes with a valid CRC (1 in 65536): break it
            out = bytes(junk)
        due = received_at + reply.delay_s
        if self.emulate_wire_time:
            due += self.wire_time_s(len(frame.raw), len(out))
        wait = due - self._loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        await self.line.write_all(out)
        self.stats.responses += 1


async def start_rtu_server(
    devices: Mapping[int, RegisterDevice],
    port_path: str,
    baudrate: int = 9600,
    parity: str = "N",
    emulate_wire_time: bool = False,
    *,
    stopbits: int = 1,
    frame_gap_s: float | None = None,
) -> ModbusRtuServer:
    """Open ``port_path`` and serve ``devices`` (unit id → device) on it until ``close()``."""
    server = ModbusRtuServer(
        devices,
        port_path,
        baudrate=baudrate,
        parity=parity,
        stopbits=stopbits,
        emulate_wire_time=emulate_wire_time,
        frame_gap_s=frame_gap_s,
    )
    await server._start()
    return server
