"""``qingliu agent outbox``'s lines for the HJ 212 targets, read from the outbox file (no connection made)."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.config import Hj212Target
from agent.hj212up import cursors
from agent.hj212up.target import view_of
from agent.outbox import Outbox


def target_lines(outbox: Outbox, targets: list[Hj212Target]) -> list[str]:
    if not targets:
        return []
    now = datetime.now(UTC)
    with outbox.store.lock:
        db = outbox.store.db
        states = cursors.load_all(db)
        if not states:
            return [f"hj212 {t.name:<10} {t.host}:{t.port}  not started yet" for t in targets]
        lines = []
        for target in targets:
            state = states.get(target.name)
            if state is None:
                lines.append(f"hj212 {target.name:<10} {target.host}:{target.port}  not started yet")
                continue
            v = view_of(target, state, db, now, connected=None)
            lines.append(
                f"hj212 {v.name:<10} {v.host}:{v.port}  backlog {v.backlog} readings, oldest unsent "
                f"{v.oldest_unsent or '-'}, hours pending {v.periods_pending}, last 9014 {v.last_reply or '-'}, "
                f"frames {v.sent_frames}, retries {v.retries}, refusals {v.refusals}, lost {v.lost}"
            )
    return lines
