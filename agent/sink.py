"""The seam between acquisition and the rest of the agent.

Acquisition produces readings, events and device/controller state and hands them to a Sink. The runtime's
sink writes readings to the outbox (durable when ``add_readings`` returns: invariant 1) and keeps the state
that goes into the retained status message. Unit tests use ``MemorySink``.

An event travels as one ``EventRecord`` value from whoever notices it (acquisition, the runtime, command
handling, the outbox itself) to the outbox, which stamps it with the station, an id and a time.

A sink that cannot store (the disk is full) raises ``StorageFailed`` after counting what was lost: the
caller goes on with its next poll, without a traceback (the sink already logged, at a measured pace).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from protocols.messages import DeviceStatus, EventKind, Reading, Severity


class StorageFailed(Exception):
    """Readings or events could not be stored; they are counted as lost and reported by the sink."""


@dataclass(frozen=True)
class EventRecord:
    """A station event as it is noticed: what happened, how bad, where, and what else is worth knowing.
    ``at`` None: now, by the outbox's clock."""

    kind: EventKind
    severity: Severity
    message: str
    device: str | None = None
    param: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


class Sink(Protocol):
    def add_readings(self, readings: Sequence[Reading]) -> None:
        """Store readings durably; when this returns they are on disk. Raises StorageFailed when they could
        not be stored (counted as lost already)."""

    def add_event(self, event: EventRecord) -> None:
        """Record a station event (device down/up, stuck value, logic violation, controller condition...)."""

    def set_device_status(self, device: str, status: DeviceStatus) -> None:
        """The current state of one device, for the retained status message."""

    def set_controller_signals(self, signals: dict[str, float | bool | str]) -> None:
        """The latest station-controller signals (pump, water present, mains power, door...)."""


@dataclass
class MemorySink:
    """An in-memory Sink for unit tests of acquisition and flagging."""

    readings: list[Reading] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    devices: dict[str, DeviceStatus] = field(default_factory=dict)
    controller: dict[str, float | bool | str] = field(default_factory=dict)

    def add_readings(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)

    def add_event(self, event: EventRecord) -> None:
        self.events.append(event)

    def set_device_status(self, device: str, status: DeviceStatus) -> None:
        self.devices[device] = status

    def set_controller_signals(self, signals: dict[str, float | bool | str]) -> None:
        self.controller.update(signals)
