"""protocols.commands: the arguments of each command kind, and that the agent refuses what it refuses."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.commands import CommandHandler
from agent.config import parse_config
from agent.outbox import Outbox
from protocols.commands import SEQ_MAX, Bounds, check_args
from protocols.errors import CommandError
from protocols.messages import Command, CommandKind, CommandReply, decode, encode
from tests.agent.conftest import T0, FakeClock
from tests.agent.test_commands import CONFIG

BOUNDS = Bounds(datetime(2000, 1, 1, tzinfo=UTC), T0 + timedelta(days=366), {"nh3n"})
RESEND, INTERVAL, SYNC, CONFIG_KIND = (
    CommandKind.RESEND,
    CommandKind.SET_INTERVAL,
    CommandKind.SYNC_CLOCK,
    CommandKind.GET_CONFIG,
)

GOOD: list[tuple[CommandKind, dict[str, Any]]] = [
    (RESEND, {"from": "2026-07-01T00:00:00Z", "to": "2026-07-01T01:00:00+00:00"}),
    (INTERVAL, {"device": "nh3n", "seconds": 600}),
    (INTERVAL, {"device": "nh3n", "seconds": 1.5}),
    (SYNC, {"reference_time": "2026-07-01T00:00:00Z"}),
    (CONFIG_KIND, {}),
]

# Refused by both sides: the collector answers 422 what the agent would answer ok=false.
BAD: list[tuple[CommandKind, dict[str, Any]]] = [
    (RESEND, {}),
    (RESEND, {"from": "2026-07-01T00:00:00Z", "to": "2026-07-01T01:00:00Z", "seq_from": 1, "seq_to": 2}),
    (RESEND, {"from": "2026-07-01T01:00:00Z", "to": "2026-07-01T00:00:00Z"}),
    (RESEND, {"from": "2026-07-01T00:00:00Z", "to": "2026-07-01T00:00:00Z"}),
    (RESEND, {"from": "2026-07-01T00:00:00", "to": "2026-07-01T01:00:00Z"}),
    (RESEND, {"from": "yesterday", "to": "2026-07-01T01:00:00Z"}),
    (RESEND, {"from": "2026-07-01T00:00:00Z"}),
    (RESEND, {"seq_from": 5, "seq_to": 4}),
    (RESEND, {"seq_from": -1, "seq_to": 4}),
    (RESEND, {"seq_from": 1.0, "seq_to": 4}),
    (RESEND, {"seq_from": True, "seq_to": 4}),
    (RESEND, {"seq_from": "1", "seq_to": 4}),
    (RESEND, {"seq_to": 4}),
    (INTERVAL, {"device": "nh3n", "seconds": "abc"}),
    (INTERVAL, {}),
    (INTERVAL, {"device": "nh3n"}),
    (INTERVAL, {"device": "nope", "seconds": 60}),
    (INTERVAL, {"device": "nh3n", "seconds": 0.5}),
    (INTERVAL, {"device": "nh3n", "seconds": 86_401}),
    (INTERVAL, {"device": "nh3n", "seconds": float("nan")}),
    (INTERVAL, {"device": "nh3n", "seconds": float("inf")}),
    (INTERVAL, {"device": "nh3n", "seconds": True}),
    (SYNC, {}),
    (SYNC, {"reference_time": 1751328000}),
    (SYNC, {"reference_time": "2026-07-01T00:00:00"}),
]

# Refused by the collector only: it knows more (unknown names, bounds) than the agent checks.
STRICTER: list[tuple[CommandKind, dict[str, Any]]] = [
    (RESEND, {"from": "2026-07-01T00:00:00Z", "to": "2026-07-01T01:00:00Z", "x": 1}),
    (RESEND, {"from": "1999-12-31T00:00:00Z", "to": "2026-07-01T01:00:00Z"}),
    (RESEND, {"from": "2026-07-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"}),
    (RESEND, {"from": "0001-01-01T00:00:00+14:00", "to": "2026-07-01T01:00:00Z"}),
    (RESEND, {"seq_from": 0, "seq_to": SEQ_MAX + 1}),
    (INTERVAL, {"device": "nh3n", "seconds": 60, "interval_s": 60}),
    (SYNC, {"reference_time": "2126-07-01T00:00:00Z"}),
    (CONFIG_KIND, {"verbose": True}),
]


@pytest.mark.parametrize(("kind", "args"), GOOD)
def test_good_arguments_pass_unchanged(kind: CommandKind, args: dict[str, Any]) -> None:
    expected = {**args, "seconds": float(args["seconds"])} if "seconds" in args else args
    assert check_args(kind, args, BOUNDS) == expected


@pytest.mark.parametrize(("kind", "args"), BAD + STRICTER)
def test_bad_arguments_are_malformed_with_a_reason(kind: CommandKind, args: dict[str, Any]) -> None:
    with pytest.raises(CommandError) as raised:
        check_args(kind, args, BOUNDS)
    assert raised.value.reason == "malformed" and str(raised.value)


def test_seq_resends_pass_within_bounds() -> None:
    assert check_args(RESEND, {"seq_from": 0, "seq_to": SEQ_MAX}, BOUNDS) == {
        "seq_from": 0,
        "seq_to": SEQ_MAX,
    }


def test_unknown_arguments_are_named() -> None:
    with pytest.raises(CommandError, match="'interval_s'"):
        check_args(INTERVAL, {"device": "nh3n", "interval_s": "abc"}, BOUNDS)
    with pytest.raises(CommandError, match=r"this station has \[\]"):
        check_args(INTERVAL, {"device": "nh3n", "seconds": 60}, Bounds(BOUNDS.earliest, BOUNDS.latest, set()))


@pytest.fixture
def handler(tmp_path: Path) -> CommandHandler:
    config = parse_config(CONFIG)
    clock = FakeClock(T0.timestamp() + 3600)
    return CommandHandler(
        config, Outbox(tmp_path / "o.db", config.outbox, "hexicun", clock=clock), clock=clock
    )


def agent_ok(handler: CommandHandler, kind: CommandKind, args: dict[str, Any], n: int) -> bool:
    payload = encode(Command(station="hexicun", id=f"c{n}", kind=kind, issued_at=T0, args=args))
    reply = decode(handler.handle(payload) or b"", expected_station="hexicun")
    assert isinstance(reply, CommandReply)
    return reply.ok


def finite(args: dict[str, Any]) -> bool:
    """NaN and Infinity never reach the agent: the wire carries finite numbers only."""
    return all(not isinstance(v, float) or math.isfinite(v) for v in args.values())


def test_the_agent_accepts_and_refuses_the_same(handler: CommandHandler) -> None:
    """The collector's check mirrors the agent's: what it lets through the agent executes, what it refuses
    as the agent would, the agent refuses too."""
    for n, (kind, args) in enumerate(GOOD):
        assert agent_ok(handler, kind, args, n), (kind, args)
    for n, (kind, args) in enumerate((b for b in BAD if finite(b[1])), start=100):
        assert not agent_ok(handler, kind, args, n), (kind, args)
