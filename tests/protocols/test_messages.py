"""Wire messages: valid documents round-trip; anything else is a PayloadError with the right reason."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from protocols import messages
from protocols.errors import PayloadError, ProtocolError
from protocols.flags import Flag
from protocols.messages import (
    Command,
    CommandKind,
    CommandReply,
    Event,
    EventKind,
    Lane,
    Reading,
    ReadingBatch,
    StationState,
    Status,
)

T0 = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)


def batch_doc(n: int = 2) -> dict[str, Any]:
    return {
        "v": 1,
        "type": "readings",
        "station": "hexicun",
        "seq": 41,
        "lane": "live",
        "sent_at": "2026-07-15T02:00:05Z",
        "readings": [
            {
                "param": "w21003" if i % 2 else "w01001",
                # Unique (param, t) for any n: a batch holds one value per parameter and time.
                "t": f"2026-07-15T10:{i % 60:02d}:{i // 60 % 60:02d}+08:00",
                "value": 0.5 + i,
            }
            for i in range(n)
        ],
    }


def raw(doc: Any) -> bytes:
    return json.dumps(doc).encode("utf-8")


def reason_of(payload: bytes, **kwargs: Any) -> str:
    with pytest.raises(PayloadError) as info:
        messages.decode(payload, **kwargs)
    assert str(info.value)
    assert isinstance(info.value, ProtocolError)
    return info.value.reason


# --- valid messages -------------------------------------------------------------------------------------


def test_batch_round_trip() -> None:
    batch = ReadingBatch(
        station="hexicun",
        seq=7,
        lane=Lane.BACKFILL,
        sent_at=T0,
        readings=[
            Reading(param="w21003", t=T0, value=0.452),
            Reading(param="w21011", t=T0, value=1.0e-9, flag=Flag.COMM_FAILED, device="tp"),
            Reading(param="w01001", t=T0, value=-0.0, flag=Flag.CALIBRATION),
        ],
    )
    wire = messages.encode(batch)
    again = messages.decode(wire, expected_station="hexicun")
    assert again == batch
    assert messages.encode(again) == wire
    document = json.loads(wire)
    assert document["v"] == 1 and document["type"] == "readings"
    assert "device" not in document["readings"][0]  # None fields are left out on the wire


def test_batch_with_missing_value_round_trips() -> None:
    reading = Reading(param="w21011", t=T0, value=None, flag=Flag.COMM_FAILED)
    batch = ReadingBatch(station="hexicun", seq=1, sent_at=T0, readings=[reading])
    assert messages.decode(messages.encode(batch)) == batch


def test_decoded_batch_values_and_times() -> None:
    batch = messages.decode(raw(batch_doc(3)))
    assert isinstance(batch, ReadingBatch)
    assert [r.value for r in batch.readings] == [0.5, 1.5, 2.5]
    assert [r.flag for r in batch.readings] == [Flag.NORMAL] * 3
    # Times arrive in any zone and are held as UTC.
    assert batch.readings[0].t == datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
    assert batch.readings[0].t.utcoffset() == timedelta(0)
    assert messages.encode(batch).count(b"2026-07-15T02:00:00Z") == 1


def test_values_are_not_rounded() -> None:
    doc = batch_doc(1)
    doc["readings"][0]["value"] = 0.1 + 0.2
    batch = messages.decode(raw(doc))
    assert batch.readings[0].value == 0.1 + 0.2
    assert messages.decode(messages.encode(batch)).readings[0].value == 0.1 + 0.2


def test_other_message_types_round_trip() -> None:
    status = Status(
        station="boshuicun", state=StationState.ONLINE, at=T0, backlog=3, controller={"pump": True}
    )
    event = Event(
        station="boshuicun", id="e1", at=T0, kind=EventKind.DEVICE_DOWN, device="tp", param="w21011"
    )
    command = Command(station="boshuicun", id="c1", kind=CommandKind.RESEND, issued_at=T0, args={"from": "x"})
    reply = CommandReply(station="boshuicun", id="c1", ok=False, at=T0, message="no data")
    for message in (status, event, command, reply):
        assert messages.decode(messages.encode(message), expected_station="boshuicun") == message


def test_max_readings_accepted() -> None:
    batch = messages.decode(raw(batch_doc(messages.MAX_READINGS_PER_BATCH)))
    assert len(batch.readings) == messages.MAX_READINGS_PER_BATCH


# --- refused payloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"{", b"", b"not json", b'{"v":1,', b"\xff\xfe{}", b"\xef\xbb\xbf{}"])
def test_malformed_json(payload: bytes) -> None:
    assert reason_of(payload) == "malformed"


@pytest.mark.parametrize("payload", [b"[]", b"1", b'"readings"', b"null", b'[{"type": "readings"}]'])
def test_non_object(payload: bytes) -> None:
    assert reason_of(payload) == "malformed"


@pytest.mark.parametrize("kind", ["reading", "READINGS", "", None, 1, ["readings"]])
def test_unknown_type(kind: Any) -> None:
    doc = batch_doc()
    doc["type"] = kind
    assert reason_of(raw(doc)) == "unknown_type"
    del doc["type"]
    assert reason_of(raw(doc)) == "unknown_type"


@pytest.mark.parametrize("version", [0, 2, "1", 1.5, None])
def test_wrong_version(version: Any) -> None:
    doc = batch_doc()
    doc["v"] = version
    assert reason_of(raw(doc)) == "version"
    del doc["v"]
    assert reason_of(raw(doc)) == "version"


def test_boolean_version_refused() -> None:
    doc = batch_doc()
    doc["v"] = True
    assert reason_of(raw(doc)) == "version"


def test_oversized() -> None:
    payload = raw(batch_doc(1))
    assert reason_of(payload, max_bytes=len(payload) - 1) == "oversized"
    assert messages.decode(payload, max_bytes=len(payload)).seq == 41
    huge = b" " * (messages.MAX_PAYLOAD_BYTES + 1)
    assert reason_of(huge) == "oversized"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [("NaN", "non_finite"), ("Infinity", "non_finite"), ("-Infinity", "non_finite"), ("1e400", "schema")],
)
def test_non_finite_value(bad: str, reason: str) -> None:
    # NaN/Infinity are not JSON and are refused while parsing; 1e400 is JSON but overflows to inf.
    payload = raw(batch_doc(1)).replace(b'"value": 0.5', b'"value": ' + bad.encode())
    assert bad.encode() in payload
    assert reason_of(payload) == reason


def test_naive_datetime() -> None:
    doc = batch_doc(1)
    doc["readings"][0]["t"] = "2026-07-15T10:00:00"
    assert reason_of(raw(doc)) == "schema"
    doc = batch_doc(1)
    doc["sent_at"] = "2026-07-15T02:00:05"
    assert reason_of(raw(doc)) == "schema"


def test_unknown_param() -> None:
    doc = batch_doc(1)
    doc["readings"][0]["param"] = "w99999"
    with pytest.raises(PayloadError, match="w99999") as info:
        messages.decode(raw(doc))
    assert info.value.reason == "schema"


def test_wrong_station() -> None:
    payload = raw(batch_doc(1))
    assert reason_of(payload, expected_station="boshuicun") == "wrong_station"
    assert messages.decode(payload, expected_station="hexicun").station == "hexicun"


@pytest.mark.parametrize("station", ["HeXiCun", "a/b", "+", "#", "", "x" * 33, "河西村"])
def test_invalid_station_id(station: str) -> None:
    doc = batch_doc(1)
    doc["station"] = station
    assert reason_of(raw(doc)) == "schema"


def test_too_many_readings() -> None:
    assert reason_of(raw(batch_doc(messages.MAX_READINGS_PER_BATCH + 1))) == "schema"


def test_empty_batch() -> None:
    doc = batch_doc(1)
    doc["readings"] = []
    assert reason_of(raw(doc)) == "schema"


@pytest.mark.parametrize("flag", ["N", "T"])
def test_value_none_needs_invalid_flag(flag: str) -> None:
    doc = batch_doc(1)
    doc["readings"][0]["value"] = None
    doc["readings"][0]["flag"] = flag
    assert reason_of(raw(doc)) == "schema"
    doc["readings"][0]["flag"] = "B"
    assert messages.decode(raw(doc)).readings[0].value is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(extra=1),  # extra fields are refused, not ignored
        lambda d: d.update(seq=-1),
        lambda d: d.update(lane="sideways"),
        lambda d: d["readings"][0].update(flag="X"),
        lambda d: d["readings"][0].update(flag="n"),
        lambda d: d["readings"][0].update(device="d" * 65),
        lambda d: d["readings"][0].pop("t"),
    ],
)
def test_schema_violations(mutate: Any) -> None:
    doc = copy.deepcopy(batch_doc(1))
    mutate(doc)
    assert reason_of(raw(doc)) == "schema"


def test_schema_error_message_names_the_field() -> None:
    doc = batch_doc(3)
    doc["readings"][2]["value"] = "NaN-ish"
    with pytest.raises(PayloadError, match=r"readings\.2\.value"):
        messages.decode(raw(doc))


def test_boolean_value_refused() -> None:
    doc = batch_doc(1)
    doc["readings"][0]["value"] = True
    assert reason_of(raw(doc)) == "schema"


def test_models_are_constructed_with_utc() -> None:
    local = datetime(2026, 7, 15, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    reading = Reading(param="w01001", t=local, value=7.0)
    assert reading.t == T0 and reading.t.tzinfo == UTC
    with pytest.raises(ValueError):
        Reading(param="w01001", t=datetime(2026, 7, 15), value=7.0)


def test_batch_payload_from_fragments_equals_encode_and_decodes() -> None:
    from datetime import UTC, datetime

    from protocols.flags import Flag
    from protocols.messages import (
        Lane,
        Reading,
        ReadingBatch,
        batch_payload,
        decode,
        decode_fragment,
        encode,
        encode_fragment,
    )

    t0 = datetime(2026, 7, 1, tzinfo=UTC)
    readings = [
        Reading(param="w01010", t=t0, value=12.25, flag=Flag.NORMAL, device='probe "1" 名'),
        Reading(param="w21003", t=t0.replace(microsecond=123), value=None, flag=Flag.COMM_FAILED),
        Reading(param="w01001", t=t0, value=-1.2345678901234567e-300, flag=Flag.NORMAL),
    ]
    sent_at = datetime(2026, 7, 1, 8, 0, 0, 654321, tzinfo=UTC)
    expected = encode(
        ReadingBatch(station="hexicun", seq=7, lane=Lane.BACKFILL, sent_at=sent_at, readings=readings)
    )
    whole = encode_fragment(readings)
    parts = [encode_fragment(readings[:1]), encode_fragment(readings[1:])]
    assert batch_payload("hexicun", 7, Lane.BACKFILL, sent_at, whole) == expected
    assert batch_payload("hexicun", 7, Lane.BACKFILL, sent_at, parts) == expected
    assert decode(expected, expected_station="hexicun").readings == readings
    assert decode_fragment(whole) == readings
    for bad in ({"station": "Bad Station"}, {"seq": -1}, {"fragments": ""}):
        args = {"station": "hexicun", "seq": 1, "fragments": whole} | bad
        with pytest.raises(ValueError):
            batch_payload(args["station"], args["seq"], Lane.LIVE, sent_at, args["fragments"])  # type: ignore[arg-type]
