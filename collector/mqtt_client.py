"""The collector main process's MQTT connection, for what it publishes: paho-mqtt 2.2, MQTT v5, QoS 1.

Client id ``<client_id>-pub``, clean session, nothing subscribed: commands to the stations and MQTT alert
notifications. The receiving process's persistent session is collector/mqtt_subscriber.py.
"""

from __future__ import annotations

import logging
import ssl
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from collector.config import MqttConfig

log = logging.getLogger("qingliu.collector.mqtt")

PUBLISH_SUFFIX = "-pub"  # the main process's publish-only connection: <client_id>-pub


class CollectorMqtt:
    """The publish-only connection (clean session, nothing subscribed)."""

    def __init__(self, config: MqttConfig) -> None:
        self.config = config
        self._connected = threading.Event()
        self.v5 = config.protocol == "5"
        self.client_id = config.client_id + PUBLISH_SUFFIX
        if self.v5:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        else:  # MQTT 3.1.1 (brokers without v5, e.g. the demo's embedded amqtt)
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv311
            )
        if config.username:
            client.username_pw_set(config.username, config.password or None)
        if config.tls:
            client.tls_set(ca_certs=config.ca_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self.client = client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 0
            self.client.connect_async(
                self.config.host,
                self.config.port,
                keepalive=self.config.keepalive_s,
                clean_start=True,
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
        log.info("connected to %s:%d as %s (publishing)", self.config.host, self.config.port, self.client_id)
        self._connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._connected.is_set():
            log.warning("%s disconnected from the broker: %s", self.client_id, reason)
        self._connected.clear()

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        log.warning("cannot reach the broker at %s:%d; retrying", self.config.host, self.config.port)
