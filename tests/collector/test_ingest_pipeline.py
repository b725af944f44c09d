"""Ingest without a broker: classification, rejection counting, batching and ack-after-commit."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.ingest import Ingestor, IngestWriter, classify
from collector.metrics import IngestCounters
from collector.store.base import ApplyResult, Received
from collector.store.sqlite import SqliteStore
from protocols.errors import PayloadError
from protocols.messages import MAX_PAYLOAD_BYTES
from tests.collector.factories import T0, batch, event, payload, reply, status

KNOWN = frozenset({"hexicun", "chuanhutun"})
TOPIC = "qingliu/v1/hexicun/readings"
Pipeline = tuple[Ingestor, IngestWriter, SqliteStore, IngestCounters]


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
    store = SqliteStore(tmp_path / "c.db")
    counters = IngestCounters()
    writer = IngestWriter(store, counters, batch_max=100, batch_wait_s=0.01)
    writer.start()
    yield Ingestor(writer, counters, known_stations=KNOWN), writer, store, counters
    writer.stop()
    store.close()


def test_bad_payloads_counted_acked_and_nothing_stored(pipeline: Pipeline) -> None:
    ingestor, writer, store, counters = pipeline
    acks: list[str] = []
    for reason, topic, body in BAD:
        ingestor.handle(topic, body, recorder(acks, reason))
    assert writer.wait_idle(5)
    assert len(acks) == len(BAD)  # acknowledged so that they do not loop
    expected: dict[str, int] = {}
    for reason, _, _ in BAD:
        expected[reason] = expected.get(reason, 0) + 1
    assert counters.snapshot()["payload_errors"] == expected
    assert store.counts() == dict.fromkeys(store.counts(), 0)


def test_duplicates_stored_once_and_counted(pipeline: Pipeline) -> None:
    ingestor, writer, store, counters = pipeline
    for _ in range(3):
        ingestor.handle(TOPIC, payload(batch(n=4)), lambda: True)
    assert writer.wait_idle(5)
    snap = counters.snapshot()
    assert (
        snap["readings_inserted"] == 4 and snap["readings_duplicate"] == 8 and snap["messages_duplicate"] == 2
    )
    assert len(store.readings("hexicun")) == 4


class GatedStore:
    """A store whose commit waits for the test, to see that no ack goes out before the commit."""

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


def test_ack_only_after_commit_and_retry_on_failure(tmp_path: Path) -> None:
    inner = SqliteStore(tmp_path / "c.db")
    gated = GatedStore(inner)
    gated.fail = 1
    counters = IngestCounters()
    writer = IngestWriter(gated, counters, batch_wait_s=0.05, retry_s=0.05)  # type: ignore[arg-type]
    ingestor = Ingestor(writer, counters, known_stations=KNOWN)
    acks: list[int] = []
    writer.start()
    try:
        for seq in range(5):
            body = payload(batch(seq=seq, n=2, start=T0 + timedelta(hours=seq)))
            ingestor.handle(TOPIC, body, recorder(acks, seq))
        assert gated.entered.wait(5)
        assert acks == []  # commit in progress: nothing acknowledged
        gated.release.set()  # first attempt fails (disk full), the retry commits
        assert writer.wait_idle(5)
        assert acks == [0, 1, 2, 3, 4]  # all after the commit, in arrival order
        snap = counters.snapshot()
        assert snap["commit_errors"] == 1 and snap["commits"] == 1 and snap["readings_inserted"] == 2 * 5
        assert len(inner.readings("hexicun")) == 10
    finally:
        gated.release.set()
        writer.stop()
        inner.close()


def test_ack_not_sent_when_store_never_commits(tmp_path: Path) -> None:
    inner = SqliteStore(tmp_path / "c.db")
    gated = GatedStore(inner)
    gated.fail = 10**6
    gated.release.set()
    counters = IngestCounters()
    writer = IngestWriter(gated, counters, retry_s=0.02)  # type: ignore[arg-type]
    acks: list[int] = []
    writer.start()
    Ingestor(writer, counters, known_stations=KNOWN).handle(TOPIC, good(), recorder(acks, 1))
    assert gated.entered.wait(5)
    writer.stop()  # shutting down with the store still failing: the message stays unacknowledged
    assert acks == [] and counters.snapshot()["commit_errors"] >= 1
    inner.close()


def test_many_messages_share_a_transaction(pipeline: Pipeline) -> None:
    ingestor, writer, _store, counters = pipeline
    for seq in range(200):
        ingestor.handle(TOPIC, payload(batch(seq=seq, n=1, start=T0 + timedelta(hours=seq))), lambda: True)
    assert writer.wait_idle(10)
    snap = counters.snapshot()
    assert snap["readings_inserted"] == 200
    assert snap["commits"] < 200 / 5  # batched, not one commit per message
