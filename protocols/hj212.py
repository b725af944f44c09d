"""HJ 212-2017 frame codec: bytes in, typed frames out, and back. Pure: no sockets, files or clocks.

    ##dddd<data segment><CRC>\\r\\n
    data segment = QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;[PNUM=…;PNO=…;]CP=&&…&&

The length ``dddd`` counts the data segment in UTF-8 bytes (some peers count characters: ``length_unit``).
The CRC is the Appendix A variant over the data segment's UTF-8 bytes, not CRC-16/MODBUS; since the 2025
revision's text was not available the variant is selectable (``crc_variant``), as are the Flag version bits.

A decoded frame keeps every CP key=value in its original order and grouping, so that re-encoding a canonical
frame gives the same bytes. Errors are FrameError with ``reason`` one of:

    header    the frame does not start with ``##`` + 4 digits or does not end with ``\\r\\n``
    length    the declared length is not the length of the data segment
    too_long  the data segment is longer than the standard allows (1024)
    crc       the CRC is not 4 hex digits or does not match the data segment
    encoding  the data segment is not UTF-8
    syntax    the data segment is not a well-formed set of fields
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from protocols.errors import FrameError
from protocols.flags import Flag

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

_FRAME_OVERHEAD = 2 + 4 + 4 + 2  # "##", length, CRC, "\r\n"
_HEADER_KEYS = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
_REQUIRED_KEYS = ("ST", "CN", "PW", "MN")
_CODE_RE = re.compile(r"^[A-Za-z0-9]{1,24}$")
# Characters that would break the field structure if they appeared in a key or value.
_FORBIDDEN = (";", ",", "=", "&", "\r", "\n")


# --- CRC (Appendix A) ---------------------------------------------------------------------------------


def crc_hj212(data: bytes, variant: CrcVariant = "hj212") -> int:
    """The 16-bit CRC of ``data``.

    ``hj212`` (Appendix A): the byte is XORed into the register after shifting it right by 8, so only the
    low byte of the result can take few values (00 01 40 41 80 81 C0 C1). ``modbus``: CRC-16/MODBUS, kept
    selectable for peers (or a revision) that use it.
    """
    crc = 0xFFFF
    for byte in data:
        crc = ((crc >> 8) ^ byte) if variant == "hj212" else (crc ^ byte)
        for _ in range(8):
            carry = crc & 1
            crc >>= 1
            if carry:
                crc ^= 0xA001
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
    return at.astimezone(ZoneInfo(zone))


def format_qn(at: datetime, zone: str = DEFAULT_ZONE) -> str:
    """QN request id ``YYYYMMDDhhmmsszzz`` of ``at`` in the station's local time."""
    local = _local(at, zone)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def format_time(at: datetime, zone: str = DEFAULT_ZONE) -> str:
    """A CP time (DataTime, BeginTime, SystemTime…) ``YYYYMMDDhhmmss`` in the station's local time."""
    return _local(at, zone).strftime("%Y%m%d%H%M%S")


def parse_time(text: str, zone: str = DEFAULT_ZONE) -> datetime:
    """An aware datetime from ``YYYYMMDDhhmmss`` (or with 3 more millisecond digits) in ``zone``."""
    if not (text.isascii() and text.isdigit() and len(text) in (14, 17)):
        raise ValueError(f"time {text!r} is not YYYYMMDDhhmmss[zzz]")
    moment = datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    millis = int(text[14:]) if len(text) == 17 else 0
    return moment.replace(microsecond=millis * 1000, tzinfo=ZoneInfo(zone))


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
        for name, value in self.pairs():
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

    @property
    def version(self) -> int | None:
        return None if self.flag is None else (self.flag >> 2) & 0b111111

    @property
    def reply_wanted(self) -> bool:
        return self.flag is not None and bool(self.flag & 1)

    @property
    def split(self) -> bool:
        return self.flag is not None and bool(self.flag & 2)


# --- encode -------------------------------------------------------------------------------------------


def _check_text(what: str, value: str) -> None:
    for bad in _FORBIDDEN:
        if bad in value:
            raise FrameError(
                f"{what} {value!r} contains {bad!r}, which would break the frame", reason="syntax"
            )


def data_segment(frame: Frame) -> str:
    """The data segment text of ``frame`` (header fields in the standard's order, then CP)."""
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
    parts = []
    for key, value in header:
        if value is None:
            continue
        text = str(value)
        _check_text(key, text)
        parts.append(f"{key}={text}")
    for key, value in frame.cp.pairs():
        if not key.strip():
            raise FrameError("CP key is empty", reason="syntax")
        _check_text("CP key", key)
        _check_text(f"CP value of {key}", value)
    return ";".join([*parts, f"CP=&&{frame.cp.text()}&&"])


def _measure(text: str, unit: LengthUnit) -> int:
    return len(text.encode("utf-8")) if unit == "bytes" else len(text)


def encode_frame(
    frame: Frame,
    *,
    crc_variant: CrcVariant = "hj212",
    length_unit: LengthUnit = "bytes",
    max_length: int = MAX_DATA_LENGTH,
) -> bytes:
    """The bytes of ``frame`` on the wire. FrameError (syntax, too_long) if it cannot be sent as is."""
    _check_variant(crc_variant)
    segment = data_segment(frame)
    length = _measure(segment, length_unit)
    if length > max_length:
        raise FrameError(f"data segment of {length} {length_unit} exceeds {max_length}", reason="too_long")
    raw = segment.encode("utf-8")
    crc = crc_hj212(raw, crc_variant)
    return b"##" + f"{length:04d}".encode() + raw + f"{crc:04X}".encode() + b"\r\n"


# --- decode -------------------------------------------------------------------------------------------


def decode_frame(
    data: bytes,
    *,
    crc_variant: CrcVariant = "hj212",
    length_unit: LengthUnit = "bytes",
    max_length: int = MAX_DATA_LENGTH,
) -> Frame:
    """Check and parse one complete frame (``##`` … ``\\r\\n``), or raise FrameError saying why."""
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
    if not all(c in b"0123456789abcdefABCDEF" for c in crc_text):
        raise FrameError(f"CRC field {crc_text!r} is not 4 hex digits", reason="crc")
    received = int(crc_text, 16)  # lower case accepted on input
    computed = crc_hj212(raw, crc_variant)
    if received != computed:
        raise FrameError(
            f"CRC {received:04X} does not match the data segment ({computed:04X}, {crc_variant} variant)",
            reason="crc",
        )
    return parse_data_segment(segment)


def parse_data_segment(segment: str) -> Frame:
    """Parse a data segment (without ``##``, length, CRC). FrameError(reason="syntax") if malformed."""
    start = segment.find("CP=&&")
    if start < 0 or not segment.endswith("&&") or len(segment) < start + 7:
        raise FrameError("data segment has no 'CP=&&…&&' at its end", reason="syntax")
    if start > 0 and segment[start - 1] != ";":
        raise FrameError("CP is not preceded by ';'", reason="syntax")
    header: dict[str, str] = {}
    for item in segment[:start].split(";")[:-1] if start else []:
        key, eq, value = item.partition("=")
        if not eq:
            raise FrameError(f"header item {item!r} is not key=value", reason="syntax")
        if key not in _HEADER_KEYS:
            raise FrameError(f"unknown header field {key!r}", reason="syntax")
        if key in header:
            raise FrameError(f"header field {key!r} appears twice", reason="syntax")
        header[key] = value
    missing = [k for k in _REQUIRED_KEYS if k not in header]
    if missing:
        raise FrameError(f"header lacks {', '.join(missing)}", reason="syntax")
    cp = _parse_cp(segment[start + 5 : -2])
    return Frame(
        qn=header.get("QN"),
        st=header["ST"],
        cn=header["CN"],
        pw=header["PW"],
        mn=header["MN"],
        flag=_int_field(header, "Flag", 0xFF),
        pnum=_int_field(header, "PNUM", 9999),
        pno=_int_field(header, "PNO", 9999),
        cp=cp,
    )


def _int_field(header: Mapping[str, str], key: str, limit: int) -> int | None:
    text = header.get(key)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > limit:
        raise FrameError(f"{key}={text!r} is not an integer 0-{limit}", reason="syntax")
    return int(text)


def _parse_cp(text: str) -> CP:
    if "&&" in text:
        raise FrameError("CP contains '&&' inside its body", reason="syntax")
    groups: list[Group] = []
    for item in text.split(";"):
        # Tolerated: a trailing ';' before '&&' and a space before an item (both seen from real peers).
        if not item.strip():
            continue
        group: list[Pair] = []
        for part in item.split(","):
            key, eq, value = part.partition("=")
            key = key.strip()
            if not eq or not key:
                raise FrameError(f"CP item {part!r} is not key=value", reason="syntax")
            group.append((key, value))
        groups.append(tuple(group))
    cp = CP(tuple(groups))
    data_time = cp.get("DataTime")
    if data_time is not None:
        try:
            parse_time(data_time)
        except ValueError as exc:
            raise FrameError(f"CP DataTime: {exc}", reason="syntax") from None
    return cp


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
        if not _CODE_RE.match(code):
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
