"""One serial line (RS-485/RS-232), opened once and kept open; strictly one transaction at a time.

Blocking pyserial calls run on the line's own single worker thread, so a slow line never blocks the event
loop or another bus. A device that does not answer costs one timeout and nothing else: the port is closed
and reopened only when the port itself fails (an OS error, e.g. a USB adapter unplugged), never because a
slave is silent. We use our own thin RTU transaction rather than pymodbus's serial client, so the inter-frame
gap, the per-request timeout and the failure kinds are exactly ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import serial

from agent.acquisition import rtu
from agent.acquisition.errors import ReadFailed
from agent.config import SerialBus

T = TypeVar("T")
Opener = Callable[..., Any]


class SerialLine:
    def __init__(self, bus: SerialBus, *, opener: Opener | None = None) -> None:
        self.bus = bus
        self.opens = 0  # exposed for tests and metrics: a silent slave must not raise this
        self.open_failures = 0
        self._opener = opener
        self._port: Any = None
        self._last_end = 0.0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"bus-{bus.name}")

    # -- blocking side, on the worker thread ---------------------------------------------------------

    def _ensure_open(self) -> Any:
        if self._port is None:
            try:
                bus = self.bus
                opener = self._opener or serial.serial_for_url
                self._port = opener(
                    bus.port,
                    baudrate=bus.baudrate,
                    bytesize=bus.bytesize,
                    parity=bus.parity,
                    stopbits=bus.stopbits,
                    timeout=bus.timeout_s,
                    write_timeout=bus.timeout_s,
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                self.open_failures += 1
                raise ReadFailed("connection", f"cannot open {self.bus.port}: {exc}") from None
            self.opens += 1
        return self._port

    def _drop(self) -> None:
        if self._port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._port.close()
            self._port = None

    def _exchange(self, request: bytes, receive: Callable[[Any], bytes]) -> bytes:
        port = self._ensure_open()
        wait = self._last_end + self.bus.gap_ms / 1000.0 - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # inter-frame gap: the line is quiet before anyone talks again
        try:
            port.reset_input_buffer()  # a late answer to an earlier request must not pass for this one
            port.write(request)
            port.flush()
            return receive(port)
        except (serial.SerialException, OSError) as exc:
            self._drop()  # the port itself failed: only now is reopening right
            raise ReadFailed("connection", f"serial port {self.bus.port} failed: {exc}") from None
        finally:
            self._last_end = time.monotonic()

    def rtu_read_blocking(self, unit: int, function: int, address: int, count: int) -> list[int]:
        def receive(port: Any) -> bytes:
            header = port.read(rtu.HEADER)
            if not header:
                raise ReadFailed("timeout", f"unit {unit}: no answer within {self.bus.timeout_s}s")
            if len(header) < rtu.HEADER:
                raise ReadFailed("garbage", f"unit {unit}: answer cut short after {len(header)} bytes")
            total = rtu.frame_length(header, function)
            rest = port.read(total - rtu.HEADER)
            if len(rest) < total - rtu.HEADER:
                raise ReadFailed(
                    "garbage", f"unit {unit}: answer cut short ({len(header) + len(rest)} of {total} bytes)"
                )
            return bytes(header) + bytes(rest)

        frame = self._exchange(rtu.build_read(unit, function, address, count), receive)
        return rtu.parse_read_reply(frame, unit, function, count)

    def line_blocking(self, request: bytes, terminator: bytes, max_line: int) -> bytes:
        def receive(port: Any) -> bytes:
            line = bytes(port.read_until(terminator, max_line))
            if not line:
                raise ReadFailed("timeout", f"no answer within {self.bus.timeout_s}s")
            if not line.endswith(terminator):
                raise ReadFailed("garbage", f"answer not terminated: {line[:40]!r}")
            return line

        return self._exchange(request, receive)

    # -- async side -----------------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def rtu_read(self, unit: int, table: str, address: int, count: int) -> list[int]:
        return await self._run(self.rtu_read_blocking, unit, rtu.FUNCTION[table], address, count)

    async def line(self, request: bytes, terminator: bytes, max_line: int) -> bytes:
        return await self._run(self.line_blocking, request, terminator, max_line)

    async def close(self) -> None:
        await self._run(self._drop)
        self._executor.shutdown(wait=False)
