"""A light publisher fleet: many simulated station identities on a few paho connections.

Each station publishes what a real agent would, at a realistic pace: a retained status every
``heartbeat_s`` and a live ReadingBatch every ``batch_s`` holding the probe's five parameters (and, every
``nutrient_every`` batches, the four nutrient results). Stations are spread over ``connections`` MQTT v5
clients (one paho client per station would cost 1,000 sockets and threads for no extra realism at the broker:
topics, payloads and rates are per station). Their start times are staggered so the load is even.

    .venv/bin/python -m benchmarks.fleet_load --url mqtt://127.0.0.1:1883 --stations 1000 --seconds 600
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocols import messages, topics
from protocols.messages import DeviceStatus, Reading, ReadingBatch, StationState, Status

PROBE = {"w01010": 12.0, "w01001": 7.8, "w01009": 8.5, "w01014": 450.0, "w01003": 15.0}
NUTRIENTS = {"w21003": 0.4, "w01019": 3.5, "w21011": 0.1, "w21001": 1.5}


def station_ids(count: int) -> list[str]:
    return [f"fleet{i:04d}" for i in range(count)]


@dataclass
class FleetStation:
    id: str
    seq: int = 0
    batches: int = 0
    next_status: float = 0.0
    next_batch: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def status(self, now: datetime, heartbeat_s: float) -> bytes:
        devices = {
            name: DeviceStatus(up=True, last_ok=now) for name in ("probe", "nh3n", "codmn", "tp", "tn")
        }
        return messages.encode(
            Status(
                station=self.id,
                state=StationState.ONLINE,
                at=now,
                next_seq=self.seq,
                heartbeat_s=heartbeat_s,
                devices=devices,
                controller={"water_present": 1.0, "mains_power": 1.0, "on_battery": 0.0},
            )
        )

    def batch(self, now: datetime, nutrient_every: int) -> tuple[bytes, int]:
        values = dict(PROBE)
        if self.batches % nutrient_every == 0:
            values.update(NUTRIENTS)
        readings = [
            Reading(param=p, t=now, value=round(v * (1 + 0.02 * self.rng.uniform(-1, 1)), 4), device="probe")
            for p, v in values.items()
        ]
        payload = messages.encode(ReadingBatch(station=self.id, seq=self.seq, sent_at=now, readings=readings))
        self.seq += 1
        self.batches += 1
        return payload, len(readings)


@dataclass
class FleetStats:
    statuses: int = 0
    batches: int = 0
    readings: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def run_fleet(
    url: str,
    stations: list[str],
    seconds: float,
    *,
    connections: int = 10,
    heartbeat_s: float = 30.0,
    batch_s: float = 60.0,
    nutrient_every: int = 240,
    stop: threading.Event | None = None,
    stats: FleetStats | None = None,
) -> FleetStats:
    """Publish for ``seconds`` (or until ``stop``); returns what was published."""
    parsed = urlparse(url)
    stop = stop or threading.Event()
    stats = stats or FleetStats()
    clients = []
    for i in range(connections):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fleet-load-{i}", protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(200)
        client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        client.loop_start()
        clients.append(client)
    start = time.monotonic()
    fleet = []
    for n, sid in enumerate(stations):
        st = FleetStation(sid, rng=random.Random(n))
        # Staggered: each station's first status and batch at a random point of its period.
        st.next_status = start + st.rng.uniform(0, heartbeat_s)
        st.next_batch = start + st.rng.uniform(0, batch_s)
        fleet.append(st)
    try:
        while not stop.is_set() and time.monotonic() - start < seconds:
            tick = time.monotonic()
            now = datetime.now(UTC)
            for n, st in enumerate(fleet):
                client = clients[n % len(clients)]
                if tick >= st.next_status:
                    client.publish(
                        topics.topic(st.id, "status"), st.status(now, heartbeat_s), qos=1, retain=True
                    )
                    st.next_status += heartbeat_s
                    with stats.lock:
                        stats.statuses += 1
                if tick >= st.next_batch:
                    payload, count = st.batch(now, nutrient_every)
                    client.publish(topics.topic(st.id, "readings"), payload, qos=1)
                    st.next_batch += batch_s
                    with stats.lock:
                        stats.batches += 1
                        stats.readings += count
            stop.wait(max(0.0, 0.2 - (time.monotonic() - tick)))
    finally:
        for client in clients:
            client.loop_stop()
            client.disconnect()
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="publish a light station fleet to a broker")
    parser.add_argument("--url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--heartbeat-s", type=float, default=30.0)
    parser.add_argument("--batch-s", type=float, default=60.0)
    args = parser.parse_args(argv)
    stats = run_fleet(
        args.url,
        station_ids(args.stations),
        args.seconds,
        connections=args.connections,
        heartbeat_s=args.heartbeat_s,
        batch_s=args.batch_s,
    )
    print(f"published {stats.statuses} statuses, {stats.batches} batches, {stats.readings} readings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
