"""A hostile client floods the broker with bad payloads while a real agent reports: nothing stops ingest.

Real Mosquitto, real simulator, agent and collector processes. A paho client publishes more than 2,000 bad
payloads of every kind that ever stopped or corrupted the collector (deep JSON, huge integers, year-0001 times,
seq 2**64, lone surrogates, NaN and Infinity, nested event details, wrong stations, oversized, unknown types and
topics...) on the agent's own topics, on other stations' topics and on unknown stations' topics, interleaved
with valid readings for other stations. Then:

- every reading the agent committed is stored exactly once, and every valid hostile-client reading too;
- every bad payload is accounted for: quarantined as a dead letter (count per payload) or refused by the
  receiver's cheap checks (counted by reason), and the two add up to what was sent;
- the agent's live data stays fresh while the flood goes on, and the inbox empties;
- the collector restarts cleanly afterwards, with its dead-letter counts kept.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup
from tests.support.stack import (
    ALL_TIME,
    Stack,
    assert_collector_matches_agent,
    http_json,
    wait_drained,
    wait_until,
)

pytestmark = pytest.mark.e2e

OTHER = "chuanhutun"  # another configured station: the hostile client also sends valid readings for it
ROUNDS = 110  # each round sends every bad kind once (20 kinds → 2,200 bad payloads)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _batch(station: str, seq: int, readings: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "type": "readings",
        "station": station,
        "seq": seq,
        "lane": "live",
        "sent_at": _iso(datetime.now(UTC)),
        "readings": readings,
        **extra,
    }


def bad_payloads(station: str, n: int) -> Iterator[tuple[str, bytes, str]]:
    """(topic, payload, where it must end up: "dead" for the applier's quarantine, "refused" for the
    receiver's cheap checks). Each payload carries ``n`` so that none repeats another."""
    t = _iso(datetime(2026, 6, 1, tzinfo=UTC) + timedelta(seconds=n))
    topic = f"qingliu/v1/{station}/readings"
    reading = {"param": "w01010", "t": t, "value": 12.5, "flag": "N"}
    seq = 10_000_000 + n

    def dumps(doc: Any) -> bytes:
        return json.dumps(doc).encode()

    yield topic, b"{not json " + str(n).encode(), "dead"
    yield topic, ("[" * 5000 + str(n) + "]" * 5000).encode(), "dead"  # RecursionError in json.loads
    detail: Any = {"n": n}
    for _ in range(256):
        detail = {"d": detail}
    event = {"v": 1, "type": "event", "station": station, "id": f"e{n}", "at": t, "kind": "controller"}
    yield f"qingliu/v1/{station}/events", dumps({**event, "detail": detail}), "dead"
    yield topic, dumps(_batch(station, seq, [{**reading, "t": "0001-01-01T00:00:00+14:00"}])), "dead"
    yield topic, dumps(_batch(station, 2**64 + n, [reading])), "dead"
    huge = "9" * 5000
    yield topic, _batch_text(station, seq, t, huge), "dead"  # int digit limit
    yield topic, dumps(_batch(station, seq, [{**reading, "device": "\ud800x"}])), "dead"  # lone surrogate
    status = {
        "v": 1,
        "type": "status",
        "station": station,
        "state": "online",
        "at": t,
        "controller": {"pump": "__INF__"},
        "next_seq": n,
    }
    yield f"qingliu/v1/{station}/status", dumps(status).replace(b'"__INF__"', b"Infinity"), "dead"
    yield topic, dumps(_batch(station, seq, [reading])).replace(b"12.5", b"NaN"), "dead"
    yield topic, dumps(_batch("boshuicun", seq, [reading])), "dead"  # payload for another station
    yield topic, dumps({"v": 1, "type": "gossip", "station": station, "n": n}), "dead"
    yield (
        topic,
        dumps({**_batch(station, seq, [reading]), "v": 2}),
        "dead",
    )  # a schema version we do not speak
    yield topic, dumps(_batch(station, seq, [reading, reading])), "dead"  # the same (param, t) twice
    yield topic, dumps(_batch(station, seq, [])), "dead"
    yield topic, dumps(_batch(station, seq, [{**reading, "param": "w99999"}])), "dead"
    yield topic, dumps(_batch(station, seq, [{**reading, "value": True}])), "dead"
    yield topic, dumps([n, "a list, not an object"]), "dead"
    yield f"qingliu/v1/{station}/status", dumps(_batch(station, seq, [reading])), "dead"  # wrong type
    yield topic, b'{"pad": "' + b"x" * (300 * 1024) + str(n).encode() + b'"}', "refused"  # oversized
    yield "qingliu/v1/nosuchstation/readings", dumps(_batch("nosuchstation", seq, [reading])), "refused"


def _batch_text(station: str, seq: int, t: str, number: str) -> bytes:
    doc = _batch(station, seq, [{"param": "w01010", "t": t, "value": 0.0, "flag": "N"}])
    return json.dumps(doc).replace('"value": 0.0', f'"value": {number}').encode()


def valid_other(seq: int) -> tuple[str, bytes, dict[str, Any]]:
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5) + timedelta(milliseconds=seq)
    reading = {"param": "w01001", "t": _iso(t), "value": 7.0 + (seq % 10) / 10, "flag": "N"}
    return f"qingliu/v1/{OTHER}/readings", json.dumps(_batch(OTHER, seq, [reading])).encode(), reading


class Publisher:
    def __init__(self, broker: Mosquitto) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hostile", protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def send(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = re.match(rf"{re.escape(name)}(\{{[^}}]*\}})?\s+(\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def _metrics(stack: Stack) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{stack.api}/metrics", timeout=10) as response:
        return response.read().decode()


def _dead_letters(stack: Stack) -> dict[str, Any]:
    status, body = http_json(f"{stack.api}/api/dead-letters?limit=1000")
    assert status == 200, body
    return dict(body)


def test_a_flood_of_poison_stops_nothing(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    stack = Stack(tmp_path / "stack", mosquitto, processes).start_all()
    wait_until(
        lambda: len(stack.collector_readings("w01010")) >= 5, 60, what="first readings at the collector"
    )
    metrics_before = _metrics(stack)
    refused_before = _metric(metrics_before, "qingliu_collector_receiver_rejected_total")

    hostile = Publisher(mosquitto)
    sent = {"dead": 0, "refused": 0}
    valid_sent: list[dict[str, Any]] = []
    freshest_age = 0.0
    try:
        for n in range(ROUNDS):
            station = (stack.station, OTHER, "jiehepucun")[
                n % 3
            ]  # own, another's and a third station's topics
            for topic, payload, where in bad_payloads(station, n):
                hostile.send(topic, payload)
                sent[where] += 1
            topic, payload, reading = valid_other(n + 1)
            hostile.send(topic, payload)
            valid_sent.append(reading)
            if n % 10 == 9:  # the agent's live data stays fresh while the flood goes on
                _, summary = http_json(f"{stack.api}/api/stations/{stack.station}")
                freshest_age = max(freshest_age, float(summary["data_age_s"]))
    finally:
        hostile.close()
    assert sent["dead"] + sent["refused"] >= 2000, sent

    # Every bad payload is accounted for: quarantined (a count per distinct payload) or refused by the receiver.
    def accounted() -> bool:
        return sum(_dead_letters(stack)["counts"].values()) >= sent["dead"]

    with contextlib.suppress(TimeoutError):  # the assertion below says what is missing
        wait_until(accounted, 120, interval=1, what="every bad payload quarantined")
    letters = _dead_letters(stack)
    _, health = http_json(f"{stack.api}/healthz")
    assert sum(letters["counts"].values()) == sent["dead"], (letters["counts"], sent, health)
    refused = _metric(_metrics(stack), "qingliu_collector_receiver_rejected_total") - refused_before
    assert refused == sent["refused"], (refused, sent)
    assert letters["items"], "the API lists the dead letters"
    assert {item["station"] for item in letters["items"]} >= {stack.station, OTHER}

    # Nothing valid was held up or lost: the other station's readings once each, the agent's exactly once.
    _, body = http_json(f"{stack.api}/api/stations/{OTHER}/readings?param=w01001&limit=100000&{ALL_TIME}")
    stored = body["readings"]
    assert len(stored) == len(valid_sent)
    assert len({r["t"] for r in stored}) == len(valid_sent)
    assert stack.agent is not None
    stack.agent.stop()
    wait_drained(stack)
    assert_collector_matches_agent(stack)
    assert freshest_age < 30, f"the agent's newest reading was {freshest_age:.1f} s old during the flood"
    _, health = http_json(f"{stack.api}/healthz")
    assert health["inbox_depth"] == 0, health

    # A restart keeps the counts and starts cleanly (no stored row can stop it).
    assert stack.collector is not None
    stack.collector.stop()
    stack.start_collector()
    _, health = http_json(f"{stack.api}/healthz")
    assert health["store"] == "ok", health
    assert sum(_dead_letters(stack)["counts"].values()) == sent["dead"]
    _, again = http_json(f"{stack.api}/api/stations/{OTHER}/readings?param=w01001&limit=100000&{ALL_TIME}")
    assert len(again["readings"]) == len(valid_sent)
