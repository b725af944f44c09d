"""Quarantine, never block: each poison message, between two valid ones in the same inbox batch, goes to the
dead letters while its neighbours are stored exactly once — through the real Applier and a real store (SQLite
and PostgreSQL). Poison reaches the store through a permissive classifier, so that the isolation is proven
whatever ``messages.decode`` already refuses."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from collector.inbox import Inbox
from collector.ingest import Applier, classify
from collector.metrics import IngestCounters
from collector.store.base import ApplyResult, Received, Storable, Store
from collector.store.sqlite import SqliteStore
from collector.timestamps import to_us
from protocols.messages import ReadingBatch, Status, encode
from tests.collector.factories import T0, batch, event, payload, status, unchecked

KNOWN = frozenset({"hexicun"})
READINGS = "qingliu/v1/hexicun/readings"
EVENTS = "qingliu/v1/hexicun/events"
STATUS = "qingliu/v1/hexicun/status"
RECEIVED = T0 + timedelta(days=1)  # when the receiver took every message of these tests
RECEIVED_US = to_us(RECEIVED)


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


GOOD_EVENT = json.loads(payload(event()))
GOOD_BATCH = json.loads(payload(batch()))
GOOD_STATUS = json.loads(payload(status()))


@dataclass(frozen=True)
class Poison:
    name: str
    topic: str
    body: bytes
    # What the permissive classifier does with it: raise this, or return this (unvalidated) message. None:
    # the real classify decides.
    outcome: BaseException | Storable | None = None


POISON = [
    Poison(
        "deep_json",
        READINGS,
        b'{"v": 1, "type": "readings", "station": "hexicun", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ),
    Poison(
        "deep_json_crash", READINGS, b'{"deep": "json"}', RecursionError("maximum recursion depth exceeded")
    ),
    Poison(
        "event_detail_256",
        EVENTS,
        json.dumps({**GOOD_EVENT, "detail": deep(256)}).encode(),
        unchecked(event(), detail=deep(256)),
    ),
    Poison(
        "year_0001_plus_14",
        READINGS,
        json.dumps(
            {**GOOD_BATCH, "readings": [{"param": "w01010", "t": "0001-01-01T00:00:00+14:00", "value": 1}]}
        ).encode(),
        OverflowError("date value out of range"),
    ),
    Poison(
        "seq_2_64",
        READINGS,
        json.dumps({**GOOD_BATCH, "seq": 2**64}).encode(),
        unchecked(batch(seq=9), seq=2**64),
    ),
    Poison(
        "int_5000_digits",
        READINGS,
        json.dumps(GOOD_BATCH).replace('"seq": 1', '"seq": 1' + "0" * 5000).encode(),
        ValueError("Exceeds the limit (4300 digits) for integer string conversion"),
    ),
    Poison(
        "lone_surrogate",
        EVENTS,
        json.dumps({**GOOD_EVENT, "message": "\ud800"}).encode(),
        unchecked(event(), message="\ud800"),
    ),
    Poison(
        "status_controller_infinity",
        STATUS,
        json.dumps({**GOOD_STATUS, "controller": {"pump": float("inf")}}).encode(),
        unchecked(status(), controller={"pump": float("inf")}),
    ),
]


def permissive(poison: Sequence[Poison]) -> Callable[..., Storable]:
    """A classifier that lets the given poison through (or crashes as told); the rest is classified for real."""
    by_body = {p.body: p for p in poison}

    def classifier(topic: str, body: bytes, *, known_stations: frozenset[str] | None) -> Storable:
        found = by_body.get(body)
        if found is None or found.outcome is None:
            return classify(topic, body, known_stations=known_stations)
        if isinstance(found.outcome, BaseException):
            raise found.outcome
        return found.outcome

    return classifier


class Rig:
    """Inbox → Applier → store, driven one batch at a time (no threads)."""

    def __init__(self, tmp_path: Path, store: Any, classifier: Callable[..., Storable] = classify) -> None:
        self.store = store
        self.inbox = Inbox(tmp_path / "i.db")
        self.counters = IngestCounters()
        self.committed: list[Received] = []
        self.applier = Applier(
            store,
            self.inbox,
            self.counters,
            known_stations=KNOWN,
            retry_s=0.01,
            retry_max_s=0.05,
            on_committed=lambda items, result: self.committed.extend(items),
            classifier=classifier,
        )

    def feed(self, *messages: tuple[str, bytes]) -> None:
        self.inbox.append([(topic, body, RECEIVED_US) for topic, body in messages])

    def apply_all(self) -> None:
        while self.applier.apply_once() > 0:
            pass
        assert self.inbox.depth() == 0


def neighbours() -> tuple[tuple[str, bytes], tuple[str, bytes]]:
    before = (READINGS, payload(batch(seq=1, n=3)))
    after = (READINGS, payload(batch(seq=2, n=3, start=T0.replace(hour=1))))
    return before, after


def assert_neighbours_stored_once(store: Store) -> None:
    rows = store.readings("hexicun")
    assert len(rows) == 6 and len({(r.param, r.t) for r in rows}) == 6
    assert store.seq_summary("hexicun").ranges == [(1, 2)]


@pytest.mark.parametrize("poison", POISON, ids=[p.name for p in POISON])
def test_poison_is_quarantined_and_its_neighbours_stored_once(
    poison: Poison, store: Store, tmp_path: Path
) -> None:
    rig = Rig(tmp_path, store, permissive([poison]))
    before, after = neighbours()
    rig.feed(before, (poison.topic, poison.body), after)
    rig.apply_all()
    assert_neighbours_stored_once(store)
    letters = store.dead_letters()
    assert [(d.topic, d.payload, d.station, d.count) for d in letters] == [
        (poison.topic, poison.body, "hexicun", 1)
    ]
    assert letters[0].reason and letters[0].error
    assert sum(store.dead_letter_counts().values()) == 1
    assert store.statuses() == {} and store.events("hexicun") == []  # nothing unreadable was kept
    # Redelivered (QoS 1): the same dead letter counts twice, no new row; the neighbours stay stored once.
    rig.feed(before, (poison.topic, poison.body), after)
    rig.apply_all()
    assert_neighbours_stored_once(store)
    assert [d.count for d in store.dead_letters()] == [2]
    assert sum(store.dead_letter_counts().values()) == 2
    assert sum(rig.counters.snapshot()["payload_errors"].values()) == 2


def test_every_poison_in_one_batch(store: Store, tmp_path: Path) -> None:
    rig = Rig(tmp_path, store, permissive(POISON))
    before, after = neighbours()
    rig.feed(before, *[(p.topic, p.body) for p in POISON], after)
    rig.apply_all()
    assert_neighbours_stored_once(store)
    assert {d.payload for d in store.dead_letters()} == {p.body for p in POISON}


def test_a_store_reading_back_a_bad_status_row_opens_and_applies(tmp_path: Path) -> None:
    """What the old collector wrote for controller Infinity (null) no longer stops anything."""
    store = SqliteStore(tmp_path / "c.db")
    body = json.dumps({**GOOD_STATUS, "controller": {"pump": None}})
    with store._transaction() as db:
        db.execute("INSERT INTO statuses VALUES ('hexicun', 0, ?, 0)", (body,))
    assert store.statuses() == {} and store.unreadable() == {"statuses": 1}
    store.apply([Received(status(), T0)])  # a good status replaces it
    assert store.statuses()["hexicun"].status == status()
    store.close()


class RefusingStore:
    """A store that refuses (with a data error) any apply holding the batch of one seq."""

    def __init__(self, inner: Store, bad_seq: int) -> None:
        self.inner = inner
        self.bad_seq = bad_seq
        self.calls = 0

    def apply(self, items: Sequence[Received]) -> ApplyResult:
        self.calls += 1
        if any(isinstance(i.message, ReadingBatch) and i.message.seq == self.bad_seq for i in items):
            raise sqlite3.IntegrityError("CHECK constraint failed: refused for the test")
        return self.inner.apply(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_batch_the_store_refuses_is_split_and_the_rest_stored(store: Store, tmp_path: Path) -> None:
    refusing = RefusingStore(store, bad_seq=13)
    rig = Rig(tmp_path, refusing)
    rig.feed(*[(READINGS, payload(batch(seq=s, n=2, start=T0.replace(hour=s)))) for s in range(20)])
    rig.apply_all()
    assert store.seq_summary("hexicun").ranges == [(0, 12), (14, 19)]
    assert len(store.readings("hexicun")) == 19 * 2
    [letter] = store.dead_letters()
    assert letter.reason == "store_rejected" and "IntegrityError" in letter.error
    assert json.loads(letter.payload)["seq"] == 13
    assert refusing.calls <= 2 * 5 + 2  # bisection: about 2 log2(20) applies, not one per message
    # Order holds across the split: the hook hears the stored batches in inbox order.
    seqs = [i.message.seq for i in rig.committed if isinstance(i.message, ReadingBatch)]
    assert seqs == [s for s in range(20) if s != 13]


class FlakyStore:
    """A store that is down (OperationalError) for its first ``down`` applies."""

    def __init__(self, inner: Store, down: int) -> None:
        self.inner = inner
        self.down = down
        self.states: list[str] = []
        self.applier: Applier | None = None

    def apply(self, items: Sequence[Received]) -> ApplyResult:
        if self.applier is not None:
            self.states.append(self.applier.state)
        if self.down:
            self.down -= 1
            raise sqlite3.OperationalError("database is locked")
        return self.inner.apply(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_store_down_is_retried_not_quarantined(store: Store, tmp_path: Path) -> None:
    flaky = FlakyStore(store, down=4)
    rig = Rig(tmp_path, flaky)
    flaky.applier = rig.applier
    before, after = neighbours()
    rig.feed(before, after)
    rig.apply_all()
    assert flaky.states[1:4] == ["retrying"] * 3  # said so while it waited
    assert rig.applier.state != "retrying" and rig.applier.last_error == ""
    assert_neighbours_stored_once(store)
    assert store.dead_letters() == [] and rig.counters.snapshot()["commit_errors"] == 4


def test_reapply_after_the_cause_is_removed(store: Store, tmp_path: Path) -> None:
    refusing = RefusingStore(store, bad_seq=5)
    rig = Rig(tmp_path, refusing)
    rig.feed((READINGS, payload(batch(seq=5, n=2))), (READINGS, b"not json"))
    rig.apply_all()
    assert {d.reason for d in store.dead_letters()} == {"store_rejected", "malformed"}
    assert rig.applier.reapply() == {"reapplied": 0, "still_failing": 2}
    refusing.bad_seq = -1  # "the fix"
    rig.committed.clear()
    assert rig.applier.reapply() == {"reapplied": 1, "still_failing": 1}
    assert len(store.readings("hexicun")) == 2 and [i.message.type for i in rig.committed] == ["readings"]
    assert [d.reason for d in store.dead_letters()] == ["malformed"]
    assert store.dead_letter_counts() == {"malformed": 1, "store_rejected": 1}  # totals never go down


def test_future_and_ancient_readings_are_kept_apart_with_one_clock_event_per_hour(
    store: Store, tmp_path: Path
) -> None:
    rig = Rig(tmp_path, store)
    future = batch(seq=1, n=2, start=RECEIVED.replace(year=2100))
    ancient = batch(seq=2, n=1, start=RECEIVED.replace(year=1999))
    normal = batch(seq=3, n=1, start=RECEIVED.replace(minute=9))  # 9 min ahead: inside the window
    again = batch(seq=4, n=1, start=RECEIVED.replace(year=2100, hour=5))
    rig.feed(*[(READINGS, payload(b)) for b in (future, ancient, normal, again)])
    rig.apply_all()
    assert [r.t for r in store.readings("hexicun")] == [normal.readings[0].t]
    assert store.latest("hexicun")["w01010"].t == normal.readings[0].t
    suspects = store.suspect_readings("hexicun")
    assert sorted(s.reason for s in suspects) == ["ahead_of_clock"] * 3 + ["before_earliest"]
    assert rig.counters.snapshot()["suspect_readings"] == {"ahead_of_clock": 3, "before_earliest": 1}
    events = [e.event for e in store.events("hexicun")]
    assert [e.kind.value for e in events] == ["analyser_clock"]  # one per station, param and hour
    assert events[0].severity.value == "warning" and events[0].param == "w01010"
    # The batches themselves are stored (their seq is received), so gaps are not asked for again.
    assert store.seq_summary("hexicun").ranges == [(1, 4)]


def test_a_revised_value_is_kept_as_a_revision_and_the_first_stays(store: Store, tmp_path: Path) -> None:
    rig = Rig(tmp_path, store)
    first = batch(seq=1, n=3, value=10.0)
    revised = msgspec.structs.replace(
        batch(seq=2, n=3, value=10.0),
        readings=[
            msgspec.structs.replace(r, value=99.0) if i == 1 else r for i, r in enumerate(first.readings)
        ],
    )
    rig.feed((READINGS, payload(first)), (READINGS, payload(first)), (READINGS, payload(revised)))
    rig.apply_all()
    assert [r.value for r in store.readings("hexicun")] == [10.0, 11.0, 12.0]  # the first stays
    [revision] = store.revisions("hexicun")
    assert (revision.value, revision.seq, revision.t) == (99.0, 2, first.readings[1].t)
    snap = rig.counters.snapshot()
    assert snap["readings_revised"] == 1 and snap["readings_duplicate"] == 6  # a revision is a duplicate too
    rig.feed((READINGS, payload(revised)))  # the same revision again: not a new one
    rig.apply_all()
    assert len(store.revisions("hexicun")) == 1 and rig.counters.snapshot()["readings_revised"] == 1


def test_event_readback_skips_a_row_that_no_longer_validates(store: Store) -> None:
    store.apply([Received(event(event_id="ok"), T0), Received(event(event_id="bad"), T0)])
    bad = encode(unchecked(event(event_id="bad"), kind="no_such_kind")).decode()
    if isinstance(store, SqliteStore):
        with store._transaction() as db:
            db.execute("UPDATE events SET body = ? WHERE id = 'bad'", (bad,))
    else:
        with store._transaction() as db:  # type: ignore[attr-defined]
            db.execute("UPDATE events SET body = %s::jsonb WHERE id = 'bad'", (bad,))
    assert [e.event.id for e in store.events("hexicun")] == ["ok"]
    assert store.unreadable() == {"events": 1}
    assert isinstance(status(), Status)
