"""The publisher: moves outbox messages to the uplink and marks them sent on the broker's PUBACK.

    Outbox (SQLite) ◀── Publisher ──▶ PublishPort (MqttUplink) ──▶ broker
          ▲ mark_acked on PUBACK ◀───────────┘

Readings are committed before the publisher can see them (invariant 1) and are marked sent only when the
PUBACK of their message arrives (invariant 2). Runs on the agent's asyncio loop (``agent.runtime``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

from agent.config import OutboxConfig
from agent.outbox import Batch, Outbox
from agent.sink import StorageFailed
from agent.uplink import PublishError, backoff_delay
from protocols.messages import Lane, batch_payload, encode
from protocols.topics import topic

log = logging.getLogger(__name__)


class PublishPort(Protocol):
    """What the publisher needs from an uplink (MqttUplink, or a fake in tests)."""

    @property
    def connected(self) -> bool: ...

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[None]: ...


class TokenBucket:
    """Readings per second for the backfill and resend lanes; at most one second of burst.

    The outbox hands out whole chunks, which may hold more readings than there are tokens: ``take`` then
    leaves the bucket in debt, and nothing more goes until it is paid back, so the average rate holds.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self._clock = clock
        self._at = clock()

    def available(self) -> int:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now
        return int(self.tokens)

    def take(self, n: int) -> None:
        self.tokens -= n


class Publisher:
    """Moves outbox messages to the uplink, a window of ``outbox.inflight`` at a time.

    Order of service: events, then messages assembled earlier but never acknowledged (same seq, same
    readings), then new live batches, then the resend lane and the backfill lane under the rate limit.
    A message the broker refuses (PUBACK >= 0x80) stays in the window and is retried after a back-off.

    Fsyncs are shared: the new messages of one ``pump`` are bound in one outbox transaction, and the
    PUBACKs that arrive in one turn of the loop are marked in one transaction (``flush_acks``); a message
    is marked sent only after its own PUBACK. The fsyncs overlap the network: a PUBACK frees its slot in
    the window at once, ``pump`` sends into it first and marks the PUBACKs after, and while the window is
    full the next window of backfill is bound ahead.
    """

    def __init__(
        self,
        outbox: Outbox,
        uplink: PublishPort,
        station: str,
        config: OutboxConfig,
        *,
        retry_min_s: float = 0.5,
        retry_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outbox = outbox
        self.uplink = uplink
        self.station = station
        self.config = config
        self.readings_topic = topic(station, "readings")
        self.events_topic = topic(station, "events")
        self.inflight: dict[int, asyncio.Future[None]] = {}
        self.retry_at: dict[int, float] = {}  # refused messages: seq → when to try again
        self.refusals: dict[int, int] = {}
        self.events_inflight: set[int] = set()
        self.events_retry_at: float = 0.0
        self.bucket = TokenBucket(config.backfill_rate, clock)
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self._clock = clock
        self.wake = asyncio.Event()
        self.counters = {"published": 0, "acked": 0, "refused": 0, "lost": 0}
        self.acked: list[int] = []  # PUBACKed this turn, not yet marked in the outbox
        # Backfill/resend messages bound ahead (a window's worth in one transaction), not yet published.
        self.ready: collections.deque[Batch] = collections.deque()
        self._flush_scheduled = False

    def occupied(self) -> int:
        # Messages acknowledged but not yet marked (self.acked) hold no slot: the broker has them.
        return len(self.inflight) + len(self.retry_at)

    async def run(self, tick_s: float = 0.25, step: int = 8) -> None:
        # At most ``step`` new messages per turn of the loop: acquisition shares this loop, and polls must
        # stay on time while a backlog drains. A message of pre-encoded chunks costs tens of microseconds.
        while True:
            try:
                more = self.pump(max_new=step) if self.uplink.connected else False
            except StorageFailed:
                more = False  # the disk refuses the bindings: counted and logged by the outbox; try later
            if more:
                await asyncio.sleep(0)
                continue
            # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancel that arrives as the event
            # is set, and then shutdown waits for this task forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tick_s):
                    await self.wake.wait()
            self.wake.clear()

    def pump(self, max_new: int | None = None) -> bool:
        """Fill the window from the outbox, then mark the PUBACKs that arrived. Synchronous: the outbox calls
        are short transactions.

        Returns True when it stopped after ``max_new`` new batches with room left in the window (call again).
        """
        more = self._fill(max_new)
        self.flush_acks()  # after sending: this fsync overlaps the new messages' trip to the broker
        if not self.ready and self.occupied() >= self.config.inflight:
            self._bind_ahead()  # the window is full: bind its successors while waiting for PUBACKs
        return more

    def _fill(self, max_new: int | None) -> bool:
        self._pump_events()
        now = self._clock()
        busy = set(self.inflight) | set(self.acked) | {b.seq for b in self.ready}
        for seq in self.outbox.unacked(exclude=busy):
            if self.occupied() >= self.config.inflight and seq not in self.retry_at:
                return False
            if seq in self.retry_at:
                if self.retry_at[seq] > now:
                    continue
                del self.retry_at[seq]
            batch = self.outbox.load_batch(seq)
            if batch is not None:
                self._send(batch)
        sent = 0
        while (room := self.config.inflight - self.occupied()) > 0:
            if max_new is not None:
                if sent >= max_new:
                    return True
                room = min(room, max_new - sent)
            batches = self.outbox.next_batches(Lane.LIVE, max_messages=room)
            if not batches:
                if not self.ready:
                    self._bind_ahead()
                batches = [self.ready.popleft() for _ in range(min(room, len(self.ready)))]
            if not batches:
                return False
            for batch in batches:
                self._send(batch)
            sent += len(batches)
        return False

    def _bind_ahead(self) -> None:
        """Bind up to a window of resend or backfill messages in one transaction (one fsync), under the
        rate limit. They stay unacknowledged messages like any in flight: after a crash they go again,
        same seq."""
        for lane in (Lane.RESEND, Lane.BACKFILL):
            tokens = self.bucket.available()
            if tokens < 1:
                return
            batches = self.outbox.next_batches(lane, max_messages=self.config.inflight, max_readings=tokens)
            self.bucket.take(sum(b.count for b in batches))
            if batches:
                self.ready.extend(batches)
                return

    def _send(self, batch: Batch) -> None:
        payload = batch_payload(self.station, batch.seq, batch.lane, datetime.now(UTC), batch.body)
        future = self.uplink.publish(self.readings_topic, payload)
        self.inflight[batch.seq] = future
        self.counters["published"] += 1
        future.add_done_callback(partial(self._done, batch.seq))

    def _done(self, seq: int, future: asyncio.Future[None]) -> None:
        self.inflight.pop(seq, None)
        error = (
            future.exception() if not future.cancelled() else PublishError("cancelled", reason="cancelled")
        )
        if error is None:
            self.refusals.pop(seq, None)
            # Its slot is free now: the run loop (woken first) refills the window, then this PUBACK is
            # marked with the others that arrived in this turn of the loop.
            self.acked.append(seq)
            self.wake.set()
            if not self._flush_scheduled:
                self._flush_scheduled = True
                asyncio.get_running_loop().call_soon(self.flush_acks)
        elif isinstance(error, PublishError) and error.reason == "refused":
            n = self.refusals.get(seq, 0)
            self.refusals[seq] = n + 1
            self.counters["refused"] += 1
            self.outbox.count("publish_refused")
            self.retry_at[seq] = self._clock() + backoff_delay(n, self.retry_min_s, self.retry_max_s)
            log.warning(
                "station %s: message %d refused by the broker (%s); retry later, readings kept",
                self.station,
                seq,
                error,
            )
        else:
            # Disconnected: the message stays unacknowledged and goes again, same seq, on reconnect.
            self.counters["lost"] += 1
            self.wake.set()

    def flush_acks(self) -> None:
        """Mark the PUBACKed messages sent, in one outbox transaction."""
        self._flush_scheduled = False
        if not self.acked:
            return
        seqs, self.acked = self.acked, []
        try:
            self.outbox.mark_acked_many(seqs)
        except StorageFailed:
            # The disk refuses the marks (logged by the outbox): kept, tried again at the next flush. Not
            # raised: this runs as a loop callback, where it would only print a traceback per PUBACK.
            self.acked = seqs + self.acked
            return
        except BaseException:
            self.acked = seqs + self.acked  # not marked: kept out of the window's re-sends, tried again
            raise
        self.counters["acked"] += len(seqs)

    def _pump_events(self) -> None:
        if self._clock() < self.events_retry_at:
            return
        room = max(0, 8 - len(self.events_inflight))
        for stored in self.outbox.unsent_events(limit=room, exclude=self.events_inflight):
            future = self.uplink.publish(self.events_topic, encode(stored.event))
            self.events_inflight.add(stored.row_id)
            future.add_done_callback(partial(self._event_done, stored.row_id))

    def _event_done(self, row_id: int, future: asyncio.Future[None]) -> None:
        self.events_inflight.discard(row_id)
        error = (
            future.exception() if not future.cancelled() else PublishError("cancelled", reason="cancelled")
        )
        if error is None:
            with contextlib.suppress(StorageFailed):  # not marked: sent again later, the collector dedups
                self.outbox.mark_event_sent(row_id)
        elif isinstance(error, PublishError) and error.reason == "refused":
            self.outbox.count("publish_refused")
            self.events_retry_at = self._clock() + self.retry_max_s

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) for the messages in flight to be acknowledged, and mark them."""
        pending = [f for f in self.inflight.values() if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        await asyncio.sleep(0)  # the done callbacks of the last PUBACKs
        self.flush_acks()
