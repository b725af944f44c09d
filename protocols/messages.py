"""Versioned wire messages, as msgspec structs. JSON on the wire, UTF-8, UTC ISO 8601 timestamps.

Every message carries ``v`` (the schema version) and ``station``. A receiver checks the station in the
payload against the one in the topic (a station can only speak for itself) and rejects anything it cannot
validate with a PayloadError that says why.

Every field is bounded (finite numbers, 64-bit counters, limited strings, maps and free-form objects, times
representable in UTC), so that whatever decode() accepts can be stored and read back with these structs.
decode() raises PayloadError and nothing else, whatever the bytes. Whether a time is plausible depends on
the receiver's clock: that window is the receiver's (collector.ingest.time_suspects), not the schema's.

msgspec, not pydantic (issue 17): a station agent imports this module, and pydantic with these models cost it
about 13 MiB. Types are strict (JSON ``true`` or ``"7.5"`` is not a number, ``1.0`` is not a count). Bounds
that msgspec checks while decoding are ``msgspec.Meta`` constraints; what it cannot express (UTC, known
parameter codes, a value or a non-valid flag, unique readings, free-form limits) is checked in
``__post_init__``, which runs both on decode and when a message is built in code, so a message built with a
naive time, a NaN value or an unknown parameter is refused there too (ValueError), and its times are held
in UTC. Construction checks the rules that need code; the bounds of a field's type are checked on decode.

The wire form is the one the pydantic models wrote (tests/protocols/data/wire_v1_corpus.jsonl): fields in
declaration order, ``v`` and ``type`` first, a field that is None left out (``omit_defaults`` with None the
only plain default: every other default is a factory, which msgspec never omits), times as ``...Z``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice, pairwise
from operator import attrgetter, eq
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec
from msgspec.structs import force_setattr

from protocols.catalogue import PARAMETERS
from protocols.errors import PayloadError
from protocols.flags import VALID_FLAGS, Flag
from protocols.freeform import check_json_object
from protocols.topics import RESERVED_IDS, is_station_id

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_READINGS_PER_BATCH = 2000

# Bounds, so that whatever decode() accepts can be stored and read back by the same structs.
MAX_COUNT = 2**63 - 1  # seq and counters: a signed 64-bit integer, what SQLite and PostgreSQL hold
MAX_ID_CHARS = 64  # message ids, device names
MAX_TEXT_CHARS = 1000  # human-readable messages
MAX_NAME_CHARS = 64  # keys of a status's maps: device and signal names
MAX_MAP_ENTRIES = 256  # devices, signals or intervals of one station: a station has a dozen or two
MAX_SIGNAL_TEXT_CHARS = 256  # a controller signal given as text
MAX_PERIOD_S = 7 * 86_400.0  # heartbeat and poll intervals: beyond a week they are not periods but typos
MAX_ERROR_CHARS = 1000  # an error message is stored and shown: the payload chooses part of it


# ----------------------------------------------------------------------------------- rules as plain checks


def utc(value: datetime) -> datetime:
    """``value`` in UTC; ValueError for a naive time, a time no UTC time equals, or anything else."""
    if not isinstance(value, datetime):
        raise ValueError(f"timestamp must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (UTC)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 or 9999-12-31T23:59-14:00: no such UTC time
        raise ValueError("timestamp is outside the range of representable UTC times") from None


_STATION_ID_RULE = "1-32 lower-case ASCII letters, digits, '_' or '-' (not a reserved word)"


def check_station_id(value: str) -> str:
    """``value`` if it is a station id (protocols.topics.is_station_id), else ValueError."""
    if not isinstance(value, str) or not is_station_id(value):
        raise ValueError(f"station id must be {_STATION_ID_RULE}")
    return value


def check_param(value: str) -> str:
    """``value`` if the catalogue knows it, else ValueError naming it."""
    if value not in PARAMETERS:
        raise ValueError(f"unknown parameter code {value!r}")
    return value


# is_station_id as a pattern msgspec applies while decoding (re.search: anchored with \A and \Z, so that a
# trailing newline is refused as fullmatch refuses it). tests/protocols/test_messages.py holds them equal.
STATION_ID_PATTERN: Final = r"\A(?!(?:{})\Z)[a-z0-9][a-z0-9_-]{{0,31}}\Z".format(
    "|".join(map(re.escape, sorted(RESERVED_IDS)))
)
StationId = Annotated[str, msgspec.Meta(pattern=STATION_ID_PATTERN)]  # pydantic's: collector/wire_types.py
# Aware, in UTC once a message holds it (__post_init__ converts); out-of-range conversions are refused.
UtcDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
_MAX_FLOAT = sys.float_info.max
FiniteFloat = Annotated[float, msgspec.Meta(ge=-_MAX_FLOAT, le=_MAX_FLOAT)]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME_CHARS)]
IdText = Annotated[str, msgspec.Meta(max_length=MAX_ID_CHARS)]
MessageId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]
ParamCode = Annotated[str, msgspec.Meta(max_length=16)]  # and known to the catalogue (__post_init__)
Period = Annotated[float, msgspec.Meta(gt=0, le=MAX_PERIOD_S)]
SignalText = Annotated[str, msgspec.Meta(max_length=MAX_SIGNAL_TEXT_CHARS)]
# Event.detail, Command.args, CommandReply.result: any JSON object within the limits of protocols.freeform.
FreeForm = dict[str, Any]
Version = Literal[1]  # the exact integer: msgspec takes neither true nor 1.0 for it

T = TypeVar("T")


def _always(value: T) -> T:
    """A default that is always written: a factory, which omit_defaults never leaves out (None is the only
    plain default, so exactly the None fields are left out, as pydantic's exclude_none did)."""
    return msgspec.field(default_factory=lambda: value)


def _empty() -> Any:
    return msgspec.field(default_factory=lambda: {})


class _Wire(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    pass


def _set_utc(message: _Wire, name: str) -> None:
    value = getattr(message, name)
    if value is not None and (type(value) is not datetime or value.tzinfo is not UTC):
        force_setattr(message, name, utc(value))


def _set_enum(message: _Wire, name: str, kind: type[StrEnum]) -> None:
    # Built in code with the value's text ("live"): held as the member, as decode() holds it.
    value = getattr(message, name)
    if type(value) is not kind:
        try:
            force_setattr(message, name, kind(value))
        except ValueError:
            raise ValueError(f"{name} must be one of {', '.join(kind)}, not {value!r}") from None


def _check_envelope(message: Any) -> None:
    if message.v != SCHEMA_VERSION or type(message.v) is not int:
        raise ValueError(f"schema version must be the integer {SCHEMA_VERSION}")
    check_station_id(message.station)


class Reading(_Wire, frozen=True, kw_only=True, gc=False):
    """One value of one parameter, stamped at acquisition. Identity: (station, param, t)."""

    param: ParamCode
    t: UtcDatetime
    # Strict: JSON true or "7.5" must not silently become a number (values are never rewritten).
    value: FiniteFloat | None = None  # None only with a non-valid flag: nothing to report
    flag: Flag = _always(Flag.NORMAL)
    device: IdText | None = None

    def __post_init__(self) -> None:
        # The agent builds these on its hot path and the collector decodes thousands: cheap checks first.
        if self.param not in PARAMETERS:
            raise ValueError(f"unknown parameter code {self.param!r}")
        t = self.t
        if type(t) is not datetime or t.tzinfo is not UTC:
            force_setattr(self, "t", utc(t))
        if type(self.flag) is not Flag:
            _set_enum(self, "flag", Flag)
        device = self.device
        if device is not None and len(device) > MAX_ID_CHARS:
            raise ValueError(f"device name is longer than {MAX_ID_CHARS} characters")
        value = self.value
        if value is None:
            if self.flag in VALID_FLAGS:
                raise ValueError("a reading without a value must carry a non-valid flag (e.g. B or D)")
        elif type(value) is not float:
            if type(value) is not int:  # bool, str...: not a number
                raise ValueError(f"value must be a number, not {type(value).__name__}")
            force_setattr(self, "value", float(value))
        elif not math.isfinite(value):
            raise ValueError("value must be a finite number (NaN/Inf are not readings)")


class Lane(StrEnum):
    LIVE = "live"
    BACKFILL = "backfill"
    RESEND = "resend"


_PARAM, _TIME = attrgetter("param"), attrgetter("t")


class ReadingBatch(_Wire, frozen=True, kw_only=True):
    """A batch of readings; (station, seq) identifies the message. seq is persistent and monotonic."""

    v: Version = _always(1)
    type: Literal["readings"] = _always("readings")
    station: StationId
    seq: Count
    lane: Lane = _always(Lane.LIVE)
    sent_at: UtcDatetime
    readings: Annotated[list[Reading], msgspec.Meta(min_length=1, max_length=MAX_READINGS_PER_BATCH)]

    def __post_init__(self) -> None:
        _check_envelope(self)
        seq = self.seq
        if type(seq) is not int or not 0 <= seq <= MAX_COUNT:
            raise ValueError(f"seq must be an integer from 0 to {MAX_COUNT}")
        _set_utc(self, "sent_at")
        _set_enum(self, "lane", Lane)
        readings = self.readings
        if not 1 <= len(readings) <= MAX_READINGS_PER_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_READINGS_PER_BATCH} readings, not {len(readings)}")
        # The store keeps one value per (station, param, t): a second one in the same batch is a sender bug.
        # Sorted, not a set: a batch is nearly in time order, so this is a linear pass of cheap comparisons
        # (UTC datetimes compare as bytes), where hashing fresh aware datetimes costs twice as much.
        keys = sorted(zip(map(_TIME, readings), map(_PARAM, readings), strict=True))
        if any(map(eq, keys, islice(keys, 1, None))):
            t, param = next(a for a, b in pairwise(keys) if a == b)
            raise ValueError(f"two readings of {param} at {t.isoformat()}")


class StationState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    DEGRADED = "degraded"


class DeviceStatus(_Wire, frozen=True, kw_only=True):
    up: bool
    flag: Flag = _always(Flag.NORMAL)
    failures: Count = _always(0)
    last_ok: UtcDatetime | None = None
    error: Annotated[str, msgspec.Meta(max_length=500)] | None = None

    def __post_init__(self) -> None:
        _set_enum(self, "flag", Flag)
        _set_utc(self, "last_ok")


class UplinkStatus(_Wire, frozen=True, kw_only=True):
    """One HJ 212 platform the station reports to (agent.hj212up): optional in Status, absent without any."""

    host: IdText = _always("")
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = _always(0)
    connected: bool = _always(False)
    last_reply: UtcDatetime | None = None  # the last 9014
    backlog: Count = _always(0)  # readings not yet delivered to this platform
    oldest_unsent: UtcDatetime | None = None  # when the oldest of them was stored
    periods_pending: Count = _always(0)
    retries: Count = _always(0)
    refusals: Count = _always(0)
    lost: Count = _always(0)  # readings dropped (feed quota) before this platform had them
    sent_frames: Count = _always(0)
    alert: bool = _always(False)  # backlog beyond the target's backlog_alert

    def __post_init__(self) -> None:
        _set_utc(self, "last_reply")
        _set_utc(self, "oldest_unsent")


class Status(_Wire, frozen=True, kw_only=True):
    """Retained per station. The agent's will publishes the same with state=offline."""

    v: Version = _always(1)
    type: Literal["status"] = _always("status")
    station: StationId
    state: StationState
    at: UtcDatetime
    agent_version: IdText = _always("")
    started_at: UtcDatetime | None = None
    next_seq: Count = _always(0)
    backlog: Count = _always(0)  # readings not yet acknowledged by the broker
    oldest_unsent: UtcDatetime | None = None
    dropped: Count = _always(0)  # readings dropped by the disk quota, ever
    clock_offset_s: FiniteFloat | None = None  # station clock minus reference, where known
    devices: Annotated[dict[Name, DeviceStatus], msgspec.Meta(max_length=MAX_MAP_ENTRIES)] = _empty()
    # Station controller signals (pump, water present, mains power, door...), by name.
    controller: Annotated[
        dict[Name, FiniteFloat | bool | SignalText], msgspec.Meta(max_length=MAX_MAP_ENTRIES)
    ] = _empty()
    heartbeat_s: Period = _always(30.0)
    # device → poll interval, s
    intervals: Annotated[dict[Name, Period], msgspec.Meta(max_length=MAX_MAP_ENTRIES)] = _empty()
    # HJ 212 platforms (target name → state); None from agents without targets or older ones.
    uplinks: Annotated[dict[Name, UplinkStatus], msgspec.Meta(max_length=MAX_MAP_ENTRIES)] | None = None

    def __post_init__(self) -> None:
        _check_envelope(self)
        _set_enum(self, "state", StationState)
        for name in ("at", "started_at", "oldest_unsent"):
            _set_utc(self, name)


class EventKind(StrEnum):
    AGENT_STARTED = "agent_started"
    DEVICE_DOWN = "device_down"
    DEVICE_UP = "device_up"
    DEVICE_STATE = "device_state"  # analyser entered fault / calibration / maintenance
    STUCK_VALUE = "stuck_value"
    LOGIC_VIOLATION = "logic_violation"
    CLOCK_JUMP = "clock_jump"
    READINGS_DROPPED = "readings_dropped"
    OUTBOX_RECOVERED = "outbox_recovered"
    CONTROLLER = "controller"  # ice / no water / mains lost / door open
    CONFIG_CHANGED = "config_changed"
    ANALYSER_CLOCK = "analyser_clock"  # an analyser's clock is off the agent's, or went back
    STORAGE_FAILED = "storage_failed"  # the outbox could not store readings (disk full, I/O error)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Event(_Wire, frozen=True, kw_only=True):
    v: Version = _always(1)
    type: Literal["event"] = _always("event")
    station: StationId
    id: MessageId  # unique per station: duplicates are dropped
    at: UtcDatetime
    kind: EventKind
    severity: Severity = _always(Severity.INFO)
    device: IdText | None = None
    param: ParamCode | None = None
    message: Text = _always("")
    detail: FreeForm = _empty()

    def __post_init__(self) -> None:
        _check_envelope(self)
        _set_utc(self, "at")
        _set_enum(self, "kind", EventKind)
        _set_enum(self, "severity", Severity)
        if self.param is not None:
            check_param(self.param)
        check_json_object(self.detail)


class CommandKind(StrEnum):
    RESEND = "resend"  # re-send readings of [from, to) from the station's history
    SET_INTERVAL = "set_interval"  # change a device's poll interval
    SYNC_CLOCK = "sync_clock"  # tell the agent the reference time; it reports its offset
    GET_CONFIG = "get_config"  # the agent's effective config (secrets removed)


class Command(_Wire, frozen=True, kw_only=True):
    v: Version = _always(1)
    type: Literal["cmd"] = _always("cmd")
    station: StationId
    id: MessageId  # replies echo it; re-delivery is idempotent
    kind: CommandKind
    issued_at: UtcDatetime
    args: FreeForm = _empty()

    def __post_init__(self) -> None:
        _check_envelope(self)
        _set_utc(self, "issued_at")
        _set_enum(self, "kind", CommandKind)
        check_json_object(self.args)


class CommandReply(_Wire, frozen=True, kw_only=True):
    v: Version = _always(1)
    type: Literal["reply"] = _always("reply")
    station: StationId
    id: MessageId
    ok: bool
    at: UtcDatetime
    message: Text = _always("")
    result: FreeForm = _empty()

    def __post_init__(self) -> None:
        _check_envelope(self)
        _set_utc(self, "at")
        check_json_object(self.result)


Message = ReadingBatch | Status | Event | Command | CommandReply
_BY_TYPE: dict[str, type[_Wire]] = {
    "readings": ReadingBatch,
    "status": Status,
    "event": Event,
    "cmd": Command,
    "reply": CommandReply,
}

_ENCODER = msgspec.json.Encoder()


def encode(message: _Wire) -> bytes:
    """The wire JSON of ``message``: None fields left out, times as UTC ``...Z``."""
    return _ENCODER.encode(message)


def to_builtins(message: _Wire) -> dict[str, Any]:
    """Every field of ``message`` (None ones too) as JSON-ready values: what pydantic's
    ``model_dump(mode="json")`` gave, for views that show a struct as it is."""
    return msgspec.to_builtins(msgspec.structs.asdict(message))


W = TypeVar("W", bound=_Wire)


def decode_as(cls: type[W], body: str | bytes) -> W:
    """``body`` (JSON a store kept) read back as ``cls`` with all its rules; msgspec.ValidationError or
    DecodeError (both ValueErrors) when it no longer validates. Not for payloads: decode() is."""
    message: W = msgspec.json.decode(body, type=cls)
    return message


class _NonFinite(ValueError):
    """NaN, Infinity or -Infinity: Python's json reads them, JSON has no such numbers."""


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


# One decoder, built once: a custom parse_constant on json.loads would build a new one per call.
_JSON = json.JSONDecoder(parse_constant=_refuse_constant)


def _refuse(message: str, reason: str) -> PayloadError:
    """A PayloadError whose text can be logged and stored whatever the payload held: bounded, no surrogates."""
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 3] + "..."
    if not message.isascii():
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return PayloadError(message, reason=reason)


def _show(value: Any) -> str:
    """A short rendering of a field the payload chose, safe for any value (a deep list cannot recurse)."""
    if value is None or isinstance(value, bool | int | float | str):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return f"a JSON {'array' if isinstance(value, list) else 'object'}"


def decode(payload: bytes, *, expected_station: str | None = None, max_bytes: int = MAX_PAYLOAD_BYTES) -> Any:
    """Validate ``payload`` into its message struct, or raise PayloadError saying why.

    ``expected_station`` is the station named by the topic: a payload for another station is refused.
    PayloadError is the only exception, whatever the bytes (tests/protocols/test_messages_fuzz.py).
    """
    if len(payload) > max_bytes:
        raise PayloadError(
            f"payload of {len(payload)} bytes exceeds the limit of {max_bytes}", reason="oversized"
        )
    message = _decode_fast(payload)
    if message is None:
        message = _decode_checked(payload)
    station = getattr(message, "station", None)
    if expected_station is not None and station != expected_station:
        raise PayloadError(
            f"payload for station {station!r} arrived on the topic of {expected_station!r}",
            reason="wrong_station",
        )
    return message


_FAST_HEAD = b'{"v":1,"type":"'  # how encode() and batch_payload() begin every message
_FAST_DECODERS = {name.encode(): msgspec.json.Decoder(model) for name, model in _BY_TYPE.items()}
# Whatever a typed decode may raise: msgspec's errors (ValueErrors, __post_init__'s included), a nesting
# deeper than the interpreter's stack.
_DECODE_ERRORS = (ValueError, TypeError, OverflowError, RecursionError, msgspec.MsgspecError)


def _decode_fast(payload: bytes) -> _Wire | None:
    """The message, if ``payload`` begins as encode() writes it and validates in msgspec's typed decoder
    straight from the bytes; else None, and _decode_checked decides and says why.

    It accepts exactly what _decode_checked accepts, with an equal result (property-tested): a duplicate
    key is read last-wins by both, ``type`` must match the struct's literal, ``v`` must be the exact integer,
    and NaN, numbers beyond a float, lone surrogates, control characters or deep nesting fail here and are
    judged there.
    """
    if not payload.startswith(_FAST_HEAD):
        return None
    end = payload.find(b'"', len(_FAST_HEAD))
    decoder = _FAST_DECODERS.get(payload[len(_FAST_HEAD) : end])
    if decoder is None:
        return None
    try:
        message: _Wire = decoder.decode(payload)
    except _DECODE_ERRORS:
        return None
    return message


def _decode_checked(payload: bytes) -> _Wire:
    """Parse with Python's json and check each step, so that a refusal names its reason."""
    try:
        text = payload.decode("utf-8")
        document = _JSON.decode(text)
    except _NonFinite as exc:
        raise PayloadError(f"payload holds {exc}, which is not a JSON number", reason="non_finite") from None
    except RecursionError:
        raise PayloadError("payload nests too deeply to be read", reason="malformed") from None
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, an integer beyond the digit limit
        raise _refuse(f"payload is not UTF-8 JSON: {exc}", "malformed") from None
    if not isinstance(document, dict):
        raise PayloadError("payload must be a JSON object", reason="malformed")
    kind = document.get("type")
    model = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise _refuse(f"unknown message type {_show(kind)}", "unknown_type")
    version = document.get("v")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise _refuse(
            f"unsupported schema version {_show(version)} (this end speaks {SCHEMA_VERSION})", "version"
        )
    if "\\u" in text:  # only an escape gives a lone surrogate, which no store or log can hold
        where = _lone_surrogate(document)
        if where is not None:
            raise _refuse(
                f"invalid {kind} message: {where}: text is not valid Unicode (lone surrogate)", "schema"
            )
    try:
        message: _Wire = msgspec.convert(document, model)
    except msgspec.ValidationError as exc:
        raise _refuse(f"invalid {kind} message: {_summarise(exc)}", "schema") from None
    except _DECODE_ERRORS as exc:  # anything __post_init__ or a conversion raised outside a ValidationError
        raise _refuse(f"invalid {kind} message: {exc}", "schema") from None
    return message


def _lone_surrogate(document: Any) -> str | None:
    """Where the first key or string that UTF-8 cannot carry sits in ``document``, or None."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(document, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if not node.isascii() and not _is_utf8(node):
                return ".".join(path) or "(root)"
        elif isinstance(node, dict):
            for key, child in node.items():
                label = str(key)[:40]
                if not key.isascii() and not _is_utf8(key):
                    return ".".join((*path, ascii(label)[1:-1]))
                stack.append((child, (*path, label)))
        elif isinstance(node, list):
            stack.extend((child, (*path, str(i))) for i, child in enumerate(node))
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_AT = re.compile(r" - at `\$(.*)`\Z", re.DOTALL)


def _summarise(exc: msgspec.ValidationError) -> str:
    """``readings.2.value: Expected `float | null`, got `str``` from msgspec's ``... - at `$.readings[2].value```."""
    text = str(exc)
    found = _AT.search(text)
    if found is None:
        return f"(root): {text}"
    where = re.sub(r"\[(\d+)\]", r".\1", found.group(1).replace("[...]", ".<key>")).lstrip(".")
    reason = text[: found.start()].replace(
        f"`str` matching regex {STATION_ID_PATTERN!r}", f"a station id of {_STATION_ID_RULE}"
    )
    return f"{where or '(root)'}: {reason}"


# ----------------------------------------------------------------- pre-encoded readings (the agent's outbox)

_READINGS = msgspec.json.Decoder(list[Reading])


def encode_fragment(readings: list[Reading]) -> str:
    """``readings`` as the comma-joined JSON objects that ``encode(ReadingBatch(...))`` writes for them.

    A store can keep this text and later build the message with ``batch_payload`` without touching the
    readings again. The readings are already validated structs: they are serialized, not re-checked.
    """
    return _ENCODER.encode(readings)[1:-1].decode()


def decode_fragment(fragment: str) -> list[Reading]:
    """The readings of a fragment written by ``encode_fragment`` (validated again; ValueError if not)."""
    readings: list[Reading] = _READINGS.decode(f"[{fragment}]")
    return readings


# A batch's envelope is written by ReadingBatch itself (its form cannot drift from encode): one known
# reading stands in for the readings, and its text is cut off again.
_STAND_IN = Reading(param="w01001", t=datetime(2000, 1, 1, tzinfo=UTC), value=7.0)
_STAND_IN_TAIL = (encode_fragment([_STAND_IN]) + "]}").encode()


def batch_payload(station: str, seq: int, lane: Lane, sent_at: datetime, fragments: str | list[str]) -> bytes:
    """The bytes of ``encode(ReadingBatch(...))`` for readings given as ``encode_fragment`` text.

    The envelope is serialized by the struct itself, so its form (field order, time format) cannot drift
    from ``encode``; the readings are copied in as they are. The caller bounds count and size (the outbox
    does); station, seq and sent_at are checked here (ValueError) because nothing validates the result.
    """
    if not is_station_id(station):
        raise ValueError(f"invalid station id {station!r}")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValueError(f"invalid seq {seq!r}")
    body = fragments if isinstance(fragments, str) else ",".join(fragments)
    if not body:
        raise ValueError("a reading batch needs at least one reading")
    stand_in = ReadingBatch(station=station, seq=seq, lane=Lane(lane), sent_at=sent_at, readings=[_STAND_IN])
    envelope = encode(stand_in)
    assert envelope.endswith(_STAND_IN_TAIL)
    return b"%s%s]}" % (envelope[: -len(_STAND_IN_TAIL)], body.encode())
