"""Gap detection → re-send requests (issue 4). Pure: observations and the clock in, requests out.

Two kinds of hole are asked for:

* ``seq`` — sequence numbers missing between received ranges (a lost message). Asked as
  ``{"seq_from": a, "seq_to": b}`` (inclusive). The tail after the newest received seq is never asked: those
  messages are in flight or in the station's backlog, and the lanes deliver them on their own.
* ``time`` — expected samples missing in a window where the station was producing (online, or readings of
  other parameters prove it was acquiring) and has since delivered everything older (its backlog drained
  past the window). Asked as ``{"from": ISO, "to": ISO}`` (``from <= t < to``).

A hole must persist for ``grace_s`` before it is asked (QoS 1 redelivery and the backfill lane fill most on
their own). A range is never asked again while a request covering it waits for its reply; an answered
request (ok or refused) closes its range for good, since a re-send arrives under new sequence numbers and
leaves the seq hole as it was. A seq range answered ok with every message found at the station
(``unknown_seqs`` 0 in the reply's result) is *recovered*: its readings came back under new numbers, so
``recovered`` lists it and ``split_recovered`` tells the API which holes are still missing. A request without a reply is asked again after ``reply_timeout_s``, at most
``max_attempts`` times. At most ``max_outstanding`` requests per station wait at once. A seq hole wider than
``max_seq_jump`` (a station whose counter jumped, a replayed batch from another life) is not asked: it is
counted once as implausible and remembered.

The interval arithmetic (and where expected samples are missing) is in collector/gap_windows.py; the service's
side, reading the store and sending the requests, in collector/gap_check.py.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from collector.gap_windows import Span, merge_closed, split_span, subtract
from collector.store.base import SeqSummary
from collector.timestamps import from_us
from protocols.seqspace import AGENT_SEQ_LIMIT

log = logging.getLogger("qingliu.collector.gaps")

EARLY_MAX = 256
# Bounds of what is remembered per station (issue 19: a collector runs for months): closed requests kept (for
# /api/stations/{id}/gaps and so that a hole is not asked twice), and implausible holes already reported.
CLOSED_MAX = 1000
IMPLAUSIBLE_MAX = 256
Kind = Literal["seq", "time"]
# What became of a closed request: re-sent in full, answered ok but some seqs unknown at the station,
# refused by the agent, or never answered after max_attempts.
Outcome = Literal["recovered", "partial", "refused", "given_up"]
OUTCOMES: tuple[Outcome, ...] = ("recovered", "partial", "refused", "given_up")


@dataclass(frozen=True, slots=True)
class GapSettings:
    grace_s: float = 120.0
    reply_timeout_s: float = 300.0
    max_outstanding: int = 2
    max_attempts: int = 3
    max_seq_span: int = 1000  # seqs per request: a long hole is asked in pieces
    max_seq_jump: int = 1_000_000  # a wider hole is implausible input, never asked
    max_window_s: float = 6 * 3600.0  # time per request


@dataclass(frozen=True, slots=True)
class Ask:
    """One request to send: a Command of kind resend with ``args``."""

    station: str
    kind: Kind
    span: Span

    @property
    def args(self) -> dict[str, Any]:
        if self.kind == "seq":
            return {"seq_from": self.span[0], "seq_to": self.span[1]}
        return {"from": iso(from_us(self.span[0])), "to": iso(from_us(self.span[1]))}


@dataclass(slots=True)
class _Request:
    ask: Ask
    attempts: int = 0
    command_id: str | None = None
    sent_at: datetime | None = None
    closed: bool = False  # answered, or given up after max_attempts
    outcome: Outcome | None = None  # set when closed


@dataclass(slots=True)
class _StationMemo:
    first_seen: dict[tuple[Kind, Span], datetime] = field(default_factory=dict)
    requests: list[_Request] = field(default_factory=list)
    implausible: set[Span] = field(default_factory=set)


class GapPlanner:
    """Remembers the holes it has seen and the requests it made; decides what to ask next. Not thread-safe:
    the caller serialises (the collector's ticker and writer share it under a lock)."""

    def __init__(self, settings: GapSettings | None = None) -> None:
        self.settings = settings or GapSettings()
        self.counters: Counter[str] = Counter()
        self._stations: dict[str, _StationMemo] = {}
        self._by_command: dict[str, _Request] = {}
        # Replies that came before ``sent`` registered their command (a fast agent): command id → outcome.
        self._early: dict[str, Outcome] = {}

    def _memo(self, station: str) -> _StationMemo:
        return self._stations.setdefault(station, _StationMemo())

    # -- observations ----------------------------------------------------------------------------------------

    def seq_holes(self, station: str, missing: Iterable[Span]) -> list[Span]:
        """The plausible holes of ``missing`` (closed ranges between received ones); implausible ones are
        counted once each and dropped."""
        memo = self._memo(station)
        out = []
        for lo, hi in missing:
            if hi < lo or lo < 0:
                continue
            if hi - lo + 1 > self.settings.max_seq_jump:
                if (lo, hi) not in memo.implausible:
                    memo.implausible.add((lo, hi))
                    if len(memo.implausible) > IMPLAUSIBLE_MAX:  # a bound: the smallest (oldest) go first
                        memo.implausible.discard(min(memo.implausible))
                    self.counters["implausible"] += 1
                    log.warning(
                        "station %s: seq hole %d-%d (%d messages) is too wide to be a loss "
                        "(a counter jump or a replayed batch): not asked for",
                        station,
                        lo,
                        hi,
                        hi - lo + 1,
                    )
                continue
            out.append((lo, hi))
        return out

    def plan(self, station: str, kind: Kind, holes: Iterable[Span], now: datetime) -> list[Ask]:
        """Requests to send now for the current ``holes`` of one kind (seq: closed ranges; time: [a, b) in
        microseconds). Holes younger than the grace period, or covered by an open or closed request, wait."""
        memo = self._memo(station)
        self._expire(memo, now)
        grace = timedelta(seconds=self.settings.grace_s)
        closed_end = 1 if kind == "seq" else 0  # seq ranges are closed: [lo, hi] covers up to hi + 1
        current = set()
        for hole in holes:
            for piece in subtract(
                hole, [r.ask.span for r in memo.requests if r.ask.kind == kind], closed_end
            ):
                key = (kind, piece)
                current.add(key)
                if key not in memo.first_seen:
                    # A hole that grew or shrank keeps the age of the hole it was.
                    before = [
                        seen
                        for (k, span), seen in memo.first_seen.items()
                        if k == kind and span[0] < piece[1] + closed_end and piece[0] < span[1] + closed_end
                    ]
                    memo.first_seen[key] = min(before, default=now)
        # Forget holes that are gone (filled) so a later hole with the same bounds waits its own grace.
        for key in [k for k in memo.first_seen if k[0] == kind and k not in current]:
            del memo.first_seen[key]
        asks: list[Ask] = []
        outstanding = sum(1 for r in memo.requests if not r.closed and r.sent_at is not None)
        # Retries first (their ranges were asked already), then new holes, oldest first.
        for request in memo.requests:
            if request.closed or request.sent_at is not None or request.ask.kind != kind:
                continue
            if outstanding >= self.settings.max_outstanding:
                return asks
            asks.append(request.ask)
            outstanding += 1
        for key in sorted(current, key=lambda k: (memo.first_seen[k], k[1])):
            if now - memo.first_seen[key] < grace:
                continue
            for span in split_span(key[1], self._max_span(kind), closed_end):
                if outstanding >= self.settings.max_outstanding:
                    return asks
                request = _Request(Ask(station, kind, span))
                memo.requests.append(request)
                asks.append(request.ask)
                outstanding += 1
            del memo.first_seen[key]
        return asks

    @staticmethod
    def _bound(memo: _StationMemo) -> None:
        """At most CLOSED_MAX closed requests per station: the oldest go first (an old hole asked again is
        answered as unknown by the station, and closed again)."""
        closed = [r for r in memo.requests if r.closed]
        if len(closed) > CLOSED_MAX:
            drop = {id(r) for r in closed[: len(closed) - CLOSED_MAX]}
            memo.requests = [r for r in memo.requests if id(r) not in drop]

    def _max_span(self, kind: Kind) -> int:
        if kind == "seq":
            return self.settings.max_seq_span
        return int(self.settings.max_window_s * 1_000_000)

    def _expire(self, memo: _StationMemo, now: datetime) -> None:
        timeout = timedelta(seconds=self.settings.reply_timeout_s)
        for request in memo.requests:
            if request.closed or request.sent_at is None or now - request.sent_at < timeout:
                continue
            self.counters["timeouts"] += 1
            if request.command_id is not None:
                self._by_command.pop(request.command_id, None)
            request.command_id, request.sent_at = None, None
            if request.attempts >= self.settings.max_attempts:
                request.closed, request.outcome = True, "given_up"
                self.counters["given_up"] += 1
        self._bound(memo)

    # -- what happened to the requests -----------------------------------------------------------------------

    def _request(self, ask: Ask) -> _Request:
        for request in self._memo(ask.station).requests:
            if request.ask == ask and not request.closed:
                return request
        raise KeyError(f"no open request for {ask}")

    def sent(self, ask: Ask, command_id: str, now: datetime) -> None:
        request = self._request(ask)
        request.attempts += 1
        request.command_id, request.sent_at = command_id, now
        self._by_command[command_id] = request
        self.counters[f"sent_{ask.kind}"] += 1
        if command_id in self._early:
            self._close(request, self._early.pop(command_id))
            self._by_command.pop(command_id, None)

    def send_failed(self, ask: Ask) -> None:
        """The command could not be published (broker down): the request waits for the next check."""
        self._request(ask)
        self.counters["send_errors"] += 1

    def on_reply(self, command_id: str, ok: bool, result: Mapping[str, Any] | None = None) -> bool:
        """A reply to one of our requests closes it (True); other commands' replies are not ours (False).
        ``result``: the reply's result; a seq re-send that found every message (``unknown_seqs`` 0 or absent)
        recovers its range."""
        outcome = reply_outcome(ok, result)
        request = self._by_command.pop(command_id, None)
        if request is None:
            self._early[command_id] = outcome
            while len(self._early) > EARLY_MAX:  # replies to other commands: forget the oldest
                del self._early[next(iter(self._early))]
            return False
        self._close(request, outcome)
        return True

    def _close(self, request: _Request, outcome: Outcome) -> None:
        request.closed, request.outcome = True, outcome
        request.sent_at = None
        self._bound(self._memo(request.ask.station))
        self.counters["replies_refused" if outcome == "refused" else "replies_ok"] += 1

    def recovered(self, station: str) -> list[Span]:
        """The seq ranges (closed) whose re-send the station answered in full: merged, sorted."""
        spans = [
            r.ask.span
            for r in self._memo(station).requests
            if r.ask.kind == "seq" and r.outcome == "recovered"
        ]
        return merge_closed(spans)

    def outstanding(self, station: str) -> int:
        return sum(1 for r in self._memo(station).requests if not r.closed and r.sent_at is not None)

    def prune(self, station: str, kind: Kind, before: int) -> None:
        """Forget closed requests whose span ends before ``before`` (time windows older than the look-back)."""
        memo = self._memo(station)
        memo.requests = [
            r for r in memo.requests if not (r.closed and r.ask.kind == kind and r.ask.span[1] < before)
        ]

    def snapshot(self, station: str) -> list[dict[str, Any]]:
        """The requests of one station, for the API / debugging."""
        return [
            {
                "kind": r.ask.kind,
                "args": r.ask.args,
                "attempts": r.attempts,
                "command_id": r.command_id,
                "state": "closed" if r.closed else ("waiting" if r.sent_at is not None else "queued"),
                "outcome": r.outcome,
            }
            for r in self._memo(station).requests
        ]

    def dump(self) -> str:
        """The requests and implausible holes as JSON, to survive a restart (an answered hole stays a hole in
        the seq numbers: without this memory a restarted collector would ask for every one again)."""
        doc: dict[str, Any] = {"v": 1, "stations": {}}
        for station, memo in self._stations.items():
            doc["stations"][station] = {
                "requests": [
                    [
                        r.ask.kind,
                        list(r.ask.span),
                        r.attempts,
                        r.command_id,
                        iso(r.sent_at) if r.sent_at else None,
                        r.closed,
                        r.outcome,
                    ]
                    for r in memo.requests
                ],
                "implausible": [list(span) for span in sorted(memo.implausible)],
            }
        return json.dumps(doc)

    @classmethod
    def load(cls, text: str, settings: GapSettings | None = None) -> GapPlanner:
        """A planner with the memory ``dump`` wrote; ValueError when ``text`` is not one."""
        planner = cls(settings)
        try:
            doc = json.loads(text)
            if doc.get("v") != 1:
                raise ValueError(f"unknown gap memory version {doc.get('v')!r}")
            for station, saved in doc["stations"].items():
                memo = planner._memo(station)
                for kind, (lo, hi), attempts, command_id, sent_at, closed, *rest in saved["requests"]:
                    if kind not in ("seq", "time"):
                        raise ValueError(f"unknown request kind {kind!r}")
                    # A memory written before outcomes were kept has six fields: its closed requests stay
                    # closed (never asked again) without claiming a recovery.
                    outcome = rest[0] if rest else None
                    if outcome is not None and outcome not in OUTCOMES:
                        raise ValueError(f"unknown request outcome {outcome!r}")
                    request = _Request(
                        Ask(station, kind, (int(lo), int(hi))),
                        int(attempts),
                        command_id,
                        datetime.fromisoformat(sent_at.replace("Z", "+00:00")) if sent_at else None,
                        bool(closed),
                        outcome,
                    )
                    memo.requests.append(request)
                    if command_id and not closed and request.sent_at is not None:
                        planner._by_command[command_id] = request
                memo.implausible = {(int(lo), int(hi)) for lo, hi in saved["implausible"]}
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a gap memory: {exc}") from None
        return planner

    def outstanding_total(self) -> int:
        """Requests waiting for their reply, all stations (a gauge on /metrics)."""
        return sum(self.outstanding(s) for s in self._stations)


def reply_outcome(ok: bool, result: Mapping[str, Any] | None) -> Outcome:
    """How a reply closes a request: refused, or ok in full, or ok with seqs the station does not know."""
    if not ok:
        return "refused"
    unknown = (result or {}).get("unknown_seqs")
    if isinstance(unknown, int) and not isinstance(unknown, bool) and unknown > 0:
        return "partial"
    return "recovered"


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def agent_seqs(summary: SeqSummary) -> SeqSummary:
    """``summary`` within a live agent's seq range (protocols/seqspace.py): imported history and HJ 212
    loggers' derived seqs, the holes between their blocks and the hole up to them are no lost messages."""
    return SeqSummary(
        ranges=[r for r in summary.ranges if r[1] < AGENT_SEQ_LIMIT],
        missing=[m for m in summary.missing if m[1] < AGENT_SEQ_LIMIT - 1],
    )
