"""The arguments each command kind takes, checked the same way on both sides of the wire. Pure.

The agent (agent/commands.py) executes what these rules accept; the collector checks them when an operator
POSTs a command, so a command that the agent would refuse is answered 422 at once instead of 202 and a
failed reply minutes later. The collector is stricter in two ways the agent cannot be: unknown argument
names are refused, and times and sequence numbers must lie within bounds it knows (``Bounds``).

    resend        {"from": ISO, "to": ISO}  (half open, from < to)   or   {"seq_from": int, "seq_to": int}
                  (inclusive, seq_from <= seq_to), never both, never neither
    set_interval  {"device": name, "seconds": number in [MIN_INTERVAL_S, MAX_INTERVAL_S]}
    sync_clock    {"reference_time": ISO}  (the collector fills it with its own clock when it is missing)
    get_config    {}

Every failure is a ``CommandError`` with reason ``malformed`` and a message that names the argument.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from protocols.errors import CommandError
from protocols.messages import CommandKind

MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 86_400.0
SEQ_MAX = 2**63 - 1  # a signed 64-bit integer: what every store can hold
RESEND_TIME_ARGS = frozenset({"from", "to"})
RESEND_SEQ_ARGS = frozenset({"seq_from", "seq_to"})
ARGS: dict[CommandKind, frozenset[str]] = {
    CommandKind.RESEND: RESEND_TIME_ARGS | RESEND_SEQ_ARGS,
    CommandKind.SET_INTERVAL: frozenset({"device", "seconds"}),
    CommandKind.SYNC_CLOCK: frozenset({"reference_time"}),
    CommandKind.GET_CONFIG: frozenset(),
}


def _malformed(message: str) -> CommandError:
    return CommandError(message, reason="malformed")


def seq_arg(args: Mapping[str, Any], name: str) -> int:
    """A message sequence number: a non-negative integer (not a bool, not a float)."""
    raw = args.get(name)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _malformed(f"argument {name!r} is required: a message sequence number (integer)")
    if raw < 0:
        raise _malformed(f"argument {name!r} must not be negative: {raw}")
    return raw


def utc_arg(args: Mapping[str, Any], name: str) -> datetime:
    """An ISO 8601 time with a zone, in UTC."""
    raw = args.get(name)
    if not isinstance(raw, str):
        raise _malformed(f"argument {name!r} is required: an ISO 8601 UTC time")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _malformed(f"argument {name!r} is not an ISO 8601 time: {raw[:64]!r}") from None
    if value.tzinfo is None:
        raise _malformed(f"argument {name!r} must carry a time zone (UTC): {raw[:64]!r}")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 has no UTC time
        raise _malformed(f"argument {name!r} is out of range: {raw[:64]!r}") from None


def interval_arg(args: Mapping[str, Any], name: str = "seconds") -> float:
    """A poll interval: a finite number of seconds within [MIN_INTERVAL_S, MAX_INTERVAL_S]."""
    raw = args.get(name)
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | float)
        or not math.isfinite(raw)
        or not MIN_INTERVAL_S <= raw <= MAX_INTERVAL_S
    ):
        raise _malformed(f"{name!r} must be a number from {MIN_INTERVAL_S:g} to {MAX_INTERVAL_S:g}")
    return float(raw)


@dataclass(frozen=True, slots=True)
class ResendRange:
    """A resend's range: by time (``start`` <= t < ``end``) or by seq (``first`` to ``last`` inclusive)."""

    start: datetime | None = None
    end: datetime | None = None
    first: int | None = None
    last: int | None = None

    @property
    def by_seq(self) -> bool:
        return self.first is not None


def resend_range(args: Mapping[str, Any]) -> ResendRange:
    """The range a resend names; CommandError when the form is wrong (the agent's own rules)."""
    by_time = bool(RESEND_TIME_ARGS & args.keys())
    by_seq = bool(RESEND_SEQ_ARGS & args.keys())
    if by_time == by_seq:
        raise _malformed(
            "resend takes either 'from'/'to' (ISO 8601 UTC) or 'seq_from'/'seq_to' (integers), "
            f"not {'both' if by_time else 'neither'}"
        )
    if by_time:
        start, end = utc_arg(args, "from"), utc_arg(args, "to")
        if not start < end:
            raise _malformed("'from' must be before 'to'")
        return ResendRange(start=start, end=end)
    first, last = seq_arg(args, "seq_from"), seq_arg(args, "seq_to")
    if first > last:
        raise _malformed(f"'seq_from' ({first}) must not be after 'seq_to' ({last})")
    return ResendRange(first=first, last=last)


@dataclass(frozen=True, slots=True)
class Bounds:
    """What the sender knows about the station and the time: times in [earliest, latest], and the devices
    (None: not known, any name is let through for the agent to judge)."""

    earliest: datetime
    latest: datetime
    devices: Collection[str] | None = None


def _within(value: datetime, name: str, bounds: Bounds) -> None:
    if not bounds.earliest <= value <= bounds.latest:
        raise _malformed(
            f"argument {name!r} must lie between {bounds.earliest.isoformat()} and {bounds.latest.isoformat()}"
        )


def check_args(kind: CommandKind, args: Mapping[str, Any], bounds: Bounds) -> dict[str, Any]:
    """The arguments of a command of ``kind`` as they will be sent; CommandError (malformed) when the agent
    would refuse them, when an argument is unknown, or when a time or seq is out of ``bounds``."""
    unknown = sorted(set(args) - ARGS[kind])
    if unknown:
        allowed = ", ".join(sorted(ARGS[kind])) or "none"
        raise _malformed(f"{kind.value} does not take {', '.join(map(repr, unknown))} (it takes: {allowed})")
    if kind is CommandKind.RESEND:
        span = resend_range(args)
        if span.by_seq:
            assert span.first is not None and span.last is not None
            if span.last > SEQ_MAX:
                raise _malformed(f"'seq_to' must not exceed {SEQ_MAX}")
            return {"seq_from": span.first, "seq_to": span.last}
        assert span.start is not None and span.end is not None
        _within(span.start, "from", bounds)
        _within(span.end, "to", bounds)
        return {"from": args["from"], "to": args["to"]}
    if kind is CommandKind.SET_INTERVAL:
        device = args.get("device")
        if not isinstance(device, str) or not device:
            raise _malformed("argument 'device' is required: the name of one of the station's devices")
        if bounds.devices is not None and device not in bounds.devices:
            raise _malformed(f"unknown device {device[:64]!r}; this station has {sorted(bounds.devices)}")
        return {"device": device, "seconds": interval_arg(args)}
    if kind is CommandKind.SYNC_CLOCK:
        reference = utc_arg(args, "reference_time")
        _within(reference, "reference_time", bounds)
        return {"reference_time": args["reference_time"]}
    return {}
