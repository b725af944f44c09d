"""Builders of wire messages and collector objects for the collector tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from collector.config import CollectorConfig, parse_config
from collector.store.base import Received
from protocols import messages
from protocols.messages import (
    CommandReply,
    DeviceStatus,
    Event,
    EventKind,
    Reading,
    ReadingBatch,
    StationState,
    Status,
)

T0 = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
M = TypeVar("M", bound=msgspec.Struct)


def unchecked(original: M, /, **changes: Any) -> M:
    """``original`` with ``changes`` and no checks at all (what pydantic's ``model_copy(update=...)`` gave):
    poison that did not come through decode(), for the tests of what the store does with it."""
    poisoned = copy.copy(original)
    for name, value in changes.items():
        msgspec.structs.force_setattr(poisoned, name, value)
    return poisoned


def batch(
    station: str = "hexicun",
    seq: int = 1,
    *,
    start: datetime = T0,
    n: int = 3,
    param: str = "w01010",
    step_s: float = 60.0,
    value: float = 10.0,
    lane: str = "live",
) -> ReadingBatch:
    readings = [
        Reading(param=param, t=start + timedelta(seconds=i * step_s), value=value + i) for i in range(n)
    ]
    return ReadingBatch(
        station=station, seq=seq, lane=lane, sent_at=start + timedelta(seconds=n * step_s), readings=readings
    )


def status(
    station: str = "hexicun",
    *,
    at: datetime = T0,
    state: StationState = StationState.ONLINE,
    backlog: int = 0,
    dropped: int = 0,
    clock_offset_s: float | None = None,
    devices: dict[str, bool] | None = None,
    heartbeat_s: float = 30.0,
    next_seq: int = 0,
    started_at: datetime | None = None,
) -> Status:
    return Status(
        station=station,
        state=state,
        at=at,
        backlog=backlog,
        dropped=dropped,
        clock_offset_s=clock_offset_s,
        heartbeat_s=heartbeat_s,
        next_seq=next_seq,
        started_at=started_at,
        devices={name: DeviceStatus(up=up) for name, up in (devices or {}).items()},
    )


def event(station: str = "hexicun", event_id: str = "e1", *, at: datetime = T0) -> Event:
    return Event(
        station=station,
        id=event_id,
        at=at,
        kind=EventKind.DEVICE_DOWN,
        device="probe",
        message="probe stopped answering",
    )


def reply(station: str = "hexicun", command_id: str = "c1", *, at: datetime = T0) -> CommandReply:
    return CommandReply(station=station, id=command_id, ok=True, at=at, message="done", result={"n": 3})


def received(message: Any, at: datetime = T0) -> Received:
    return Received(message, at)


def payload(message: Any) -> bytes:
    return messages.encode(message)


def config(
    tmp_path: Path,
    extra: str = "",
    *,
    broker_url: str = "mqtt://127.0.0.1:1883",
    admin_token: str = "s3cret",
    mqtt_extra: str = "",
) -> CollectorConfig:
    return parse_config(
        f'[mqtt]\nurl = "{broker_url}"\nclient_id = "test-collector-{tmp_path.name[-20:]}"\n{mqtt_extra}\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "collector.db"}"\nbatch_wait_s = 0.01\n'
        f'[api]\nadmin_token = "{admin_token}"\nread_requires_login = false\ncookie_secure = false\n' + extra
    )
