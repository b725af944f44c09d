"""Delivery of alert transitions (and notices: notice.py) to the configured targets, in background workers.

One worker thread per target with its own bounded queue: a slow, hanging or failing target delays only its
own deliveries, never ingest (``submit`` does not block) nor the other targets. Each attempt is bounded by the
target's ``timeout_s``; an attempt judged RETRY (no answer, 5xx, 429, robot rate limit) is tried again after
the ``Backoff`` delay, up to ``max_attempts``; FAIL (4xx, bad token, bad payload) is final. Waiting retries do
not hold back newer deliveries (the worker takes whichever is due first). How an attempt is made is up to the
target's kind (``collector.notify.registry``: webhook, wecom, dingtalk, mqtt, ...).

Outcomes counted per target: ``ok``, ``retry`` (an attempt failed, another will follow), ``failed`` (given up
or refused for good), ``dropped`` (the queue was full), ``error`` (the payload could not be built).
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from collector.alerts.model import Transition
from collector.notify import registry
from collector.notify.notice import Notice
from collector.notify.registry import Channel, Post, Publish
from collector.notify.retry import Backoff, Outcome
from collector.notify.target import TargetSpec
from protocols.messages import Severity

__all__ = ["Notifier", "Publish", "TargetSpec", "TargetWorker", "post_json", "specs_from_config"]

log = logging.getLogger("qingliu.collector.notify")

OUTCOMES = ("ok", "retry", "failed", "dropped", "error")
DEFAULT_BACKOFF = Backoff()


def post_json(url: str, document: dict[str, Any], timeout_s: float) -> tuple[int | None, Any]:
    """POST ``document`` as JSON; (HTTP status, parsed JSON body or None). Status None: no answer."""
    data = json.dumps(document, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status, raw = int(response.status), response.read(65536)
    except urllib.error.HTTPError as exc:
        status, raw = int(exc.code), exc.read(65536)
    except (OSError, ValueError) as exc:  # refused, reset, timed out, bad URL
        log.debug("POST %s: %s", url, exc)
        return None, None
    try:
        body = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    return status, body


Message = Transition | Notice  # an alert transition, or a notice (a report's summary: notice.py)


def _label(message: Message) -> str:
    return f"alert {message.alert.id}" if isinstance(message, Transition) else message.label


@dataclass(order=True)
class _Pending:
    due: float
    order: int
    message: Message = field(compare=False)
    attempt: int = field(default=1, compare=False)  # the attempt number about to be made


class TargetWorker:
    """One target's queue and thread."""

    def __init__(
        self,
        spec: TargetSpec,
        counts: Counter[tuple[str, str]],
        counts_lock: threading.Lock,
        *,
        publish: Publish | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        queue_max: int = 1000,
        tz: str = "Asia/Shanghai",
        post: Post = post_json,
    ) -> None:
        self.spec = spec
        self.kind = registry.get(spec.kind)  # ValueError for an unknown kind
        self.backoff = backoff
        self.queue_max = queue_max
        self.tz = tz
        self._post = post
        self._publish = publish
        self._counts = counts
        self._counts_lock = counts_lock
        self._heap: list[_Pending] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread: threading.Thread | None = None

    def _count(self, outcome: str) -> None:
        with self._counts_lock:
            self._counts[(self.spec.name, outcome)] += 1

    def submit(self, message: Message) -> bool:
        with self._cond:
            if len(self._heap) >= self.queue_max or self._stopping:
                self._count("dropped")
                return False
            heapq.heappush(self._heap, _Pending(time.monotonic(), next(self._order), message))
            self._cond.notify()
            return True

    @property
    def depth(self) -> int:
        with self._cond:
            return len(self._heap) + (1 if self._busy else 0)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"notify-{self.spec.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.depth == 0:
                return True
            time.sleep(0.02)
        return self.depth == 0

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                item = heapq.heappop(self._heap)
                self._busy = True
            try:
                self._attempt(item)
            finally:
                with self._cond:
                    self._busy = False

    def _attempt(self, item: _Pending) -> None:
        try:
            outcome = self.deliver(item.message)
        except Exception:  # a payload that cannot be built will not build next time either
            log.exception("notification to %s could not be built", self.spec.name)
            self._count("error")
            return
        if outcome is Outcome.OK:
            self._count("ok")
            return
        delay = self.backoff.delay(item.attempt, random.random()) if outcome is Outcome.RETRY else None
        if delay is None:
            self._count("failed")
            log.warning(
                "notification of %s to %s failed after %d attempt(s)",
                _label(item.message),
                self.spec.name,
                item.attempt,
            )
            return
        self._count("retry")
        with self._cond:
            heapq.heappush(
                self._heap,
                _Pending(time.monotonic() + delay, next(self._order), item.message, item.attempt + 1),
            )

    def deliver(self, message: Message) -> Outcome:
        """One attempt (blocking, bounded by the target's timeout), made by the target's kind."""
        channel = Channel(self._post, self._publish, self.tz)
        if isinstance(message, Notice):
            if self.kind.notice is None:  # not queued by Notifier.announce; a final refusal if it were
                return Outcome.FAIL
            return self.kind.notice(self.spec, message, channel)
        return self.kind.deliver(self.spec, message, channel)

    def takes_notices(self) -> bool:
        """Whether this target gets notices: its kind delivers them and it is not limited to some stations
        (a report is about the whole city)."""
        return self.kind.notice is not None and self.spec.stations is None


class Notifier:
    """Fans alert transitions out to every target that wants them."""

    def __init__(
        self,
        specs: Sequence[TargetSpec],
        *,
        publish: Publish | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        queue_max: int = 1000,
        tz: str = "Asia/Shanghai",
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"notification target names must be unique: {names}")
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.workers = [
            TargetWorker(
                s, self.counts, self._lock, publish=publish, backoff=backoff, queue_max=queue_max, tz=tz
            )
            for s in specs
        ]
        for spec in specs:  # every target shows in /metrics from the start
            for outcome in OUTCOMES:
                self.counts[(spec.name, outcome)] += 0

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self, timeout: float = 2.0) -> None:
        for worker in self.workers:
            worker.stop(timeout)

    def submit(self, transitions: Sequence[Transition]) -> None:
        """Queue each transition for the targets that want it; never blocks."""
        for transition in transitions:
            for worker in self.workers:
                if worker.spec.wants(transition):
                    worker.submit(transition)

    def announce(self, notice: Notice) -> int:
        """Queue ``notice`` for every target that takes notices; how many. Never blocks."""
        queued = 0
        for worker in self.workers:
            if worker.takes_notices() and worker.submit(notice):
                queued += 1
        return queued

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(w.wait_idle(max(0.0, deadline - time.monotonic())) for w in self.workers)

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self.counts)

    def failures(self) -> dict[str, int]:
        """Failed attempts per target (retried or final)."""
        snap = self.snapshot()
        out: dict[str, int] = {}
        for (name, outcome), n in snap.items():
            out[name] = out.get(name, 0) + (n if outcome in ("retry", "failed", "error") else 0)
        return out


def specs_from_config(targets: Sequence[Any]) -> list[TargetSpec]:
    """TargetSpecs from collector.config.NotifyTarget entries; an unnamed target is called kind-N."""
    out = []
    for index, t in enumerate(targets, start=1):
        out.append(
            TargetSpec(
                name=t.name or f"{t.kind}-{index}",
                kind=t.kind,
                url=t.url,
                secret=t.secret,
                min_severity=Severity(t.min_severity),
                stations=frozenset(t.stations) if t.stations is not None else None,
                timeout_s=t.timeout_s,
            )
        )
    return out
