"""MQTT v5 uplink (paho-mqtt 2.2) with publishes you can await until the broker's PUBACK.

paho's network loop runs in its own thread (``loop_start``); every callback hands its result to the asyncio
loop with ``call_soon_threadsafe``, so futures and state are only touched on the loop thread. ``publish``
returns a future that resolves on PUBACK and fails on a PUBACK reason code >= 0x80 (e.g. Not authorized: the
ACL denied it) or when the connection drops: the caller keeps the data and sends it again later.

Reconnection is paho's, but the wait before each attempt is ours: exponential from ``reconnect_min_s`` to
``reconnect_max_s`` with full jitter, so that a fleet of stations does not reconnect in lock-step.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from protocols.lazymodule import lazy

lazy("urllib.request")  # paho's proxy lookup only (protocols/lazymodule.py): memory on small station PCs

import paho.mqtt.client as mqtt  # noqa: E402

from agent import notls  # noqa: E402

mqtt.ssl = notls.ssl_for_paho(mqtt.ssl)  # type: ignore[assignment]  # OpenSSL kept out (agent/notls.py)
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.reasoncodes import ReasonCode  # noqa: E402

from agent.config import MqttConfig  # noqa: E402
from protocols.backoff import exponential, full_jitter  # noqa: E402

log = logging.getLogger(__name__)


class PublishError(Exception):
    """A publish that was not acknowledged. ``reason``: not_connected, disconnected, refused, queue."""

    def __init__(self, message: str, *, reason: str, code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = code


def backoff_delay(attempt: int, low: float, high: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential back-off with full jitter: somewhere in [low, min(high, low * 2**attempt)]."""
    return full_jitter(low, exponential(attempt, low, high), rand())


class MqttUplink:
    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        will: tuple[str, bytes] | None = None,
        subscriptions: list[str] | None = None,
        station: str = "-",
    ) -> None:
        self.config = config
        self.station = station
        self.subscriptions = list(subscriptions or [])
        self.on_message: Callable[[str, bytes], None] | None = None  # called on the loop thread
        self.on_connected: Callable[[], None] | None = None
        self.on_disconnected: Callable[[], None] | None = None
        self.counters: dict[str, int] = {"puback": 0, "refused": 0, "disconnects": 0, "connects": 0}
        self._futures: dict[int, asyncio.Future[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = False
        self._attempt = 0
        self._connected_event: asyncio.Event | None = None

        self._host, self._port, self._tls = config.host, config.port, config.tls
        protocol = mqtt.MQTTv5 if config.protocol == "5" else mqtt.MQTTv311
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        if config.username:
            client.username_pw_set(config.username, config.password or None)
        if self._tls:
            import ssl  # only here: a station without TLS does not load OpenSSL (agent/notls.py)

            client.tls_set(
                ca_certs=config.ca_file or None,
                certfile=config.client_cert or None,
                keyfile=config.client_key or None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.max_inflight_messages_set(0)  # our outbox bounds what is in flight
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self.client = client
        self._next_wait()

    # ------------------------------------------------------------------ lifecycle (loop thread)

    @property
    def connected(self) -> bool:
        return self._connected

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._connected_event = asyncio.Event()
        self.client.connect_async(self._host, self._port, keepalive=self.config.keepalive_s)
        self.client.loop_start()

    async def wait_connected(self, timeout: float | None = None) -> bool:
        assert self._connected_event is not None, "start() first"
        try:
            await asyncio.wait_for(self._connected_event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self, last: tuple[str, bytes] | None = None, timeout: float = 3.0) -> None:
        """Publish ``last`` (retained, e.g. the offline status) if connected, then disconnect cleanly."""
        if last is not None and self._connected:
            try:
                await asyncio.wait_for(self.publish(last[0], last[1], retain=True), timeout)
            except (PublishError, TimeoutError) as exc:
                log.warning("station %s: final status not acknowledged: %s", self.station, exc)
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)
        self._connected = False
        self._fail_all("uplink stopped")

    # ------------------------------------------------------------------ publishing (loop thread)

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[None]:
        assert self._loop is not None, "start() first"
        future: asyncio.Future[None] = self._loop.create_future()
        if not self._connected:
            future.set_exception(PublishError("not connected to the broker", reason="not_connected"))
            return future
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            future.set_exception(
                PublishError(
                    f"publish failed: {mqtt.error_string(info.rc)}",
                    reason="not_connected" if info.rc == mqtt.MQTT_ERR_NO_CONN else "queue",
                )
            )
            return future
        if qos == 0:
            future.set_result(None)
        else:
            # on_publish is delivered via call_soon_threadsafe, so it runs after this line even if the
            # PUBACK already arrived in paho's thread.
            self._futures[info.mid] = future
        return future

    def _resolve(self, mid: int, code: int, name: str) -> None:
        future = self._futures.pop(mid, None)
        if future is None or future.done():
            return
        if code >= 0x80:
            self.counters["refused"] += 1
            log.warning("station %s: broker refused message %d: %s (0x%02X)", self.station, mid, name, code)
            future.set_exception(
                PublishError(f"broker refused the publish: {name}", reason="refused", code=code)
            )
        else:
            self.counters["puback"] += 1
            future.set_result(None)

    def _fail_all(self, why: str) -> None:
        futures, self._futures = self._futures, {}
        for future in futures.values():
            if not future.done():
                future.set_exception(PublishError(why, reason="disconnected"))

    def _set_connected(self, up: bool) -> None:
        was, self._connected = self._connected, up
        assert self._connected_event is not None
        if up:
            self.counters["connects"] += 1
            self._connected_event.set()
            if self.on_connected is not None:
                self.on_connected()
        else:
            self._connected_event.clear()
            self._fail_all("connection to the broker lost")
            if was:
                self.counters["disconnects"] += 1
                if self.on_disconnected is not None:
                    self.on_disconnected()

    # ------------------------------------------------------------------ paho callbacks (network thread)

    def _next_wait(self) -> None:
        delay = backoff_delay(self._attempt, self.config.reconnect_min_s, self.config.reconnect_max_s)
        self._attempt += 1
        if hasattr(self, "client"):
            self.client.reconnect_delay_set(delay, delay)  # type: ignore[arg-type]

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error(
                "station %s: broker %s:%d refused the connection: %s",
                self.station,
                self._host,
                self._port,
                reason,
            )
            self._next_wait()
            return
        log.info("station %s: connected to %s:%d", self.station, self._host, self._port)
        self._attempt = 0
        self._next_wait()
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        self._call(self._set_connected, True)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        log.warning("station %s: disconnected from the broker: %s", self.station, reason)
        self._next_wait()
        self._call(self._set_connected, False)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.warning("station %s: cannot reach the broker at %s:%d", self.station, self._host, self._port)
        self._next_wait()

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, properties: Any
    ) -> None:
        self._call(self._resolve, mid, int(reason.value), str(reason))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.on_message is not None:
            self._call(self.on_message, message.topic, bytes(message.payload))
