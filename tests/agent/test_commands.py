from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.commands import CommandHandler, redact
from agent.config import parse_config
from agent.outbox import Outbox
from protocols.messages import Command, CommandKind, CommandReply, Lane, decode, encode
from tests.agent.conftest import T0, FakeClock, readings

CONFIG = """
[station]
id = "hexicun"
[mqtt]
url = "mqtt://127.0.0.1:1883"
username = "hexicun"
password = "s3cret"
[[bus]]
name = "lan"
type = "tcp"
[[devices]]
name = "nh3n"
profile = "nutrient_nh3n"
bus = "lan"
host = "127.0.0.1"
"""


@pytest.fixture
def env(tmp_path: Path) -> tuple[CommandHandler, Outbox, list[tuple[str, float]], list[float]]:
    config = parse_config(CONFIG)
    clock = FakeClock(T0.timestamp() + 3600)
    outbox = Outbox(tmp_path / "o.db", config.outbox, "hexicun", clock=clock)
    applied: list[tuple[str, float]] = []
    offsets: list[float] = []
    handler = CommandHandler(
        config,
        outbox,
        apply_interval=lambda d, s: applied.append((d, s)),
        on_clock_offset=offsets.append,
        clock=clock,
    )
    return handler, outbox, applied, offsets


def cmd(kind: CommandKind, args: dict[str, Any], *, id: str = "c-1", station: str = "hexicun") -> bytes:
    return encode(Command(station=station, id=id, kind=kind, issued_at=datetime.now(UTC), args=args))


def reply_of(payload: bytes | None) -> CommandReply:
    assert payload is not None
    message = decode(payload, expected_station="hexicun")
    assert isinstance(message, CommandReply)
    return message


def test_set_interval_executes_once_and_redelivery_gets_same_reply(env: Any) -> None:
    handler, outbox, applied, _ = env
    payload = cmd(CommandKind.SET_INTERVAL, {"device": "nh3n", "seconds": 600})
    first = handler.handle(payload)
    second = handler.handle(payload)
    assert first == second
    reply = reply_of(first)
    assert reply.ok and reply.id == "c-1" and reply.result == {"device": "nh3n", "seconds": 600.0}
    assert applied == [("nh3n", 600.0)]  # executed once
    assert outbox.intervals() == {"nh3n": 600.0}  # persisted override
    assert outbox.counters()["commands_repeated"] == 1


def test_set_interval_unknown_device_fails_with_reason(env: Any) -> None:
    handler, outbox, applied, _ = env
    reply = reply_of(handler.handle(cmd(CommandKind.SET_INTERVAL, {"device": "nope", "seconds": 60})))
    assert not reply.ok and "unknown device 'nope'" in reply.message
    reply = reply_of(
        handler.handle(cmd(CommandKind.SET_INTERVAL, {"device": "nh3n", "seconds": -5}, id="c-2"))
    )
    assert not reply.ok and "seconds" in reply.message
    assert applied == [] and outbox.intervals() == {}
    assert outbox.counters()["commands_failed"] == 2


def test_command_for_another_station_is_refused_and_counted(env: Any) -> None:
    handler, outbox, applied, _ = env
    reply = reply_of(
        handler.handle(cmd(CommandKind.SET_INTERVAL, {"device": "nh3n", "seconds": 60}, station="bifengcun"))
    )
    assert not reply.ok and "refused" in reply.message and "bifengcun" in reply.message
    assert applied == [] and outbox.counters() == {"commands_refused": 1}


@pytest.mark.parametrize(
    "payload, answered",
    [
        (b"not json", False),
        (b"[1, 2]", False),
        (json.dumps({"v": 1, "type": "cmd", "station": "hexicun", "kind": "resend"}).encode(), False),
        (
            json.dumps(
                {
                    "v": 1,
                    "type": "cmd",
                    "station": "hexicun",
                    "id": "x9",
                    "kind": "reboot",
                    "issued_at": "2026-07-01T00:00:00Z",
                }
            ).encode(),
            True,
        ),
        (
            json.dumps(
                {"v": 1, "type": "cmd", "station": "hexicun", "id": "x9", "kind": "get_config"}
            ).encode(),
            True,
        ),
    ],
)
def test_malformed_commands_counted_and_answered_when_id_readable(
    env: Any, payload: bytes, answered: bool
) -> None:
    handler, outbox, _, _ = env
    out = handler.handle(payload)
    assert outbox.counters() == {"commands_malformed": 1}
    if answered:
        reply = reply_of(out)
        assert not reply.ok and reply.id == "x9" and "malformed" in reply.message
    else:
        assert out is None


def test_resend_requeues_range_and_validates_it(env: Any) -> None:
    handler, outbox, _, _ = env
    outbox.add_readings(readings(10))
    batch = outbox.next_batch(Lane.LIVE)
    outbox.mark_acked(batch.seq)
    reply = reply_of(
        handler.handle(
            cmd(
                CommandKind.RESEND,
                {
                    "from": T0.isoformat(),
                    "to": (T0 + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
                },
            )
        )
    )
    assert reply.ok and reply.result["queued"] == 5
    assert outbox.pending_resends() == 5
    bad = reply_of(
        handler.handle(
            cmd(CommandKind.RESEND, {"from": "2026-07-01T01:00:00", "to": "2026-07-01T02:00:00Z"}, id="c-2")
        )
    )
    assert not bad.ok and "time zone" in bad.message
    backwards = reply_of(
        handler.handle(
            cmd(CommandKind.RESEND, {"from": "2026-07-01T02:00:00Z", "to": "2026-07-01T01:00:00Z"}, id="c-3")
        )
    )
    assert not backwards.ok and "before" in backwards.message


def test_sync_clock_reports_offset_without_stepping(env: Any) -> None:
    handler, _, _, offsets = env
    station_now = T0 + timedelta(hours=1)
    reference = station_now - timedelta(seconds=42.5)  # the station runs 42.5 s fast
    reply = reply_of(handler.handle(cmd(CommandKind.SYNC_CLOCK, {"reference_time": reference.isoformat()})))
    assert reply.ok and reply.result["offset_s"] == pytest.approx(42.5) and reply.result["stepped"] is False
    assert offsets == [pytest.approx(42.5)]


def test_get_config_hides_secrets(env: Any) -> None:
    handler, _, _, _ = env
    reply = reply_of(handler.handle(cmd(CommandKind.GET_CONFIG, {})))
    config = reply.result["config"]
    assert config["station"]["id"] == "hexicun" and config["mqtt"]["username"] == "hexicun"
    assert config["mqtt"]["password"] == "***"
    assert "s3cret" not in json.dumps(reply.result)


def test_redact_keeps_empty_secrets_empty() -> None:
    assert redact({"a": {"password": ""}, "pw": "x", "items": [{"token": "t"}]}) == {
        "a": {"password": ""},
        "pw": "***",
        "items": [{"token": "***"}],
    }


def test_resend_by_seq_range_requeues_what_those_messages_carried(env: Any) -> None:
    handler, outbox, _, _ = env
    outbox.add_readings(readings(3))
    first = outbox.next_batch(Lane.LIVE)
    outbox.add_readings(readings(4, start=T0 + timedelta(minutes=3)))
    second = outbox.next_batch(Lane.LIVE)
    outbox.add_readings(readings(2, start=T0 + timedelta(minutes=7)))
    third = outbox.next_batch(Lane.LIVE)  # not acknowledged: it goes again anyway, same seq
    for batch in (first, second):
        outbox.mark_acked(batch.seq)
    reply = reply_of(
        handler.handle(cmd(CommandKind.RESEND, {"seq_from": second.seq, "seq_to": third.seq}, id="s-1"))
    )
    assert reply.ok
    assert reply.result == {"queued": 4, "seq_from": second.seq, "seq_to": third.seq, "unknown_seqs": 0}
    resend = outbox.next_batch(Lane.RESEND)
    assert resend is not None and resend.readings() == second.readings()
    # The same command again: the stored reply, nothing queued twice.
    again = handler.handle(cmd(CommandKind.RESEND, {"seq_from": second.seq, "seq_to": third.seq}, id="s-1"))
    assert reply_of(again) == reply
    # A new command for the same range while it is still pending queues nothing more.
    dup = reply_of(handler.handle(cmd(CommandKind.RESEND, {"seq_from": 0, "seq_to": second.seq}, id="s-2")))
    assert dup.ok and dup.result["queued"] == 3  # only the first message's readings were new
    assert outbox.counters() == {"commands_executed": 2, "commands_repeated": 1}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"seq_from": 2, "seq_to": 1}, "must not be after"),
        ({"seq_from": 0, "seq_to": 99}, "from the future"),
        ({"seq_from": -1, "seq_to": 0}, "negative"),
        ({"seq_from": "0", "seq_to": 0}, "integer"),
        ({"seq_from": True, "seq_to": 0}, "integer"),
        ({"seq_from": 0}, "'seq_to' is required"),
        ({"seq_from": 0, "seq_to": 0, "from": "2026-07-01T00:00:00Z"}, "not both"),
        ({}, "not neither"),
        ({"to": "2026-07-01T00:00:00Z"}, "'from' is required"),
    ],
)
def test_resend_args_are_validated_and_failures_counted(env: Any, args: dict[str, Any], words: str) -> None:
    handler, outbox, _, _ = env
    outbox.add_readings(readings(3))
    outbox.mark_acked(outbox.next_batch(Lane.LIVE).seq)
    reply = reply_of(handler.handle(cmd(CommandKind.RESEND, args)))
    assert not reply.ok and words in reply.message
    assert outbox.counters() == {"commands_failed": 1}
    assert outbox.pending_resends() == 0


def test_resend_by_seq_says_which_seqs_this_outbox_never_had(env: Any) -> None:
    handler, outbox, _, _ = env
    outbox.add_readings(readings(2))
    outbox.seq.next = 1000  # as after a lost outbox: sequence numbers continue from the reserved mark
    batch = outbox.next_batch(Lane.LIVE)
    outbox.mark_acked(batch.seq)
    reply = reply_of(handler.handle(cmd(CommandKind.RESEND, {"seq_from": 990, "seq_to": 1000})))
    assert reply.ok and reply.result["queued"] == 2 and reply.result["unknown_seqs"] == 10


def test_a_result_beyond_the_wire_limits_is_a_failed_reply_not_a_crash(
    env: tuple[CommandHandler, Outbox, list[tuple[str, float]], list[float]],
) -> None:
    handler, outbox, _, _ = env
    reply = reply_of(handler._reply("c-big", True, "get_config done", {"config": {"x": "y" * 200_000}}))
    assert reply.ok is False and "could not be sent" in reply.message
    assert outbox.counters().get("commands_reply_too_large") == 1
