"""Modbus frame codec shared by both ends: request and response PDUs, MBAP (TCP) and RTU framing, CRC-16/MODBUS.

The simulators' slaves parse requests and build responses with it; the agent's RTU master
(agent/acquisition/rtu.py) builds its requests and checks replies with the same CRC and framing, so the two
ends cannot drift apart. Pure code: no sockets, files or clocks. Supported function codes are 3 (read holding registers),
4 (read input registers), 6 (write single register) and 16 (write multiple registers).

Two kinds of failure, kept apart on purpose:

- ``ModbusExceptionError``: a well-formed request the device refuses; the server answers it with an
  exception response (function | 0x80, code).
- ``ModbusFrameError``: bytes that are not a usable frame (bad CRC, wrong length, bad MBAP header). Its
  ``reason`` names the kind so servers can count errors by kind.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from protocols.errors import ProtocolError

READ_HOLDING = 3
READ_INPUT = 4
WRITE_SINGLE = 6
WRITE_MULTIPLE = 16
SUPPORTED_FUNCTIONS = frozenset({READ_HOLDING, READ_INPUT, WRITE_SINGLE, WRITE_MULTIPLE})

MAX_READ_COUNT = 125  # Modbus spec limits: a response PDU must fit in 253 bytes
MAX_WRITE_COUNT = 123

MBAP_HEADER_LEN = 7
MAX_PDU_LEN = 253
RTU_MIN_FRAME = 4  # unit + function + 2 CRC bytes (an exception response is 5)


class ExceptionCode(IntEnum):
    ILLEGAL_FUNCTION = 1
    ILLEGAL_DATA_ADDRESS = 2
    ILLEGAL_DATA_VALUE = 3
    SERVER_DEVICE_FAILURE = 4
    SERVER_DEVICE_BUSY = 6
    GATEWAY_PATH_UNAVAILABLE = 10
    GATEWAY_TARGET_FAILED = 11


class ModbusExceptionError(Exception):
    """A request the device refuses; answered with an exception response carrying ``code``."""

    def __init__(self, code: int, message: str = "", *, function: int | None = None) -> None:
        if not 1 <= code <= 0xFF:
            raise ValueError(f"Modbus exception code must be 1..255, got {code}")
        self.code = int(code)
        self.function = function
        super().__init__(message or f"Modbus exception {self.code}")


class ModbusFrameError(ProtocolError):
    """Bytes that are not a usable Modbus frame. ``reason`` is one of: empty, pdu_length, mbap_short,
    mbap_length, mbap_protocol, rtu_short, crc, wrong_unit."""

    reason = "modbus_frame"

    def __init__(self, message: str, *, reason: str | None = None, function: int | None = None) -> None:
        super().__init__(message, reason=reason)
        self.function = function


@dataclass(frozen=True)
class Request:
    """A parsed request PDU. For reads ``values`` is empty; for writes ``count == len(values)``."""

    function: int
    address: int
    count: int
    values: tuple[int, ...] = ()

    @property
    def is_write(self) -> bool:
        return self.function in (WRITE_SINGLE, WRITE_MULTIPLE)


# ---------------------------------------------------------------- request PDUs


def parse_request_pdu(pdu: bytes) -> Request:
    """Parse a request PDU (function code + data).

    Raises ModbusFrameError for an empty PDU or a length that does not match the function code, and
    ModbusExceptionError for an unsupported function (1), a count out of range or a byte count that does
    not match (3), or a range that runs past address 0xFFFF (2)."""
    if not pdu:
        raise ModbusFrameError("empty Modbus PDU", reason="empty")
    function = pdu[0]
    if function not in SUPPORTED_FUNCTIONS:
        raise ModbusExceptionError(
            ExceptionCode.ILLEGAL_FUNCTION, f"function code {function} not supported", function=function
        )
    if function in (READ_HOLDING, READ_INPUT, WRITE_SINGLE):
        _expect_len(pdu, 5, function)
        address, word = struct.unpack(">HH", pdu[1:5])
        if function == WRITE_SINGLE:
            return Request(function, address, 1, (word,))
        _check_count(function, word, MAX_READ_COUNT)
        _check_range(function, address, word)
        return Request(function, address, word)
    # WRITE_MULTIPLE: fc, address(2), count(2), byte count(1), values(2*count)
    if len(pdu) < 6:
        raise ModbusFrameError(
            f"function 16 PDU too short ({len(pdu)} bytes)", reason="pdu_length", function=function
        )
    address, count = struct.unpack(">HH", pdu[1:5])
    byte_count = pdu[5]
    _expect_len(pdu, 6 + byte_count, function)
    _check_count(function, count, MAX_WRITE_COUNT)
    if byte_count != 2 * count:
        raise ModbusExceptionError(
            ExceptionCode.ILLEGAL_DATA_VALUE, f"byte count {byte_count} != 2 x {count}", function=function
        )
    _check_range(function, address, count)
    values = struct.unpack(f">{count}H", pdu[6:])
    return Request(function, address, count, tuple(values))


def _expect_len(pdu: bytes, expected: int, function: int) -> None:
    if len(pdu) != expected:
        raise ModbusFrameError(
            f"function {function} PDU must be {expected} bytes, got {len(pdu)}",
            reason="pdu_length",
            function=function,
        )


def _check_count(function: int, count: int, maximum: int) -> None:
    if not 1 <= count <= maximum:
        raise ModbusExceptionError(
            ExceptionCode.ILLEGAL_DATA_VALUE, f"register count {count} not in 1..{maximum}", function=function
        )


def _check_range(function: int, address: int, count: int) -> None:
    if address + count > 0x10000:
        raise ModbusExceptionError(
            ExceptionCode.ILLEGAL_DATA_ADDRESS, f"range {address}+{count} runs past 0xFFFF", function=function
        )


def build_read_request(function: int, address: int, count: int) -> bytes:
    """A read request PDU (function 3 or 4); for tests and masters."""
    return struct.pack(">BHH", function, address, count)


def build_write_single_request(address: int, value: int) -> bytes:
    return struct.pack(">BHH", WRITE_SINGLE, address, value)


def build_write_multiple_request(address: int, values: list[int]) -> bytes:
    return struct.pack(f">BHHB{len(values)}H", WRITE_MULTIPLE, address, len(values), 2 * len(values), *values)


# ---------------------------------------------------------------- response PDUs


def build_read_response(function: int, values: list[int]) -> bytes:
    """Response to function 3/4: fc, byte count, registers big-endian."""
    if not 1 <= len(values) <= MAX_READ_COUNT:
        raise ValueError(f"a read response carries 1..{MAX_READ_COUNT} registers, got {len(values)}")
    for v in values:
        if not 0 <= v <= 0xFFFF:
            raise ValueError(f"register value {v} is not a 16-bit word")
    return struct.pack(f">BB{len(values)}H", function, 2 * len(values), *values)


def build_write_response(request: Request) -> bytes:
    """Response to function 6 (echo of address and value) or 16 (address and count)."""
    if request.function == WRITE_SINGLE:
        return struct.pack(">BHH", WRITE_SINGLE, request.address, request.values[0])
    if request.function == WRITE_MULTIPLE:
        return struct.pack(">BHH", WRITE_MULTIPLE, request.address, request.count)
    raise ValueError(f"function {request.function} is not a write")


def build_exception_response(function: int, code: int) -> bytes:
    return bytes((function & 0x7F | 0x80, code))


# ---------------------------------------------------------------- MBAP (Modbus TCP)


@dataclass(frozen=True)
class MbapHeader:
    transaction_id: int
    protocol_id: int
    length: int  # bytes that follow the length field: unit id + PDU
    unit_id: int

    @property
    def pdu_length(self) -> int:
        return self.length - 1


def parse_mbap_header(data: bytes) -> MbapHeader:
    """Parse the 7-byte MBAP header. Raises ModbusFrameError for a short header, a protocol id other
    than 0, or a length that cannot hold a PDU (2..254)."""
    if len(data) < MBAP_HEADER_LEN:
        raise ModbusFrameError(f"MBAP header needs 7 bytes, got {len(data)}", reason="mbap_short")
    tid, proto, length, unit = struct.unpack(">HHHB", data[:MBAP_HEADER_LEN])
    if proto != 0:
        raise ModbusFrameError(f"MBAP protocol id {proto} is not 0 (Modbus)", reason="mbap_protocol")
    if not 2 <= length <= MAX_PDU_LEN + 1:
        raise ModbusFrameError(f"MBAP length {length} not in 2..254", reason="mbap_length")
    return MbapHeader(tid, proto, length, unit)


def encode_mbap(transaction_id: int, unit_id: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", transaction_id, 0, len(pdu) + 1, unit_id) + pdu


# ---------------------------------------------------------------- RTU


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF). Sent low byte first on the wire."""
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return crc


def encode_rtu(unit_id: int, pdu: bytes) -> bytes:
    """unit + PDU + CRC (little-endian)."""
    body = bytes((unit_id,)) + pdu
    return body + crc16_modbus(body).to_bytes(2, "little")


def decode_rtu(frame: bytes) -> tuple[int, bytes]:
    """(unit id, PDU) of a whole RTU frame. Raises ModbusFrameError for a short frame or bad CRC."""
    if len(frame) < RTU_MIN_FRAME:
        raise ModbusFrameError(f"RTU frame needs at least 4 bytes, got {len(frame)}", reason="rtu_short")
    if crc16_modbus(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
        raise ModbusFrameError(f"RTU CRC mismatch in {frame.hex(' ')}", reason="crc")
    return frame[0], bytes(frame[1:-2])


# Request lengths (whole RTU frame incl. unit and CRC) of fixed-size requests. Functions we do not serve
# are listed too, so that such requests are framed and answered with ILLEGAL FUNCTION instead of
# making the splitter lose sync.
_FIXED_REQUEST_LEN = {1: 8, 2: 8, 3: 8, 4: 8, 5: 8, 6: 8, 7: 4, 8: 8, 11: 4, 12: 4, 17: 4, 22: 10, 43: 7}
# Variable-size requests: (offset of the byte-count byte in the frame, bytes besides the counted data)
_COUNTED_REQUEST = {15: (6, 9), 16: (6, 9), 23: (10, 13)}


def rtu_request_length(buffer: bytes | bytearray) -> int | None:
    """Length of the RTU request frame at the start of ``buffer``: None when more bytes are needed to
    tell, -1 when the function code gives no way to tell (lost sync)."""
    if len(buffer) < 2:
        return None
    function = buffer[1]
    if function in _FIXED_REQUEST_LEN:
        return _FIXED_REQUEST_LEN[function]
    if function in _COUNTED_REQUEST:
        offset, extra = _COUNTED_REQUEST[function]
        if len(buffer) <= offset:
            return None
        return extra + buffer[offset]
    return -1


@dataclass(frozen=True)
class RtuFrame:
    unit_id: int
    pdu: bytes
    raw: bytes


@dataclass
class RtuRequestSplitter:
    """Finds whole RTU request frames in a byte stream fed in arbitrary pieces.

    A frame whose CRC fails is counted (``crc_errors``) and dropped up to the next valid frame that starts
    inside it (or whole); a byte that cannot start a request we can size is dropped. Dropped bytes are
    counted (``dropped_bytes``); this is how the splitter resynchronises after line noise.
    ``flush()`` discards a partial frame; servers call it when the line has been silent for the
    inter-frame gap (the 3.5-character rule)."""

    crc_errors: int = 0
    dropped_bytes: int = 0
    incomplete_frames: int = 0
    _buffer: bytearray = field(default_factory=bytearray, repr=False)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[RtuFrame]:
        self._buffer += data
        frames: list[RtuFrame] = []
        while True:
            length = rtu_request_length(self._buffer)
            if length is None:
                break
            if length < 0:
                del self._buffer[0]
                self.dropped_bytes += 1
                continue
            if len(self._buffer) < length:
                break
            raw = bytes(self._buffer[:length])
            try:
                unit, pdu = decode_rtu(raw)
            except ModbusFrameError:
                self.crc_errors += 1
                # we may have sized the frame from a stray byte: skip only to the next valid frame
                # that starts inside this one, else drop it whole
                skip = self._next_valid_start(length)
                self.dropped_bytes += skip
                del self._buffer[:skip]
                continue
            del self._buffer[:length]
            frames.append(RtuFrame(unit, pdu, raw))
        return frames

    def _next_valid_start(self, limit: int) -> int:
        buf = self._buffer
        for k in range(1, limit):
            length = rtu_request_length(buf[k:])
            if length is not None and length >= RTU_MIN_FRAME and k + length <= len(buf):
                candidate = bytes(buf[k : k + length])
                if crc16_modbus(candidate[:-2]) == int.from_bytes(candidate[-2:], "little"):
                    return k
        return limit

    def flush(self) -> int:
        """Discard a partial frame (line went silent); returns the bytes discarded."""
        n = len(self._buffer)
        if n:
            self.incomplete_frames += 1
            self._buffer.clear()
        return n


# ---------------------------------------------------------------- wire time (RTU)


def rtu_char_bits(parity: str = "N", stopbits: int = 1) -> int:
    """Bits per character on the line: 1 start + 8 data + 1 parity (if any) + stop bits."""
    if parity.upper() not in ("N", "E", "O"):
        raise ValueError(f"parity must be N, E or O, got {parity!r}")
    return 1 + 8 + (0 if parity.upper() == "N" else 1) + stopbits


def rtu_char_time_s(baudrate: int, parity: str = "N", stopbits: int = 1) -> float:
    if baudrate <= 0:
        raise ValueError(f"baud rate must be positive, got {baudrate}")
    return rtu_char_bits(parity, stopbits) / baudrate


def rtu_silent_interval_s(baudrate: int, parity: str = "N", stopbits: int = 1) -> float:
    """The 3.5-character inter-frame gap; fixed at 1.75 ms above 19200 baud (Modbus serial line spec)."""
    if baudrate > 19200:
        return 0.00175
    return 3.5 * rtu_char_time_s(baudrate, parity, stopbits)


def rtu_transaction_time_s(
    request_len: int, response_len: int, baudrate: int, parity: str = "N", stopbits: int = 1
) -> float:
    """Time on the wire from the first request byte to the last response byte: both frames plus one
    inter-frame gap (the slave's turnaround is taken as the minimum gap)."""
    char = rtu_char_time_s(baudrate, parity, stopbits)
    return (request_len + response_len) * char + rtu_silent_interval_s(baudrate, parity, stopbits)
