"""Ingest without a broker: classification, rejection counting, batching, ack after the inbox commit, and the
applier from the inbox to the store (retries, crash between the store commit and the inbox delete)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.inbox import Inbox, now_us
from collector.ingest import FORGET_EVERY_S, GIVE_WAY_WITHIN_S, Applier, classify, route
from collector.metrics import IngestCounters
from collector.receiver import Receiver
from collector.store.base import ApplyResult, Received
from collector.store.sqlite import SqliteStore
from protocols.errors import PayloadError
from protocols.messages import MAX_PAYLOAD_BYTES
from tests.collector.factories import T0, batch, event, payload, reply, status
from tests.support.stack import wait_until

KNOWN = frozenset({"hexicun", "chuanhutun"})
TOPIC = "qingliu/v1/hexicun/readings"

# What the receiving process refuses by its cheap checks (before the inbox); the rest only the applier can.
CHEAP = {"unknown_station", "bad_topic", "oversized"}


class Pipeline:
    """Receiver (no broker) → inbox → applier → store, all in this process."""

    def __init__(self, tmp_path: Path, store: Any = None, *, retry_s: float = 1.0) -> None:
        self.inner = SqliteStore(tmp_path / "c.db")
        self.store = store if store is not None else self.inner
        self.inbox = Inbox(tmp_path / "c.inbox.db")
        self.counters = IngestCounters()
        self.receiver = Receiver(self.inbox, None, known_stations=KNOWN, retry_s=retry_s)
        self.hooked: list[tuple[list[Received], ApplyResult]] = []
        self.applier = Applier(
            self.store,
            self.inbox,
            self.counters,
            known_stations=KNOWN,
            batch_max=100,
            retry_s=retry_s,
            on_committed=lambda items, result: self.hooked.append((list(items), result)),
        )

    def start(self) -> Pipeline:
        self.receiver.start()
        self.applier.start()
        return self

    def wait_idle(self, timeout: float = 5) -> bool:
        return self.receiver.wait_idle(timeout) and self.applier.wait_idle(timeout)

    def stop(self) -> None:
        self.receiver.stop(1)
        self.applier.stop(1)
        self.inbox.close()
        self.inner.close()


def recorder(acks: list[Any], key: Any) -> Callable[[], bool]:
    """An ack function that records ``key`` when called."""

    def ack() -> bool:
        acks.append(key)
        return True

    return ack


def good() -> bytes:
    return payload(batch())


BAD = [
    ("malformed", TOPIC, b'{"v": 1, "type": "readings",'),
    ("malformed", TOPIC, b"\xff\xfe not utf-8"),
    ("malformed", TOPIC, b"[1, 2]"),
    ("oversized", TOPIC, b" " * (MAX_PAYLOAD_BYTES + 1)),
    ("unknown_station", "qingliu/v1/stranger/readings", payload(batch("stranger"))),
    ("wrong_station", TOPIC, payload(batch("chuanhutun"))),
    ("schema", TOPIC, json.dumps({**json.loads(good()), "seq": -1}).encode()),
    (
        "schema",
        TOPIC,
        json.dumps(
            {**json.loads(good()), "readings": [{"param": "w99999", "t": "2026-07-01T00:00:00Z", "value": 1}]}
        ).encode(),
    ),
    (
        "schema",
        TOPIC,
        json.dumps(
            {**json.loads(good()), "readings": [{"param": "w01010", "t": "2026-07-01T00:00:00", "value": 1}]}
        ).encode(),
    ),
    ("unknown_type", TOPIC, b'{"v": 1, "type": "gossip", "station": "hexicun"}'),
    ("version", TOPIC, json.dumps({**json.loads(good()), "v": 2}).encode()),
    ("wrong_type", TOPIC, payload(status())),
    ("bad_topic", "qingliu/v1/hexicun/cmd", good()),
    ("bad_topic", "other/thing", good()),
]


@pytest.mark.parametrize(
    ("reason", "topic", "body"), BAD, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(BAD)]
)
def test_classify_rejects_with_reason(reason: str, topic: str, body: bytes) -> None:
    with pytest.raises(PayloadError) as info:
        classify(topic, body, known_stations=KNOWN)
    assert info.value.reason == reason


def test_classify_accepts_each_uplink_kind() -> None:
    assert classify(TOPIC, good(), known_stations=KNOWN).type == "readings"
    assert classify("qingliu/v1/hexicun/status", payload(status()), known_stations=KNOWN).type == "status"
    assert classify("qingliu/v1/hexicun/events", payload(event()), known_stations=KNOWN).type == "event"
    assert classify("qingliu/v1/hexicun/reply", payload(reply()), known_stations=KNOWN).type == "reply"
    # accept_unknown_stations: any well-formed station id passes
    assert classify("qingliu/v1/stranger/readings", payload(batch("stranger")), known_stations=None)


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path).start()
    yield p
    p.stop()


def test_route_is_the_cheap_part_of_classify() -> None:
    for reason, topic, body in BAD:
        if reason in CHEAP:
            with pytest.raises(PayloadError) as info:
                route(topic, len(body), known_stations=KNOWN)
            assert info.value.reason == reason
        else:
            assert route(topic, len(body), known_stations=KNOWN).station == "hexicun"


def test_bad_payloads_counted_acked_and_nothing_stored(pipeline: Pipeline) -> None:
    acks: list[str] = []
    for reason, topic, body in BAD:
        pipeline.receiver.handle(topic, body, recorder(acks, reason))
    assert pipeline.wait_idle()
    assert len(acks) == len(BAD)  # acknowledged so that they do not loop
    expected: dict[str, int] = {}
    for reason, _, _ in BAD:
        expected[reason] = expected.get(reason, 0) + 1
    refused = {k.removeprefix("rejected:"): v for k, v in pipeline.inbox.counters().items() if ":" in k}
    assert refused == {r: n for r, n in expected.items() if r in CHEAP}  # never reached the inbox
    assert pipeline.counters.snapshot()["payload_errors"] == {
        r: n for r, n in expected.items() if r not in CHEAP
    }
    assert pipeline.store.counts() == dict.fromkeys(pipeline.store.counts(), 0)
    assert pipeline.inbox.depth() == 0  # the applier's rejects are dropped from the inbox too


def test_duplicates_stored_once_and_counted(pipeline: Pipeline) -> None:
    for _ in range(3):
        pipeline.receiver.handle(TOPIC, payload(batch(n=4)), lambda: True)
    assert pipeline.wait_idle()
    snap = pipeline.counters.snapshot()
    assert (
        snap["readings_inserted"] == 4 and snap["readings_duplicate"] == 8 and snap["messages_duplicate"] == 2
    )
    assert len(pipeline.store.readings("hexicun")) == 4
    # The alert engine and the tracker hear of the batch once: only the first copy is a new batch.
    assert sum(len(result.new_batches) for _, result in pipeline.hooked) == 1


class GatedInbox(Inbox):
    """An inbox whose commit waits for the test (and may fail), to see that no ack goes out before it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail = 0

    def append(self, rows: Sequence[tuple[str, bytes, int]], counts: Any = None) -> None:
        if rows:
            self.entered.set()
            assert self.release.wait(5)
            if self.fail:
                self.fail -= 1
                raise OSError("disk full")
        super().append(rows, counts)


def test_ack_only_after_the_inbox_commit_and_retry_on_failure(tmp_path: Path) -> None:
    inbox = GatedInbox(tmp_path / "i.db")
    inbox.fail = 1
    receiver = Receiver(inbox, None, known_stations=KNOWN, retry_s=0.05)
    acks: list[int] = []
    receiver.start()
    try:
        for seq in range(5):
            body = payload(batch(seq=seq, n=2, start=T0 + timedelta(hours=seq)))
            receiver.handle(TOPIC, body, recorder(acks, seq))
        assert inbox.entered.wait(5)
        assert acks == []  # commit in progress: nothing acknowledged
        inbox.release.set()  # the first attempt fails (disk full), the retry commits
        assert receiver.wait_idle(5)
        assert acks == [0, 1, 2, 3, 4]  # all after the commit, in arrival order
        assert [row.payload for row in inbox.take(10)] == [
            payload(batch(seq=seq, n=2, start=T0 + timedelta(hours=seq))) for seq in range(5)
        ]
    finally:
        inbox.release.set()
        receiver.stop(1)
    counts = inbox.counters()  # the failure is counted with the commit that followed it
    assert counts["commit_errors"] == 1 and counts["accepted"] == 5 and counts["acks"] == 5
    inbox.close()


def test_ack_not_sent_when_the_inbox_never_commits(tmp_path: Path) -> None:
    inbox = GatedInbox(tmp_path / "i.db")
    inbox.fail = 10**6
    inbox.release.set()
    receiver = Receiver(inbox, None, known_stations=KNOWN, retry_s=0.02)
    acks: list[int] = []
    receiver.start()
    receiver.handle(TOPIC, good(), recorder(acks, 1))
    assert inbox.entered.wait(5)
    receiver.stop(0.2)  # shutting down with the inbox still failing: the message stays unacknowledged
    assert acks == [] and inbox.take(10) == []
    assert receiver.handle(TOPIC, good(), recorder(acks, 2)) == "closing" and acks == []
    inbox.close()


class GatedStore:
    """A store whose commit waits for the test (and may fail)."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail = 0

    def apply(self, items: Sequence[Received]) -> ApplyResult:
        self.entered.set()
        assert self.release.wait(5)
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        return self.inner.apply(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_store_failure_keeps_the_inbox_rows_and_retries(tmp_path: Path) -> None:
    gated = GatedStore(SqliteStore(tmp_path / "other.db"))
    gated.fail = 1
    p = Pipeline(tmp_path, gated, retry_s=0.05).start()
    try:
        for seq in range(5):
            p.receiver.handle(
                TOPIC, payload(batch(seq=seq, n=2, start=T0 + timedelta(hours=seq))), lambda: True
            )
        assert p.receiver.wait_idle(5)
        assert gated.entered.wait(5)
        assert p.inbox.depth() == 5  # the store has not committed: the rows stay
        gated.release.set()  # the first attempt fails, the retry commits
        assert p.applier.wait_idle(5)
        snap = p.counters.snapshot()
        assert snap["commit_errors"] == 1 and snap["commits"] == 1 and snap["readings_inserted"] == 10
        assert len(gated.inner.readings("hexicun")) == 10 and p.inbox.depth() == 0
    finally:
        gated.release.set()
        p.stop()
        gated.inner.close()


def test_store_down_at_stop_leaves_the_rows_for_the_next_start(tmp_path: Path) -> None:
    gated = GatedStore(SqliteStore(tmp_path / "other.db"))
    gated.fail = 10**6
    gated.release.set()
    p = Pipeline(tmp_path, gated, retry_s=0.02).start()
    p.receiver.handle(TOPIC, good(), lambda: True)
    assert gated.entered.wait(5)
    p.stop()
    gated.inner.close()
    again = Pipeline(tmp_path)  # a healthy store this time: the inbox is applied at start
    assert again.inbox.depth() == 1
    again.start()
    try:
        assert again.wait_idle()
        assert len(again.store.readings("hexicun")) == 3 and again.inbox.depth() == 0
    finally:
        again.stop()


def test_crash_between_store_commit_and_inbox_delete_applies_again_harmlessly(tmp_path: Path) -> None:
    """The applier died after the store's commit and before the inbox delete: the next start applies the same
    rows again; nothing is stored twice and the batch is not new again (alerts are not fed twice)."""
    first = Pipeline(tmp_path)
    first.receiver.start()
    first.receiver.handle(TOPIC, payload(batch(n=4)), lambda: True)
    assert first.receiver.wait_idle(5)
    first.applier.inbox.delete_through = lambda last_id: 0  # type: ignore[method-assign]  # "crash"
    assert first.applier.apply_once() == 1
    assert first.hooked[0][1].new_batches == {("hexicun", 1)}
    on_disk = Inbox(first.inbox.path)
    assert first.inbox.depth() == 0 and on_disk.depth() == 1  # applied, still on disk
    on_disk.close()
    first.stop()

    second = Pipeline(tmp_path).start()
    try:
        assert second.wait_idle()
        snap = second.counters.snapshot()
        assert snap["readings_inserted"] == 0 and snap["readings_duplicate"] == 4
        assert second.hooked[0][1].new_batches == set()
        assert len(second.store.readings("hexicun")) == 4 and second.inbox.depth() == 0
    finally:
        second.stop()


def test_applied_rows_leave_the_disk_within_a_second_and_a_dead_letter_batch_at_once(tmp_path: Path) -> None:
    """Deletes wait (collector/inbox.py says why), except for a batch with dead letters: applying that again
    after a crash would quarantine them twice."""
    p = Pipeline(tmp_path)
    on_disk = Inbox(p.inbox.path)
    try:
        p.receiver.start()
        p.receiver.handle(TOPIC, payload(batch(n=2)), lambda: True)
        p.receiver.handle(TOPIC, b"{not json", lambda: True)
        assert p.receiver.wait_idle(5) and p.applier.apply_once() == 2
        assert on_disk.depth() == 0 and len(p.store.dead_letters()) == 1
        p.receiver.handle(TOPIC, payload(batch(n=2, seq=2, start=T0 + timedelta(hours=1))), lambda: True)
        assert p.receiver.wait_idle(5) and p.applier.apply_once() == 1
        assert p.inbox.depth() == 0 and on_disk.depth() == 1  # applied, its delete not yet due
        p.applier.start()
        wait_until(lambda: on_disk.depth() == 0, FORGET_EVERY_S + 5, 0.05, "the applied row deleted")
        assert len(p.store.readings("hexicun")) == 4
    finally:
        on_disk.close()
        p.stop()


@contextlib.contextmanager
def rows_keep_arriving(add: Callable[[int, bytes], None]) -> Iterator[None]:
    """While in the block, a thread hands ``add`` a new batch (its seq and payload) every 2 ms: a busy receiver."""
    stop = threading.Event()

    def keep_adding() -> None:
        seq = 1000
        while not stop.is_set():
            seq += 1
            add(seq, payload(batch(n=2, seq=seq, start=T0 + timedelta(minutes=2 * seq))))
            time.sleep(0.002)

    sender = threading.Thread(target=keep_adding)
    sender.start()
    try:
        yield
    finally:
        stop.set()
        sender.join(5)


def test_the_applier_gives_way_while_the_receiver_adds_and_not_to_a_backlog_alone(tmp_path: Path) -> None:
    p = Pipeline(tmp_path)
    p.receiver.start()
    try:
        for seq in range(1, 301):  # a backlog, then nothing more arrives
            p.receiver.handle(
                TOPIC, payload(batch(n=2, seq=seq, start=T0 + timedelta(minutes=2 * seq))), lambda: True
            )
        assert p.receiver.wait_idle(10)
        p.applier.start()
        assert p.applier.wait_idle(10) and len(p.store.readings("hexicun", limit=1000)) == 600
        assert p.applier.gave_way_s == 0.0

        with rows_keep_arriving(lambda seq, body: p.receiver.handle(TOPIC, body, lambda: True)):
            wait_until(lambda: p.applier.gave_way_s > 0, 10, 0.02, "the applier giving way")
        assert p.wait_idle(10)
        waited = p.applier.gave_way_s
        time.sleep(0.3)
        assert p.applier.gave_way_s == waited  # nothing arrives: no more waiting
        assert p.applier.status()["gave_way_s"] == round(waited, 3)  # /metrics reads it from here
        assert p.inbox.depth() == 0
    finally:
        p.stop()


def test_the_applier_does_not_give_way_once_it_is_seconds_behind(tmp_path: Path) -> None:
    """Rows keep arriving, but what the applier applies was received long ago: full speed (GIVE_WAY_WITHIN_S)."""
    p = Pipeline(tmp_path)
    long_ago = now_us() - int((GIVE_WAY_WITHIN_S + 60) * 1e6)
    try:
        with rows_keep_arriving(lambda seq, body: p.inbox.append([(TOPIC, body, long_ago + seq)])):
            p.applier.start()
            wait_until(lambda: len(p.store.readings("hexicun", limit=1000)) >= 200, 10, 0.02, "200 readings")
        assert p.applier.wait_idle(10)
        assert p.applier.gave_way_s == 0.0
    finally:
        p.stop()


def test_many_messages_share_a_transaction(pipeline: Pipeline) -> None:
    for seq in range(200):
        pipeline.receiver.handle(
            TOPIC, payload(batch(seq=seq, n=1, start=T0 + timedelta(hours=seq))), lambda: True
        )
    assert pipeline.wait_idle(10)
    snap = pipeline.counters.snapshot()
    assert snap["readings_inserted"] == 200
    assert snap["commits"] < 200 / 5  # batched, not one store commit per message
    assert pipeline.inbox.counters()["commits"] < 200 / 5  # nor one inbox commit per message


def test_applier_reads_received_at_from_the_inbox(tmp_path: Path) -> None:
    p = Pipeline(tmp_path)
    p.receiver.clock_us = lambda: 1_780_000_000_000_000
    p.start()
    try:
        p.receiver.handle(TOPIC, good(), lambda: True)
        assert p.wait_idle()
        assert p.hooked[0][0][0].received_at.timestamp() == 1_780_000_000
    finally:
        p.stop()


def test_inbox_over_its_quota_stops_acknowledging_until_there_is_room(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "i.db")
    receiver = Receiver(inbox, None, known_stations=KNOWN, max_bytes=1, retry_s=0.02)  # always "full"
    acks: list[int] = []
    receiver.start()
    try:
        receiver.handle(TOPIC, good(), recorder(acks, 1))
        assert not receiver.wait_idle(0.3)
        assert acks == [] and inbox.depth() == 0  # held unacknowledged: the broker keeps it for us
        receiver.max_bytes = 0  # room again (the store caught up)
        assert receiver.wait_idle(5)
        assert acks == [1] and inbox.depth() == 1 and inbox.counters()["quota_pauses"] == 1
    finally:
        receiver.stop(1)
        inbox.close()
