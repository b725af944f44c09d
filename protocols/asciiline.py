"""A simple ASCII request/response line protocol of the kind older analysers speak on RS-232/RS-485.

Pure codec: bytes in, typed values out. Wire form (all ASCII, one line each way, CR-terminated):

    request   ``#AARD\\r``                       AA = device address, two decimal digits 00-99
    answer    ``*AA,code=value,...,ST=s,CS=hh\\r``

``code`` is an HJ 212 parameter code (``w01010``); ``value`` a decimal number, or ``-`` when the analyser has
no result. ``ST`` is the analyser state (0 normal, 1 calibration, 2 maintenance, 3 fault, 4 stopped); it is
required. ``CS`` is the 8-bit sum of every byte before ``,CS=`` written as two hex digits (either case).
Anything else (wrong address, unknown state, bad checksum, duplicate or malformed item) is a FrameError with a
``reason`` that callers count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from protocols.errors import FrameError
from protocols.flags import Flag

TERMINATOR = b"\r"
MAX_LINE = 512

STATES: dict[int, Flag] = {
    0: Flag.NORMAL,
    1: Flag.CALIBRATION,
    2: Flag.MAINTENANCE,
    3: Flag.FAULT,
    4: Flag.STOPPED,
}


@dataclass(frozen=True)
class LineAnswer:
    address: int
    values: dict[str, float | None] = field(default_factory=dict)  # None: the analyser has no result
    state: int = 0

    @property
    def flag(self) -> Flag:
        return STATES[self.state]


def checksum(body: bytes) -> str:
    return f"{sum(body) & 0xFF:02X}"


def _check_address(address: int) -> None:
    if not 0 <= address <= 99:
        raise ValueError(f"ASCII line address {address} is outside 00-99")


def build_request(address: int) -> bytes:
    _check_address(address)
    return f"#{address:02d}RD".encode("ascii") + TERMINATOR


def parse_request(line: bytes) -> int:
    """The address asked for (for simulators). Raises FrameError if the line is not a read request."""
    text = line.rstrip(b"\r\n")
    if len(text) != 5 or not text.startswith(b"#") or not text.endswith(b"RD") or not text[1:3].isdigit():
        raise FrameError(f"not a read request: {line!r}", reason="syntax")
    return int(text[1:3])


def build_answer(answer: LineAnswer) -> bytes:
    """The analyser's line (for simulators and tests)."""
    _check_address(answer.address)
    parts = [f"*{answer.address:02d}"]
    for code, value in answer.values.items():
        parts.append(f"{code}=-" if value is None else f"{code}={value:g}")
    parts.append(f"ST={answer.state}")
    body = ",".join(parts).encode("ascii")
    return body + f",CS={checksum(body)}".encode("ascii") + TERMINATOR


def parse_answer(line: bytes, *, address: int | None = None) -> LineAnswer:
    """Decode one answer line; ``address`` (when given) must match the one in the line."""
    if len(line) > MAX_LINE:
        raise FrameError(f"answer of {len(line)} bytes is longer than {MAX_LINE}", reason="oversized")
    try:
        text = line.rstrip(b"\r\n").decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("answer is not ASCII", reason="encoding") from None
    body, sep, cs = text.rpartition(",CS=")
    if not sep:
        raise FrameError(f"answer has no checksum: {text[:60]!r}", reason="syntax")
    expected = checksum(body.encode("ascii"))
    if len(cs) != 2 or cs.upper() != expected:
        raise FrameError(f"checksum {cs!r} does not match {expected}", reason="checksum")
    items = body.split(",")
    head = items[0]
    if len(head) != 3 or head[0] != "*" or not head[1:].isdigit():
        raise FrameError(f"answer does not start with *AA: {head!r}", reason="syntax")
    got = int(head[1:])
    if address is not None and got != address:
        raise FrameError(f"answer from address {got}, asked {address}", reason="address")
    values: dict[str, float | None] = {}
    state: int | None = None
    for item in items[1:]:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            raise FrameError(f"malformed item {item!r}", reason="syntax")
        if key == "ST":
            if not raw.isdigit() or int(raw) not in STATES:
                raise FrameError(f"unknown analyser state {raw!r}", reason="state")
            state = int(raw)
            continue
        if key in values:
            raise FrameError(f"item {key!r} appears twice", reason="duplicate")
        if raw == "-":
            values[key] = None
            continue
        try:
            number = float(raw)
        except ValueError:
            raise FrameError(f"value of {key} is not a number: {raw!r}", reason="value") from None
        if not math.isfinite(number):
            raise FrameError(f"value of {key} is not finite: {raw!r}", reason="value")
        values[key] = number
    if state is None:
        raise FrameError("answer has no ST item", reason="syntax")
    return LineAnswer(got, values, state)
