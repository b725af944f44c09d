"""Collector ingest throughput against a bare paho subscriber on the same stream (issue 4 §8c).

Starts a real Mosquitto on a free port and a real collector process (SQLite store), publishes ``--batches``
ReadingBatch messages of ``--size`` readings each at QoS 1, and measures readings committed per second as
seen in the store (the collector acknowledges a message only after its commit). The baseline is
benchmarks.baselines.paho_subscriber_receive_rate on the same payloads, measured in the same run.
Target: collector ≥ 0.7 × baseline (in messages, so in readings too: every batch holds ``--size``).

    /work/venv/bin/python -m benchmarks.bench_collector_ingest [--batches 2000] [--size 100]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks.baselines import paho_subscriber_receive_rate
from protocols import messages, topics
from protocols.messages import Reading, ReadingBatch
from tests.support.broker import Mosquitto
from tests.support.ports import free_port, wait_for_port
from tests.support.processes import ProcessGroup, qingliu

TARGET = 0.7
STATION = "hexicun"
PARAMS = ("w01010", "w01001", "w01009", "w01014", "w01003", "w21003", "w01019", "w21011", "w21001", "w01018")


def make_batches(count: int, size: int, station: str = STATION) -> list[bytes]:
    """``count`` distinct batches of ``size`` readings (distinct times, so every reading is new)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for seq in range(count):
        base = start + timedelta(seconds=seq * size)
        readings = [
            Reading(
                param=PARAMS[i % len(PARAMS)],
                t=base + timedelta(seconds=i),
                value=7.0 + i * 0.01,
                device="probe",
            )
            for i in range(size)
        ]
        batch = ReadingBatch(station=station, seq=seq, sent_at=base, readings=readings)
        out.append(messages.encode(batch))
    return out


def stored_readings(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def publish_all(port: int, topic: str, payloads: list[bytes], inflight: int = 100) -> None:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-ingest-pub", protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(inflight)
    acked = threading.Semaphore(0)
    pub.on_publish = lambda *_a: acked.release()
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    for payload in payloads:
        pub.publish(topic, payload, qos=1)
    for _ in payloads:
        acked.acquire(timeout=120)
    pub.loop_stop()
    pub.disconnect()


def collector_rate(root: Path, broker: Mosquitto, payloads: list[bytes], size: int) -> tuple[float, float]:
    """(readings committed/s, seconds) for the collector process on this stream."""
    db = root / "collector.db"
    api_port = free_port()
    config = root / "collector.toml"
    config.write_text(
        f'[mqtt]\nurl = "{broker.url}"\nclient_id = "bench-collector"\n\n'
        f'[store]\nurl = "sqlite:///{db}"\n\n[api]\nhost = "127.0.0.1"\nport = {api_port}\n'
    )
    group = ProcessGroup(root)
    try:
        proc = group.start("collector", qingliu("collector", "run", "--config", str(config)))
        wait_for_port(api_port, timeout=30)
        time.sleep(1.0)  # subscribed
        want = len(payloads) * size
        feeder = threading.Thread(
            target=publish_all, args=(broker.port, topics.topic(STATION, "readings"), payloads)
        )
        start = time.perf_counter()
        feeder.start()
        deadline = start + 300
        count = 0
        while time.perf_counter() < deadline:
            count = stored_readings(db)
            if count >= want:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        feeder.join(60)
        if count < want:
            print(
                f"collector stored only {count} of {want} readings; log:\n{proc.log()[-2000:]}",
                file=sys.stderr,
            )
        return count / elapsed, elapsed
    finally:
        group.stop_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--size", type=int, default=100, help="readings per batch")
    args = parser.parse_args(argv)
    payloads = make_batches(args.batches, args.size)
    print(
        f"stream: {args.batches} ReadingBatch messages × {args.size} readings, {len(payloads[0])} bytes each"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = Mosquitto(root / "broker").start()
        try:
            baseline_msgs = paho_subscriber_receive_rate("127.0.0.1", broker.port, "bench/baseline", payloads)
            rate, elapsed = collector_rate(root, broker, payloads, args.size)
        finally:
            broker.stop()
    baseline = baseline_msgs * args.size
    # For scale, not the target: validating the payloads alone (what any consumer of the contract must do).
    start = time.perf_counter()
    for payload in payloads[:500]:
        messages.decode(payload)
    decode_rate = min(500, len(payloads)) * args.size / (time.perf_counter() - start)
    ratio = rate / baseline if baseline else 0.0
    print(f"baseline (bare paho subscriber): {baseline_msgs:,.0f} messages/s = {baseline:,.0f} readings/s")
    print(f"collector (committed, from the store): {rate:,.0f} readings/s ({elapsed:.1f} s for the stream)")
    print(f"for scale: decoding + validating alone, one thread: {decode_rate:,.0f} readings/s")
    verdict = "PASS" if ratio >= TARGET else "FAIL"
    print(f"ratio {ratio:.2f} (target ≥ {TARGET}) {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
