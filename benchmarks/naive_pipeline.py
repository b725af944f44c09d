"""The naive pipeline of issue 17, as a process of its own: a paho subscriber (MQTT v5, QoS 1) that ``json.loads``
each message and ``executemany``s its rows into a plain SQLite table, without validation, without a key, without
any other table.

Same durability as the collector: WAL with synchronous=FULL, and each message committed before its
acknowledgement goes out (paho sends the PUBACK when ``on_message`` returns), so the broker forgets a message only
once its rows are on disk. Without a commit per message a naive subscriber would acknowledge readings that a
power cut can still take.

Its table, rows and insert are also the naive side of benchmarks/bench_collector_apply.py. Run by
benchmarks/bench_collector_ingest.py beside the collector, on the same broker; it prints ``ready`` once
subscribed. The benchmark counts the table's rows to see when every reading is stored.

Without ``--db`` it is the bare subscriber, the baseline of what the collector commits: it does nothing with a
message but count it, and at the ``--expect``-th prints ``done`` and the wall-clock time, then exits. Both
baselines run in processes of their own, as the collector's receiver does, so neither shares an interpreter
with the benchmark's publisher.

    python -m benchmarks.naive_pipeline --port PORT --topic TOPIC (--db PATH | --expect N)
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

TABLE = (
    "CREATE TABLE IF NOT EXISTS readings"
    " (station TEXT, seq INTEGER, param TEXT, t TEXT, value REAL, flag TEXT, device TEXT)"
)
INSERT = "INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)"


def rows_of(payload: bytes | bytearray) -> list[tuple[Any, ...]]:
    """A message's readings as the table's rows: the fields as they came, nothing checked."""
    message = json.loads(payload)
    station, seq = message["station"], message["seq"]
    return [
        (station, seq, r["param"], r["t"], r.get("value"), r.get("flag"), r.get("device"))
        for r in message["readings"]
    ]


def open_table(path: str | Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # as the collector's store and inbox
    db.execute(TABLE)
    return db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--db", help="store the readings here (the naive pipeline)")
    parser.add_argument("--expect", type=int, default=0, help="without --db: messages to count, then exit")
    args = parser.parse_args(argv)
    db = open_table(args.db) if args.db else None
    subscribed = threading.Event()
    stop = threading.Event()
    received = 0

    def count(_client: Any, _userdata: Any, _msg: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        if received == args.expect:
            print(f"done {time.time():.6f}", flush=True)
            stop.set()

    def store(_client: Any, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        assert db is not None
        db.execute("BEGIN")
        db.executemany(INSERT, rows_of(msg.payload))
        db.execute("COMMIT")

    client_id = "bench-naive-pipeline" if db is not None else "bench-bare-subscriber"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = store if db is not None else count
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect(args.host, args.port)
    client.subscribe(args.topic, qos=1)
    client.loop_start()
    if not subscribed.wait(10):
        print("not subscribed within 10 s", file=sys.stderr)
        return 1
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_a: stop.set())
    signal.signal(signal.SIGINT, lambda *_a: stop.set())
    stop.wait()
    client.loop_stop()
    client.disconnect()
    if db is not None:
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
