"""Commands to stations: their arguments checked as the agent will check them (protocols.commands), then
stored and published on the collector's publish-only connection, QoS 1, waiting for the broker's PUBACK.

The API sends what an operator asks; the gap checks (collector/gap_check.py) send re-send requests. Either
way a command that cannot go out is a ``CommandError`` with a reason, never a silent loss.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from collector.parts import Publisher
from collector.store.base import Store
from collector.summaries import iso
from protocols import messages, topics
from protocols.commands import Bounds, check_args
from protocols.errors import CommandError
from protocols.messages import Command, CommandKind, Status


def command_args(
    kind: CommandKind,
    args: Mapping[str, Any],
    now: datetime,
    status: Status | None,
    earliest: datetime,
    latest: datetime,
) -> dict[str, Any]:
    """The arguments to send, checked against the times in [earliest, latest] and the devices the station's
    last status names; CommandError when the agent would refuse them. A sync_clock without reference_time
    carries ``now``: the collector's clock is the reference."""
    out = dict(args)
    if kind is CommandKind.SYNC_CLOCK and "reference_time" not in out:
        out["reference_time"] = iso(now)
    devices = set(status.devices) | set(status.intervals) if status is not None else set()
    return check_args(kind, out, Bounds(earliest, latest, devices))


class CommandSender:
    """``connection``: the publisher as it is now (None before start, or without a broker)."""

    def __init__(
        self, store: Store, connection: Callable[[], Publisher | None], clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.connection = connection
        self.clock = clock

    def send(self, station: str, kind: CommandKind, args: dict[str, Any]) -> Command:
        """Store and publish a command (QoS 1, waiting for PUBACK); CommandError when it cannot be sent."""
        mqtt = self.connection()
        if mqtt is None or not mqtt.connected:
            raise CommandError("not connected to the broker", reason="not_connected")
        command = Command(
            station=station,
            id=secrets.token_hex(8),
            kind=kind,
            issued_at=self.clock().astimezone(UTC),
            args=args,
        )
        self.store.save_command(command)
        if not mqtt.publish(topics.topic(station, "cmd"), messages.encode(command), qos=1):
            raise CommandError("the broker did not acknowledge the command", reason="not_acknowledged")
        return command
