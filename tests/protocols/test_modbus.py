"""Pure frame codec: CRC, request parsing, response building, MBAP and RTU framing, the RTU splitter."""

from __future__ import annotations

import pytest

from protocols.modbus import (
    ExceptionCode,
    ModbusExceptionError,
    ModbusFrameError,
    Request,
    RtuRequestSplitter,
    build_exception_response,
    build_read_request,
    build_read_response,
    build_write_multiple_request,
    build_write_response,
    build_write_single_request,
    crc16_modbus,
    decode_rtu,
    encode_mbap,
    encode_rtu,
    parse_mbap_header,
    parse_request_pdu,
    rtu_char_bits,
    rtu_char_time_s,
    rtu_request_length,
    rtu_silent_interval_s,
    rtu_transaction_time_s,
)

# ---------------------------------------------------------------- CRC


def test_crc_of_the_classic_read_request() -> None:
    body = bytes.fromhex("01 03 00 00 00 0A")
    assert crc16_modbus(body) == 0xCDC5
    assert encode_rtu(1, body[1:]) == bytes.fromhex("01 03 00 00 00 0A C5 CD")  # low byte first


def test_crc_check_value_and_other_known_frames() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37  # the catalogue check value of CRC-16/MODBUS
    assert crc16_modbus(b"") == 0xFFFF
    # write single register 0x0001 := 0x0003 on unit 17, from the Modbus over serial line guide
    assert encode_rtu(0x11, bytes.fromhex("06 00 01 00 03")).hex() == "1106000100039a9b"
    # read 2 holding registers from 0x006B on unit 17
    assert encode_rtu(0x11, bytes.fromhex("03 00 6B 00 03")).hex() == "1103006b00037687"


def test_decode_rtu_round_trip_and_errors() -> None:
    frame = encode_rtu(7, bytes.fromhex("04 00 10 00 02"))
    assert decode_rtu(frame) == (7, bytes.fromhex("04 00 10 00 02"))
    bad = frame[:-1] + bytes([frame[-1] ^ 0x01])
    with pytest.raises(ModbusFrameError) as info:
        decode_rtu(bad)
    assert info.value.reason == "crc"
    with pytest.raises(ModbusFrameError) as info:
        decode_rtu(b"\x01\x03\x00")
    assert info.value.reason == "rtu_short"


# ---------------------------------------------------------------- request PDUs


def test_parse_reads_and_writes() -> None:
    assert parse_request_pdu(build_read_request(3, 0x10, 10)) == Request(3, 0x10, 10)
    assert parse_request_pdu(build_read_request(4, 0, 125)) == Request(4, 0, 125)
    single = parse_request_pdu(build_write_single_request(5, 0xBEEF))
    assert single == Request(6, 5, 1, (0xBEEF,)) and single.is_write
    multi = parse_request_pdu(build_write_multiple_request(100, [1, 2, 0xFFFF]))
    assert multi == Request(16, 100, 3, (1, 2, 0xFFFF))


@pytest.mark.parametrize(
    ("pdu", "code"),
    [
        (bytes.fromhex("01 00 00 00 01"), ExceptionCode.ILLEGAL_FUNCTION),  # read coils: not served
        (bytes.fromhex("2B 0E 01 00"), ExceptionCode.ILLEGAL_FUNCTION),
        (build_read_request(3, 0, 0), ExceptionCode.ILLEGAL_DATA_VALUE),
        (build_read_request(3, 0, 126), ExceptionCode.ILLEGAL_DATA_VALUE),
        (build_read_request(4, 0xFFFF, 2), ExceptionCode.ILLEGAL_DATA_ADDRESS),
        (bytes.fromhex("10 00 00 00 02 03 00 01 00"), ExceptionCode.ILLEGAL_DATA_VALUE),  # byte count != 2N
        (bytes.fromhex("10 00 00 00 00 00"), ExceptionCode.ILLEGAL_DATA_VALUE),  # zero registers
    ],
)
def test_refused_requests_raise_exception_errors(pdu: bytes, code: int) -> None:
    with pytest.raises(ModbusExceptionError) as info:
        parse_request_pdu(pdu)
    assert info.value.code == code
    assert info.value.function == pdu[0]


@pytest.mark.parametrize(
    ("pdu", "reason"),
    [
        (b"", "empty"),
        (bytes.fromhex("03 00 00 00"), "pdu_length"),
        (bytes.fromhex("03 00 00 00 01 00"), "pdu_length"),
        (bytes.fromhex("06 00 01"), "pdu_length"),
        (bytes.fromhex("10 00 00 00"), "pdu_length"),
        (bytes.fromhex("10 00 00 00 02 04 00 01"), "pdu_length"),  # announces 4 data bytes, carries 2
    ],
)
def test_malformed_pdus_raise_frame_errors(pdu: bytes, reason: str) -> None:
    with pytest.raises(ModbusFrameError) as info:
        parse_request_pdu(pdu)
    assert info.value.reason == reason
    assert info.value.function == (pdu[0] if pdu else None)


# ---------------------------------------------------------------- response PDUs


def test_build_responses() -> None:
    assert build_read_response(3, [0x1234, 0xABCD]) == bytes.fromhex("03 04 12 34 AB CD")
    assert build_write_response(Request(6, 1, 1, (3,))) == bytes.fromhex("06 00 01 00 03")
    assert build_write_response(Request(16, 0x20, 2, (1, 2))) == bytes.fromhex("10 00 20 00 02")
    assert build_exception_response(3, 2) == bytes.fromhex("83 02")
    assert build_exception_response(16, ExceptionCode.SERVER_DEVICE_BUSY) == bytes.fromhex("90 06")
    with pytest.raises(ValueError):
        build_read_response(3, [0x10000])
    with pytest.raises(ValueError):
        build_read_response(3, [])
    with pytest.raises(ValueError):
        build_write_response(Request(3, 0, 1))


# ---------------------------------------------------------------- MBAP


def test_mbap_round_trip() -> None:
    frame = encode_mbap(0x0102, 5, bytes.fromhex("03 00 00 00 0A"))
    assert frame == bytes.fromhex("01 02 00 00 00 06 05 03 00 00 00 0A")
    header = parse_mbap_header(frame)
    assert (header.transaction_id, header.protocol_id, header.length, header.unit_id) == (0x0102, 0, 6, 5)
    assert header.pdu_length == 5


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        ("00 01 00 00 00 06", "mbap_short"),
        ("00 01 00 01 00 06 01", "mbap_protocol"),
        ("00 01 00 00 00 01 01", "mbap_length"),
        ("00 01 00 00 01 00 01", "mbap_length"),  # 256 > 254
    ],
)
def test_bad_mbap_headers(head: str, reason: str) -> None:
    with pytest.raises(ModbusFrameError) as info:
        parse_mbap_header(bytes.fromhex(head))
    assert info.value.reason == reason


# ---------------------------------------------------------------- RTU splitter


def _req(unit: int, pdu: bytes) -> bytes:
    return encode_rtu(unit, pdu)


def test_request_length_by_function_code() -> None:
    assert rtu_request_length(b"\x01") is None
    assert rtu_request_length(b"\x01\x03") == 8
    assert rtu_request_length(b"\x01\x06") == 8
    assert rtu_request_length(b"\x01\x10\x00\x00\x00") is None  # byte count not seen yet
    assert rtu_request_length(_req(1, build_write_multiple_request(0, [1, 2, 3]))) == 9 + 6
    assert rtu_request_length(b"\x01\x63") == -1


def test_splitter_finds_frames_across_pieces() -> None:
    a = _req(1, build_read_request(3, 0, 10))
    b = _req(2, build_write_multiple_request(7, [10, 20]))
    c = _req(3, build_write_single_request(1, 99))
    stream = a + b + c
    splitter = RtuRequestSplitter()
    frames = []
    for i in range(0, len(stream), 3):  # fed in 3-byte pieces
        frames += splitter.feed(stream[i : i + 3])
    assert [(f.unit_id, f.raw) for f in frames] == [(1, a), (2, b), (3, c)]
    assert frames[1].pdu == build_write_multiple_request(7, [10, 20])
    assert splitter.pending == 0 and splitter.crc_errors == 0


def test_splitter_drops_bad_crc_and_counts_it() -> None:
    good = _req(1, build_read_request(3, 0, 2))
    bad = bytearray(_req(1, build_read_request(3, 5, 2)))
    bad[-1] ^= 0xFF
    splitter = RtuRequestSplitter()
    frames = splitter.feed(bytes(bad) + good)
    assert [f.raw for f in frames] == [good]
    assert splitter.crc_errors == 1 and splitter.dropped_bytes == len(bad)


def test_splitter_resyncs_after_unknown_function_and_flushes_partials() -> None:
    good = _req(1, build_read_request(4, 0, 1))
    splitter = RtuRequestSplitter()
    assert splitter.feed(b"\x01\x63\x63" + good)[0].raw == good  # 0x63: no known request length
    assert (
        splitter.dropped_bytes == 3 and splitter.crc_errors == 1
    )  # "63 01 ..." was sized as a read-coils frame
    assert splitter.feed(good[:5]) == []
    assert splitter.pending == 5
    assert splitter.flush() == 5
    assert splitter.incomplete_frames == 1 and splitter.pending == 0
    assert splitter.feed(good)[0].raw == good
    assert splitter.flush() == 0 and splitter.incomplete_frames == 1


def test_splitter_frames_unserved_functions_so_they_can_be_refused() -> None:
    coils = _req(1, bytes.fromhex("01 00 00 00 08"))
    frames = RtuRequestSplitter().feed(coils)
    assert len(frames) == 1
    with pytest.raises(ModbusExceptionError) as info:
        parse_request_pdu(frames[0].pdu)
    assert info.value.code == ExceptionCode.ILLEGAL_FUNCTION


# ---------------------------------------------------------------- wire time


def test_wire_time_figures() -> None:
    assert rtu_char_bits("N") == 10 and rtu_char_bits("E") == 11 and rtu_char_bits("o", 2) == 12
    assert rtu_char_time_s(9600) == pytest.approx(10 / 9600)
    assert rtu_silent_interval_s(9600) == pytest.approx(3.5 * 10 / 9600)
    assert rtu_silent_interval_s(115200) == pytest.approx(0.00175)
    # 10-register read: 8-byte request + 25-byte response at 9600 8N1 = 33 chars + 3.5 chars of gap
    assert rtu_transaction_time_s(8, 25, 9600) == pytest.approx(36.5 * 10 / 9600)
    with pytest.raises(ValueError):
        rtu_char_bits("X")
    with pytest.raises(ValueError):
        rtu_char_time_s(0)
