"""Modbus register decoding and encoding: 16-bit registers in, typed numbers out (and back, for simulators).

Byte/word order names follow the common convention for a 32-bit value whose big-endian bytes are A B C D:
ABCD big-endian, CDAB word-swapped, BADC byte-swapped, DCBA little-endian. 64-bit values extend the same
rule to four words (ABCD = all big-endian; CDAB = words reversed; BADC = bytes swapped in each word;
DCBA = fully little-endian).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Literal

from protocols.errors import RegisterError

DataType = Literal["int16", "uint16", "int32", "uint32", "float32", "float64"]
WordOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]

WIDTH: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "float64": 4}
_STRUCT: dict[str, str] = {
    "int16": ">h",
    "uint16": ">H",
    "int32": ">i",
    "uint32": ">I",
    "float32": ">f",
    "float64": ">d",
}


def _to_big_endian(raw: bytes, order: WordOrder) -> bytes:
    """Reorder wire bytes (registers as sent, each big-endian) into one big-endian value."""
    words = [raw[i : i + 2] for i in range(0, len(raw), 2)]
    if order == "ABCD":
        return raw
    if order == "CDAB":
        return b"".join(reversed(words))
    if order == "BADC":
        return b"".join(w[::-1] for w in words)
    return raw[::-1]  # DCBA


def decode(registers: Sequence[int], data_type: DataType, order: WordOrder = "ABCD") -> int | float:
    """Decode the registers of one value. Raises RegisterError for a wrong count or a non-16-bit word."""
    width = WIDTH[data_type]
    if len(registers) != width:
        raise RegisterError(f"{data_type} needs {width} register(s), got {len(registers)}", reason="width")
    for word in registers:
        if not isinstance(word, int) or not 0 <= word <= 0xFFFF:
            raise RegisterError(f"register value {word} is not a 16-bit word", reason="word")
    raw = b"".join(word.to_bytes(2, "big") for word in registers)
    if width == 1 and order in ("BADC", "DCBA"):
        raw = raw[::-1]
    elif width > 1:
        raw = _to_big_endian(raw, order)
    value: int | float = struct.unpack(_STRUCT[data_type], raw)[0]
    return value


def encode(value: int | float, data_type: DataType, order: WordOrder = "ABCD") -> list[int]:
    """The registers that carry ``value`` (the inverse of decode). Raises RegisterError if it does not fit."""
    fmt = _STRUCT[data_type]
    try:
        raw = struct.pack(fmt, round(value) if data_type.startswith(("int", "uint")) else float(value))
    except (struct.error, OverflowError, ValueError) as exc:
        raise RegisterError(f"{value!r} does not fit {data_type}: {exc}", reason="range") from None
    width = WIDTH[data_type]
    if width == 1 and order in ("BADC", "DCBA"):
        raw = raw[::-1]
    elif width > 1:
        raw = _to_big_endian(raw, order)  # each reordering is its own inverse
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
