"""The collector's MQTT connection: paho-mqtt 2.2, MQTT v5, persistent session, QoS 1, manual acknowledgement.

The session survives restarts (clean_start=False, SessionExpiryInterval): what the broker delivered but we did
not acknowledge is delivered again when we come back. A message is acknowledged by the ack function handed to
the handler, which the writer calls after its commit. An ack for a message received on an earlier connection
is not sent (its packet id means nothing on the new connection; the broker redelivers that message anyway).

Status topics are always subscribed without the shared group: retained messages are not delivered to shared
subscriptions, and every collector needs every station's state. Status handling is idempotent.

The receiving process (collector/receiver.py) owns the subscribing connection. The main process has a
publish-only one (``handler=None``): client id ``<client_id>-pub``, clean session, no subscriptions, for
commands and MQTT alert notifications.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from collector.config import MqttConfig
from protocols import topics

log = logging.getLogger("qingliu.collector.mqtt")

Handler = Callable[[str, bytes, Callable[[], bool]], object]
PUBLISH_SUFFIX = "-pub"  # the main process's publish-only connection: <client_id>-pub


def subscriptions(shared_group: str | None) -> list[str]:
    """Topic filters: the uplink filters, shared when a group is set, except status (see module doc)."""
    shared = topics.collector_subscriptions(shared_group)
    plain = topics.collector_subscriptions(None)
    return [p if p.endswith("/status") else s for s, p in zip(shared, plain, strict=True)]


class CollectorMqtt:
    """``handler`` None: a publish-only connection (clean session, nothing subscribed)."""

    def __init__(
        self,
        config: MqttConfig,
        handler: Handler | None,
        *,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.config = config
        self.handler = handler
        self.on_state = on_state  # called with True on each connect, False on each loss (paho's thread)
        self._generation = 0
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self.v5 = config.protocol == "5"
        self.persistent = handler is not None
        self.client_id = config.client_id if self.persistent else config.client_id + PUBLISH_SUFFIX
        if self.v5:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True
            )
        else:  # MQTT 3.1.1 (brokers without v5, e.g. the demo's embedded amqtt): a persistent session too
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=mqtt.MQTTv311,
                clean_session=not self.persistent,
                manual_ack=True,
            )
        if config.username:
            client.username_pw_set(config.username, config.password or None)
        if config.tls:
            client.tls_set(ca_certs=config.ca_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        self.client = client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.config.session_expiry_s if self.persistent else 0
            props.ReceiveMaximum = self.config.receive_maximum
            self.client.connect_async(
                self.config.host,
                self.config.port,
                keepalive=self.config.keepalive_s,
                clean_start=not self.persistent,
                properties=props,
            )
        else:
            self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self) -> None:
        self._connected.clear()  # a disconnect we asked for is not worth a warning
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, timeout: float = 5.0) -> bool:
        """Publish and wait for the broker's PUBACK; True when it came with success."""
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return False
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    # -- paho callbacks (paho's network thread) ---------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker %s:%d refused the connection: %s", self.config.host, self.config.port, reason)
            return
        with self._lock:
            self._generation += 1
        if self.persistent:
            filters = subscriptions(self.config.shared_group)
            client.subscribe([(f, 1) for f in filters])
            log.info(
                "connected to %s:%d as %s (session present: %s); subscribed %s",
                self.config.host,
                self.config.port,
                self.client_id,
                flags.session_present,
                ", ".join(filters),
            )
        else:
            log.info(
                "connected to %s:%d as %s (publishing)", self.config.host, self.config.port, self.client_id
            )
        self._connected.set()
        self._report(True)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._generation += 1  # acks of messages from the lost connection must not be sent
        if self._connected.is_set():
            log.warning("%s disconnected from the broker: %s", self.client_id, reason)
        self._connected.clear()
        self._report(False)

    def _report(self, connected: bool) -> None:
        if self.on_state is not None:
            try:
                self.on_state(connected)
            except Exception:  # reporting must not break paho's thread
                log.exception("connection state report failed")

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        log.warning("cannot reach the broker at %s:%d; retrying", self.config.host, self.config.port)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if self.handler is None:
            return
        handler = self.handler
        with self._lock:
            generation = self._generation
        mid, qos = message.mid, message.qos

        def ack() -> bool:
            if qos == 0:
                return True
            with self._lock:
                if generation != self._generation:
                    return False
            return client.ack(mid, qos) == MQTTErrorCode.MQTT_ERR_SUCCESS

        try:
            handler(message.topic, bytes(message.payload), ack)
        except Exception:  # a bug in handling must not kill paho's thread; leave it unacknowledged
            log.exception("handler failed for a message on %s", message.topic)
