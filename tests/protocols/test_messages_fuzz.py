"""messages.decode on hostile input: PayloadError is the only exception, and what it accepts reads back.

Three sources of input: arbitrary bytes, arbitrary JSON documents (with the values Python's json lets
through: NaN, huge integers, lone surrogates), and valid messages with one field replaced by a hostile
value. Every accepted message must encode and decode to itself: the collector stores what decode()
returns and reads it back with the same models.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import strategies as st

from protocols import messages
from protocols.catalogue import PARAMETERS
from protocols.errors import PayloadError
from protocols.flags import Flag
from protocols.messages import (
    Command,
    CommandKind,
    CommandReply,
    DeviceStatus,
    Event,
    EventKind,
    Lane,
    Reading,
    ReadingBatch,
    Severity,
    StationState,
    Status,
)
from tests.fuzz_settings import Budget, budgets, check

REASONS = {"oversized", "malformed", "non_finite", "unknown_type", "version", "schema", "wrong_station"}
PLACEHOLDER = "\x00hostile\x00"


def assert_decodes_or_refuses(payload: bytes, expected_station: str | None = None) -> None:
    assert_fast_path_agrees(payload)
    try:
        message = messages.decode(payload, expected_station=expected_station)
    except PayloadError as exc:
        assert exc.reason in REASONS, exc.reason
        text = str(exc)
        assert text and len(text) <= messages.MAX_ERROR_CHARS
        text.encode("utf-8")  # storable and loggable: no lone surrogate from the payload
        return
    # Accepted: it must survive the trip through the store (encode, decode with the same models).
    assert messages.decode(messages.encode(message)) == message


def assert_fast_path_agrees(payload: bytes) -> None:
    """What the fast path (msgspec's typed decoder) accepts, the checked path accepts, as the same bytes."""
    fast = messages._decode_fast(payload)
    if fast is not None:
        checked = messages._decode_checked(payload)
        assert checked == fast
        assert messages.encode(checked) == messages.encode(fast)  # -0.0, the last bit of a float


def dumps(document: Any, compact: bool) -> str:
    # Compact is the form encode() writes, which takes the fast path; spaced takes the checked path.
    return json.dumps(document, separators=(",", ":") if compact else None)


# --- strategies -----------------------------------------------------------------------------------------

# Text with everything JSON can carry, lone surrogates included (json.dumps escapes them).
hostile_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | hostile_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(hostile_text, inner, max_size=5),
    max_leaves=40,
)
names = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=16)
stations = st.sampled_from(["hexicun", "boshuicun", "s-1"])
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.astimezone(UTC))
finite = st.floats(allow_nan=False, allow_infinity=False)
small_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | finite | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
free_form = st.dictionaries(st.text(max_size=10), small_json, max_size=5)


@st.composite
def batches(draw: st.DrawFn) -> ReadingBatch:
    keys = draw(
        st.lists(st.tuples(st.sampled_from(sorted(PARAMETERS)), times), min_size=1, max_size=8, unique=True)
    )
    readings = []
    for param, t in keys:
        flag = draw(st.sampled_from(list(Flag)))
        value = draw(finite) if flag in (Flag.NORMAL, Flag.OVER_RANGE) else draw(st.none() | finite)
        readings.append(Reading(param=param, t=t, value=value, flag=flag, device=draw(st.none() | names)))
    return ReadingBatch(
        station=draw(stations),
        seq=draw(st.integers(0, 2**63 - 1)),
        lane=draw(st.sampled_from(list(Lane))),
        sent_at=draw(times),
        readings=readings,
    )


statuses = st.builds(
    Status,
    station=stations,
    state=st.sampled_from(list(StationState)),
    at=times,
    agent_version=st.text(max_size=10),
    next_seq=st.integers(0, 2**63 - 1),
    backlog=st.integers(0, 2**63 - 1),
    dropped=st.integers(0, 2**63 - 1),
    clock_offset_s=st.none() | finite,
    devices=st.dictionaries(
        names, st.builds(DeviceStatus, up=st.booleans(), failures=st.integers(0, 1000)), max_size=3
    ),
    controller=st.dictionaries(names, st.booleans() | finite | st.text(max_size=10), max_size=3),
    heartbeat_s=st.floats(1, 3600),
    intervals=st.dictionaries(names, st.floats(1, 86_400), max_size=3),
)
events = st.builds(
    Event,
    station=stations,
    id=names,
    at=times,
    kind=st.sampled_from(list(EventKind)),
    severity=st.sampled_from(list(Severity)),
    message=st.text(max_size=30),
    detail=free_form,
)
commands = st.builds(
    Command,
    station=stations,
    id=names,
    kind=st.sampled_from(list(CommandKind)),
    issued_at=times,
    args=free_form,
)
replies = st.builds(
    CommandReply, station=stations, id=names, ok=st.booleans(), at=times, message=st.text(), result=free_form
)
valid_messages = batches() | statuses | events | commands | replies

# Raw JSON text: what json.dumps cannot write (deep nesting, long numbers) as well as what it can.
hostile_fragments = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        str(2**63),
        str(2**64),
        "-1",
        "9" * 4000,
        "9" * 5000,
        "[" * 5000 + "]" * 5000,
        '{"a":' * 300 + "1" + "}" * 300,
        "[" * 9 + "]" * 9,
        '"\\ud800"',
        '"\\udc00x"',
        '{"\\ud800": 1}',
        '"0001-01-01T00:00:00+14:00"',
        '"9999-12-31T23:59:59-14:00"',
        '"2026-07-15T10:00:00"',
        "1e300",
        "true",
        "null",
        "[]",
        "{}",
        '""',
        '"' + "x" * 5000 + '"',
        "0.0",
        "-0.0",
    ]
) | json_values.map(lambda v: json.dumps(v, allow_nan=True))


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for i, value in enumerate(document):
            found += paths(value, (*prefix, i))
    return found


def replace(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        document = document[step]
    document[path[-1]] = value


# --- properties -----------------------------------------------------------------------------------------


@budgets(300)
def test_arbitrary_bytes(budget: Budget) -> None:
    def prop(payload: bytes) -> None:
        assert_decodes_or_refuses(payload)

    check(prop, budget, st.binary(max_size=300))


@budgets(300)
def test_arbitrary_json_documents(budget: Budget) -> None:
    def prop(document: Any, kind: str, ascii_only: bool) -> None:
        if isinstance(document, dict):
            document = {"v": 1, "type": kind, **document}
        text = json.dumps(document, allow_nan=True, ensure_ascii=ascii_only)
        # Unescaped, a lone surrogate becomes bytes that are not UTF-8: refused as malformed.
        assert_decodes_or_refuses(text.encode("utf-8", "surrogatepass"))

    kinds = st.sampled_from(["readings", "status", "event", "cmd", "reply", "other"])
    check(prop, budget, json_values, kinds, st.booleans())


@budgets(300)
def test_valid_messages_round_trip(budget: Budget) -> None:
    def prop(message: Any) -> None:
        wire = messages.encode(message)
        assert messages.decode(wire, expected_station=message.station) == message
        assert messages._decode_fast(wire) is not None  # what encode() writes takes the fast path
        assert_fast_path_agrees(wire)

    check(prop, budget, valid_messages)


@budgets(300)
def test_valid_messages_with_one_hostile_field(budget: Budget) -> None:
    def prop(message: Any, data: st.DataObject, fragment: str, compact: bool) -> None:
        document = json.loads(messages.encode(message))
        path = data.draw(st.sampled_from(paths(document)))
        replace(document, path, PLACEHOLDER)
        text = dumps(document, compact).replace(json.dumps(PLACEHOLDER), fragment)
        assert_decodes_or_refuses(text.encode("utf-8", "surrogatepass"), expected_station=message.station)

    check(prop, budget, valid_messages, st.data(), hostile_fragments, st.booleans())


@budgets(300)
def test_valid_messages_with_a_hostile_extra_key(budget: Budget) -> None:
    def prop(message: Any, data: st.DataObject, key: str, fragment: str, compact: bool) -> None:
        document = json.loads(messages.encode(message))
        containers = [p for p in paths(document) if isinstance(_at(document, p), dict)] + [()]
        path = data.draw(st.sampled_from(containers))
        target = _at(document, path)
        target[key] = PLACEHOLDER
        text = dumps(document, compact).replace(json.dumps(PLACEHOLDER), fragment)
        assert_decodes_or_refuses(text.encode("utf-8", "surrogatepass"))

    check(prop, budget, valid_messages, st.data(), hostile_text, hostile_fragments, st.booleans())


# Number literals as a peer may write them: exponents, long mantissas, signs, leading zeros (refused).
number_text = st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


@budgets(300)
def test_fast_and_checked_paths_read_numbers_alike(budget: Budget) -> None:
    def prop(message: Any, data: st.DataObject, number: str) -> None:
        document = json.loads(messages.encode(message))
        numbers = [p for p in paths(document) if type(_at(document, p)) in (int, float)]
        if not numbers:
            return
        replace(document, data.draw(st.sampled_from(numbers)), PLACEHOLDER)
        payload = dumps(document, True).replace(json.dumps(PLACEHOLDER), number).encode()
        assert_decodes_or_refuses(payload)

    check(prop, budget, valid_messages, st.data(), number_text)


@pytest.mark.parametrize(
    "tail",
    [
        ',"v":true}',
        ',"v":1.0}',
        ',"type":"cmd"}',
        ',"station":"boshuicun"}',
        ',"station":"HeXi"}',
        ',"id":""}',
    ],
)
def test_fast_path_with_a_repeated_key_agrees(tail: str) -> None:
    head = (
        '{"v":1,"type":"event","station":"hexicun","id":"e1","at":"2026-07-15T02:00:00Z","kind":"controller"'
    )
    payload = (head + tail).encode()
    assert_decodes_or_refuses(payload)
    if "true" in tail or "1.0" in tail:
        assert messages._decode_fast(payload) is None
        assert reason(payload) == "version"


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


# --- named cases (each raised something other than PayloadError, or was accepted, before) ---------------

EVENT = {
    "v": 1,
    "type": "event",
    "station": "hexicun",
    "id": "e1",
    "at": "2026-07-15T02:00:00Z",
    "kind": "controller",
}
STATUS = {"v": 1, "type": "status", "station": "hexicun", "state": "online", "at": "2026-07-15T02:00:00Z"}
T0 = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)


def reason(payload: bytes | str) -> str:
    try:
        messages.decode(payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload)
    except PayloadError as exc:
        return exc.reason
    raise AssertionError("accepted")


def with_field(document: dict[str, Any], key: str, fragment: str) -> str:
    return json.dumps({**document, key: PLACEHOLDER}).replace(json.dumps(PLACEHOLDER), fragment)


def test_deep_nesting_is_malformed_not_recursion_error() -> None:
    assert reason("[" * 5000 + "]" * 5000) == "malformed"
    assert reason(with_field(EVENT, "detail", '{"a":' * 5000 + "1" + "}" * 5000)) == "malformed"


def test_detail_nested_beyond_the_limit_is_refused() -> None:
    def nested(depth: int) -> str:
        return '{"a":' * depth + "1" + "}" * depth

    assert messages.decode(with_field(EVENT, "detail", nested(8)).encode()).detail
    assert reason(with_field(EVENT, "detail", nested(9))) == "schema"
    assert reason(with_field(EVENT, "detail", nested(256))) == "schema"


def test_integer_beyond_the_digit_limit_is_malformed() -> None:
    assert reason(with_field(EVENT, "detail", '{"n": ' + "9" * 5000 + "}")) == "malformed"
    assert reason(with_field(STATUS, "backlog", "9" * 5000)) == "malformed"


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("controller", '{"pump": NaN}'),
        ("controller", '{"pump": Infinity}'),
        ("clock_offset_s", "-Infinity"),
        ("heartbeat_s", "NaN"),
        ("intervals", '{"tp": Infinity}'),
    ],
)
def test_non_finite_literals_anywhere_are_refused(key: str, fragment: str) -> None:
    assert reason(with_field(STATUS, key, fragment)) == "non_finite"
    assert reason(with_field(EVENT, "detail", '{"x": [1, ' + fragment + "]}")) == "non_finite"


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("controller", '{"pump": 1e400}'),
        ("clock_offset_s", "-1e400"),
        ("heartbeat_s", "1e400"),
        ("heartbeat_s", "1e9"),  # finite but no heartbeat: the collector multiplies it into a timedelta
        ("intervals", '{"tp": 1e400}'),
        ("intervals", '{"tp": 0}'),
    ],
)
def test_overflowing_numbers_are_refused(key: str, fragment: str) -> None:
    assert reason(with_field(STATUS, key, fragment)) == "schema"


@pytest.mark.parametrize("key", ["next_seq", "backlog", "dropped"])
def test_counters_fit_a_bigint(key: str) -> None:
    assert messages.decode(with_field(STATUS, key, str(2**63 - 1)).encode())
    assert reason(with_field(STATUS, key, str(2**63))) == "schema"
    device = '{"tp": {"up": true, "failures": ' + str(2**64) + "}}"
    assert reason(with_field(STATUS, "devices", device)) == "schema"


def test_seq_fits_a_bigint() -> None:
    batch = ReadingBatch(
        station="hexicun", seq=2**63 - 1, sent_at=T0, readings=[Reading(param="w01001", t=T0, value=7.0)]
    )
    document = json.loads(messages.encode(batch))
    assert messages.decode(json.dumps(document).encode()).seq == 2**63 - 1
    for seq in (2**63, 2**64):
        document["seq"] = seq
        assert reason(json.dumps(document)) == "schema"


@pytest.mark.parametrize(
    "fragment",
    [
        r'{"note": "\\ud800 is fine escaped, \ud800 is not"}',
        r'{"\udc00": 1}',
        r'{"list": ["ok", ["\udfff"]]}',
    ],
)
def test_lone_surrogates_in_free_form_are_refused(fragment: str) -> None:
    for document, key in ((EVENT, "detail"),):
        assert reason(with_field(document, key, fragment)) == "schema"
    cmd = {"v": 1, "type": "cmd", "station": "hexicun", "id": "c1", "kind": "get_config"}
    cmd["issued_at"] = "2026-07-15T02:00:00Z"
    assert reason(with_field(cmd, "args", fragment)) == "schema"


def test_lone_surrogates_in_text_fields_are_refused_with_a_storable_message() -> None:
    for key, fragment in (("message", r'"\\ud800"'), ("message", r'"\ud800"'), ("device", r'"\udc00"')):
        payload = with_field(EVENT, key, fragment).encode()
        if rb"\\ud800" in payload:  # an escaped backslash: a valid string
            assert messages.decode(payload)
            continue
        with pytest.raises(PayloadError) as info:
            messages.decode(payload)
        str(info.value).encode("utf-8")
    devices = r'{"\ud800": {"up": true}}'
    with pytest.raises(PayloadError) as info:
        messages.decode(with_field(STATUS, "devices", devices).encode())
    str(info.value).encode("utf-8")


def test_paired_surrogates_are_text() -> None:
    event = messages.decode(with_field(EVENT, "detail", r'{"emoji": "\ud83d\ude00"}').encode())
    assert event.detail == {"emoji": "\U0001f600"}


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_times_outside_utc_are_refused(at: str) -> None:
    assert reason(with_field(EVENT, "at", json.dumps(at))) == "schema"
    doc = {"v": 1, "type": "readings", "station": "hexicun", "seq": 1, "sent_at": "2026-07-15T02:00:00Z"}
    doc["readings"] = [{"param": "w01001", "t": at, "value": 7.0}]
    assert reason(json.dumps(doc)) == "schema"


def test_extreme_but_representable_times_are_not_refused_here() -> None:
    # The receiver applies its own time window (collector.ingest.time_suspects); decode refuses only the
    # unrepresentable.
    for at in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2100-01-01T00:00:00Z"):
        assert messages.decode(with_field(EVENT, "at", json.dumps(at)).encode()).at.year in (1, 9999, 2100)


def test_duplicate_readings_in_one_batch_are_refused() -> None:
    doc = {"v": 1, "type": "readings", "station": "hexicun", "seq": 1, "sent_at": "2026-07-15T02:00:00Z"}
    doc["readings"] = [
        {"param": "w01001", "t": "2026-07-15T10:00:00+08:00", "value": 7.0},
        {"param": "w01010", "t": "2026-07-15T02:00:00Z", "value": 20.0},
        {"param": "w01001", "t": "2026-07-15T02:00:00Z", "value": 7.1},  # the same instant, another zone
    ]
    with pytest.raises(PayloadError, match=r"w01001 at 2026-07-15T02:00:00\+00:00") as info:
        messages.decode(json.dumps(doc).encode())
    assert info.value.reason == "schema"
    doc["readings"][2]["t"] = "2026-07-15T02:00:01Z"
    assert len(messages.decode(json.dumps(doc).encode()).readings) == 3


@pytest.mark.parametrize(
    ("key", "size"),
    [("devices", messages.MAX_MAP_ENTRIES + 1), ("controller", messages.MAX_MAP_ENTRIES + 1)],
)
def test_status_maps_are_bounded(key: str, size: int) -> None:
    value = {f"d{i}": {"up": True} if key == "devices" else 1.0 for i in range(size)}
    assert reason(with_field(STATUS, key, json.dumps(value))) == "schema"
    assert reason(with_field(STATUS, key, json.dumps({"x" * 65: value["d0"]}))) == "schema"


def test_free_form_limits() -> None:
    from protocols import freeform

    big = {"s": "x" * (freeform.MAX_STRING_CHARS + 1)}
    many = {"l": list(range(freeform.MAX_ITEMS + 1))}
    wide = {f"k{i}": "y" * 4000 for i in range(40)}
    long_key = {"k" * (freeform.MAX_KEY_CHARS + 1): 1}
    huge_int = {"n": 2**63}
    for detail in (big, many, wide, long_key, huge_int):
        assert reason(with_field(EVENT, "detail", json.dumps(detail))) == "schema"
    with pytest.raises(ValueError):
        Event(station="hexicun", id="e", at=T0, kind=EventKind.CONTROLLER, detail={"when": T0})


def test_what_the_agent_sends_in_free_form_fields_is_accepted() -> None:
    from agent.commands import redact
    from agent.config import load_config

    config = load_config("deploy/examples/agent.toml")
    result = {"config": redact(msgspec.to_builtins(config))}
    reply = CommandReply(station="hexicun", id="c1", ok=True, at=T0, result=result)
    assert messages.decode(messages.encode(reply)) == reply
    # A station ten times the example's size still fits, well under the payload limit.
    devices = result["config"]["devices"] * 10
    for i, device in enumerate(devices):
        devices[i] = {**device, "name": f"{device['name']}-{i}"}
    large = CommandReply(
        station="hexicun",
        id="c2",
        ok=True,
        at=T0,
        result={"config": {**result["config"], "devices": devices}},
    )
    assert len(messages.encode(large)) < messages.MAX_PAYLOAD_BYTES
    detail = {"rule": "x", "values": {"w01001": 7.0, "w21003": 0.5}, "since": T0.isoformat(), "raw": 1.5}
    event = Event(station="hexicun", id="e1", at=T0, kind=EventKind.STUCK_VALUE, detail=detail)
    assert messages.decode(messages.encode(event)) == event
