"""The receiving process's MQTT session: a lean subscriber of our own (MQTT 5 and 3.1.1, QoS 1, TLS).

Why not paho here (issue 17): the receiver does nothing with a message but check its topic and commit it, so the
MQTT client's own cost per message is most of its work. paho's loop takes about 50 µs of CPU a message (a select
and four reads a packet, its callback machinery, a wake-up of its thread for each acknowledgement sent from ours);
this subscriber reads the socket in large chunks, cuts packets out of the buffer, and sends the PUBACKs of a
committed batch in one write. The main process keeps paho for what it publishes (collector/mqtt_client.py).

What it speaks, and nothing more: CONNECT (persistent session: clean start off, SessionExpiryInterval,
ReceiveMaximum, MaximumPacketSize), SUBSCRIBE at QoS 1, PUBLISH QoS 0/1 in, PUBACK out, PINGREQ/PINGRESP for the
keepalive, DISCONNECT both ways. Topic aliases are never in use (we announce none). Reconnects back off from 1 to
30 s, as the paho client did.

Acknowledgement: the handler gets an ``ack`` function per message. Calling it queues the PUBACK; ``flush`` (the
receiver's writer calls it after each batch's commit) wakes the subscriber's thread, which sends what is queued
in one write. Every read and write of the socket is on that one thread: an OpenSSL connection must not be used
by two threads at once. An ack of a message received on an
earlier connection is refused (False): its packet id means nothing on the new connection, and the broker
redelivers that message to the session anyway. The queue is emptied whenever a connection ends, for the same
reason.

Status topics are always subscribed without the shared group: retained messages are not delivered to shared
subscriptions, and every collector needs every station's state. Status handling is idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable

from collector.config import MqttConfig
from protocols import messages, topics
from protocols.backoff import grow

log = logging.getLogger("qingliu.collector.mqtt")

Handler = Callable[[str, bytes, Callable[[], bool]], object]

RECV_BYTES = 1 << 18  # one read takes up to this much (about 30 readings batches of 100)
TICK_S = 1.0  # how often the keepalive is looked at while nothing arrives
# The largest packet we take: the broker is told (v5) and does not send bigger ones. Above the payload limit
# (protocols/messages.py), so that an oversized payload still arrives to be refused, counted and acknowledged.
MAX_PACKET_BYTES = 4 * messages.MAX_PAYLOAD_BYTES + 65536
BACKOFF_MIN_S, BACKOFF_MAX_S = 1.0, 30.0

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ_PACKET, PINGRESP, DISCONNECT = b"\xc0\x00", 13, 14
PUBACK_HEAD = b"\x40\x02"  # PUBACK, remaining length 2: the packet id (v5: reason "success" left out)
SUBSCRIBE_ID = 1

# MQTT 5 property identifiers by how their values are encoded (§2.2.2.2), to walk a CONNACK's properties.
_BYTE = frozenset({0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A})
_TWO = frozenset({0x13, 0x21, 0x22, 0x23})
_FOUR = frozenset({0x02, 0x11, 0x18, 0x27})
_VARINT = frozenset({0x0B})
_LENGTH_PREFIXED = frozenset({0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F})  # string or binary
_PAIR = frozenset({0x26})
SERVER_KEEP_ALIVE = 0x13

# MQTT 3.1.1 CONNACK return codes (MQTT 5 reason codes are ≥ 0x80 for a failure).
_V3_REFUSED = {
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class ProtocolError(Exception):
    """The broker sent what this subscriber does not accept; the connection is dropped and made again."""


class Refused(Exception):
    """The broker refused the connection (CONNACK with a failure)."""


def subscriptions(shared_group: str | None) -> list[str]:
    """Topic filters: the uplink filters, shared when a group is set, except status (see module doc)."""
    shared = topics.collector_subscriptions(shared_group)
    plain = topics.collector_subscriptions(None)
    return [p if p.endswith("/status") else s for s, p in zip(shared, plain, strict=True)]


# -- encoding ----------------------------------------------------------------------------------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def connect_packet(config: MqttConfig, *, max_packet: int = MAX_PACKET_BYTES) -> bytes:
    """CONNECT for a persistent session (clean start off), with the keepalive and, in MQTT 5, the session
    expiry, receive maximum and the largest packet we take."""
    v5 = config.protocol == "5"
    flags = 0
    payload = _string(config.client_id.encode())
    if config.username:
        flags |= 0x80
        payload += _string(config.username.encode())
        if config.password:
            flags |= 0x40
            payload += _string(config.password.encode())
    header = _string(b"MQTT") + bytes([5 if v5 else 4, flags]) + struct.pack("!H", config.keepalive_s)
    if v5:
        props = (
            b"\x11"
            + struct.pack("!I", config.session_expiry_s)
            + b"\x21"
            + struct.pack("!H", config.receive_maximum)
            + b"\x27"
            + struct.pack("!I", max_packet)
        )
        header += varint(len(props)) + props
    return _packet(CONNECT << 4, header + payload)


def subscribe_packet(filters: list[str], *, v5: bool, packet_id: int = SUBSCRIBE_ID) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if v5 else b"")  # v5: no properties
    for topic_filter in filters:
        body += _string(topic_filter.encode()) + b"\x01"  # QoS 1 (v5: the other options off)
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def disconnect_packet(*, v5: bool) -> bytes:
    return b"\xe0\x01\x00" if v5 else b"\xe0\x00"  # v5: "normal disconnection", the session is kept


# -- decoding ----------------------------------------------------------------------------------------------------


def read_varint(data: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """(value, position after it), or None when ``data`` ends first; ProtocolError past four bytes."""
    value = shift = 0
    for i in range(pos, min(pos + 4, len(data))):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    if len(data) - pos >= 4:
        raise ProtocolError("a variable byte integer longer than four bytes")
    return None


def split_packets(buf: bytearray, max_packet: int = MAX_PACKET_BYTES) -> tuple[list[tuple[int, bytes]], int]:
    """The complete packets at the start of ``buf`` as (first byte, body), and how many bytes they took."""
    out: list[tuple[int, bytes]] = []
    pos, end = 0, len(buf)
    while end - pos >= 2:
        length = read_varint(buf, pos + 1)
        if length is None:
            break
        size, start = length
        if size > max_packet:
            raise ProtocolError(f"a packet of {size} bytes, over the {max_packet} we take")
        if start + size > end:
            break
        out.append((buf[pos], bytes(buf[start : start + size])))
        pos = start + size
    return out, pos


def parse_publish(first: int, body: bytes, *, v5: bool) -> tuple[str, bytes, int, bytes]:
    """(topic, payload, qos, packet id bytes; empty for QoS 0). A topic that is not UTF-8 comes out with
    replacement characters, so that the topic check refuses it (and it is acknowledged) instead of it
    breaking the session."""
    qos = (first >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("a PUBLISH with QoS 3")
    if len(body) < 2:
        raise ProtocolError("a PUBLISH too short for its topic")
    topic_end = 2 + ((body[0] << 8) | body[1])
    topic = body[2:topic_end].decode("utf-8", "replace")
    pos = topic_end
    packet_id = b""
    if qos:
        packet_id = body[pos : pos + 2]
        pos += 2
    if v5:
        props = read_varint(body, pos)
        if props is None:
            raise ProtocolError("a PUBLISH cut inside its properties")
        pos = props[1] + props[0]
    if pos > len(body) or (qos and len(packet_id) != 2):
        raise ProtocolError("a PUBLISH shorter than its header")
    return topic, body[pos:], qos, packet_id


def parse_connack(body: bytes, *, v5: bool) -> tuple[bool, int | None]:
    """(session present, the keepalive the server sets or None); Refused when the broker refused us."""
    if len(body) < 2:
        raise ProtocolError("a CONNACK shorter than two bytes")
    session_present, code = bool(body[0] & 0x01), body[1]
    if v5:
        if code >= 0x80:
            raise Refused(f"reason code 0x{code:02x}")
        return session_present, _server_keep_alive(body, 2)
    if code:
        raise Refused(_V3_REFUSED.get(code, f"return code {code}"))
    return session_present, None


def _server_keep_alive(body: bytes, pos: int) -> int | None:
    try:
        return _walk_connack_properties(body, pos)
    except (struct.error, IndexError):
        raise ProtocolError("a CONNACK cut inside its properties") from None


def _walk_connack_properties(body: bytes, pos: int) -> int | None:
    length = read_varint(body, pos)
    if length is None:
        return None
    size, pos = length
    end = min(pos + size, len(body))
    while pos < end:
        ident = body[pos]
        pos += 1
        if ident == SERVER_KEEP_ALIVE:
            return int(struct.unpack_from("!H", body, pos)[0])
        if ident in _BYTE:
            pos += 1
        elif ident in _TWO:
            pos += 2
        elif ident in _FOUR:
            pos += 4
        elif ident in _VARINT:
            skipped = read_varint(body, pos)
            pos = end if skipped is None else skipped[1]
        elif ident in _LENGTH_PREFIXED:
            pos += 2 + int(struct.unpack_from("!H", body, pos)[0])
        elif ident in _PAIR:
            for _ in range(2):
                pos += 2 + int(struct.unpack_from("!H", body, pos)[0])
        else:
            raise ProtocolError(f"an unknown property 0x{ident:02x} in CONNACK")
    return None


def suback_refusals(body: bytes, filters: list[str], *, v5: bool) -> list[str]:
    """The filters the broker refused (reason ≥ 0x80), each with its code."""
    pos = 2
    if v5:
        props = read_varint(body, pos)
        pos = len(body) if props is None else props[1] + props[0]
    codes = body[pos:]
    return [f"{f} (0x{c:02x})" for f, c in zip(filters, codes, strict=False) if c >= 0x80]


# -- the connection ----------------------------------------------------------------------------------------------


class Subscriber:
    """One persistent session, kept up by a thread of its own that reads, parses and hands messages over."""

    def __init__(
        self,
        config: MqttConfig,
        handler: Handler,
        *,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.config = config
        self.handler = handler
        self.on_state = on_state  # True on each connect, False on each loss (the subscriber's thread)
        self.v5 = config.protocol == "5"
        self.filters = subscriptions(config.shared_group)
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # the socket's generation and the queued acks, together
        self._wake_r: socket.socket | None = None  # flush and stop wake the thread out of its select (start)
        self._wake_w: socket.socket | None = None
        self._generation = 0
        self._acks = bytearray()
        self._last_sent = 0.0
        self._thread: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        self._stopping.clear()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(
            target=self._run, args=(self._wake_r,), name="collector-mqtt", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued, then DISCONNECT (the session stays with the broker: what we did not acknowledge
        comes again)."""
        self._stopping.set()
        self._wake()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        # The wake-up pair goes with the thread. A thread still in a connect that has not timed out may yet
        # read its end: then both ends are left to the garbage collector.
        if thread is None or not thread.is_alive():
            for end in (self._wake_r, self._wake_w):
                if end is not None:
                    end.close()
        self._wake_r = self._wake_w = None
        self._connected.clear()

    def flush(self) -> None:
        """Have the thread send the queued acknowledgements (one write for all of them)."""
        with self._lock:
            if not self._acks:
                return
        self._wake()

    def _wake(self) -> None:
        wake = self._wake_w
        if wake is not None:
            with contextlib.suppress(OSError):  # full (BlockingIOError): a wake-up is pending anyway
                wake.send(b"\0")

    # -- the thread ------------------------------------------------------------------------------------------

    def _run(self, wake: socket.socket) -> None:
        delay = BACKOFF_MIN_S
        while not self._stopping.is_set():
            sock: socket.socket | None = None
            try:
                sock = self._open()
                self._session(sock, wake)
            except Refused as exc:
                log.error("broker %s:%d refused the connection: %s", self.config.host, self.config.port, exc)
            except (
                Exception
            ) as exc:  # OSError, ProtocolError, or a bug: the thread must live on and reconnect
                if not isinstance(exc, OSError | ProtocolError):
                    log.exception("the MQTT session ended on an unexpected error; reconnecting")
                elif self._stopping.is_set():
                    pass
                elif self._connected.is_set():
                    log.warning("%s disconnected from the broker: %s", self.config.client_id, exc)
                else:
                    log.warning(
                        "cannot reach the broker at %s:%d (%s); retrying",
                        self.config.host,
                        self.config.port,
                        exc,
                    )
            finally:
                if sock is not None:
                    was_connected = self._lost(sock)
                    if was_connected:
                        delay = BACKOFF_MIN_S  # it was up: come back soon
            if self._stopping.wait(delay):
                break
            delay = grow(delay, BACKOFF_MAX_S)

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self.config.host, self.config.port), timeout=10)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.config.tls:
                context = ssl.create_default_context(cafile=self.config.ca_file or None)
                sock = context.wrap_socket(sock, server_hostname=self.config.host)
            sock.settimeout(TICK_S)
        except BaseException:
            sock.close()
            raise
        with self._lock:
            self._generation += 1
            self._acks.clear()
        try:
            self._send(sock, connect_packet(self.config))
        except BaseException:
            sock.close()
            raise
        return sock

    def _lost(self, sock: socket.socket) -> bool:
        """Forget ``sock`` and what was queued for it; whether the session had been up."""
        with self._lock:
            self._generation += 1  # acks of its messages must not go out on another connection
            self._acks.clear()
        sock.close()
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected:
            self._report(False)
        return was_connected

    def _session(self, sock: socket.socket, wake: socket.socket) -> None:
        """Read until the connection ends (an exception says how) or we stop."""
        keepalive = float(self.config.keepalive_s)
        buf = bytearray()
        ping_sent: float | None = None
        while True:
            ready = self._wait(sock, wake)
            if wake in ready:
                with contextlib.suppress(BlockingIOError):
                    wake.recv(4096)
            self._send_acks(sock)
            if self._stopping.is_set():
                self._send(sock, disconnect_packet(v5=self.v5))
                return
            if sock in ready:
                chunk = sock.recv(RECV_BYTES)
                if not chunk:
                    raise ConnectionError("the broker closed the connection")
                buf += chunk
                packets, used = split_packets(buf)
                del buf[:used]
                for first, body in packets:
                    kind = first >> 4
                    if kind == PUBLISH:
                        self._publish(first, body)
                    elif kind == PINGRESP:
                        ping_sent = None
                    elif kind == CONNACK:
                        server_keepalive = self._connack(sock, body)
                        if server_keepalive is not None:
                            keepalive = float(server_keepalive)
                    elif kind == SUBACK:
                        refused = suback_refusals(body, self.filters, v5=self.v5)
                        if refused:
                            log.error("the broker refused the subscriptions %s", ", ".join(refused))
                    elif kind == DISCONNECT:
                        reason = f"reason code 0x{body[0]:02x}" if body else "no reason"
                        raise ConnectionError(f"the broker sent DISCONNECT ({reason})")
                self._send_acks(
                    sock
                )  # those a handler made on this thread go out now, not after the next read
            now = time.monotonic()
            if ping_sent is not None:
                if keepalive and now - ping_sent > keepalive:
                    raise ConnectionError(f"no answer to a ping within {keepalive:.0f} s")
            elif keepalive and now - self._last_sent >= keepalive / 2:
                ping_sent = now
                self._send(sock, PINGREQ_PACKET)

    def _wait(self, sock: socket.socket, wake: socket.socket) -> list[socket.socket]:
        """What is readable: the socket, the wake-up pair. TLS may hold decrypted bytes that select cannot
        see: then the socket counts as readable at once."""
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return [sock]
        ready, _, _ = select.select([sock, wake], [], [], TICK_S)
        return ready

    def _send_acks(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._acks:
                return
            data = bytes(self._acks)
            self._acks.clear()
        self._send(sock, data)

    def _connack(self, sock: socket.socket, body: bytes) -> int | None:
        session_present, server_keepalive = parse_connack(body, v5=self.v5)
        self._send(sock, subscribe_packet(self.filters, v5=self.v5))
        log.info(
            "connected to %s:%d as %s (session present: %s); subscribed %s",
            self.config.host,
            self.config.port,
            self.config.client_id,
            session_present,
            ", ".join(self.filters),
        )
        self._connected.set()
        self._report(True)
        return server_keepalive

    def _publish(self, first: int, body: bytes) -> None:
        topic, payload, qos, packet_id = parse_publish(first, body, v5=self.v5)
        if qos:
            lock = self._lock
            generation = self._generation  # this thread alone changes it
            puback = PUBACK_HEAD + packet_id

            def ack() -> bool:
                with lock:
                    if generation != self._generation:
                        return False
                    self._acks += puback
                return True

        else:

            def ack() -> bool:
                return True

        try:
            self.handler(topic, payload, ack)
        except Exception:  # a bug in handling must not end the session; the message stays unacknowledged
            log.exception("handler failed for a message on %s", topic)

    def _send(self, sock: socket.socket, data: bytes) -> None:
        """The subscriber's thread only; an OSError ends the connection (the caller reconnects)."""
        sock.sendall(data)
        self._last_sent = time.monotonic()

    def _report(self, connected: bool) -> None:
        if self.on_state is not None:
            try:
                self.on_state(connected)
            except Exception:  # reporting must not end the session
                log.exception("connection state report failed")
