"""HJ 212-2017 frame codec: bytes in, typed frames out, and back. Pure: no sockets, files or clocks.

    ##dddd<data segment><CRC>\\r\\n
    data segment = QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;[PNUM=…;PNO=…;]CP=&&…&&

The length ``dddd`` counts the data segment in UTF-8 bytes (some peers count characters: ``length_unit``).
The CRC is the Appendix A variant over the data segment's UTF-8 bytes, not CRC-16/MODBUS; since the 2025
revision's text was not available the variant is selectable (``crc_variant``), as are the Flag version bits.

The codec is strict and symmetric: what ``decode_frame`` accepts, ``encode_frame`` gives back byte for byte
(with the same ``crc_variant`` and ``length_unit``), and every frame ``encode_frame`` makes decodes to itself.
A decoded frame keeps every CP key=value in its original order and grouping; the few spellings real peers use
that the standard leaves open (lower-case CRC, a space before a CP item, one ';' before the closing '&&') are
kept in ``Frame.layout`` so that they are reproduced too. Errors are FrameError with ``reason`` one of REASONS:

    header    the frame does not start with ``##`` + 4 digits or does not end with ``\\r\\n``
    length    the declared length is not the length of the data segment
    too_long  the data segment is longer than the standard allows (1024)
    crc       the CRC is not 4 hex digits (one case) or does not match the data segment
    encoding  the data segment is not UTF-8
    syntax    the data segment is not a well-formed set of fields (order, key=value, CP=&&…&&)
    field     a field's value is malformed: QN, ST, CN, PW, MN, Flag, PNUM/PNO, a CP key or a CP time
    reserved  a value holds a character the grammar reserves (= , ; & CR LF) or another control character
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from protocols.errors import FrameError
from protocols.flags import Flag
from protocols.zones import zone as zone_named

CrcVariant = Literal["hj212", "modbus"]
LengthUnit = Literal["bytes", "chars"]

MAX_DATA_LENGTH = 1024
# Version bits V5..V0 of the Flag field.
VERSION_2017 = 0b000001
VERSION_2025 = 0b000010
DEFAULT_ZONE = "Asia/Shanghai"  # platforms expect station-local time in QN and DataTime

ST_SURFACE_WATER = "21"
ST_SYSTEM = "91"
CN_REALTIME = "2011"
CN_MINUTE = "2051"
CN_HOURLY = "2061"
CN_DAILY = "2031"
CN_REQUEST_ANSWER = "9011"
CN_EXECUTION_RESULT = "9012"
CN_NOTIFY_ANSWER = "9013"
CN_DATA_ANSWER = "9014"

REASONS = ("header", "length", "too_long", "crc", "encoding", "syntax", "field", "reserved")

# Field widths of HJ 212-2017 Table 4 (the width there includes the "XX=" prefix): QN 20 → 17 digits, ST 5 → 2,
# CN 7 → 4, PW 9 → 6, MN 27 → 24, Flag 8 → 0-255, PNUM 9 / PNO 8 → 4 digits. PW is allowed up to 24 characters
# because deployed loggers send 24-character tokens (a shared vector does). See docs/STANDARDS.md §6.
MAX_MN_LENGTH = 24
MAX_PW_LENGTH = 24
MAX_PACKETS = 9999
TIME_KEYS = ("DataTime", "BeginTime", "EndTime", "SystemTime")  # CP values that must be valid times
_TIME_KEY_SET = frozenset(TIME_KEYS)

_FRAME_OVERHEAD = 2 + 4 + 4 + 2  # "##", length, CRC, "\r\n"
_HEADER_KEYS = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
_REQUIRED_KEYS = ("ST", "CN", "PW", "MN")
_CODE_RE = re.compile(r"^[A-Za-z0-9]{1,24}$")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")  # MN and PW: ASCII letters, digits, '_' and '-'
_CP_KEY_RE = re.compile(r"^[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)?$")  # DataTime, PolId, w01018-Rtd, MB_BgnAddr
# Characters the grammar reserves, which no value may hold; other control characters are refused too.
_FORBIDDEN = (";", ",", "=", "&", "\r", "\n")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Either of the two, in one search: what a good value costs (tens of CP values a frame, issue 14).
_RESERVED_RE = re.compile("[" + re.escape("".join(_FORBIDDEN)) + r"\x00-\x1f\x7f]")
_KNOWN_CP_KEYS: set[str] = set()  # CP keys that passed _CP_KEY_RE: a frame repeats the same few dozen
_KNOWN_CP_KEYS_MAX = 4096  # forgotten all at once beyond this: garbage keys cannot grow it


# --- CRC (Appendix A) ---------------------------------------------------------------------------------


def _crc_table() -> tuple[int, ...]:
    """The eight shift-and-XOR rounds (polynomial 0xA001) applied to each low byte: one lookup per byte."""
    table = []
    for value in range(256):
        crc = value
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def _powers_of_high_byte_step() -> tuple[tuple[int, ...], ...]:
    """``POWERS[j][x]``: the step ``x → T[x] >> 8`` applied ``j`` times, for j = 0..7.

    Appendix A's register after a byte is ``T[(crc >> 8) ^ byte]``: what carries over to the next byte is only
    the high byte of a table entry. That step is linear over GF(2) (T is a CRC table) and applied eight times
    it is the identity (tests/protocols/test_hj212_crc.py proves both), so the carried byte after n bytes is
    the XOR of each byte stepped (n - 1 - i) mod 8 times, plus the initial 0xFF stepped (n - 1) mod 8 times:
    the bytes only need XOR-ing by their position mod 8, which is the XOR of the data's 64-bit words.
    """
    step = [_CRC_TABLE[x] >> 8 for x in range(256)]
    powers = [tuple(range(256))]
    for _ in range(7):
        powers.append(tuple(step[x] for x in powers[-1]))
    return tuple(powers)


_POWERS = _powers_of_high_byte_step()


def crc_hj212(data: bytes, variant: CrcVariant = "hj212") -> int:
    """The 16-bit CRC of ``data``.

    ``hj212`` (Appendix A): the byte is XORed into the register after shifting it right by 8, so only the
    low byte of the result can take few values (00 01 40 41 80 81 C0 C1). ``modbus``: CRC-16/MODBUS, kept
    selectable for peers (or a revision) that use it. Both equal ``crc_bytewise`` (the standard's loop with
    a table); ``hj212`` is computed without a Python step per byte (``_powers_of_high_byte_step``): a
    400-byte frame took 24 µs byte by byte, now about 3 µs (issue 14: the server checks one CRC per frame
    and makes one per answer).
    """
    if variant != "hj212" or not data:
        return crc_bytewise(data, variant)
    n = len(data)
    # XOR of the data's little-endian 64-bit words (zero-padded): byte s of ``words`` is the XOR of the data
    # bytes at positions ≡ s (mod 8). Folded in halves of a power-of-two width.
    words = int.from_bytes(data, "little")
    bits = 64
    while bits < 8 * n:
        bits <<= 1
    while bits > 64:
        bits >>= 1
        words = (words & ((1 << bits) - 1)) ^ (words >> bits)
    powers = _POWERS
    carried = powers[(n - 1) % 8][0xFF]
    for s in range(8):
        carried ^= powers[(n - 1 - s) % 8][(words >> (8 * s)) & 0xFF]
    return _CRC_TABLE[carried]


def crc_bytewise(data: bytes, variant: CrcVariant = "hj212") -> int:
    """The CRC of ``data`` one byte at a time, as the standard's Appendix A (and CRC-16/MODBUS) loop: the
    reference that ``crc_hj212`` is tested against, and its ``modbus`` variant."""
    crc = 0xFFFF
    table = _CRC_TABLE
    if variant == "hj212":
        for byte in data:
            crc = (crc >> 8) ^ byte
            crc = (crc >> 8) ^ table[crc & 0xFF]
    else:
        for byte in data:
            crc ^= byte
            crc = (crc >> 8) ^ table[crc & 0xFF]
    return crc


def _check_variant(variant: str) -> None:
    if variant not in ("hj212", "modbus"):
        raise ValueError(f"unknown CRC variant {variant!r}: 'hj212' or 'modbus'")


# --- Flag field ---------------------------------------------------------------------------------------


def flag_value(*, version: int = VERSION_2017, split: bool = False, reply: bool = False) -> int:
    """The Flag field: version bits V5..V0, then D (split packet), then A (reply wanted)."""
    if not 0 <= version <= 0b111111:
        raise ValueError(f"version {version} does not fit 6 bits")
    return (version << 2) | (int(split) << 1) | int(reply)


# --- times --------------------------------------------------------------------------------------------


def _local(at: datetime, zone: str) -> datetime:
    if at.tzinfo is None:
        raise ValueError("time must be timezone-aware (pass UTC or local time with its zone)")
    return at.astimezone(zone_named(zone))


def format_qn(at: datetime, zone: str = DEFAULT_ZONE) -> str:
    """QN request id ``YYYYMMDDhhmmsszzz`` of ``at`` in the station's local time."""
    local = _local(at, zone)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def format_time(at: datetime, zone: str = DEFAULT_ZONE) -> str:
    """A CP time (DataTime, BeginTime, SystemTime…) ``YYYYMMDDhhmmss`` in the station's local time."""
    return _local(at, zone).strftime("%Y%m%d%H%M%S")


@lru_cache(maxsize=4096)
def parse_time(text: str, zone: str = DEFAULT_ZONE) -> datetime:
    """An aware datetime from ``YYYYMMDDhhmmss`` (or with 3 more millisecond digits) in ``zone``.

    Remembered (a datetime is immutable): a data frame's DataTime and QN are read three to five times on the
    way from its check to its readings, and hundreds of loggers send the same DataTime each interval."""
    if not (text.isascii() and text.isdigit() and len(text) in (14, 17)):
        raise ValueError(f"time {text!r} is not YYYYMMDDhhmmss[zzz]")
    # Fields sliced, not strptime (12 µs a call, five calls a frame): on 14 digits both accept the same
    # strings with the same result, datetime() refusing a month 13 or a 31 February as strptime does
    # (tests/protocols/test_hj212.py compares them).
    millis = int(text[14:]) if len(text) == 17 else 0
    return datetime(
        int(text[0:4]),
        int(text[4:6]),
        int(text[6:8]),
        int(text[8:10]),
        int(text[10:12]),
        int(text[12:14]),
        millis * 1000,
        tzinfo=zone_named(zone),
    )


# --- the typed model ----------------------------------------------------------------------------------

Pair = tuple[str, str]
Group = tuple[Pair, ...]


@dataclass(frozen=True, slots=True)
class CP:
    """The command parameters. ``groups`` keeps every key=value in order: ';' separates groups (one
    parameter's fields, or one plain item), ',' separates the pairs of a group.

    Keys with a '-' are parameter fields (``w21003-Rtd``: code ``w21003``, field ``Rtd``); the others
    (DataTime, QnRtn, PolId, MB_BgnAddr…) are plain values.
    """

    groups: tuple[Group, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        data_time: datetime | None = None,
        values: Mapping[str, str] | None = None,
        params: Mapping[str, Mapping[str, str]] | None = None,
        zone: str = DEFAULT_ZONE,
    ) -> CP:
        """DataTime first, then plain values (one group each), then one group per parameter."""
        groups: list[Group] = []
        if data_time is not None:
            groups.append((("DataTime", format_time(data_time, zone)),))
        for key, value in (values or {}).items():
            groups.append(((key, value),))
        for code, fields in (params or {}).items():
            if fields:
                groups.append(tuple((f"{code}-{name}", value) for name, value in fields.items()))
        return cls(tuple(groups))

    def pairs(self) -> list[Pair]:
        return [pair for group in self.groups for pair in group]

    def get(self, key: str) -> str | None:
        for group in self.groups:  # not through pairs(): DataTime is read this way for every frame
            for name, value in group:
                if name == key:
                    return value
        return None

    @property
    def values(self) -> dict[str, str]:
        """Plain key=values (no '-' in the key), in order."""
        return {k: v for k, v in self.pairs() if "-" not in k}

    @property
    def params(self) -> dict[str, dict[str, str]]:
        """Per parameter code, its fields (Rtd, Avg, Min, Max, Cou, Flag, SampleTime, EFlag…), in order."""
        result: dict[str, dict[str, str]] = {}
        for key, value in self.pairs():
            if "-" in key:
                code, _, name = key.partition("-")
                result.setdefault(code, {})[name] = value
        return result

    @property
    def data_time(self) -> datetime | None:
        """DataTime as an aware datetime in the station zone (Asia/Shanghai), or None if absent."""
        text = self.get("DataTime")
        return None if text is None else parse_time(text)

    def text(self) -> str:
        return ";".join(",".join(f"{k}={v}" for k, v in group) for group in self.groups)


@dataclass(frozen=True, slots=True)
class Layout:
    """How a frame spells what the standard leaves open, so that a decoded frame re-encodes byte for byte.

    Not part of a frame's meaning (frames compare equal whatever their layout): ``crc_lower`` writes the CRC
    in lower-case hex; ``item_spaces[i]`` spaces go before CP item i (a ';'-separated group; missing = 0);
    ``trailing_semicolon`` puts one ';' before the closing '&&'.
    """

    crc_lower: bool = False
    item_spaces: tuple[int, ...] = ()
    trailing_semicolon: bool = False

    def __post_init__(self) -> None:
        # One spelling per layout: trailing zeros say nothing ("missing = 0").
        spaces = tuple(self.item_spaces)
        while spaces and spaces[-1] == 0:
            spaces = spaces[:-1]
        object.__setattr__(self, "item_spaces", spaces)


CANONICAL = Layout()


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One HJ 212 frame. ``qn`` and ``flag`` may be absent (older peers omit them)."""

    qn: str | None = None
    st: str
    cn: str
    pw: str
    mn: str
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    cp: CP = field(default_factory=CP)
    layout: Layout = field(default=CANONICAL, compare=False)

    @property
    def version(self) -> int | None:
        return None if self.flag is None else (self.flag >> 2) & 0b111111

    @property
    def reply_wanted(self) -> bool:
        return self.flag is not None and bool(self.flag & 1)

    @property
    def split(self) -> bool:
        return self.flag is not None and bool(self.flag & 2)


# --- the rules both directions share -------------------------------------------------------------------


def _field_error(message: str) -> FrameError:
    return FrameError(message, reason="field")


def _check_cp_value(key: str, value: str) -> None:
    """Refuses a CP value holding a reserved or control character, naming it; one regex search when it holds
    none (the message is made only for a refusal)."""
    if _RESERVED_RE.search(value) is None:
        return
    what = f"CP value of {key}"
    for bad in _FORBIDDEN:
        if bad in value:
            raise FrameError(f"{what} {value!r} contains the reserved character {bad!r}", reason="reserved")
    if _CONTROL_RE.search(value):
        raise FrameError(f"{what} {value!r} contains a control character", reason="reserved")


def _digits(text: str, count: int) -> bool:
    return len(text) == count and text.isascii() and text.isdigit()


def _check_int(key: str, value: int | None, low: int, high: int) -> None:
    # bool is an int: refuse it, or True would be written as "True".
    if value is not None and (type(value) is not int or not low <= value <= high):
        raise _field_error(f"{key}={value!r} is not an integer {low}-{high}")


def _check_qn(qn: str | None) -> None:
    if qn is None:
        return
    if not _digits(qn, 17):
        raise _field_error(f"QN={qn!r} is not 17 digits YYYYMMDDhhmmsszzz")
    try:
        parse_time(qn)
    except ValueError:
        raise _field_error(f"QN={qn!r} is not a valid time") from None


def _check_ids(pw: str, mn: str) -> None:
    for key, value, limit in (("PW", pw, MAX_PW_LENGTH), ("MN", mn, MAX_MN_LENGTH)):
        if not (value.isascii() and _ID_RE.fullmatch(value)) or len(value) > limit:
            raise _field_error(f"{key}={value!r} is not 1-{limit} ASCII letters, digits, '_' or '-'")


def check_frame(frame: Frame) -> None:
    """Raise FrameError (reason ``field``, ``reserved`` or ``syntax``) unless ``frame`` is one the codec can
    send and read back unchanged. ``encode_frame`` and ``decode_frame`` both apply it."""
    _check_qn(frame.qn)
    if not _digits(frame.st, 2):
        raise _field_error(f"ST={frame.st!r} is not 2 digits")
    if not _digits(frame.cn, 4):
        raise _field_error(f"CN={frame.cn!r} is not 4 digits")
    _check_ids(frame.pw, frame.mn)
    _check_int("Flag", frame.flag, 0, 0xFF)
    _check_int("PNUM", frame.pnum, 1, MAX_PACKETS)
    _check_int("PNO", frame.pno, 1, MAX_PACKETS)
    if (frame.pnum is None) != (frame.pno is None):
        raise _field_error("PNUM and PNO come together")
    if frame.pnum is not None and frame.pno is not None and frame.pno > frame.pnum:
        raise _field_error(f"PNO={frame.pno} is beyond PNUM={frame.pnum}")
    # Per CP pair, the path every good frame takes is a set lookup and one regex search (issue 14: tens of
    # pairs a frame); the messages are built only for a refusal.
    known_keys, time_keys = _KNOWN_CP_KEYS, _TIME_KEY_SET
    for group in frame.cp.groups:
        if not group:
            raise FrameError("CP has an empty item", reason="syntax")
        for key, value in group:
            if key not in known_keys:
                if not (key.isascii() and _CP_KEY_RE.fullmatch(key)):
                    raise _field_error(f"CP key {key!r} is not letters, digits and '_' with at most one '-'")
                if len(known_keys) >= _KNOWN_CP_KEYS_MAX:
                    known_keys.clear()
                known_keys.add(key)
            _check_cp_value(key, value)
            if key in time_keys:
                try:
                    parse_time(value)
                except ValueError as exc:
                    raise _field_error(f"CP {key}: {exc}") from None
    spaces = frame.layout.item_spaces
    if len(spaces) > len(frame.cp.groups) or any(type(n) is not int or n < 0 for n in spaces):
        raise FrameError(
            f"layout item_spaces {spaces!r} do not fit {len(frame.cp.groups)} CP items", reason="syntax"
        )


# --- encode -------------------------------------------------------------------------------------------


def _cp_text(frame: Frame) -> str:
    spaces = frame.layout.item_spaces
    items = [
        " " * (spaces[i] if i < len(spaces) else 0) + ",".join(f"{k}={v}" for k, v in group)
        for i, group in enumerate(frame.cp.groups)
    ]
    return ";".join(items) + (";" if frame.layout.trailing_semicolon else "")


def data_segment(frame: Frame) -> str:
    """The data segment text of ``frame`` (header fields in the standard's order, then CP)."""
    check_frame(frame)
    header: list[tuple[str, str | int | None]] = [
        ("QN", frame.qn),
        ("ST", frame.st),
        ("CN", frame.cn),
        ("PW", frame.pw),
        ("MN", frame.mn),
        ("Flag", frame.flag),
        ("PNUM", frame.pnum),
        ("PNO", frame.pno),
    ]
    parts = [f"{key}={value}" for key, value in header if value is not None]
    return ";".join([*parts, f"CP=&&{_cp_text(frame)}&&"])


def _measure(text: str, unit: LengthUnit) -> int:
    return len(text.encode("utf-8")) if unit == "bytes" else len(text)


def encode_frame(
    frame: Frame,
    *,
    crc_variant: CrcVariant = "hj212",
    length_unit: LengthUnit = "bytes",
    max_length: int = MAX_DATA_LENGTH,
) -> bytes:
    """The bytes of ``frame`` on the wire. FrameError (field, reserved, syntax, too_long) if it cannot be
    sent as is: every frame this returns decodes back to ``frame`` (with the same options)."""
    _check_variant(crc_variant)
    segment = data_segment(frame)
    length = _measure(segment, length_unit)
    if length > min(max_length, 9999):
        raise FrameError(f"data segment of {length} {length_unit} exceeds {max_length}", reason="too_long")
    raw = segment.encode("utf-8")
    crc = f"{crc_hj212(raw, crc_variant):04X}"
    if frame.layout.crc_lower:
        crc = crc.lower()
    return b"##" + f"{length:04d}".encode() + raw + crc.encode() + b"\r\n"


# --- decode -------------------------------------------------------------------------------------------

_HEX_UPPER = frozenset(b"0123456789ABCDEF")
_HEX_LOWER = frozenset(b"0123456789abcdef")


def decode_frame(
    data: bytes,
    *,
    crc_variant: CrcVariant = "hj212",
    length_unit: LengthUnit = "bytes",
    max_length: int = MAX_DATA_LENGTH,
) -> Frame:
    """Check and parse one complete frame (``##`` … ``\\r\\n``), or raise FrameError saying why.

    A frame returned re-encodes (``encode_frame`` with the same options) to exactly ``data``.
    """
    _check_variant(crc_variant)
    if not data.startswith(b"##"):
        raise FrameError(f"frame does not start with '##': {data[:12]!r}", reason="header")
    if not data.endswith(b"\r\n"):
        raise FrameError(f"frame does not end with CR LF: {data[-12:]!r}", reason="header")
    if len(data) < _FRAME_OVERHEAD:
        raise FrameError(f"frame of {len(data)} bytes is too short", reason="header")
    digits = data[2:6]
    if not (digits.isascii() and digits.isdigit()):
        raise FrameError(f"length field {digits!r} is not 4 decimal digits", reason="header")
    declared = int(digits)
    raw = data[6:-6]
    crc_text = data[-6:-2]
    if declared > max_length:
        raise FrameError(f"declared length {declared} exceeds {max_length}", reason="too_long")
    try:
        segment = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"data segment is not UTF-8: {exc}", reason="encoding") from None
    actual = _measure(segment, length_unit)
    if actual > max_length:
        raise FrameError(f"data segment of {actual} {length_unit} exceeds {max_length}", reason="too_long")
    if actual != declared:
        raise FrameError(
            f"declared length {declared} but the data segment has {actual} {length_unit}", reason="length"
        )
    lower = all(c in _HEX_LOWER for c in crc_text)
    if not (lower or all(c in _HEX_UPPER for c in crc_text)):
        raise FrameError(f"CRC field {crc_text!r} is not 4 hex digits of one case", reason="crc")
    received = int(crc_text, 16)  # lower case accepted on input, and written back as it came
    computed = crc_hj212(raw, crc_variant)
    if received != computed:
        raise FrameError(
            f"CRC {received:04X} does not match the data segment ({computed:04X}, {crc_variant} variant)",
            reason="crc",
        )
    frame = parse_data_segment(segment)
    if lower and not crc_text.isdigit():
        frame = replace(frame, layout=replace(frame.layout, crc_lower=True))
    return frame


def parse_data_segment(segment: str) -> Frame:
    """Parse a data segment (without ``##``, length, CRC), or raise FrameError saying why.

    The frame returned gives ``segment`` back from ``data_segment``.
    """
    start = segment.find("CP=&&")
    if start < 0 or not segment.endswith("&&") or len(segment) < start + 7:
        raise FrameError("data segment has no 'CP=&&…&&' at its end", reason="syntax")
    if start > 0 and segment[start - 1] != ";":
        raise FrameError("CP is not preceded by ';'", reason="syntax")
    header: dict[str, str] = {}
    last = -1
    for item in segment[:start].split(";")[:-1] if start else []:
        key, eq, value = item.partition("=")
        if not eq:
            raise FrameError(f"header item {item!r} is not key=value", reason="syntax")
        if key not in _HEADER_KEYS:
            raise FrameError(f"unknown header field {key!r}", reason="syntax")
        if key in header:
            raise FrameError(f"header field {key!r} appears twice", reason="syntax")
        if _HEADER_KEYS.index(key) < last:
            raise FrameError(f"header field {key!r} is out of the standard's order", reason="syntax")
        last = _HEADER_KEYS.index(key)
        header[key] = value
    missing = [k for k in _REQUIRED_KEYS if k not in header]
    if missing:
        raise FrameError(f"header lacks {', '.join(missing)}", reason="syntax")
    cp, layout = _parse_cp(segment[start + 5 : -2])
    frame = Frame(
        qn=header.get("QN"),
        st=header["ST"],
        cn=header["CN"],
        pw=header["PW"],
        mn=header["MN"],
        flag=_int_field(header, "Flag", 0xFF),
        pnum=_int_field(header, "PNUM", MAX_PACKETS),
        pno=_int_field(header, "PNO", MAX_PACKETS),
        cp=cp,
        layout=layout,
    )
    check_frame(frame)
    return frame


def _int_field(header: Mapping[str, str], key: str, limit: int) -> int | None:
    text = header.get(key)
    if text is None:
        return None
    # Canonical decimal only: "05" would come back as "5".
    if not (text.isascii() and text.isdigit()) or len(text) > 4 or (text[0] == "0" and text != "0"):
        raise _field_error(f"{key}={text!r} is not a decimal integer 0-{limit} without leading zeros")
    if int(text) > limit:
        raise _field_error(f"{key}={text} is beyond {limit}")
    return int(text)


def _parse_cp(text: str) -> tuple[CP, Layout]:
    if "&" in text:
        raise FrameError("CP holds '&' inside its body", reason="reserved")
    # Tolerated because real peers send them, and kept in the layout: one ';' before '&&', spaces before an item.
    trailing = text.endswith(";")
    if trailing:
        text = text[:-1]
    groups: list[Group] = []
    spaces: list[int] = []
    for item in text.split(";") if text else []:
        body = item.lstrip(" ")
        spaces.append(len(item) - len(body))
        if not body:
            raise FrameError("CP has an empty item", reason="syntax")
        group: list[Pair] = []
        for part in body.split(","):
            key, eq, value = part.partition("=")
            if not eq or not key:
                raise FrameError(f"CP item {part!r} is not key=value", reason="syntax")
            group.append((key, value))
        groups.append(tuple(group))
    return CP(tuple(groups)), Layout(item_spaces=tuple(spaces), trailing_semicolon=trailing)


# --- split packets (Flag D bit, PNUM/PNO) ---------------------------------------------------------------


def _is_plain(group: Group) -> bool:
    return all("-" not in key for key, _ in group)


def _head_and_body(cp: CP) -> tuple[tuple[Group, ...], tuple[Group, ...]]:
    """The leading plain items (DataTime…), which every packet repeats, and the rest."""
    count = 0
    while count < len(cp.groups) and _is_plain(cp.groups[count]):
        count += 1
    return cp.groups[:count], cp.groups[count:]


def split_frame(
    frame: Frame,
    *,
    parts: int | None = None,
    max_length: int = MAX_DATA_LENGTH,
    length_unit: LengthUnit = "bytes",
) -> list[Frame]:
    """The packets of ``frame``: the same QN, ST, CN, PW, MN, the D bit set in Flag, PNUM/PNO, and each packet
    the leading plain items (DataTime…) plus some of the parameter groups, in order.

    ``parts`` asks for that many packets (at most one per parameter group); otherwise as few as keep each
    data segment within ``max_length``. A frame that fits in one and is not asked to split is returned alone,
    unchanged. FrameError(reason="too_long") if one group alone does not fit.
    """
    head, body = _head_and_body(frame.cp)
    flag = flag_value(version=frame.version or VERSION_2017, split=True, reply=frame.reply_wanted)

    def packet(groups: tuple[Group, ...], pno: int, pnum: int) -> Frame:
        return Frame(
            qn=frame.qn,
            st=frame.st,
            cn=frame.cn,
            pw=frame.pw,
            mn=frame.mn,
            flag=flag,
            pnum=pnum,
            pno=pno,
            cp=CP(head + groups),
        )

    def fits(groups: tuple[Group, ...]) -> bool:
        return _measure(data_segment(packet(groups, MAX_PACKETS, MAX_PACKETS)), length_unit) <= max_length

    if parts is None:
        if _measure(data_segment(frame), length_unit) <= max_length:
            return [frame]
        chunks: list[tuple[Group, ...]] = []
        current: tuple[Group, ...] = ()
        for group in body:
            if fits((*current, group)):
                current = (*current, group)
                continue
            if not current:
                raise FrameError(
                    f"parameter group {group[0][0]} alone exceeds {max_length}", reason="too_long"
                )
            chunks.append(current)
            current = (group,)
            if not fits(current):
                raise FrameError(
                    f"parameter group {group[0][0]} alone exceeds {max_length}", reason="too_long"
                )
        chunks.append(current)
    else:
        if not 1 <= parts <= max(1, len(body)):
            raise ValueError(f"cannot split {len(body)} parameter groups into {parts} packets")
        size, extra = divmod(len(body), parts)
        chunks, at = [], 0
        for index in range(parts):
            step = size + (1 if index < extra else 0)
            chunks.append(body[at : at + step])
            at += step
        for chunk in chunks:
            if not fits(chunk):
                raise FrameError(f"packet of {len(chunk)} groups exceeds {max_length}", reason="too_long")
    return [packet(chunk, pno, len(chunks)) for pno, chunk in enumerate(chunks, start=1)]


def join_packets(packets: Iterable[Frame]) -> Frame:
    """One frame from all the packets of a split upload, in any order: the D bit cleared, no PNUM/PNO, the
    first packet's plain items then every packet's parameter groups in PNO order.

    FrameError(reason="syntax") if they are not one complete set (same QN, ST, CN, MN, PNUM; PNO 1…PNUM once).
    """
    by_number: dict[int, Frame] = {}
    first: Frame | None = None
    for item in packets:
        if item.pnum is None or item.pno is None:
            raise FrameError("a packet without PNUM/PNO", reason="syntax")
        if first is None:
            first = item
        elif (item.qn, item.st, item.cn, item.mn, item.pnum) != (
            first.qn,
            first.st,
            first.cn,
            first.mn,
            first.pnum,
        ):
            raise FrameError("packets of different uploads (QN, ST, CN, MN or PNUM differ)", reason="syntax")
        if item.pno in by_number:
            raise FrameError(f"packet {item.pno} appears twice", reason="syntax")
        by_number[item.pno] = item
    if first is None or first.pnum is None:
        raise FrameError("no packets", reason="syntax")
    missing = [n for n in range(1, first.pnum + 1) if n not in by_number]
    if missing:
        raise FrameError(f"packets {missing} of {first.pnum} are missing", reason="syntax")
    head, _ = _head_and_body(by_number[1].cp)
    body = [group for n in range(1, first.pnum + 1) for group in _head_and_body(by_number[n].cp)[1]]
    flag = None if first.flag is None else first.flag & ~0b10
    return replace(first, flag=flag, pnum=None, pno=None, cp=CP((*head, *body)), layout=CANONICAL)


# --- builders: qingliu readings → uploads, requests → replies -------------------------------------------


def format_value(value: float) -> str:
    """A reading's value in plain decimal notation (never exponent), with no digits added or dropped."""
    if not math.isfinite(value):
        raise ValueError(f"value {value!r} is not a finite number")
    return format(Decimal(repr(float(value))), "f")


def _param_fields(
    readings: Iterable[tuple[str, float | None, Flag | str]], field_name: str
) -> dict[str, dict[str, str]]:
    params: dict[str, dict[str, str]] = {}
    for code, value, flag in readings:
        if not _CODE_RE.fullmatch(code):
            raise ValueError(f"parameter code {code!r} is not 1-24 ASCII letters or digits")
        if code in params:
            raise ValueError(f"parameter {code} appears twice in one upload")
        letter = Flag(flag)  # ValueError for a letter that is not an HJ 212 flag
        fields: dict[str, str] = {}
        if value is not None:
            fields[field_name] = format_value(value)
        fields["Flag"] = letter.value
        params[code] = fields
    return params


def build_upload(
    cn: str,
    readings: Iterable[tuple[str, float | None, Flag | str]],
    *,
    mn: str,
    pw: str,
    data_time: datetime,
    qn_time: datetime,
    field_name: str = "Rtd",
    st: str = ST_SURFACE_WATER,
    version: int = VERSION_2017,
    reply: bool = True,
    zone: str = DEFAULT_ZONE,
) -> Frame:
    """A data upload: ``readings`` are (parameter code, value, flag); a value of None sends the flag only.

    ``data_time`` is the sample time and ``qn_time`` the send time (the caller's clock); both are written in
    the station's local time.
    """
    params = _param_fields(readings, field_name)
    return Frame(
        qn=format_qn(qn_time, zone),
        st=st,
        cn=cn,
        pw=pw,
        mn=mn,
        flag=flag_value(version=version, reply=reply),
        cp=CP.build(data_time=data_time, params=params, zone=zone),
    )


def build_realtime(
    readings: Iterable[tuple[str, float | None, Flag | str]],
    *,
    mn: str,
    pw: str,
    data_time: datetime,
    qn_time: datetime,
    st: str = ST_SURFACE_WATER,
    version: int = VERSION_2017,
    reply: bool = True,
    zone: str = DEFAULT_ZONE,
) -> Frame:
    """A 2011 real-time upload (``code-Rtd``, ``code-Flag``)."""
    return build_upload(
        CN_REALTIME,
        readings,
        mn=mn,
        pw=pw,
        data_time=data_time,
        qn_time=qn_time,
        field_name="Rtd",
        st=st,
        version=version,
        reply=reply,
        zone=zone,
    )


def build_hourly(
    readings: Iterable[tuple[str, float | None, Flag | str]],
    *,
    mn: str,
    pw: str,
    data_time: datetime,
    qn_time: datetime,
    st: str = ST_SURFACE_WATER,
    version: int = VERSION_2017,
    reply: bool = True,
    zone: str = DEFAULT_ZONE,
) -> Frame:
    """A 2061 hourly upload (``code-Avg``, ``code-Flag``); ``data_time`` is the start of the hour."""
    return build_upload(
        CN_HOURLY,
        readings,
        mn=mn,
        pw=pw,
        data_time=data_time,
        qn_time=qn_time,
        field_name="Avg",
        st=st,
        version=version,
        reply=reply,
        zone=zone,
    )


def _reply(request: Frame, cn: str, values: Mapping[str, str]) -> Frame:
    version = request.version or VERSION_2017
    return Frame(
        qn=request.qn,
        st=ST_SYSTEM,
        cn=cn,
        pw=request.pw,
        mn=request.mn,
        flag=flag_value(version=version),
        cp=CP.build(values=values),
    )


def build_request_answer(request: Frame, qn_rtn: int = 1) -> Frame:
    """9011: the request was received (QnRtn 1 accepted … 9 CRC error). Echoes QN, PW, MN and version."""
    return _reply(request, CN_REQUEST_ANSWER, {"QnRtn": str(qn_rtn)})


def build_execution_result(request: Frame, exe_rtn: int = 1) -> Frame:
    """9012: the outcome of executing the request (ExeRtn 1 success … 100 no data)."""
    return _reply(request, CN_EXECUTION_RESULT, {"ExeRtn": str(exe_rtn)})


def build_data_answer(request: Frame) -> Frame:
    """9014: the platform's answer to an upload that asked for one (Flag A bit)."""
    return _reply(request, CN_DATA_ANSWER, {})


def encode_data_answer(
    request: Frame, *, crc_variant: CrcVariant = "hj212", length_unit: LengthUnit = "bytes"
) -> bytes:
    """``encode_frame(build_data_answer(request))``, byte for byte, written out directly: a server sends one for
    every upload that asks, and the long way (a Frame built, checked and laid out) was a tenth of its work a
    frame (issue 14). The answer echoes only the request's QN, PW and MN: those are checked as ``check_frame``
    checks them, with the same refusals. It is ASCII, so its length is the same in either ``length_unit``."""
    _check_variant(crc_variant)
    qn, pw, mn = request.qn, request.pw, request.mn
    _check_qn(qn)
    _check_ids(pw, mn)
    flag = flag_value(version=request.version or VERSION_2017)
    head = "" if qn is None else f"QN={qn};"
    raw = f"{head}ST={ST_SYSTEM};CN={CN_DATA_ANSWER};PW={pw};MN={mn};Flag={flag};CP=&&&&".encode("ascii")
    return b"##%04d%b%04X\r\n" % (len(raw), raw, crc_hj212(raw, crc_variant))
