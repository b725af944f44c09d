"""Test slaves for acquisition tests: a Modbus TCP server, a Modbus RTU and an ASCII analyser on a serial
line (socat pty pair), with knobs for silence, garbage and bad CRCs. Register values can change while the
agent polls."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import serial

from agent.acquisition import rtu
from protocols import asciiline
from protocols.profiles import Profile, load_profile
from protocols.registers import encode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def profile_registers(
    profile: Profile | str,
    values: dict[str, float],
    *,
    status: int = 0,
    alarm: int = 0,
    result_time: int | None = None,
    raw: dict[str, float] | None = None,
) -> dict[int, int]:
    """The register image a device of ``profile`` shows for these engineering values."""
    prof = load_profile(profile) if isinstance(profile, str) else profile
    regs: dict[int, int] = {}
    raw = raw or {}
    for fmap in prof.fields:
        key = fmap.param or fmap.signal or ""
        number = raw[key] if key in raw else (values.get(key, 0.0) - fmap.offset) / fmap.scale
        for i, word in enumerate(encode(number, fmap.type, fmap.order)):
            regs[fmap.address + i] = word
    if prof.status is not None:
        regs[prof.status.address] = status
    if prof.alarm is not None:
        regs[prof.alarm.address] = alarm
    if prof.result_time is not None:
        rt = prof.result_time
        for i, word in enumerate(encode(result_time or 0, rt.type, rt.order)):
            regs[rt.address + i] = word
    return regs


@dataclass
class Units:
    """Register tables by unit id; units not present (or silenced) never answer."""

    registers: dict[int, dict[int, int]] = field(default_factory=dict)
    silent: set[int] = field(default_factory=set)
    requests: Counter[int] = field(default_factory=Counter)
    strict: bool = False  # answer "illegal data address" (2) for undefined registers; else read them as 0

    def read(self, unit: int, address: int, count: int) -> list[int] | int | None:
        """Words, an exception code, or None for silence."""
        self.requests[unit] += 1
        if unit in self.silent or unit not in self.registers:
            return None
        table = self.registers[unit]
        if self.strict and any(a not in table for a in range(address, address + count)):
            return 2
        return [table.get(a, 0) for a in range(address, address + count)]


class TcpSlave:
    """A minimal Modbus TCP server (functions 3 and 4) on 127.0.0.1."""

    def __init__(self, units: Units) -> None:
        self.units = units
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> TcpSlave:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(7)
                tid, _proto, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                function, address, count = struct.unpack(">BHH", pdu[:5])
                answer = self.units.read(unit, address, count)
                if answer is None:
                    continue
                if isinstance(answer, int):
                    body = bytes([function | 0x80, answer])
                else:
                    body = struct.pack(f">BB{count}H", function, 2 * count, *answer)
                writer.write(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.contextmanager
def socat_pair() -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals; yields (agent side, device side) paths."""
    if shutil.which("socat") is None:
        raise RuntimeError("socat is not installed")
    tmp = Path(tempfile.mkdtemp(prefix="acq-pty-"))
    a, b = str(tmp / "agent"), str(tmp / "device")
    proc = subprocess.Popen(
        ["socat", "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while not (os.path.exists(a) and os.path.exists(b)):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("socat did not create the pty pair")
            time.sleep(0.02)
        yield a, b
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(3)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


class _LineThread:
    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, timeout=0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(3)
        self.port.close()

    def _run(self) -> None:
        raise NotImplementedError


class RtuSlave(_LineThread):
    """RTU slaves sharing one line. ``corrupt`` makes one unit answer with a bad CRC; ``garbage`` with noise."""

    def __init__(self, path: str, units: Units) -> None:
        super().__init__(path)
        self.units = units
        self.corrupt: set[int] = set()
        self.garbage: set[int] = set()

    def _run(self) -> None:
        buf = b""
        while not self._stop.is_set():
            buf += self.port.read(64)
            while len(buf) >= 8:
                frame, buf = buf[:8], buf[8:]
                if rtu.crc16(frame[:6]) != struct.unpack("<H", frame[6:])[0]:
                    buf = b""  # lost sync: drop and wait for the next request
                    break
                unit, function, address, count = struct.unpack(">BBHH", frame[:6])
                answer = self.units.read(unit, address, count)
                if answer is None:
                    continue
                if unit in self.garbage:
                    reply = b"\x55\xaa\x13\x37\x00"
                elif isinstance(answer, int):
                    reply = rtu.build_exception_reply(unit, function, answer)
                else:
                    reply = rtu.build_read_reply(unit, function, answer)
                if unit in self.corrupt:
                    reply = reply[:-1] + bytes([reply[-1] ^ 0xFF])
                self.port.write(reply)


class AsciiSlave(_LineThread):
    """ASCII analysers by address: answers[address] is the LineAnswer to give (absent: silent)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.answers: dict[int, asciiline.LineAnswer] = {}
        self.raw: dict[int, bytes] = {}  # a fixed raw answer line instead (garbage, bad checksum)

    def _run(self) -> None:
        buf = b""
        while not self._stop.is_set():
            buf += self.port.read(64)
            while b"\r" in buf:
                line, _, buf = buf.partition(b"\r")
                try:
                    address = asciiline.parse_request(line)
                except Exception:
                    continue
                if address in self.raw:
                    self.port.write(self.raw[address])
                elif address in self.answers:
                    self.port.write(asciiline.build_answer(self.answers[address]))
