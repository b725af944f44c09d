"""Commands from the collector on ``qingliu/v1/<station>/cmd``: validate, execute once, reply.

A command is idempotent by its id: the reply is stored in the outbox with the id, and a re-delivered command
(QoS 1 delivers at least once) gets the stored reply again instead of a second execution. A payload that does
not validate is counted and, when an id can be read from it, answered with ok=false and the reason; a command
for another station is refused and counted. Nothing here steps the OS clock.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from agent.config import AgentConfig
from agent.outbox import Outbox
from agent.sink import EventRecord
from protocols import commands as rules
from protocols.errors import CommandError, PayloadError
from protocols.messages import Command, CommandKind, CommandReply, EventKind, Severity, decode, encode

log = logging.getLogger(__name__)

SECRET_WORDS = ("password", "secret", "token", "pw")


def redact(value: Any) -> Any:
    """``value`` with every secret-looking field replaced (non-empty ones by '***')."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if any(word in str(key).lower() for word in SECRET_WORDS) and not isinstance(item, dict | list):
                out[key] = "***" if item else item
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


class CommandHandler:
    """Turns a cmd payload into the reply payload to publish (or None when there is nobody to answer)."""

    def __init__(
        self,
        config: AgentConfig,
        outbox: Outbox,
        *,
        apply_interval: Callable[[str, float], None] | None = None,
        on_clock_offset: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.station = config.station.id
        self.outbox = outbox
        self.apply_interval = apply_interval
        self.on_clock_offset = on_clock_offset
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _reply(self, command_id: str, ok: bool, message: str, result: dict[str, Any] | None = None) -> bytes:
        try:
            reply = CommandReply(
                station=self.station,
                id=command_id,
                ok=ok,
                at=self._now(),
                message=message[:1000],
                result=result or {},
            )
        except ValueError as exc:  # a result beyond the wire's limits: say so rather than fail the handler
            self.outbox.count("commands_reply_too_large")
            reply = CommandReply(
                station=self.station,
                id=command_id,
                ok=False,
                at=self._now(),
                message=f"the result could not be sent: {exc}"[:1000],
            )
        return encode(reply)

    def handle(self, payload: bytes) -> bytes | None:
        try:
            message = decode(payload, expected_station=self.station)
            if not isinstance(message, Command):
                raise PayloadError(f"a {message.type!r} message is not a command", reason="malformed")
        except PayloadError as exc:
            return self._reject(payload, exc)
        stored = self.outbox.command_reply(message.id)
        if stored is not None:
            self.outbox.count("commands_repeated")
            log.info(
                "station %s: command %s was already answered; sending the same reply",
                self.station,
                message.id,
            )
            return stored
        try:
            result = self._execute(message)
            reply = self._reply(message.id, True, f"{message.kind} done", result)
            self.outbox.count("commands_executed")
        except CommandError as exc:
            self.outbox.count("commands_failed")
            log.warning("station %s: command %s (%s) failed: %s", self.station, message.id, message.kind, exc)
            reply = self._reply(message.id, False, str(exc))
        self.outbox.save_command_reply(message.id, str(message.kind), reply)
        return reply

    def _reject(self, payload: bytes, exc: PayloadError) -> bytes | None:
        refused = exc.reason == "wrong_station"
        self.outbox.count("commands_refused" if refused else "commands_malformed")
        command_id = _readable_id(payload)
        log.warning(
            "station %s: %s command%s: %s",
            self.station,
            "refused" if refused else "malformed",
            f" {command_id}" if command_id else "",
            exc,
        )
        if command_id is None:
            return None
        return self._reply(command_id, False, f"{'refused' if refused else 'malformed'} command: {exc}")

    def _execute(self, command: Command) -> dict[str, Any]:
        args = command.args
        if command.kind is CommandKind.RESEND:
            return self._resend(args)
        if command.kind is CommandKind.SET_INTERVAL:
            device = args.get("device")
            known = {d.name for d in self.config.devices}
            if not isinstance(device, str) or device not in known:
                raise CommandError(
                    f"unknown device {str(device)[:64]!r}; this station has {sorted(known)}",
                    reason="malformed",
                )
            seconds = rules.interval_arg(args)
            if self.apply_interval is not None:
                try:
                    self.apply_interval(device, float(seconds))
                except (KeyError, ValueError) as exc:  # e.g. a device disabled in the config
                    raise CommandError(
                        f"cannot set the interval of {device!r}: {exc}", reason="rejected"
                    ) from None
            self.outbox.set_interval(device, float(seconds))
            self.outbox.add_event(
                EventRecord(
                    EventKind.CONFIG_CHANGED,
                    Severity.INFO,
                    f"poll interval of {device} set to {seconds:g} s by command {command.id}",
                    device=device,
                    detail={"interval_s": float(seconds), "command": command.id},
                )
            )
            return {"device": device, "seconds": float(seconds)}
        if command.kind is CommandKind.SYNC_CLOCK:
            reference = rules.utc_arg(args, "reference_time")
            offset = (self._now() - reference).total_seconds()
            if self.on_clock_offset is not None:
                self.on_clock_offset(offset)
            return {"offset_s": offset, "station_time": self._now().isoformat(), "stepped": False}
        if command.kind is CommandKind.GET_CONFIG:
            return {"config": redact(msgspec.to_builtins(self.config))}
        raise CommandError(f"unsupported command kind {command.kind!r}", reason="unsupported")

    def _resend(self, args: dict[str, Any]) -> dict[str, Any]:
        """Two forms: a time range ``from``/``to`` (half open), or ``seq_from``/``seq_to`` (inclusive)
        naming the messages the collector did not get; either re-queues history into the resend lane."""
        span = rules.resend_range(args)
        if not span.by_seq:
            assert span.start is not None and span.end is not None
            queued = self.outbox.queue_resend(span.start, span.end)
            return {"queued": queued, "from": span.start.isoformat(), "to": span.end.isoformat()}
        assert span.first is not None and span.last is not None
        first, last = span.first, span.last
        if last >= self.outbox.next_seq:
            # The collector cannot have missed a message this station has not numbered yet.
            raise CommandError(
                f"'seq_to' ({last}) is from the future: this station's next seq is {self.outbox.next_seq}",
                reason="malformed",
            )
        queued = self.outbox.queue_resend_seqs(first, last)
        # Seqs with no message here cannot be answered (e.g. reserved ahead before the outbox was lost):
        # saying so lets the collector stop asking for them.
        unknown = last - first + 1 - self.outbox.known_seqs(first, last)
        return {"queued": queued, "seq_from": first, "seq_to": last, "unknown_seqs": unknown}


def _readable_id(payload: bytes) -> str | None:
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(document, dict):
        value = document.get("id")
        if isinstance(value, str) and 1 <= len(value) <= 64:
            return value
    return None
