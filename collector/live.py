"""A small in-process publish/subscribe hub for live updates (the dashboard's server-sent events).

Ingest runs in a writer thread; the API runs in asyncio. ``publish`` may be called from any thread and never
blocks: each subscriber has a bounded queue, and a subscriber that falls behind loses its oldest updates
(it is a view; the store is the truth, and the page reloads the overview when it reconnects). At most
``max_subscribers`` listen at once (TooManyListeners beyond): each costs a queue of ``queue_size`` updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Update:
    kind: str  # "station", "alert", ...
    data: dict[str, Any]

    def sse(self) -> str:
        return f"event: {self.kind}\ndata: {json.dumps(self.data, ensure_ascii=False, default=str)}\n\n"


class TooManyListeners(Exception):
    """Every place on the live stream is taken."""


class LiveHub:
    def __init__(self, queue_size: int = 500, max_subscribers: int = 100) -> None:
        self._queue_size = queue_size
        self.max_subscribers = max_subscribers
        self._lock = threading.Lock()
        self._subscribers: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue[Update]]] = {}
        self._next_id = 0
        self.dropped = 0

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        update = Update(kind, data)
        with self._lock:
            targets = list(self._subscribers.values())
        for loop, queue in targets:
            with contextlib.suppress(RuntimeError):  # the subscriber's loop has closed
                loop.call_soon_threadsafe(self._offer, queue, update)

    def _offer(self, queue: asyncio.Queue[Update], update: Update) -> None:
        if queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
                self.dropped += 1
        queue.put_nowait(update)

    async def subscribe(self, ping_s: float = 15.0) -> AsyncIterator[Update]:
        """Updates for one listener, with a ``ping`` when nothing happened for ``ping_s`` seconds."""
        queue: asyncio.Queue[Update] = asyncio.Queue(self._queue_size)
        with self._lock:
            if len(self._subscribers) >= self.max_subscribers:
                raise TooManyListeners(f"{self.max_subscribers} listeners already")
            key = self._next_id
            self._next_id += 1
            self._subscribers[key] = (asyncio.get_running_loop(), queue)
        try:
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), timeout=ping_s)
                except TimeoutError:
                    yield Update("ping", {})
        finally:
            with self._lock:
                self._subscribers.pop(key, None)
