"""Baselines measured in the same run as each benchmark, because this machine is noisy (±20-40 %).

Each function returns a rate; the benchmark prints its own figure, the baseline and the ratio.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def _client(client_id: str) -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)


def paho_qos1_publish_rate(
    host: str, port: int, topic: str, payloads: Sequence[bytes], inflight: int = 20
) -> float:
    """Messages/s for a plain paho publisher at QoS 1 that waits for every PUBACK (window ``inflight``)."""
    client = _client("bench-baseline-pub")
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    done = threading.Semaphore(0)
    client.on_publish = lambda *_args: done.release()
    client.connect(host, port)
    client.loop_start()
    try:
        start = time.perf_counter()
        for payload in payloads:
            client.publish(topic, payload, qos=1)
        for _ in payloads:
            done.acquire(timeout=60)
        return len(payloads) / (time.perf_counter() - start)
    finally:
        client.loop_stop()
        client.disconnect()


def paho_subscriber_receive_rate(host: str, port: int, topic: str, payloads: Sequence[bytes]) -> float:
    """Messages/s that a bare paho subscriber (QoS 1, doing nothing with them) receives from a paho publisher."""
    received = 0
    all_in = threading.Event()
    first: list[float] = []

    def on_message(_c: object, _u: object, _m: object) -> None:
        nonlocal received
        if not first:
            first.append(time.perf_counter())
        received += 1
        if received >= len(payloads):
            all_in.set()

    sub = _client("bench-baseline-sub")
    sub.on_message = on_message
    sub.connect(host, port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    time.sleep(0.5)
    pub = _client("bench-baseline-feed")
    pub.max_inflight_messages_set(100)
    pub.connect(host, port)
    pub.loop_start()
    start = time.perf_counter()
    for payload in payloads:
        pub.publish(topic, payload, qos=1)
    all_in.wait(timeout=120)
    elapsed = time.perf_counter() - start
    for client in (pub, sub):
        client.loop_stop()
        client.disconnect()
    return received / elapsed
