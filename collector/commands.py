"""Commands to stations: their arguments checked as the agent will check them (protocols.commands), then
stored and published on the collector's publish-only connection, QoS 1, waiting for the broker's PUBACK.

The API sends what an operator asks; the gap checks (collector/gap_check.py) send re-send requests. Either
way a command that cannot go out is a ``CommandError`` with a reason, never a silent loss.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from collector.hj212.commands import INTERVAL_DEVICE
from collector.parts import Publisher
from collector.store.base import Store
from collector.summaries import iso
from protocols import messages, topics
from protocols.commands import RESEND_SEQ_ARGS, Bounds, check_args
from protocols.errors import CommandError
from protocols.messages import Command, CommandKind, Status


def command_args(
    kind: CommandKind,
    args: Mapping[str, Any],
    now: datetime,
    status: Status | None,
    earliest: datetime,
    latest: datetime,
    *,
    logger: bool = False,
) -> dict[str, Any]:
    """The arguments to send, checked against the times in [earliest, latest] and the devices the station's
    last status names; CommandError when the agent would refuse them. A sync_clock without reference_time
    carries ``now``: the collector's clock is the reference. ``logger``: the station's commands go to an HJ 212
    data logger (collector/hj212/commands.py): no re-send by seq, and its one interval is ``rtd``."""
    out = dict(args)
    if kind is CommandKind.SYNC_CLOCK and "reference_time" not in out:
        out["reference_time"] = iso(now)
    devices = set(status.devices) | set(status.intervals) if status is not None else set()
    if logger:
        devices = {INTERVAL_DEVICE}
        if kind is CommandKind.RESEND and RESEND_SEQ_ARGS & args.keys():
            raise CommandError(
                "a data logger has no sequence numbers: re-send by 'from'/'to'", reason="malformed"
            )
    return check_args(kind, out, Bounds(earliest, latest, devices))


class LoggerLink(Protocol):
    """The HJ 212 server, as the sender of commands to the data loggers it serves."""

    def serves(self, station: str) -> bool: ...

    def send_command(self, command: Command, timeout: float = 5.0) -> None: ...


class CommandSender:
    """``connection``: the publisher as it is now (None before start, or without a broker)."""

    def __init__(
        self,
        store: Store,
        connection: Callable[[], Publisher | None],
        clock: Callable[[], datetime],
        *,
        loggers: LoggerLink | None = None,
    ) -> None:
        self.store = store
        self.connection = connection
        self.clock = clock
        self.loggers = loggers  # stations whose commands go to an HJ 212 logger, not over MQTT

    def _logger_command(self, station: str, kind: CommandKind, args: dict[str, Any]) -> Command | None:
        if self.loggers is None or not self.loggers.serves(station):
            return None
        command = Command(
            station=station,
            id=secrets.token_hex(8),
            kind=kind,
            issued_at=self.clock().astimezone(UTC),
            args=args,
        )
        self.store.save_command(command)
        self.loggers.send_command(command)
        return command

    def send(self, station: str, kind: CommandKind, args: dict[str, Any]) -> Command:
        """Store and publish a command (QoS 1, waiting for PUBACK); CommandError when it cannot be sent."""
        sent = self._logger_command(station, kind, args)
        if sent is not None:
            return sent
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
