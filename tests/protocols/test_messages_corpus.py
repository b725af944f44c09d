"""Old and new ends interoperate: messages the pydantic code wrote (before issue 17 moved the wire to msgspec)
decode to the same content and encode to the same JSON; and the msgspec types keep the pydantic rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import strategies as st

from protocols import messages
from protocols.topics import is_station_id
from tests.fuzz_settings import Budget, budgets, check

CORPUS = Path(__file__).parent / "data" / "wire_v1_corpus.jsonl"
LINES = [line for line in CORPUS.read_bytes().splitlines() if line.strip()]


def test_corpus_covers_every_message_type() -> None:
    assert {json.loads(line)["type"] for line in LINES} == {"readings", "status", "event", "cmd", "reply"}


@pytest.mark.parametrize("line", LINES, ids=[f"line{i + 1}" for i in range(len(LINES))])
def test_old_wire_decodes_and_encodes_again_alike(line: bytes) -> None:
    message = messages.decode(line)
    assert messages._decode_fast(line) == message  # what the old end wrote takes the fast path
    assert messages._decode_checked(line) == message
    again = messages.encode(message)
    assert json.loads(again) == json.loads(line)  # same content; floats may spell exponents otherwise
    assert list(json.loads(again)) == list(json.loads(line))  # same field order, v and type first
    assert again.startswith(b'{"v":1,"type":"')
    assert messages.decode(again) == message


def test_microseconds_and_zone_are_written_as_pydantic_did() -> None:
    t = datetime(2026, 7, 1, 0, 0, 0, 500000, tzinfo=UTC)
    reading = messages.Reading(param="w01001", t=t, value=7.0)
    assert messages.encode_fragment([reading]) == (
        '{"param":"w01001","t":"2026-07-01T00:00:00.500000Z","value":7.0,"flag":"N"}'
    )


def test_free_form_nulls_are_kept_struct_nulls_left_out() -> None:
    t = datetime(2026, 7, 1, tzinfo=UTC)
    event = messages.Event(
        station="hexicun", id="e", at=t, kind=messages.EventKind.CONTROLLER, detail={"a": None}
    )
    document = json.loads(messages.encode(event))
    assert document["detail"] == {"a": None}
    assert "device" not in document and "param" not in document
    assert document["severity"] == "info" and document["message"] == ""  # defaults are written


@pytest.mark.parametrize(
    "value",
    ["hexicun", "s-1", "0", "a" * 32, "a" * 33, "alerts", "alertsx", "Hexicun", "-a", "_a", "a\n", "", "a b"],
)
def test_station_id_pattern_is_is_station_id(value: str) -> None:
    document = json.dumps(value).encode()
    try:
        msgspec.json.decode(document, type=messages.StationId)
        accepted = True
    except msgspec.ValidationError:
        accepted = False
    assert accepted == is_station_id(value)


@budgets(300)
def test_station_id_pattern_agrees_on_any_text(budget: Budget) -> None:
    def prop(value: str) -> None:
        try:
            msgspec.convert(value, messages.StationId)
            accepted = True
        except msgspec.ValidationError:
            accepted = False
        assert accepted == is_station_id(value)

    check(prop, budget, st.text("abcz09_-AZ\n /.", max_size=34) | st.sampled_from(["alerts", "alerts\n"]))


def test_construction_refuses_what_decode_refuses() -> None:
    t = datetime(2026, 7, 1, tzinfo=UTC)
    bad: list[dict[str, Any]] = [
        {"param": "w99999", "t": t, "value": 1.0},
        {"param": "w01001", "t": datetime(2026, 7, 1), "value": 1.0},
        {"param": "w01001", "t": t, "value": float("nan")},
        {"param": "w01001", "t": t, "value": float("inf")},
        {"param": "w01001", "t": t, "value": True},
        {"param": "w01001", "t": t, "value": "7.5"},
        {"param": "w01001", "t": t, "value": None},
        {"param": "w01001", "t": "2026-07-01T00:00:00Z", "value": 1.0},
    ]
    for fields in bad:
        with pytest.raises(ValueError):
            messages.Reading(**fields)
    reading = messages.Reading(param="w01001", t=t, value=7)
    assert reading.value == 7.0 and type(reading.value) is float
    with pytest.raises(ValueError):
        messages.ReadingBatch(station="hexicun", seq=1, sent_at=t, readings=[])
    with pytest.raises(ValueError):
        messages.ReadingBatch(station="alerts", seq=1, sent_at=t, readings=[reading])
    with pytest.raises(ValueError):
        messages.ReadingBatch(station="hexicun", seq=-1, sent_at=t, readings=[reading])
    with pytest.raises(ValueError):
        messages.ReadingBatch(station="hexicun", seq=1, sent_at=t, readings=[reading, reading])
    with pytest.raises(ValueError):
        messages.Status(station="hexicun", state=messages.StationState.ONLINE, at=datetime(2026, 7, 1))
    with pytest.raises(ValueError):
        messages.Event(station="hexicun", id="e", at=t, kind=messages.EventKind.CONTROLLER, param="w99999")


def test_structs_are_frozen_and_hashable_where_pydantic_models_were() -> None:
    t = datetime(2026, 7, 1, tzinfo=UTC)
    reading = messages.Reading(param="w01001", t=t, value=7.0)
    with pytest.raises(AttributeError):
        reading.value = 8.0  # type: ignore[misc]
    assert len({reading, messages.Reading(param="w01001", t=t, value=7.0)}) == 1
