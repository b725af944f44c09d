"""Each HJ 212 target's durable place in the uplink feed, in the outbox file (table ``uplink_cursors``).

Real-time data: every feed row below ``done_below`` and in ``[live_from, live_next)`` has reached the target.
Normally the three are equal and move together; when the target falls behind (its oldest unsent row is older
than the live window) the live lane jumps ahead to fresh rows (``split``) and the backlog between
``done_below`` and ``live_from`` is sent oldest first beside it, rate-limited; when it is through, the two
lanes are one again. Periods: ``hour_next``/``day_next`` is the start (UTC ISO) of the next period to send.

``inflight`` is the unit being sent with its QN time, written before the first byte goes out: after kill -9 the
same frames go again under the same QN, so that a platform sees a resend, never a second message. A cursor
moves only after the target's 9014 for every packet of the unit (or at once when it asks for no replies).
Writes are ``durable=False`` commits (a killed process keeps them; a power cut may roll one back, and the
unit is then sent again: a resend, never a loss).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from agent.outbox.store import OutboxStore

CURSOR_SCHEMA = """
CREATE TABLE IF NOT EXISTS uplink_cursors (
    target TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
"""


@dataclass
class Inflight:
    kind: str  # "live", "backlog" (a feed row) or a period CN ("2061", "2031")
    key: str  # the feed row id, or the period start (UTC ISO)
    qn_ms: int  # the QN time of the unit's first frame (epoch ms)


@dataclass
class CursorState:
    done_below: int = 1
    live_from: int = 1
    live_next: int = 1
    hour_next: str | None = None
    day_next: str | None = None
    rtd_interval_s: float | None = None  # set by the platform (1062); None: the config's
    inflight: Inflight | None = None
    sent_frames: int = 0
    retries: int = 0
    refusals: int = 0
    lost: int = 0  # readings pruned (quota) before this target had them
    last_reply: str | None = None  # UTC ISO of the last 9014
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def split(self) -> bool:
        return self.live_from != self.done_below

    def consumed_live(self, row_id: int) -> None:
        self.live_next = row_id + 1
        if not self.split:
            self.done_below = self.live_from = self.live_next

    def consumed_backlog(self, row_id: int) -> None:
        self.done_below = row_id + 1
        if self.done_below >= self.live_from:
            self.done_below = self.live_from = self.live_next

    def to_json(self) -> str:
        # By hand, not dataclasses.asdict (deep copies): written after every delivered unit.
        data = dict(self.__dict__)
        if self.inflight is not None:
            data["inflight"] = self.inflight.__dict__
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CursorState:
        data = json.loads(text)
        inflight = data.pop("inflight", None)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        state = cls(**known)
        state.inflight = Inflight(**inflight) if inflight else None
        return state


def ensure_cursors(db: sqlite3.Connection) -> None:
    db.executescript(CURSOR_SCHEMA)


def load(store: OutboxStore, target: str) -> CursorState | None:
    with store.lock:
        row = store.db.execute("SELECT state FROM uplink_cursors WHERE target = ?", (target,)).fetchone()
    return None if row is None else CursorState.from_json(row[0])


def load_all(db: sqlite3.Connection) -> dict[str, CursorState]:
    try:
        rows = db.execute("SELECT target, state FROM uplink_cursors").fetchall()
    except sqlite3.OperationalError:
        return {}  # no targets ever
    return {name: CursorState.from_json(text) for name, text in rows}


def save(store: OutboxStore, target: str, state: CursorState) -> None:
    with store.tx(durable=False) as db:
        db.execute(
            "INSERT INTO uplink_cursors(target, state) VALUES (?, ?) "
            "ON CONFLICT(target) DO UPDATE SET state = excluded.state",
            (target, state.to_json()),
        )
