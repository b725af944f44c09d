"""Answered commands and their replies, so that a command delivered twice is answered once (idempotence).

A command id seen again gets the stored reply, not a second execution; replies are kept as long as sent
history (``history_days``), long enough for any redelivery by the broker.
"""

from __future__ import annotations

import sqlite3

from agent.outbox.store import OutboxStore


class CommandLog:
    def __init__(self, store: OutboxStore) -> None:
        self.store = store

    def reply(self, command_id: str) -> bytes | None:
        with self.store.lock:
            row = self.store.db.execute("SELECT reply FROM commands WHERE id = ?", (command_id,)).fetchone()
        return bytes(row[0]) if row else None

    def save(self, command_id: str, kind: str, reply: bytes) -> None:
        with self.store.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO commands(id, kind, answered_at, reply) VALUES (?, ?, ?, ?)",
                (command_id, kind, self.store.now_ms(), reply),
            )

    @staticmethod
    def forget_before(db: sqlite3.Connection, cutoff_ms: int) -> None:
        db.execute("DELETE FROM commands WHERE answered_at < ?", (cutoff_ms,))
