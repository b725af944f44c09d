"""The collector's side of the re-send requests: the pure planner (collector/gaps.py) behind one lock, fed
from the store's seq ranges and the readings expected by each station's schedule, its requests sent as
commands of kind resend, and the replies that close them.

The planner is fed by the ticker (``check``) and the applier thread (``on_reply``) at once: every call into it
holds the lock; the store is read and commands are sent outside it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from collector.config import CollectorConfig, StationConfig
from collector.controller_history import Excluded
from collector.gap_windows import (
    Span,
    missing_windows,
    online_windows,
    producing_windows,
    sample_window,
)
from collector.gaps import GapPlanner, GapSettings, agent_seqs
from collector.health import schedules
from collector.memories import GAPS_STATE_KEY, restore
from collector.stations import StationRecord
from collector.store.base import Store
from collector.timestamps import to_us
from protocols.errors import CommandError
from protocols.messages import Command, CommandKind, CommandReply

log = logging.getLogger("qingliu.collector")

Send = Callable[[str, CommandKind, dict[str, Any]], Command]


def gap_settings(config: CollectorConfig) -> GapSettings:
    gaps = config.gaps
    return GapSettings(
        grace_s=gaps.grace_s,
        reply_timeout_s=gaps.reply_timeout_s,
        max_outstanding=gaps.max_outstanding,
        max_attempts=gaps.max_attempts,
        max_seq_span=gaps.max_seq_span,
        max_seq_jump=gaps.max_seq_jump,
        max_window_s=gaps.max_window_s,
    )


class GapChecker:
    def __init__(
        self,
        config: CollectorConfig,
        store: Store,
        *,
        record: Callable[[str], StationRecord | None],
        site: Callable[[str], StationConfig | None],
        excluded: Callable[[str, datetime, datetime], list[Excluded]],
        send: Send,
    ) -> None:
        self.config = config
        self.store = store
        self.record = record  # the station tracker's record of a station
        self.site = site
        self.excluded = excluded  # ice / no-water periods: their samples are not expected
        self.send = send
        self.lock = threading.Lock()
        settings = gap_settings(config)
        self.planner = restore(
            store,
            GAPS_STATE_KEY,
            lambda text: GapPlanner.load(text, settings),
            lambda: GapPlanner(settings),
            "re-send request memory",
        )

    def save(self) -> None:
        with self.lock:
            text = self.planner.dump()
        self.store.save_blob(GAPS_STATE_KEY, text)

    def check(self, stations: list[str], now: datetime, *, samples: bool = True) -> int:
        """Ask ``stations`` to re-send lost messages and (with ``samples``) missing expected samples; how many
        commands went out."""
        cfg = self.config.gaps
        if not cfg.enabled:
            return 0
        sent = 0
        for station in stations:
            summary = agent_seqs(self.store.seq_summary(station))
            with self.lock:
                holes = self.planner.seq_holes(station, summary.missing)
                asks = self.planner.plan(station, "seq", holes, now)
            if samples and cfg.samples:
                windows = self.sample_holes(station, now)
                with self.lock:
                    asks += self.planner.plan(station, "time", windows, now)
                    lookback = now - timedelta(seconds=cfg.lookback_s)
                    self.planner.prune(station, "time", to_us(lookback))
            for ask in asks:
                try:
                    command = self.send(station, CommandKind.RESEND, ask.args)
                except CommandError as exc:
                    log.warning("station %s: re-send request %s not sent: %s", station, ask.args, exc)
                    with self.lock:
                        self.planner.send_failed(ask)
                    continue
                log.info("station %s: asked to re-send %s (command %s)", station, ask.args, command.id)
                with self.lock:
                    self.planner.sent(ask, command.id, now)
                sent += 1
        return sent

    def sample_holes(self, station: str, now: datetime) -> list[Span]:
        """Windows (µs) of expected samples missing where the station was producing and has since delivered
        everything older (its backlog drained past them)."""
        record = self.record(station)
        site = self.site(station)
        if record is None or record.status is None or site is None:
            return []
        cfg = self.config.gaps
        window = sample_window(record.status, now, cfg.grace_s, cfg.lookback_s)
        plan = schedules(site, self.config.schedule)
        if not plan or window is None:
            return []
        start, end = window
        times = {
            code: [
                r.t for r in self.store.readings(station, param=code, start=start, end=end, limit=1_000_000)
            ]
            for code in plan
        }
        pad = 2 * min(s.nominal_interval_s for s in plan.values())
        initial, changes = self.store.transitions_between(station, start, end)
        online = online_windows(initial, changes, start, end)
        producing = producing_windows(online, [t for ts in times.values() for t in ts], pad)
        excluded = [(e.start, e.end) for e in self.excluded(station, start, end)]
        return missing_windows(plan, start, end, times, producing, excluded)

    def on_reply(self, reply: CommandReply) -> None:
        with self.lock:
            self.planner.on_reply(reply.id, reply.ok, reply.result)

    def requests(self, station: str) -> list[dict[str, Any]]:
        """The re-send requests made for ``station`` (for /api/stations/{id}/gaps)."""
        with self.lock:
            return self.planner.snapshot(station)

    def recovered(self, station: str) -> list[tuple[int, int]]:
        """Seq ranges of ``station`` whose re-send was answered in full."""
        with self.lock:
            return self.planner.recovered(station)

    def metric_state(self) -> tuple[Counter[str], int]:
        """The planner's counters and its outstanding requests, read together (for /metrics)."""
        with self.lock:
            return Counter(self.planner.counters), self.planner.outstanding_total()
