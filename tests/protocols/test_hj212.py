"""HJ 212-2017 frame codec: golden vectors, bad frames, builders, and a seeded round-trip loop."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from protocols import hj212
from protocols.errors import FrameError
from protocols.hj212 import CP, Frame, crc_hj212, decode_frame, encode_frame

VECTORS_COPY = Path(__file__).with_name("data") / "hj212_vectors.tsv"

ALLOWED_LOW_BYTES = {0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1}


@dataclass(frozen=True)
class Vector:
    frame: str
    crc: str
    source: str

    @property
    def wire(self) -> bytes:
        return (self.frame + "\r\n").encode("utf-8")


def load_vectors(path: Path) -> list[Vector]:
    vectors = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            frame, crc, source = line.split("\t")
            vectors.append(Vector(frame, crc, source))
    return vectors


VECTORS = load_vectors(VECTORS_COPY)
IDS = [f"{i:02d}-{v.frame[v.frame.find('CN=') + 3 : v.frame.find('CN=') + 7]}" for i, v in enumerate(VECTORS)]


def test_vector_file_has_all_cases() -> None:
    assert len(VECTORS) >= 30
    assert any("Appendix A worked example" in v.source for v in VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_vector_crc_matches(vector: Vector) -> None:
    segment = vector.frame[6:-4].encode("utf-8")
    assert vector.frame.endswith(vector.crc)
    assert f"{crc_hj212(segment):04X}" == vector.crc
    assert crc_hj212(segment) & 0xFF in ALLOWED_LOW_BYTES


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_vector_decodes_and_reencodes(vector: Vector) -> None:
    frame = decode_frame(vector.wire)
    assert frame.cn == vector.frame.split("CN=")[1].split(";")[0]
    # Byte for byte, including the spellings real peers use (a space before an item, ';' before '&&').
    assert encode_frame(frame) == vector.wire


def test_vector_lower_case_crc_accepted_and_reproduced() -> None:
    for vector in VECTORS:
        lower = (vector.frame[:-4] + vector.crc.lower() + "\r\n").encode()
        frame = decode_frame(lower)
        assert frame == decode_frame(vector.wire)
        assert frame.layout.crc_lower == (vector.crc.lower() != vector.crc)
        assert encode_frame(frame) == lower


def test_mixed_case_crc_is_refused() -> None:
    vector = next(v for v in VECTORS if v.crc == "CAC1")
    with pytest.raises(FrameError) as info:
        decode_frame((vector.frame[:-4] + "CaC1\r\n").encode())
    assert info.value.reason == "crc"


def test_non_canonical_spellings_are_kept_in_the_layout() -> None:
    noise = decode_frame(next(v for v in VECTORS if "space before" in v.source).wire)
    assert noise.layout == hj212.Layout(item_spaces=(0, 1))
    crate = decode_frame(next(v for v in VECTORS if 'trailing ";"' in v.source).wire)
    assert crate.layout == hj212.Layout(trailing_semicolon=True)
    # Without its layout the same frame is written the standard way.
    canonical = encode_frame(hj212.replace(noise, layout=hj212.CANONICAL))
    assert b"; LA-Rtd" not in canonical and b";LA-Rtd=50.1&&" in canonical
    assert decode_frame(canonical) == noise


def test_appendix_a_example_fields() -> None:
    frame = decode_frame(VECTORS[0].wire)
    assert frame == Frame(
        qn="20160801085857223",
        st="32",
        cn="1062",
        pw="100000",
        mn="010000A8900016F000169DC0",
        flag=5,
        cp=CP(((("RtdInterval", "30"),),)),
    )
    assert frame.version == hj212.VERSION_2017
    assert frame.reply_wanted and not frame.split
    assert frame.cp.values == {"RtdInterval": "30"}


def test_appendix_a_example_fails_with_modbus_crc() -> None:
    # The standard's own example checks only with the Appendix A variant.
    with pytest.raises(FrameError) as info:
        decode_frame(VECTORS[0].wire, crc_variant="modbus")
    assert info.value.reason == "crc"


def test_known_crc_values_both_variants() -> None:
    assert crc_hj212(b"123456789", "modbus") == 0x4B37  # the CRC-16/MODBUS check value
    segment = VECTORS[1].frame[6:-4].encode()
    assert crc_hj212(segment) == 0x1E00
    assert crc_hj212(segment, "modbus") == 0x25FB  # as hutool's CRC16Test records
    assert crc_hj212(b"") == 0xFFFF


def test_modbus_variant_round_trips() -> None:
    frame = decode_frame(VECTORS[0].wire)
    wire = encode_frame(frame, crc_variant="modbus")
    assert wire != VECTORS[0].wire
    assert decode_frame(wire, crc_variant="modbus") == frame
    with pytest.raises(FrameError):
        decode_frame(wire)


def test_unknown_crc_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="variant"):
        decode_frame(VECTORS[0].wire, crc_variant="crc32")  # type: ignore[arg-type]


def test_nonstandard_variants_decode() -> None:
    # No QN and no Flag; DataTime with milliseconds.
    old = decode_frame(VECTORS[2].wire)
    assert old.qn is None and old.flag is None and old.version is None and not old.reply_wanted
    assert old.cp.data_time == datetime(2016, 8, 24, 0, 38, 17, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert old.cp.params["011"] == {"Rtd": "231.0", "Flag": "N"}
    assert old.cp.params["B01"] == {"Rtd": "36.91"}
    # A space before an item.
    noise = decode_frame(next(v for v in VECTORS if "space before" in v.source).wire)
    assert noise.cp.params == {"LA": {"Rtd": "50.1"}}
    # Trailing ';' before '&&', and Flag 7 (split bit) without PNUM/PNO.
    crate = decode_frame(next(v for v in VECTORS if 'trailing ";"' in v.source).wire)
    assert crate.flag == 7 and crate.split and crate.pnum is None
    assert list(crate.cp.params)[-1] == "a34001"


def test_normalised_three_digit_header_vector() -> None:
    vector = next(v for v in VECTORS if "3-digit" in v.source)
    assert vector.frame.startswith("##0453")
    assert decode_frame(vector.wire).cp.params["a21005"] == {"Rtd": "1.1", "Flag": "N"}
    # As the source printed it (3-digit length), the frame is refused at the header.
    original = "##453" + vector.frame[6:-4] + "c0c1\r\n"
    with pytest.raises(FrameError) as info:
        decode_frame(original.encode())
    assert info.value.reason in ("header", "length")


def test_readme_sample_printed_crc_was_wrong() -> None:
    vector = next(v for v in VECTORS if "CORRECTED" in v.source)
    assert vector.crc == "3C00"
    printed = (vector.frame[:-4] + "4980\r\n").encode()
    with pytest.raises(FrameError) as info:
        decode_frame(printed)
    assert info.value.reason == "crc"
    assert "3C00" in str(info.value)


def test_2025_version_flag_9() -> None:
    vector = next(v for v in VECTORS if "Flag=9" in v.frame)
    frame = decode_frame(vector.wire)
    assert frame.flag == 9 and frame.version == hj212.VERSION_2025 and frame.reply_wanted
    assert frame.cp == CP()
    assert hj212.flag_value(version=hj212.VERSION_2025, reply=True) == 9
    assert hj212.flag_value(version=hj212.VERSION_2025) == 8
    assert hj212.flag_value(reply=True) == 5 and hj212.flag_value() == 4
    assert hj212.flag_value(split=True, reply=True) == 7
    with pytest.raises(ValueError):
        hj212.flag_value(version=64)


def test_utf8_length_counts_bytes_and_chars_option() -> None:
    vector = next(v for v in VECTORS if "清洗管路" in v.frame)
    frame = decode_frame(vector.wire)
    assert frame.cp.params["i11001"] == {"Info": "//清洗管路//"}
    segment = vector.frame[6:-4]
    assert len(segment.encode()) == 152 and len(segment) == 144
    # A character-counting peer declares 0144 for the same data segment (CRC still over UTF-8 bytes).
    chars = encode_frame(frame, length_unit="chars")
    assert chars.startswith(b"##0144") and chars[6:] == vector.wire[6:]
    assert decode_frame(chars, length_unit="chars") == frame
    with pytest.raises(FrameError) as info:
        decode_frame(chars)
    assert info.value.reason == "length"


# --- bad frames -----------------------------------------------------------------------------------------

GOOD = VECTORS[0].wire


def _reason(data: bytes, **kwargs: object) -> str:
    with pytest.raises(FrameError) as info:
        decode_frame(data, **kwargs)  # type: ignore[arg-type]
    assert str(info.value)  # every error says what is wrong
    return info.value.reason


def _with_crc(segment: str, length: int | None = None) -> bytes:
    raw = segment.encode("utf-8")
    declared = len(raw) if length is None else length
    return f"##{declared:04d}".encode() + raw + f"{crc_hj212(raw):04X}\r\n".encode()


def test_wrong_crc() -> None:
    assert _reason(GOOD.replace(b"1C80", b"1C81")) == "crc"


def test_non_hex_crc() -> None:
    assert _reason(GOOD.replace(b"1C80", b"1CZ0")) == "crc"
    assert _reason(GOOD.replace(b"1C80", b"+1C8")) == "crc"


def test_corrupted_data_byte_is_caught() -> None:
    assert _reason(GOOD.replace(b"RtdInterval=30", b"RtdInterval=31")) == "crc"


def test_wrong_length() -> None:
    assert _reason(GOOD.replace(b"##0101", b"##0102")) == "length"
    assert _reason(GOOD.replace(b"##0101", b"##0100")) == "length"


def test_missing_hashes() -> None:
    assert _reason(GOOD[2:]) == "header"
    assert _reason(b"#" + GOOD[2:]) == "header"


def test_missing_crlf() -> None:
    assert _reason(GOOD[:-2]) == "header"
    assert _reason(GOOD[:-1]) == "header"
    assert _reason(GOOD[:-2] + b"\n") == "header"


def test_non_digit_length() -> None:
    assert _reason(GOOD.replace(b"##0101", b"##01a1")) == "header"
    assert _reason(b"##\r\n") == "header"


def test_data_segment_longer_than_1024() -> None:
    long_cp = ";".join(f"w{i:05d}-Rtd=1.0" for i in range(80))
    segment = f"QN=20160801085857223;ST=21;CN=2011;PW=123456;MN=TEST01;Flag=4;CP=&&{long_cp}&&"
    assert len(segment) > 1024
    assert _reason(_with_crc(segment)) == "too_long"
    # Declared length alone over the limit is refused before anything else is read.
    assert _reason(GOOD.replace(b"##0101", b"##1025")) == "too_long"
    frame = decode_frame(_with_crc(segment), max_length=2048)
    with pytest.raises(FrameError) as info:
        encode_frame(frame)
    assert info.value.reason == "too_long"


def test_bad_utf8() -> None:
    segment = b"QN=20160801085857223;ST=21;CN=2011;PW=123456;MN=\xff\xfe;Flag=4;CP=&&&&"
    wire = f"##{len(segment):04d}".encode() + segment + f"{crc_hj212(segment):04X}\r\n".encode()
    assert _reason(wire) == "encoding"


QN = "QN=20160801085857223"


@pytest.mark.parametrize(
    "segment",
    [
        f"{QN};ST=21;CN=2011;PW=123456;MN=A;Flag=4",  # no CP
        f"{QN};ST=21;CN=2011;PW=123456;MN=A;Flag=4;CP=&&DataTime=1",  # CP not closed
        f"{QN};ST=21;CN=2011;PW=123456;MN=A;Flag=4CP=&&&&",  # no ';' before CP
        f"{QN};ST=21;CN=2011;MN=A;Flag=4;CP=&&&&",  # no PW
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;Foo=1;CP=&&&&",  # unknown header field
        f"{QN};ST=21;ST=21;CN=2011;PW=1;MN=A;CP=&&&&",  # duplicate field
        f"{QN};CN=2011;ST=21;PW=1;MN=A;CP=&&&&",  # out of the standard's order
        "QN;ST=21;CN=2011;PW=1;MN=A;CP=&&&&",  # not key=value
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;CP=&&w01001-Rtd&&",  # CP item not key=value
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;CP=&&=7&&",  # empty key
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;CP=&&a=1;;b=2&&",  # empty item
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;CP=&&a=1;;&&",  # two ';' before '&&'
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;CP=&& &&",  # an item of spaces only
    ],
)
def test_syntax_errors(segment: str) -> None:
    assert _reason(_with_crc(segment)) == "syntax"


@pytest.mark.parametrize(
    "segment",
    [
        "QN=1;ST=21;CN=2011;PW=1;MN=A;CP=&&&&",  # QN not 17 digits
        "QN=2016080108585722;ST=21;CN=2011;PW=1;MN=A;CP=&&&&",  # 16 digits
        "QN=20160231085857223;ST=21;CN=2011;PW=1;MN=A;CP=&&&&",  # 31 February
        "QN=2016080108585722x;ST=21;CN=2011;PW=1;MN=A;CP=&&&&",
        f"{QN};ST=2;CN=2011;PW=1;MN=A;CP=&&&&",  # ST not 2 digits
        f"{QN};ST=2a;CN=2011;PW=1;MN=A;CP=&&&&",
        f"{QN};ST=21;CN=;PW=1;MN=A;CP=&&&&",  # empty CN
        f"{QN};ST=21;CN=20x1;PW=1;MN=A;CP=&&&&",  # non-numeric CN
        f"{QN};ST=21;CN=20111;PW=1;MN=A;CP=&&&&",  # CN of 5 digits
        f"{QN};ST=21;CN=2011;PW=;MN=A;CP=&&&&",  # empty PW
        f"{QN};ST=21;CN=2011;PW=12 456;MN=A;CP=&&&&",  # space in PW
        f"{QN};ST=21;CN=2011;PW=1;MN=;CP=&&&&",  # empty MN
        f"{QN};ST=21;CN=2011;PW=1;MN={'A' * 25};CP=&&&&",  # MN over 24 characters
        f"{QN};ST=21;CN=2011;PW=1;MN=站点;CP=&&&&",  # MN not ASCII
        f"{QN};ST=21;CN=2011;PW=1;MN=A\n;CP=&&&&",  # a newline after MN
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=x;CP=&&&&",  # Flag not a number
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=256;CP=&&&&",  # Flag beyond 8 bits
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=05;CP=&&&&",  # leading zero: would come back as 5
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=-1;CP=&&&&",
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=7;PNUM=2;CP=&&&&",  # PNUM without PNO
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=7;PNUM=2;PNO=3;CP=&&&&",  # PNO beyond PNUM
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=7;PNUM=0;PNO=0;CP=&&&&",  # packets count from 1
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=7;PNUM=10000;PNO=1;CP=&&&&",  # 5 digits
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;CP=&&DataTime=2016080108&&",  # short DataTime
        f"{QN};ST=21;CN=2051;PW=1;MN=A;Flag=4;CP=&&BeginTime=20161301000000&&",  # month 13
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;CP=&&w01001 -Rtd=7&&",  # space inside a key
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;CP=&&a=1, b=2&&",  # space before a later pair
        f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;CP=&&w-01-Rtd=7&&",  # two '-' in a key
    ],
)
def test_malformed_fields(segment: str) -> None:
    assert _reason(_with_crc(segment)) == "field"


@pytest.mark.parametrize(
    "cp",
    [
        "a=1=2",  # '=' in a value
        "a=1&&b=2",  # '&&' inside CP
        "a=x&y",  # one '&'
        "a=1\r\nb",  # CR LF inside a value
        "a=1\nb",
        "a=1\rb",
        "a=\x00",  # other control characters
        "a=\tb",
        "a=\x7f",
    ],
)
def test_reserved_characters_in_values(cp: str) -> None:
    assert _reason(_with_crc(f"{QN};ST=21;CN=2011;PW=1;MN=A;Flag=4;CP=&&{cp}&&")) == "reserved"


def test_every_reason_is_listed() -> None:
    assert set(hj212.REASONS) == {
        "header",
        "length",
        "too_long",
        "crc",
        "encoding",
        "syntax",
        "field",
        "reserved",
    }


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\r\n",
        b"hello world\r\n",
        b"##",
        b"\x00" * 40,
        bytes(range(256)),
        b"##0000\r\n",
        b"##0000ZZZZ\r\n",
    ],
)
def test_garbage_raises_frame_error(garbage: bytes) -> None:
    with pytest.raises(FrameError):
        decode_frame(garbage)


def test_random_garbage_never_escapes_as_other_exception() -> None:
    rng = random.Random(212)
    for _ in range(2000):
        base = bytearray(rng.choice(VECTORS).wire)
        for _ in range(rng.randint(1, 4)):
            base[rng.randrange(len(base))] = rng.randrange(256)
        try:
            decode_frame(bytes(base))
        except FrameError as exc:
            assert exc.reason in hj212.REASONS


# --- encoding refuses what would break the frame ------------------------------------------------------


@pytest.mark.parametrize("bad", ["a;b", "a,b", "a=b", "a&&b", "a&b", "a\r\nb", "a\x00"])
def test_encode_refuses_separators_in_values(bad: str) -> None:
    with pytest.raises(FrameError) as info:
        encode_frame(Frame(st="21", cn="2011", pw="123456", mn="M", cp=CP(((("PolId", bad),),))))
    assert info.value.reason == "reserved"
    with pytest.raises(FrameError) as info:
        encode_frame(Frame(st="21", cn="2011", pw=bad, mn="M"))
    assert info.value.reason == "field"


@pytest.mark.parametrize(
    "changes",
    [
        {"qn": "2016080108585722"},
        {"qn": "20161301085857223"},
        {"st": "321"},
        {"cn": ""},
        {"cn": "CN01"},
        {"mn": "M" * 25},
        {"pw": ""},
        {"flag": 256},
        {"flag": True},
        {"pnum": 2},
        {"pnum": 2, "pno": 3},
        {"cp": CP(((("DataTime", "2016"),),))},
        {"cp": CP(((("bad key", "1"),),))},
        {"mn": "M\n"},  # '$' would let a final newline through
        {"pw": "123456\n"},
        {"cp": CP(((("DataTime\n", "1"),),))},
        {"cp": CP(((),))},
    ],
)
def test_encode_refuses_what_decode_would_refuse(changes: dict[str, object]) -> None:
    good = Frame(qn="20160801085857223", st="21", cn="2011", pw="123456", mn="M", flag=4)
    assert decode_frame(encode_frame(good)) == good
    with pytest.raises(FrameError) as info:
        encode_frame(hj212.replace(good, **changes))  # type: ignore[arg-type]
    assert info.value.reason in ("field", "syntax")


def test_encode_refuses_a_layout_that_does_not_fit() -> None:
    frame = Frame(
        st="21", cn="2011", pw="1", mn="M", cp=CP(((("a", "1"),),)), layout=hj212.Layout(item_spaces=(0, 2))
    )
    with pytest.raises(FrameError):
        encode_frame(frame)


# --- times and builders -------------------------------------------------------------------------------

SAMPLE_UTC = datetime(2016, 8, 1, 0, 58, 57, 223000, tzinfo=UTC)  # 08:58:57.223 in Beijing


def test_qn_and_data_time_in_station_local_time() -> None:
    assert hj212.format_qn(SAMPLE_UTC) == "20160801085857223"
    assert hj212.format_time(SAMPLE_UTC) == "20160801085857"
    # Another zone's aware time names the same instant.
    other = SAMPLE_UTC.astimezone(timezone(timedelta(hours=-5)))
    assert hj212.format_qn(other) == "20160801085857223"
    assert hj212.parse_time("20160801085857") == SAMPLE_UTC.replace(microsecond=0)
    assert hj212.parse_time("20160801085857223") == SAMPLE_UTC
    with pytest.raises(ValueError, match="aware"):
        hj212.format_qn(datetime(2016, 8, 1, 8, 58, 57))
    with pytest.raises(ValueError):
        hj212.parse_time("2016-08-01")


def test_build_realtime_from_readings() -> None:
    frame = hj212.build_realtime(
        [("w21003", 0.452, "N"), ("w01001", 7.85, "C"), ("w21011", None, "B")],
        mn="010000A8900016F000169DC0",
        pw="123456",
        data_time=datetime(2016, 8, 1, 0, 40, tzinfo=UTC),
        qn_time=SAMPLE_UTC,
    )
    wire = encode_frame(frame)
    segment = (
        "QN=20160801085857223;ST=21;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;"
        "CP=&&DataTime=20160801084000;w21003-Rtd=0.452,w21003-Flag=N;w01001-Rtd=7.85,w01001-Flag=C;"
        "w21011-Flag=B&&"
    )
    assert wire == _with_crc(segment)
    decoded = decode_frame(wire)
    assert decoded.cp.params["w21011"] == {"Flag": "B"}
    assert decoded.cp.data_time == datetime(2016, 8, 1, 0, 40, tzinfo=UTC)


def test_build_hourly_uses_avg_and_version_bits() -> None:
    frame = hj212.build_hourly(
        [("w01019", 3.2, "N"), ("w00000", 1.0e-05, "N"), ("w01014", 1234567.0, "T")],
        mn="MN1",
        pw="123456",
        data_time=datetime(2026, 1, 1, 2, tzinfo=UTC),
        qn_time=datetime(2026, 1, 1, 3, 0, 5, tzinfo=UTC),
        version=hj212.VERSION_2025,
        reply=False,
    )
    assert frame.cn == "2061" and frame.flag == 8
    assert frame.cp.get("DataTime") == "20260101100000"
    # Values are written in full, never rounded or in exponent form.
    assert frame.cp.params == {
        "w01019": {"Avg": "3.2", "Flag": "N"},
        "w00000": {"Avg": "0.00001", "Flag": "N"},
        "w01014": {"Avg": "1234567.0", "Flag": "T"},
    }
    assert decode_frame(encode_frame(frame)) == frame


@pytest.mark.parametrize(
    "readings",
    [
        [("w01001", float("nan"), "N")],
        [("w01001", float("inf"), "N")],
        [("w01001", 7.0, "X")],
        [("w01-001", 7.0, "N")],
        [("w01001", 7.0, "N"), ("w01001", 7.1, "N")],
    ],
)
def test_build_refuses_bad_readings(readings: list[tuple[str, float, str]]) -> None:
    with pytest.raises(ValueError):
        hj212.build_realtime(readings, mn="M", pw="123456", data_time=SAMPLE_UTC, qn_time=SAMPLE_UTC)


@pytest.mark.parametrize(
    ("builder", "index"),
    [
        (lambda r: hj212.build_request_answer(r, 1), "9011"),
        (lambda r: hj212.build_execution_result(r, 1), "9012"),
        (hj212.build_data_answer, "9014"),
    ],
)
def test_replies_match_appendix_c(builder: object, index: str) -> None:
    request = decode_frame(
        _with_crc("QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&&&")
    )
    reply = builder(request)  # type: ignore[operator]
    expected = next(v for v in VECTORS if f"ST=91;CN={index};" in v.frame)
    assert encode_frame(reply) == expected.wire


def test_reply_keeps_2025_version() -> None:
    request = decode_frame(next(v for v in VECTORS if "Flag=9" in v.frame).wire)
    reply = hj212.build_request_answer(request, 9)
    assert reply.flag == 8 and reply.cp.values == {"QnRtn": "9"} and reply.qn == request.qn


# --- property-style: seeded random frames round-trip -------------------------------------------------

_TEXT = string.ascii_letters + string.digits + "._-/: 清流水质"


def _random_frame(rng: random.Random) -> Frame:
    def word(n: int) -> str:
        return "".join(rng.choice(_TEXT) for _ in range(rng.randint(0, n)))

    groups = []
    for _ in range(rng.randint(0, 8)):
        code = rng.choice(["w01001", "w21003", "a34004", "B01", "LA"])
        fields = rng.sample(
            ["Rtd", "Avg", "Min", "Max", "Cou", "Flag", "SampleTime", "EFlag"], rng.randint(1, 3)
        )
        groups.append(tuple((f"{code}-{f}", word(10)) for f in fields))
    if rng.random() < 0.5:
        groups.insert(0, (("DataTime", f"{rng.randint(2000, 2099)}0229{rng.randint(0, 23):02d}0000"),))
    flag = rng.choice([None, 4, 5, 8, 9, 6, 7])
    pnum = rng.randint(1, 99)
    split = flag is not None and bool(flag & 2)
    return Frame(
        qn=rng.choice(
            [None, hj212.format_qn(datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.random() * 3e9))]
        ),
        st=rng.choice(["21", "32", "91"]),
        cn=rng.choice(["2011", "2061", "9011", "1062"]),
        pw="".join(
            rng.choice(string.ascii_letters + string.digits + "_-") for _ in range(rng.randint(1, 24))
        ),
        mn="".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(rng.randint(1, 24))),
        flag=flag,
        pnum=pnum if split else None,
        pno=rng.randint(1, pnum) if split else None,
        cp=CP(tuple(groups)),
    )


def test_random_frames_round_trip() -> None:
    rng = random.Random(20170701)
    checked = 0
    for _ in range(1500):
        frame = _random_frame(rng)
        # 29 February only exists in leap years: a frame with an impossible DataTime cannot be sent either.
        data_time = frame.cp.get("DataTime")
        for unit in ("bytes", "chars"):
            if data_time is not None and int(data_time[:4]) % 4 != 0:
                with pytest.raises(FrameError) as info:
                    encode_frame(frame, length_unit=unit)
                assert info.value.reason == "field"
                continue
            wire = encode_frame(frame, length_unit=unit)
            assert wire.startswith(b"##") and wire.endswith(b"\r\n")
            crc_text = wire[-6:-2].decode()
            assert crc_text == crc_text.upper()
            assert int(crc_text, 16) & 0xFF in ALLOWED_LOW_BYTES
            assert decode_frame(wire, length_unit=unit) == frame
            assert encode_frame(decode_frame(wire, length_unit=unit), length_unit=unit) == wire
            checked += 1
    assert checked > 1000


def test_crc_low_byte_is_always_restricted() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        data = rng.randbytes(rng.randint(1, 200))  # empty data leaves the start value FFFF
        assert crc_hj212(data) & 0xFF in ALLOWED_LOW_BYTES
    # The MODBUS variant has no such restriction, which is how the two are told apart.
    lows = {crc_hj212(rng.randbytes(20), "modbus") & 0xFF for _ in range(500)}
    assert len(lows) > 100


# --- split packets --------------------------------------------------------------------------------------


def _upload(count: int) -> Frame:
    return hj212.build_realtime(
        [(f"w{i:05d}", i + 0.125, "N") for i in range(count)],
        mn="MN1",
        pw="123456",
        data_time=datetime(2026, 1, 1, 2, tzinfo=UTC),
        qn_time=datetime(2026, 1, 1, 2, 0, 1, tzinfo=UTC),
        st="32",
    )


def test_split_into_asked_packets_and_join_back() -> None:
    frame = _upload(5)
    packets = hj212.split_frame(frame, parts=2)
    assert [(p.pnum, p.pno, p.flag) for p in packets] == [(2, 1, 7), (2, 2, 7)]
    assert all(p.qn == frame.qn and p.cn == "2011" and p.split for p in packets)
    # Every packet repeats DataTime; the parameters are shared out in order, 3 then 2.
    assert [list(p.cp.params) for p in packets] == [["w00000", "w00001", "w00002"], ["w00003", "w00004"]]
    assert all(p.cp.get("DataTime") == "20260101100000" for p in packets)
    for p in packets:
        assert decode_frame(encode_frame(p)) == p
    assert hj212.join_packets(reversed(packets)) == frame


def test_split_only_what_does_not_fit() -> None:
    small = _upload(3)
    assert hj212.split_frame(small) == [small]
    big = _upload(60)
    assert len(encode_frame(big, max_length=4096)) > 1024
    packets = hj212.split_frame(big)
    assert len(packets) > 1
    assert all(len(encode_frame(p)) <= 1024 + 12 for p in packets)
    assert hj212.join_packets(packets) == big


def test_join_refuses_incomplete_or_mixed_sets() -> None:
    packets = hj212.split_frame(_upload(4), parts=3)
    for bad in (
        packets[:2],
        [*packets, packets[0]],
        [hj212.replace(packets[0], qn="20260101100002000"), *packets[1:]],
    ):
        with pytest.raises(FrameError) as info:
            hj212.join_packets(bad)
        assert info.value.reason == "syntax"
    with pytest.raises(FrameError):
        hj212.join_packets([])
    with pytest.raises(FrameError):
        hj212.join_packets([_upload(1)])
    with pytest.raises(ValueError):
        hj212.split_frame(_upload(2), parts=3)
