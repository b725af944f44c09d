"""Pure codecs: Modbus RTU framing (checked against pymodbus's framer) and the ASCII line protocol."""

from __future__ import annotations

import pytest
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from agent.acquisition import rtu
from agent.acquisition.errors import ReadFailed
from agent.acquisition.lineprotocols import load_line_protocol
from protocols import asciiline
from protocols.errors import ConfigError, FrameError
from protocols.flags import Flag


def test_crc_of_known_frame() -> None:
    # Read 2 holding registers at 0 from unit 1: the classic example frame 01 03 00 00 00 02 C4 0B.
    assert rtu.build_read(1, 3, 0, 2) == bytes.fromhex("010300000002C40B")


@pytest.mark.parametrize(
    ("unit", "function", "address", "count"), [(1, 3, 0, 6), (17, 4, 100, 21), (247, 3, 9, 125)]
)
def test_requests_match_pymodbus_framer(unit: int, function: int, address: int, count: int) -> None:
    cls = ReadHoldingRegistersRequest if function == 3 else ReadInputRegistersRequest
    expected = FramerRTU(DecodePDU(False)).buildFrame(cls(address=address, count=count, dev_id=unit))
    assert rtu.build_read(unit, function, address, count) == expected


def test_reply_roundtrip_and_errors() -> None:
    reply = rtu.build_read_reply(5, 3, [1, 0xFFFF, 300])
    assert rtu.frame_length(reply[:3], 3) == len(reply)
    assert rtu.parse_read_reply(reply, 5, 3, 3) == [1, 0xFFFF, 300]
    bad_crc = reply[:-1] + bytes([reply[-1] ^ 1])
    with pytest.raises(ReadFailed) as info:
        rtu.parse_read_reply(bad_crc, 5, 3, 3)
    assert info.value.kind == "crc"
    with pytest.raises(ReadFailed) as info:
        rtu.parse_read_reply(reply, 6, 3, 3)
    assert info.value.kind == "garbage"
    with pytest.raises(ReadFailed) as info:
        rtu.parse_read_reply(reply, 5, 3, 4)
    assert info.value.kind == "garbage"
    exc = rtu.build_exception_reply(5, 3, 2)
    assert rtu.frame_length(exc[:3], 3) == 5
    with pytest.raises(ReadFailed) as info:
        rtu.parse_read_reply(exc, 5, 3, 3)
    assert (info.value.kind, info.value.code) == ("exception", 2)
    with pytest.raises(ReadFailed):
        rtu.frame_length(b"\x05\x10\x00", 3)


def test_ascii_roundtrip() -> None:
    answer = asciiline.LineAnswer(1, {"w01010": 12.3, "w01001": 7.85, "w21003": None}, 0)
    line = asciiline.build_answer(answer)
    assert line.startswith(b"*01,w01010=12.3,w01001=7.85,w21003=-,ST=0,CS=") and line.endswith(b"\r")
    assert asciiline.parse_answer(line, address=1) == answer
    assert asciiline.build_request(7) == b"#07RD\r"
    assert asciiline.parse_request(b"#07RD\r") == 7


def test_ascii_checksum_accepts_lower_case() -> None:
    line = asciiline.build_answer(asciiline.LineAnswer(3, {"w01010": 1.5}, 1))
    lowered = line[:-3] + line[-3:-1].lower() + b"\r"
    assert asciiline.parse_answer(lowered).flag == Flag.CALIBRATION


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"*01,w01010=12.3,ST=0,CS=00\r", "checksum"),
        (b"*01,w01010=12.3,ST=0\r", "syntax"),
        (b"\xff\xfe", "encoding"),
        (b"x" * 600, "oversized"),
    ],
)
def test_ascii_rejects_bad_lines(line: bytes, reason: str) -> None:
    with pytest.raises(FrameError) as info:
        asciiline.parse_answer(line)
    assert info.value.reason == reason


def _signed(body: str) -> bytes:
    raw = body.encode()
    return raw + f",CS={asciiline.checksum(raw)}\r".encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("*02,w01010=1,ST=0", "address"),
        ("*01,w01010=abc,ST=0", "value"),
        ("*01,w01010=nan,ST=0", "value"),
        ("*01,w01010=1,w01010=2,ST=0", "duplicate"),
        ("*01,w01010=1,ST=9", "state"),
        ("*01,w01010=1", "syntax"),
        ("*01,w01010,ST=0", "syntax"),
        ("#01,ST=0", "syntax"),
    ],
)
def test_ascii_rejects_bad_items(body: str, reason: str) -> None:
    with pytest.raises(FrameError) as info:
        asciiline.parse_answer(_signed(body), address=1)
    assert info.value.reason == reason


def test_line_protocol_plugin_registry() -> None:
    proto = load_line_protocol("ascii_generic")
    assert proto.request(1) == b"#01RD\r"
    result = proto.parse(asciiline.build_answer(asciiline.LineAnswer(1, {"w01001": 7.1}, 3)), 1)
    assert result.values == {"w01001": 7.1} and result.flag == Flag.FAULT
    with pytest.raises(ConfigError, match="unknown line protocol"):
        load_line_protocol("no_such_vendor")
    with pytest.raises(ConfigError):
        load_line_protocol("../evil")
