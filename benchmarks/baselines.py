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
