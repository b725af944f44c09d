"""Message sequence numbers: the next one, and the high-water mark reserved ahead in a sidecar file.

The next sequence number is kept in the outbox's ``meta`` table and also reserved ahead, SEQ_RESERVE at a
time, in a sidecar file (``<outbox>.seq``, written atomically), so that a deleted or corrupt database never
makes sequence numbers go backwards: the collector would take a reused number for a message it already has.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

SEQ_RESERVE = 1000  # sequence numbers reserved per sidecar write


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old or the new content after any crash."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class SeqSidecar:
    """The reserved sequence high-water mark, in a small file beside the outbox."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> int:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            return max(0, int(document["next_seq_reserved"]))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("sequence sidecar %s is unreadable (%s); relying on the database alone", self.path, exc)
            return 0

    def write(self, reserved: int) -> None:
        write_atomic(self.path, json.dumps({"next_seq_reserved": reserved}).encode("utf-8"))


class Sequencer:
    """The next sequence number (``next``) and how far the sidecar has reserved (``reserved``).

    Not locked: its callers hold the outbox's lock."""

    def __init__(self, sidecar: SeqSidecar) -> None:
        self.sidecar = sidecar
        self.next = 0
        self.reserved = 0

    def load(self, db: sqlite3.Connection, *, fresh: bool) -> None:
        """Continue after the highest number the database knows; after the sidecar's mark when the database
        was just created (it knows nothing: the sidecar says how far sequences may have gone)."""
        row = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        top = db.execute("SELECT MAX(seq) FROM messages").fetchone()[0]
        next_seq = max(int(row[0]) if row else 0, (top + 1) if top is not None else 0)
        if fresh:
            next_seq = max(next_seq, self.sidecar.read())
        self.next = self.reserved = next_seq

    def reserve(self, count: int) -> int:
        """The first of ``count`` new sequence numbers; the sidecar is written ahead of their use."""
        first = self.next
        if first + count > self.reserved:
            reserved = first + count + SEQ_RESERVE
            self.sidecar.write(reserved)  # may fail (disk full): then nothing is reserved, nor used
            self.reserved = reserved
        return first

    def set_next(self, db: sqlite3.Connection, next_seq: int) -> None:
        """Record ``next_seq`` in the transaction that used the numbers before it."""
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('next_seq', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (next_seq,),
        )
        self.next = next_seq

    @contextmanager
    def restored_on_error(self) -> Iterator[None]:
        """A binding transaction that fails (disk full) used no sequence number: the next starts here."""
        before = self.next
        try:
            yield
        except BaseException:
            self.next = before
            raise
