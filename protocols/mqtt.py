"""The MQTT connection settings both ends share: broker URL, credentials, CA file, protocol version, keepalive.

Each end's config subclasses ``MqttConnection`` for its own fields (the agent: client certificate, heartbeat,
reconnect bounds; the collector: client id, shared subscription group, session expiry, receive maximum), so
that the ``[mqtt]`` table reads and fails the same way at a station and at the centre. Unknown keys are
refused, as everywhere in a config.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlparse

import msgspec

from protocols.errors import FieldProblem


class MqttConnection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A msgspec Struct (a station loads no pydantic, issue 17): ``msgspec.structs.replace`` to change a copy,
    ``msgspec.to_builtins`` for a dict. A subclass that adds ``__post_init__`` calls this one's."""

    url: str = "mqtt://127.0.0.1:1883"  # mqtts:// for TLS
    username: str = ""
    password: str = ""
    ca_file: str = ""
    # MQTT v5 by default: its PUBACK says "not authorized" where 3.1.1 acknowledges a denied publish silently;
    # it also brings session expiry and receive maximum. 3.1.1 only for brokers without v5, such as the
    # embedded demo broker (amqtt 0.12).
    protocol: Literal["5", "3.1.1"] = "5"
    keepalive_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30

    def __post_init__(self) -> None:
        parsed = urlparse(self.url)
        if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
            raise FieldProblem(("url",), "must look like mqtt://host:port or mqtts://host:port")

    @property
    def host(self) -> str:
        return urlparse(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parsed = urlparse(self.url)
        return parsed.port or (8883 if parsed.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlparse(self.url).scheme == "mqtts"
