"""One platform above the station: its own asyncio task, connection and cursor over the uplink feed.

    run() ── connect (backoff) ──▶ Link ── receive: 9014s, requests (agent.hj212up.answers)
                                        └─ send loop: the next unit, delivered stop-and-wait

A unit is one feed row's 2011 frames, or one closed period's 2061/2031 frame. Which goes next: a unit in
flight (again, same QN), then fresh rows (the live lane, every real-time interval), then a closed period,
then the backlog, oldest first, at ``backlog_rate`` frames/s. A unit is delivered when every packet that
asked got its 9014 (or at once when the target wants no replies); only then its cursor moves. Without an
answer it is sent again up to ``retries`` times, then the connection is dropped and made again: nothing is
ever given up. Nothing here waits on the MQTT path or on another target: the only thing shared is the
outbox's lock, held for one short SQLite statement at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agent.config import Hj212Target
from agent.hj212up import cursors
from agent.hj212up.answers import Answerer
from agent.hj212up.cursors import CursorState, Inflight
from agent.hj212up.frames import CodeMap, packets, period_frame, realtime_frames
from agent.hj212up.link import MAX_LINE, Link
from agent.outbox import Outbox
from agent.outbox import feed as feedrows
from agent.outbox.chunks import iso_utc, parse_iso
from protocols import hj212
from protocols.backoff import exponential
from protocols.hj212 import Frame
from protocols.hj212_periods import aggregate, period_end, period_start

log = logging.getLogger(__name__)

ANSWER_BATCH = 200  # frames of a request's answer written at a time


@dataclass
class Unit:
    inflight: Inflight
    frames: list[Frame]
    readings: int = 0


@dataclass
class TargetView:
    """What the status, the CLI and the dashboard show for a target."""

    name: str
    host: str
    port: int
    connected: bool
    last_reply: str | None
    backlog: int  # readings not yet delivered
    oldest_unsent: str | None  # when the oldest undelivered reading was stored (UTC ISO)
    periods_pending: int
    retries: int
    refusals: int
    lost: int
    sent_frames: int


class Hj212Uplink:
    def __init__(
        self,
        target: Hj212Target,
        outbox: Outbox,
        *,
        live_window_s: float,
        history_days: float,
        clock_jump_s: float = 120.0,
        on_clock_offset: Callable[[float], None] = lambda _o: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = target
        self.outbox = outbox
        self.store = outbox.store
        self.clock = clock
        self.live_window_s = live_window_s
        self.codes = CodeMap.of(target)
        self.connected = False
        self.wake = asyncio.Event()
        self._link: Link | None = None
        self._live_idle_at: float | None = None
        self._tokens = 1.0
        self._tokens_at = time.monotonic()
        with self.store.lock:
            cursors.ensure_cursors(self.store.db)
            feedrows.ensure_feed(self.store.db)
        state = cursors.load(self.store, target.name)
        if state is None:
            state = self._fresh_state(history_days)
            cursors.save(self.store, target.name, state)
        self.state = state
        self.answerer = Answerer(
            target,
            self.store,
            clock,
            clock_jump_s,
            get_interval=self.interval,
            set_interval=self._set_interval,
            on_clock_offset=on_clock_offset,
        )

    def _fresh_state(self, history_days: float) -> CursorState:
        """A new target gets everything the feed holds (up to ``history_days`` of periods)."""
        with self.store.lock:
            earliest = feedrows.earliest_time(self.store.db)
        now = self._now()
        start = parse_iso(earliest) if earliest else now
        start = max(start, now - timedelta(days=history_days))
        return CursorState(
            hour_next=iso_utc(period_start(hj212.CN_HOURLY, start)),
            day_next=iso_utc(period_start(hj212.CN_DAILY, start)),
        )

    # --- time and settings ----------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def interval(self) -> float:
        return self.state.rtd_interval_s or self.target.realtime_interval_s

    def _set_interval(self, seconds: float) -> None:
        self.state.rtd_interval_s = seconds
        cursors.save(self.store, self.target.name, self.state)

    # --- the connection -------------------------------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                reader, writer = await asyncio.open_connection(
                    self.target.host, self.target.port, limit=MAX_LINE
                )
            except OSError as exc:
                delay = exponential(attempt, 0.5, self.target.reconnect_max_s)
                attempt += 1
                log.info("target %s: connect failed (%s); again in %.1f s", self.target.name, exc, delay)
                await asyncio.sleep(delay)
                continue
            link = Link(reader, writer, self._on_request, self._on_reply)
            self._link = link
            self.connected = True
            log.info("target %s: connected to %s:%s", self.target.name, self.target.host, self.target.port)
            receiver = asyncio.create_task(link.receive(), name=f"hj212-{self.target.name}-receive")
            sender = asyncio.create_task(self._send_loop(link), name=f"hj212-{self.target.name}-send")
            try:
                done, _ = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
                attempt = 0 if sender not in done or not sender.exception() else attempt + 1
            finally:
                self.connected = False
                self._link = None
                for task in (receiver, sender):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                await link.close()
            await asyncio.sleep(exponential(attempt, 0.5, self.target.reconnect_max_s))

    async def _on_request(self, request: Frame) -> None:
        link = self._link
        batch: list[Frame] = []
        with contextlib.suppress(OSError):
            for frame in self.answerer.answer(request):
                batch.append(frame)
                if len(batch) >= ANSWER_BATCH and link is not None:
                    await link.write(batch)  # a long pull goes out as it is read, the loop free between
                    batch = []
            if batch and link is not None:
                await link.write(batch)

    def _on_reply(self) -> None:
        self.state.last_reply = iso_utc(self._now())

    # --- sending --------------------------------------------------------------------------------------------

    async def _send_loop(self, link: Link) -> None:
        unit = self.next_unit()
        while True:
            if unit is None:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=min(1.0, self.interval()))
                unit = self.next_unit()
                continue
            if not await self._deliver(link, unit):
                return  # no answer after the retries: reconnect, then the same unit again
            unit = self._consumed(unit)

    async def _deliver(self, link: Link, unit: Unit) -> bool:
        target = self.target
        if self.state.inflight != unit.inflight:
            self.state.inflight = unit.inflight
            cursors.save(self.store, target.name, self.state)  # the QN is kept before a byte goes
        by_message: dict[str, list[tuple[Frame, bytes]]] = {}
        for frame in unit.frames:
            for packet in packets(frame):
                by_message.setdefault(packet[0].qn or "", []).append(packet)
        for qn, message in by_message.items():
            for attempt in range(1 + target.retries):
                if attempt:
                    self.state.retries += 1
                outcome = await link.send(message, target.reply_timeout_s)
                if outcome in ("acked", "sent"):
                    break
                if outcome == "refused":
                    self.state.refusals += 1
                    await asyncio.sleep(target.reply_timeout_s)
            else:
                log.warning(
                    "target %s: no 9014 for QN %s after %d sends", target.name, qn, 1 + target.retries
                )
                cursors.save(self.store, target.name, self.state)
                return False
        return True

    def _consumed(self, unit: Unit) -> Unit | None:
        """Move the cursor past ``unit`` and choose the next one: both in one commit (the next unit's QN is
        kept before its first byte goes, as ever). Returns the next unit."""
        state, inflight = self.state, unit.inflight
        if inflight.kind == "live":
            state.consumed_live(int(inflight.key))
        elif inflight.kind == "backlog":
            state.consumed_backlog(int(inflight.key))
        elif inflight.kind == hj212.CN_HOURLY:
            state.hour_next = iso_utc(period_end(hj212.CN_HOURLY, parse_iso(inflight.key)))
        elif inflight.kind == hj212.CN_DAILY:
            state.day_next = iso_utc(period_end(hj212.CN_DAILY, parse_iso(inflight.key)))
        state.inflight = None
        state.sent_frames += len(unit.frames)
        following = self.next_unit()
        state.inflight = None if following is None else following.inflight
        cursors.save(self.store, self.target.name, state)
        return following

    def _qn_ms(self) -> int:
        # QN times strictly increase across units, a millisecond per frame at least.
        now_ms = int(self.clock() * 1000)
        last = int(self.state.extra.get("qn_ms", 0))
        qn_ms = max(now_ms, last + 1)
        self.state.extra["qn_ms"] = qn_ms + 64  # a row's frames (distinct times) stay below this
        return qn_ms

    # --- choosing the next unit ------------------------------------------------------------------------------

    def next_unit(self) -> Unit | None:
        state = self.state
        if state.inflight is not None:
            unit = self._rebuild(state.inflight)
            if unit is not None:
                return unit
            state.inflight = None  # its row or period is gone (pruned): nothing to send again
        target = self.target
        if target.realtime:
            unit = self._live_unit()
            if unit is not None:
                return unit
        else:
            # No real-time data for this target: its row cursor follows the feed's head, so that pruning is
            # never held up by it (periods are read by time, from rows kept for ``history_days``).
            with self.store.lock:
                head = feedrows.head(self.store.db)
            state.done_below = state.live_from = state.live_next = head
        unit = self._period_unit()
        if unit is not None:
            return unit
        if target.realtime and state.split and self._take_token():
            return self._row_unit("backlog", state.done_below, state.live_from)
        return None

    def _rebuild(self, inflight: Inflight) -> Unit | None:
        if inflight.kind in ("live", "backlog"):
            row_id = int(inflight.key)
            with self.store.lock:
                found = feedrows.rows(self.store.db, row_id, row_id + 1, 1)
            if not found:
                return None
            return self._unit_of_row(inflight.kind, found[0], inflight.qn_ms)
        start = parse_iso(inflight.key)
        return self._period_of(inflight.kind, start, inflight.qn_ms)

    def _live_unit(self) -> Unit | None:
        """The next fresh row; once the lane is empty it is looked at again after the real-time interval
        (or at once when the target has fallen behind)."""
        state = self.state
        now = time.monotonic()
        if self._live_idle_at is not None and now - self._live_idle_at < self.interval():
            return None
        with self.store.lock:
            db = self.store.db
            head = feedrows.head(db)
            if state.live_next < head and not state.split:
                cutoff = int(self.clock() * 1000) - int(self.live_window_s * 1000)
                first = feedrows.rows(db, state.live_next, head, 1)
                if first and first[0].acquired_at < cutoff:
                    # Behind: fresh rows go first, the rest becomes the backlog.
                    fresh = feedrows.first_at_or_after(db, state.live_next, cutoff)
                    state.done_below = state.live_next
                    state.live_from = state.live_next = fresh
                    log.info(
                        "target %s: behind; backlog rows %d..%d go oldest first beside fresh data",
                        self.target.name,
                        state.done_below,
                        fresh - 1,
                    )
        unit = self._row_unit("live", state.live_next, head) if state.live_next < head else None
        self._live_idle_at = now if unit is None else None
        return unit

    def _row_unit(self, kind: str, start: int, stop: int) -> Unit | None:
        with self.store.lock:
            found = feedrows.rows(self.store.db, start, stop, 1)
        if not found:  # the rows were pruned (quota): counted as lost there; step over them
            if kind == "backlog":
                self.state.consumed_backlog(stop - 1)
            else:
                self.state.consumed_live(stop - 1)
            return None
        return self._unit_of_row(kind, found[0], self._qn_ms())

    def _unit_of_row(self, kind: str, row: feedrows.FeedRow, qn_ms: int) -> Unit:
        base = datetime.fromtimestamp(qn_ms / 1000, UTC)
        frames = realtime_frames(
            row.readings(), self.target, self.codes, base, reply=self.target.reply_required
        )
        return Unit(Inflight(kind, str(row.id), qn_ms), frames, row.n)

    def _period_unit(self) -> Unit | None:
        now = self._now()
        grace = timedelta(seconds=self.target.period_grace_s)
        for cn, enabled, attr in (
            (hj212.CN_HOURLY, self.target.hourly, "hour_next"),
            (hj212.CN_DAILY, self.target.daily, "day_next"),
        ):
            text = getattr(self.state, attr)
            if not enabled or text is None:
                continue
            while True:
                start = parse_iso(text)
                if period_end(cn, start) + grace > now:
                    break
                unit = self._period_of(cn, start, None)
                if unit is not None:
                    return unit
                text = iso_utc(period_end(cn, start))  # no data in the period: nothing to send
                setattr(self.state, attr, text)
        return None

    def _period_of(self, cn: str, start: datetime, qn_ms: int | None) -> Unit | None:
        stop = period_end(cn, start)
        with self.store.lock:
            readings = feedrows.readings_between(self.store.db, iso_utc(start), iso_utc(stop))
        if not readings:
            return None
        rows = aggregate((r.param, r.value, r.flag) for r in readings)
        qn_ms = self._qn_ms() if qn_ms is None else qn_ms
        qn = hj212.format_qn(datetime.fromtimestamp(qn_ms / 1000, UTC))
        frame = period_frame(cn, start, rows, self.target, self.codes, qn, reply=self.target.reply_required)
        return Unit(Inflight(cn, iso_utc(start), qn_ms), [frame])

    def _take_token(self) -> bool:
        now = time.monotonic()
        rate = self.target.backlog_rate
        self._tokens = min(max(1.0, rate), self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    # --- visible state -------------------------------------------------------------------------------------

    def view(self) -> TargetView:
        with self.store.lock:
            return view_of(self.target, self.state, self.store.db, self._now(), connected=self.connected)


def view_of(
    target: Hj212Target, state: CursorState, db: sqlite3.Connection, now: datetime, *, connected: bool | None
) -> TargetView:
    """What ``state`` means for ``target``: undelivered readings (backlog and fresh), the oldest of them."""
    head = feedrows.head(db)
    back_n, back_at = feedrows.count_between(db, state.done_below, state.live_from)
    live_n, live_at = feedrows.count_between(db, state.live_next, head)
    oldest = min((t for t in (back_at, live_at) if t is not None), default=None)
    pending = 0
    if target.hourly and state.hour_next:
        pending = max(0, int((now - parse_iso(state.hour_next)).total_seconds() // 3600))
    return TargetView(
        name=target.name,
        host=target.host,
        port=target.port,
        connected=bool(connected),
        last_reply=state.last_reply,
        backlog=back_n + live_n,
        oldest_unsent=None if oldest is None else iso_utc(datetime.fromtimestamp(oldest / 1000, UTC)),
        periods_pending=pending,
        retries=state.retries,
        refusals=state.refusals,
        lost=state.lost,
        sent_frames=state.sent_frames,
    )
