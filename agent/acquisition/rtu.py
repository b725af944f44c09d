"""Modbus RTU master framing for the two read functions the agent uses (0x03 holding, 0x04 input). Pure.

Frames and CRC come from protocols/modbus.py, shared with the simulators' slaves. This module adds what a
master needs over pymodbus's framer: each failure told apart (CRC, wrong unit, wrong function, short frame,
exception response) and counted by kind.
"""

from __future__ import annotations

import struct

from agent.acquisition.errors import ReadFailed
from protocols import modbus

READ_HOLDING = modbus.READ_HOLDING
READ_INPUT = modbus.READ_INPUT
FUNCTION = {"holding": READ_HOLDING, "input": READ_INPUT}
HEADER = 3  # unit, function, byte count (or exception code)
MAX_FRAME = 256


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS, the one shared with the simulators (protocols/modbus.py)."""
    return modbus.crc16_modbus(data)


def build_read(unit: int, function: int, address: int, count: int) -> bytes:
    if not 1 <= count <= modbus.MAX_READ_COUNT:
        raise ValueError(f"register count {count} is outside 1-{modbus.MAX_READ_COUNT}")
    return modbus.encode_rtu(unit, modbus.build_read_request(function, address, count))


def frame_length(header: bytes, function: int) -> int:
    """Total length of the reply whose first three bytes are ``header``."""
    if header[1] == function | 0x80:
        return 5
    if header[1] == function:
        return HEADER + header[2] + 2
    raise ReadFailed("garbage", f"reply has function 0x{header[1]:02x}, expected 0x{function:02x}")


def parse_read_reply(frame: bytes, unit: int, function: int, count: int) -> list[int]:
    """The registers of a read reply, or ReadFailed saying what was wrong with it."""
    if len(frame) < 5:
        raise ReadFailed("garbage", f"reply of {len(frame)} bytes is too short")
    if crc16(frame[:-2]) != struct.unpack("<H", frame[-2:])[0]:
        raise ReadFailed("crc", f"reply CRC does not match ({frame.hex()})")
    if frame[0] != unit:
        raise ReadFailed("garbage", f"reply from unit {frame[0]}, asked unit {unit}")
    if frame[1] == function | 0x80:
        raise ReadFailed("exception", f"unit {unit} answered exception {frame[2]}", code=frame[2])
    if frame[1] != function:
        raise ReadFailed("garbage", f"reply has function 0x{frame[1]:02x}, expected 0x{function:02x}")
    data = frame[3:-2]
    if frame[2] != 2 * count or len(data) != 2 * count:
        raise ReadFailed("garbage", f"reply carries {len(data)} bytes, expected {2 * count}")
    return list(struct.unpack(f">{count}H", data))


def build_read_reply(unit: int, function: int, registers: list[int]) -> bytes:
    """A slave's answer (for test slaves)."""
    return modbus.encode_rtu(unit, modbus.build_read_response(function, registers))


def build_exception_reply(unit: int, function: int, code: int) -> bytes:
    return modbus.encode_rtu(unit, modbus.build_exception_response(function, code))
