"""``qingliu collector import-history --config FILE DIR``: bulk-write a history made by ``qingliu sim history``.

DIR holds readings.jsonl (one encoded ReadingBatch per line) and optionally manual.csv. Each line is decoded with
protocols.messages.decode and applied to the store through ``Store.apply``, as the applier does, a group of
batches per transaction; not replayed over MQTT. A bad line is refused with its line number and counted; it holds
up no other line. manual.csv goes through ``run_import_manual`` (all or nothing, as there).
Idempotent: the store keeps each reading once (station+param+t) and each batch once (station+seq), so a second
import inserts nothing.
Exit codes: 0 imported, 1 some line (or the manual file) was refused, 2 the config, the store or DIR failed.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from collector.config import load_config
from collector.manual_import import run_import_manual
from collector.store.base import ApplyResult, Received
from protocols.errors import ConfigError, PayloadError
from protocols.messages import ReadingBatch, decode

PROG = "qingliu collector import-history"
READINGS_FILE = "readings.jsonl"
MANUAL_FILE = "manual.csv"
GROUP_BATCHES = 40  # batches per transaction: ~20,000 readings, few commits without a huge one
MAX_SHOWN = 50


def run_import_history(
    config_path: str | Path,
    directory: str | Path,
    *,
    now: datetime | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    began = time.monotonic()
    folder = Path(directory)
    readings_path = folder / READINGS_FILE
    if not readings_path.is_file():
        print(f"{PROG}: {readings_path} not found (make it with `qingliu sim history --out DIR`)", file=err)
        return 2
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2
    from collector.store import open_store_for_command  # the engine's driver only when writing

    store = open_store_for_command(config.store.url, PROG, err)
    if store is None:
        return 2
    received_at = now or datetime.now(UTC)
    total = ApplyResult()
    refused = 0
    group: list[Received] = []
    try:
        with open(readings_path, "rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    message = decode(line.rstrip(b"\r\n"))
                    if not isinstance(message, ReadingBatch):
                        raise PayloadError(f"a {type(message).__name__}, not a readings batch")
                except PayloadError as exc:
                    refused += 1
                    if refused <= MAX_SHOWN:
                        print(f"{PROG}: {READINGS_FILE} line {number}: refused: {exc}", file=err)
                    continue
                group.append(Received(message, received_at))
                if len(group) >= GROUP_BATCHES:
                    total.add(store.apply(group))
                    group = []
        if group:
            total.add(store.apply(group))
    except Exception as exc:  # the open transaction rolled back; earlier groups stay (re-running is harmless)
        print(f"{PROG}: the store failed: {exc}", file=err)
        return 2
    finally:
        store.close()
    if refused > MAX_SHOWN:
        print(f"{PROG}: (+{refused - MAX_SHOWN} more refused lines)", file=err)
    print(
        f"{READINGS_FILE}: {total.readings_inserted} readings new, {total.readings_duplicate} already held, "
        f"{total.messages_inserted} batches new, {total.messages_duplicate} already held"
        + (f", {refused} line(s) refused" if refused else ""),
        file=out,
    )
    status = 1 if refused else 0
    manual_path = folder / MANUAL_FILE
    if manual_path.is_file():
        status = max(status, run_import_manual(config_path, manual_path, now=now, out=out, err=err))
    print(f"{PROG}: done in {time.monotonic() - began:.1f} s", file=out)
    return status
