"""Converting an outbox of the first format (one row per reading in ``readings``) to chunks, when opened.

In one transaction: a crash leaves the old tables, and the next open converts again. Unsent,
bound-but-unacknowledged (same seq, same readings in the same order), sent history and queued resends are
all kept; a row that cannot be read is left out, logged and counted (``count:conversion_invalid``).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from agent.outbox.chunks import encode_chunks, insert_chunk, parse_iso
from agent.outbox.schema import columns
from agent.outbox.store import meta_add
from protocols.flags import Flag
from protocols.messages import Reading

log = logging.getLogger(__name__)


def migrate_v1(db: sqlite3.Connection, max_n: int, max_bytes: int, *, station: str, path: Path) -> None:
    """Convert the per-reading ``readings`` table to chunks of at most ``max_n`` readings and ``max_bytes``."""
    started = time.monotonic()
    db.execute("BEGIN IMMEDIATE")
    try:
        resend_of: dict[int, int | None] = {}
        if columns(db, "resends_v1"):
            resend_of = dict(db.execute("SELECT reading_id, msg_seq FROM resends_v1").fetchall())
        carried: dict[int, int] = {}  # message seq -> readings, for messages.n
        converted = invalid = 0
        run: list[Reading] = []
        run_key: tuple[Any, ...] | None = None
        run_acquired = 0

        def flush() -> None:
            nonlocal converted
            if not run or run_key is None:
                return
            msg_seq, sent, queued, resend_seq = run_key
            for chunk in encode_chunks(run, max_n, max_bytes):
                chunk_id = insert_chunk(db, chunk, msg_seq, sent, run_acquired)
                if queued:
                    db.execute(
                        "INSERT INTO resends(chunk_id, n, msg_seq) VALUES (?, ?, ?)",
                        (chunk_id, chunk[0], resend_seq),
                    )
            converted += len(run)
            run.clear()

        rows = db.execute(
            "SELECT id, param, t, value, flag, device, msg_seq, sent, acquired_at FROM readings ORDER BY id"
        )
        for row_id, param, t, value, flag, device, msg_seq, sent, acquired_at in rows:
            try:
                reading = Reading(param=param, t=parse_iso(t), value=value, flag=Flag(flag), device=device)
            except ValueError as exc:
                invalid += 1
                log.error("outbox conversion: reading %d cannot be read (%s); left out", row_id, exc)
                continue
            queued = row_id in resend_of
            key = (msg_seq, int(sent), queued, resend_of.get(row_id))
            if key != run_key or len(run) >= max_n:
                flush()
                run_key, run_acquired = key, 0
            run.append(reading)
            run_acquired = max(run_acquired, int(acquired_at))
            carrier = key[3] if queued and key[3] is not None else msg_seq
            if carrier is not None:
                carried[carrier] = carried.get(carrier, 0) + 1
        flush()
        db.executemany(
            "UPDATE messages SET n = ? WHERE seq = ? AND acked_at IS NULL",
            [(n, seq) for seq, n in carried.items()],
        )
        if invalid:
            meta_add(db, "count:conversion_invalid", invalid)
        db.execute("DROP TABLE readings")
        db.execute("DROP TABLE IF EXISTS resends_v1")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    log.warning(
        "station %s: outbox %s converted to the chunk format: %d readings in %.1f s",
        station,
        path,
        converted,
        time.monotonic() - started,
    )
