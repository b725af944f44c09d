"""All HJ 212 targets of the station: their tasks, the feed's housekeeping, what they show.

The feed keeps a row while a target still needs it or while it is younger than ``history_days`` (history
pulls are answered from it). Over its byte quota (a quarter of the outbox's) the oldest rows go even so, and
every target that had not had them counts their readings as lost (``CursorState.lost``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from agent.config import AgentConfig
from agent.hj212up import cursors
from agent.hj212up.target import Hj212Uplink, TargetView
from agent.outbox import Outbox
from agent.outbox import feed as feedrows

log = logging.getLogger(__name__)

PRUNE_ROWS = 500  # feed rows per pruning transaction: short hold of the outbox lock
FEED_QUOTA_SHARE = 4  # the feed may use 1/4 of the outbox quota


class UplinkService:
    def __init__(
        self,
        config: AgentConfig,
        outbox: Outbox,
        *,
        on_clock_offset: Callable[[float], None] = lambda _o: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.config = config
        self.clock = clock
        outbox.enable_feed()
        self.targets = [
            Hj212Uplink(
                target,
                outbox,
                live_window_s=config.outbox.live_window_s,
                history_days=config.outbox.history_days,
                clock_jump_s=config.flagging.clock_jump_s,
                on_clock_offset=on_clock_offset,
                clock=clock,
            )
            for target in config.uplink.hj212
        ]

    def wake(self) -> None:
        for target in self.targets:
            target.wake.set()

    def tasks(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(t.run(), name=f"hj212-{t.target.name}") for t in self.targets]

    def views(self) -> list[TargetView]:
        return [t.view() for t in self.targets]

    def status_field(self) -> dict[str, dict[str, Any]]:
        out = {}
        for view in self.views():
            data = asdict(view)
            del data["name"]
            data["alert"] = view.backlog > next(
                t.target.backlog_alert for t in self.targets if t.target.name == view.name
            )
            out[view.name] = data
        return out

    def housekeeping(self) -> int:
        """Prune the feed; returns rows deleted."""
        store = self.outbox.store
        now_ms = int(self.clock() * 1000)
        cutoff = now_ms - int(self.config.outbox.history_days * 86_400_000)
        below = min((min(t.state.done_below, t.state.live_next) for t in self.targets), default=0)
        deleted = 0
        while True:
            with store.tx() as db:
                n = feedrows.prune(db, below, cutoff, PRUNE_ROWS)
            deleted += n
            if n < PRUNE_ROWS:
                break
        deleted += self._over_quota()
        return deleted

    def _over_quota(self) -> int:
        store = self.outbox.store
        quota = self.config.outbox.max_bytes // FEED_QUOTA_SHARE
        with store.lock:
            used = feedrows.used_bytes(store.db)
        if used <= quota:
            return 0
        with store.lock:
            rows = feedrows.oldest_rows(store.db, 100_000)
        taken, freed = [], 0
        for row_id, n, size in rows:
            if used - freed <= quota * 0.9:
                break
            taken.append((row_id, n))
            freed += size
        if not taken:
            return 0
        last = taken[-1][0]
        for target in self.targets:
            state = target.state
            lost = sum(
                n
                for row_id, n in taken
                if row_id >= state.done_below and not (state.live_from <= row_id < state.live_next)
            )
            if lost:
                state.lost += lost
                log.error(
                    "target %s: %d readings it had not had were dropped (feed quota)",
                    target.target.name,
                    lost,
                )
            if state.done_below <= last:  # step past the rows that are gone
                state.done_below = last + 1
                if state.done_below >= state.live_from:
                    state.live_next = max(state.live_next, last + 1)
                    state.done_below = state.live_from = state.live_next
            cursors.save(store, target.target.name, state)
        with store.tx() as db:
            feedrows.delete_through(db, last)
        return len(taken)
