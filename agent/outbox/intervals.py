"""Poll-interval overrides set by command, kept in the outbox so that they survive a restart."""

from __future__ import annotations

from agent.outbox.store import OutboxStore


class Intervals:
    def __init__(self, store: OutboxStore) -> None:
        self.store = store

    def set(self, device: str, seconds: float) -> None:
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO intervals(device, seconds, set_at) VALUES (?, ?, ?) ON CONFLICT(device) "
                "DO UPDATE SET seconds = excluded.seconds, set_at = excluded.set_at",
                (device, seconds, self.store.now_ms()),
            )

    def all(self) -> dict[str, float]:
        with self.store.lock:
            return {d: float(s) for d, s in self.store.db.execute("SELECT device, seconds FROM intervals")}
