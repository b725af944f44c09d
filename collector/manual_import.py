"""``qingliu collector import-manual FILE``: validate a file of manual results and keep it in the store.

All or nothing: a file with any bad row is refused whole, every problem listed by row and column (exit 1).
Re-importing the same file changes nothing; a corrected value replaces the held one, which the store keeps in
its history (collector/store/manual_rows.py). ``--dry-run`` validates without writing.
Exit codes: 0 imported (or valid, with --dry-run), 1 the file was refused, 2 the config or the store failed.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from collector.config import CollectorConfig, load_config
from collector.manual import LOCAL, ManualFileError, ManualRow, read_manual
from collector.sections import load_sections
from protocols.errors import ConfigError

PROG = "qingliu collector import-manual"
MAX_SHOWN = 200  # problems printed; the count says how many there were in all


def sections_path(config: CollectorConfig) -> str | None:
    """The registry the config names (``[assessment] sections``), or None for the shipped default.
    Read defensively: the config gains that section separately."""
    assessment: Any = getattr(config, "assessment", None)
    path = getattr(assessment, "sections", None)
    return str(path) if path else None


def summary(rows: list[ManualRow]) -> str:
    sections = {r.section for r in rows}
    first, last = (t.astimezone(LOCAL) for t in (min(r.t_utc for r in rows), max(r.t_utc for r in rows)))
    return f"{len(rows)} result(s) of {len(sections)} section(s), sampled {first:%Y-%m-%d} .. {last:%Y-%m-%d}"


def run_import_manual(
    config_path: str | Path,
    file: str | Path,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        config = load_config(config_path)
        registry = load_sections(sections_path(config))
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2
    try:
        rows = read_manual(file, registry, now=now or datetime.now(UTC))
    except ManualFileError as exc:
        print(f"{PROG}: {exc.name}: refused, nothing imported ({len(exc.errors)} problem(s)):", file=err)
        for problem in exc.errors[:MAX_SHOWN]:
            print(f"  {problem}", file=err)
        if len(exc.errors) > MAX_SHOWN:
            print(f"  (+{len(exc.errors) - MAX_SHOWN} more)", file=err)
        return 1
    if dry_run:
        print(f"{Path(file).name}: valid, {summary(rows)}; nothing written (--dry-run)", file=out)
        return 0
    from collector.store import open_store_for_command  # the engine's driver only when writing

    store = open_store_for_command(config.store.url, PROG, err)
    if store is None:
        return 2
    try:
        inserted, unchanged, changed = store.save_manual_results(rows)
    except Exception as exc:  # the transaction rolled back: nothing of this file is stored
        print(f"{PROG}: the store refused the results, nothing imported: {exc}", file=err)
        return 2
    finally:
        store.close()
    print(
        f"{Path(file).name}: {summary(rows)}: {inserted} new, {unchanged} unchanged, {changed} changed"
        + (" (the replaced values are kept in the store's history)" if changed else ""),
        file=out,
    )
    return 0
