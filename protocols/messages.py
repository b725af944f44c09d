"""Versioned wire messages, as pydantic models. JSON on the wire, UTF-8, UTC ISO 8601 timestamps.

Every message carries ``v`` (the schema version) and ``station``. A receiver checks the station in the
payload against the one in the topic (a station can only speak for itself) and rejects anything it cannot
validate with a PayloadError that says why.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
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
from protocols.topics import is_station_id

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_READINGS_PER_BATCH = 2000


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def _station_id(value: str) -> str:
    if not is_station_id(value):
        raise ValueError("station id must be 1-32 lower-case ASCII letters, digits, '_' or '-'")
    return value


StationId = Annotated[str, AfterValidator(_station_id)]


def _param_code(value: str) -> str:
    if not catalogue.is_known(value):
        raise ValueError(f"unknown parameter code {value!r}")
    return value


ParamCode = Annotated[str, AfterValidator(_param_code)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reading(_Wire):
    """One value of one parameter, stamped at acquisition. Identity: (station, param, t)."""

    param: ParamCode
    t: UtcDatetime
    # Strict: JSON true or "7.5" must not silently become a number (values are never rewritten).
    value: Annotated[float, Strict()] | None = None  # None only with a non-valid flag: nothing to report
    flag: Flag = Flag.NORMAL
    device: str | None = Field(default=None, max_length=64)

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


class ReadingBatch(_Wire):
    """A batch of readings; (station, seq) identifies the message. seq is persistent and monotonic."""

    v: Literal[1] = 1
    type: Literal["readings"] = "readings"
    station: StationId
    seq: Annotated[int, Strict()] = Field(ge=0)
    lane: Lane = Lane.LIVE
    sent_at: UtcDatetime
    readings: list[Reading] = Field(min_length=1, max_length=MAX_READINGS_PER_BATCH)


class StationState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    DEGRADED = "degraded"


class DeviceStatus(_Wire):
    up: bool
    flag: Flag = Flag.NORMAL
    failures: int = Field(default=0, ge=0)
    last_ok: UtcDatetime | None = None
    error: str | None = Field(default=None, max_length=500)


class Status(_Wire):
    """Retained per station. The agent's will publishes the same with state=offline."""

    v: Literal[1] = 1
    type: Literal["status"] = "status"
    station: StationId
    state: StationState
    at: UtcDatetime
    agent_version: str = ""
    started_at: UtcDatetime | None = None
    next_seq: int = Field(default=0, ge=0)
    backlog: int = Field(default=0, ge=0)  # readings not yet acknowledged by the broker
    oldest_unsent: UtcDatetime | None = None
    dropped: int = Field(default=0, ge=0)  # readings dropped by the disk quota, ever
    clock_offset_s: float | None = None  # station clock minus reference, where known
    devices: dict[str, DeviceStatus] = Field(default_factory=dict)
    # Station controller signals (pump, water present, mains power, door...), by name.
    controller: dict[str, float | bool | str] = Field(default_factory=dict)
    heartbeat_s: float = Field(default=30.0, gt=0)
    intervals: dict[str, float] = Field(default_factory=dict)  # device → poll interval, s


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
    v: Literal[1] = 1
    type: Literal["event"] = "event"
    station: StationId
    id: str = Field(min_length=1, max_length=64)  # unique per station: duplicates are dropped
    at: UtcDatetime
    kind: EventKind
    severity: Severity = Severity.INFO
    device: str | None = Field(default=None, max_length=64)
    param: ParamCode | None = None
    message: str = Field(default="", max_length=1000)
    detail: dict[str, Any] = Field(default_factory=dict)


class CommandKind(StrEnum):
    RESEND = "resend"  # re-send readings of [from, to) from the station's history
    SET_INTERVAL = "set_interval"  # change a device's poll interval
    SYNC_CLOCK = "sync_clock"  # tell the agent the reference time; it reports its offset
    GET_CONFIG = "get_config"  # the agent's effective config (secrets removed)


class Command(_Wire):
    v: Literal[1] = 1
    type: Literal["cmd"] = "cmd"
    station: StationId
    id: str = Field(min_length=1, max_length=64)  # replies echo it; re-delivery is idempotent
    kind: CommandKind
    issued_at: UtcDatetime
    args: dict[str, Any] = Field(default_factory=dict)


class CommandReply(_Wire):
    v: Literal[1] = 1
    type: Literal["reply"] = "reply"
    station: StationId
    id: str = Field(min_length=1, max_length=64)
    ok: bool
    at: UtcDatetime
    message: str = Field(default="", max_length=1000)
    result: dict[str, Any] = Field(default_factory=dict)


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


def decode(payload: bytes, *, expected_station: str | None = None, max_bytes: int = MAX_PAYLOAD_BYTES) -> Any:
    """Validate ``payload`` into its message model, or raise PayloadError saying why.

    ``expected_station`` is the station named by the topic: a payload for another station is refused.
    """
    if len(payload) > max_bytes:
        raise PayloadError(
            f"payload of {len(payload)} bytes exceeds the limit of {max_bytes}", reason="oversized"
        )
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"payload is not UTF-8 JSON: {exc}", reason="malformed") from None
    if not isinstance(document, dict):
        raise PayloadError("payload must be a JSON object", reason="malformed")
    kind = document.get("type")
    model = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise PayloadError(f"unknown message type {kind!r}", reason="unknown_type")
    version = document.get("v")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise PayloadError(
            f"unsupported schema version {version!r} (this end speaks {SCHEMA_VERSION})", reason="version"
        )
    try:
        message = model.model_validate(document)
    except ValidationError as exc:
        raise PayloadError(f"invalid {kind} message: {_summarise(exc)}", reason="schema") from None
    station = getattr(message, "station", None)
    if expected_station is not None and station != expected_station:
        raise PayloadError(
            f"payload for station {station!r} arrived on the topic of {expected_station!r}",
            reason="wrong_station",
        )
    return message


def _summarise(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
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
