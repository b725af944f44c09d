"""Versioned wire messages, as pydantic models. JSON on the wire, UTF-8, UTC ISO 8601 timestamps.

Every message carries ``v`` (the schema version) and ``station``. A receiver checks the station in the
payload against the one in the topic (a station can only speak for itself) and rejects anything it cannot
validate with a PayloadError that says why.

Every field is bounded (finite numbers, 64-bit counters, limited strings, maps and free-form objects, times
representable in UTC), so that whatever decode() accepts can be stored and read back with these models.
decode() raises PayloadError and nothing else, whatever the bytes. Whether a time is plausible depends on
the receiver's clock: that window is the receiver's (collector.ingest.time_suspects), not the schema's.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice, pairwise
from operator import attrgetter, eq
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from protocols import catalogue
from protocols.errors import PayloadError
from protocols.flags import Flag
from protocols.freeform import check_json_object
from protocols.topics import is_station_id

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_READINGS_PER_BATCH = 2000

# Bounds, so that whatever decode() accepts can be stored and read back by the same models.
MAX_COUNT = 2**63 - 1  # seq and counters: a signed 64-bit integer, what SQLite and PostgreSQL hold
MAX_ID_CHARS = 64  # message ids, device names
MAX_TEXT_CHARS = 1000  # human-readable messages
MAX_NAME_CHARS = 64  # keys of a status's maps: device and signal names
MAX_MAP_ENTRIES = 256  # devices, signals or intervals of one station: a station has a dozen or two
MAX_SIGNAL_TEXT_CHARS = 256  # a controller signal given as text
MAX_PERIOD_S = 7 * 86_400.0  # heartbeat and poll intervals: beyond a week they are not periods but typos


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (UTC)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 or 9999-12-31T23:59-14:00: no such UTC time
        raise ValueError("timestamp is outside the range of representable UTC times") from None


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
# allow_inf_nan=False: the check runs inside pydantic-core, at no cost on the hot path.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]


def _free_form(value: dict[str, Any]) -> dict[str, Any]:
    check_json_object(value)
    return value


def _exact_version(value: Any) -> Any:
    # Literal[1] alone also takes true and 1.0 (equal to 1); decode() refuses those as a wrong version.
    if type(value) is not int:
        raise ValueError(f"schema version must be the integer {SCHEMA_VERSION}")
    return value


Version = Annotated[Literal[1], BeforeValidator(_exact_version)]

# Event.detail, Command.args, CommandReply.result: any JSON object within the limits of protocols.freeform.
FreeForm = Annotated[dict[str, Any], AfterValidator(_free_form)]


def _station_id(value: str) -> str:
    if not is_station_id(value):
        raise ValueError("station id must be 1-32 lower-case ASCII letters, digits, '_' or '-'")
    return value


StationId = Annotated[str, AfterValidator(_station_id)]


def _param_code(value: str) -> str:
    if not catalogue.is_known(value):
        raise ValueError(f"unknown parameter code {value!r}")
    return value


ParamCode = Annotated[str, Field(max_length=16), AfterValidator(_param_code)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reading(_Wire):
    """One value of one parameter, stamped at acquisition. Identity: (station, param, t)."""

    param: ParamCode
    t: UtcDatetime
    # Strict: JSON true or "7.5" must not silently become a number (values are never rewritten).
    value: Annotated[float, Strict()] | None = None  # None only with a non-valid flag: nothing to report
    flag: Flag = Flag.NORMAL
    device: str | None = Field(default=None, max_length=MAX_ID_CHARS)

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("value must be a finite number (NaN/Inf are not readings)")
        return value

    @model_validator(mode="after")
    def _value_or_flag(self) -> Reading:
        if self.value is None and self.flag in (Flag.NORMAL, Flag.OVER_RANGE):
            raise ValueError("a reading without a value must carry a non-valid flag (e.g. B or D)")
        return self


class Lane(StrEnum):
    LIVE = "live"
    BACKFILL = "backfill"
    RESEND = "resend"


_PARAM, _TIME = attrgetter("param"), attrgetter("t")


class ReadingBatch(_Wire):
    """A batch of readings; (station, seq) identifies the message. seq is persistent and monotonic."""

    v: Version = 1
    type: Literal["readings"] = "readings"
    station: StationId
    seq: Annotated[int, Strict()] = Field(ge=0, le=MAX_COUNT)
    lane: Lane = Lane.LIVE
    sent_at: UtcDatetime
    readings: list[Reading] = Field(min_length=1, max_length=MAX_READINGS_PER_BATCH)

    @model_validator(mode="after")
    def _unique_readings(self) -> ReadingBatch:
        # The store keeps one value per (station, param, t): a second one in the same batch is a sender bug.
        # Sorted, not a set: a batch is nearly in time order, so this is a linear pass of cheap comparisons
        # (UTC datetimes compare as bytes), where hashing fresh aware datetimes costs twice as much.
        keys = sorted(zip(map(_TIME, self.readings), map(_PARAM, self.readings), strict=True))
        if any(map(eq, keys, islice(keys, 1, None))):
            t, param = next(a for a, b in pairwise(keys) if a == b)
            raise ValueError(f"two readings of {param} at {t.isoformat()}")
        return self


class StationState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    DEGRADED = "degraded"


class DeviceStatus(_Wire):
    up: bool
    flag: Flag = Flag.NORMAL
    failures: Count = 0
    last_ok: UtcDatetime | None = None
    error: str | None = Field(default=None, max_length=500)


class UplinkStatus(_Wire):
    """One HJ 212 platform the station reports to (agent.hj212up): optional in Status, absent without any."""

    host: str = Field(default="", max_length=MAX_ID_CHARS)
    port: int = Field(default=0, ge=0, le=65535)
    connected: bool = False
    last_reply: UtcDatetime | None = None  # the last 9014
    backlog: Count = 0  # readings not yet delivered to this platform
    oldest_unsent: UtcDatetime | None = None  # when the oldest of them was stored
    periods_pending: Count = 0
    retries: Count = 0
    refusals: Count = 0
    lost: Count = 0  # readings dropped (feed quota) before this platform had them
    sent_frames: Count = 0
    alert: bool = False  # backlog beyond the target's backlog_alert


class Status(_Wire):
    """Retained per station. The agent's will publishes the same with state=offline."""

    v: Version = 1
    type: Literal["status"] = "status"
    station: StationId
    state: StationState
    at: UtcDatetime
    agent_version: str = Field(default="", max_length=MAX_ID_CHARS)
    started_at: UtcDatetime | None = None
    next_seq: Count = 0
    backlog: Count = 0  # readings not yet acknowledged by the broker
    oldest_unsent: UtcDatetime | None = None
    dropped: Count = 0  # readings dropped by the disk quota, ever
    clock_offset_s: FiniteFloat | None = None  # station clock minus reference, where known
    devices: dict[Name, DeviceStatus] = Field(default_factory=dict, max_length=MAX_MAP_ENTRIES)
    # Station controller signals (pump, water present, mains power, door...), by name.
    controller: dict[Name, FiniteFloat | bool | Annotated[str, Field(max_length=MAX_SIGNAL_TEXT_CHARS)]] = (
        Field(default_factory=dict, max_length=MAX_MAP_ENTRIES)
    )
    heartbeat_s: float = Field(default=30.0, gt=0, le=MAX_PERIOD_S)
    # device → poll interval, s
    intervals: dict[Name, Annotated[float, Field(gt=0, le=MAX_PERIOD_S)]] = Field(
        default_factory=dict, max_length=MAX_MAP_ENTRIES
    )
    # HJ 212 platforms (target name → state); None from agents without targets or older ones.
    uplinks: dict[Name, UplinkStatus] | None = Field(default=None, max_length=MAX_MAP_ENTRIES)


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


class Event(_Wire):
    v: Version = 1
    type: Literal["event"] = "event"
    station: StationId
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)  # unique per station: duplicates are dropped
    at: UtcDatetime
    kind: EventKind
    severity: Severity = Severity.INFO
    device: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    param: ParamCode | None = None
    message: str = Field(default="", max_length=MAX_TEXT_CHARS)
    detail: FreeForm = Field(default_factory=dict)


class CommandKind(StrEnum):
    RESEND = "resend"  # re-send readings of [from, to) from the station's history
    SET_INTERVAL = "set_interval"  # change a device's poll interval
    SYNC_CLOCK = "sync_clock"  # tell the agent the reference time; it reports its offset
    GET_CONFIG = "get_config"  # the agent's effective config (secrets removed)


class Command(_Wire):
    v: Version = 1
    type: Literal["cmd"] = "cmd"
    station: StationId
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)  # replies echo it; re-delivery is idempotent
    kind: CommandKind
    issued_at: UtcDatetime
    args: FreeForm = Field(default_factory=dict)


class CommandReply(_Wire):
    v: Version = 1
    type: Literal["reply"] = "reply"
    station: StationId
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    ok: bool
    at: UtcDatetime
    message: str = Field(default="", max_length=MAX_TEXT_CHARS)
    result: FreeForm = Field(default_factory=dict)


Message = ReadingBatch | Status | Event | Command | CommandReply
_BY_TYPE: dict[str, type[_Wire]] = {
    "readings": ReadingBatch,
    "status": Status,
    "event": Event,
    "cmd": Command,
    "reply": CommandReply,
}


def encode(message: _Wire) -> bytes:
    return message.model_dump_json(exclude_none=True).encode("utf-8")


class _NonFinite(ValueError):
    """NaN, Infinity or -Infinity: Python's json reads them, JSON has no such numbers."""


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


# One decoder, built once: a custom parse_constant on json.loads would build a new one per call.
_JSON = json.JSONDecoder(parse_constant=_refuse_constant)
MAX_ERROR_CHARS = 1000  # an error message is stored and shown: the payload chooses part of it


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
    """Validate ``payload`` into its message model, or raise PayloadError saying why.

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
_FAST_MODELS = {name.encode(): model for name, model in _BY_TYPE.items()}


def _decode_fast(payload: bytes) -> _Wire | None:
    """The message, if ``payload`` begins as encode() writes it and validates in pydantic's own JSON parser;
    else None, and _decode_checked decides and says why.

    About a third faster than json.loads and then validating the objects. It accepts exactly what
    _decode_checked accepts, with an equal result (property-tested): a duplicate key is read last-wins by
    both, ``type`` must match the model's literal, ``v`` must be the exact integer (Version), and NaN,
    huge integers, lone surrogates or deep nesting fail here and are judged there.
    """
    if not payload.startswith(_FAST_HEAD):
        return None
    end = payload.find(b'"', len(_FAST_HEAD))
    model = _FAST_MODELS.get(payload[len(_FAST_HEAD) : end])
    if model is None:
        return None
    try:
        return model.model_validate_json(payload)
    except ValidationError:
        return None


def _decode_checked(payload: bytes) -> _Wire:
    """Parse with Python's json and check each step, so that a refusal names its reason."""
    try:
        document = _JSON.decode(payload.decode("utf-8"))
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
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise _refuse(f"invalid {kind} message: {_summarise(exc)}", "schema") from None


def _summarise(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:limit]:
        # Keys in the location come from the payload: keep each short.
        where = ".".join(str(p)[:40] for p in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg'][:300]}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


# ----------------------------------------------------------------- pre-encoded readings (the agent's outbox)


class _Readings(_Wire):
    """Only the serializer of ``ReadingBatch.readings``: used through ``model_construct`` (no validation)."""

    readings: list[Reading]


_FRAGMENT_HEAD = '{"readings":['
_BATCH_TAIL = "]}"


def encode_fragment(readings: list[Reading]) -> str:
    """``readings`` as the comma-joined JSON objects that ``encode(ReadingBatch(...))`` writes for them.

    A store can keep this text and later build the message with ``batch_payload`` without touching the
    readings again. The readings are already validated models: they are serialized, not re-checked.
    """
    text = _Readings.model_construct(readings=readings).model_dump_json(exclude_none=True)
    return text[len(_FRAGMENT_HEAD) : -len(_BATCH_TAIL)]


def decode_fragment(fragment: str) -> list[Reading]:
    """The readings of a fragment written by ``encode_fragment`` (validated again)."""
    return [Reading.model_validate(item) for item in json.loads(f"[{fragment}]")]


def batch_payload(station: str, seq: int, lane: Lane, sent_at: datetime, fragments: str | list[str]) -> bytes:
    """The bytes of ``encode(ReadingBatch(...))`` for readings given as ``encode_fragment`` text.

    The envelope is serialized by the model itself, so its form (field order, time format) cannot drift
    from ``encode``; the readings are copied in as they are. The caller bounds count and size (the outbox
    does); station, seq and sent_at are checked here because nothing validates the result.
    """
    if not is_station_id(station):
        raise ValueError(f"invalid station id {station!r}")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValueError(f"invalid seq {seq!r}")
    body = fragments if isinstance(fragments, str) else ",".join(fragments)
    if not body:
        raise ValueError("a reading batch needs at least one reading")
    envelope = ReadingBatch.model_construct(
        station=station, seq=seq, lane=Lane(lane), sent_at=_utc(sent_at), readings=[]
    ).model_dump_json(exclude_none=True)
    assert envelope.endswith('"readings":[]}')
    return f"{envelope[: -len(_BATCH_TAIL)]}{body}{_BATCH_TAIL}".encode()
