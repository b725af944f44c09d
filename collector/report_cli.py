"""``qingliu report``: any of the bureau's products on demand, read straight from the store named in the
collector config (no running collector needed).

qingliu report daily|weekly|monthly|flood [--date YYYY-MM-DD] [--format json|html|xlsx|docx] [--lang zh|en]
                                          [--out FILE] [--config FILE] [--archive]

``--date`` is any local date inside the period: the day, its ISO week, its month, or the flood season of its
year (default: the period a scheduled run would make now, the one just ended). ``--out`` defaults to the
product's own file name in the current directory. The product is compared with its latest archived making:
the same figures, or late data that changed them, is said in its notes and on the terminal. ``--archive`` also
keeps this making in the store's archive. Exit status 2 for a bad config, store or period.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from collector.config import CollectorConfig, load_config
from collector.reports.context import ReportContext, due_ref, period_ref
from collector.reports.document import ReportKind
from collector.reports.making import (
    FORMATS,
    LANGS,
    Maker,
    Renderer,
    file_name,
    make_product,
    real_maker,
    real_renderer,
)
from protocols.errors import ConfigError

PROG = "qingliu report"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="the bureau's products / 日预警、周研判、月通报、汛期排名"
    )
    parser.add_argument("kind", choices=[k.value for k in ReportKind], help="which product")
    parser.add_argument("--date", type=date.fromisoformat, help="a local date in the period (YYYY-MM-DD)")
    parser.add_argument("--format", choices=FORMATS, default="html")
    parser.add_argument("--lang", choices=LANGS, default="zh", help="language of html, xlsx and docx")
    parser.add_argument("--out", help="the file to write (default: the product's file name, here)")
    parser.add_argument("--config", help="collector TOML file (its [store], [assessment], [reports])")
    parser.add_argument("--archive", action="store_true", help="also keep this making in the store's archive")
    return parser


def main(
    argv: list[str] | None = None,
    *,
    maker: Maker = real_maker,
    renderer: Renderer = real_renderer,
    now: datetime | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    kind = ReportKind(args.kind)
    try:
        config = load_config(args.config) if args.config else CollectorConfig()
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2
    from collector.store import open_store_for_command  # the engine's driver only when making

    store = open_store_for_command(config.store.url, PROG, err)
    if store is None:
        return 2
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    try:
        ctx = ReportContext.from_config(config, store, clock=clock)
        ref = period_ref(kind, args.date) if args.date is not None else due_ref(kind, ctx.now())
        made = make_product(ctx, kind, ref, archive=args.archive, write_files=False, maker=maker)
        data = renderer(made.report, args.format, args.lang)
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2
    finally:
        store.close()
    path = Path(args.out or file_name(kind.value, made.report.period, args.format, args.lang))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        print(f"{PROG}: cannot write {path}: {exc}", file=err)
        return 2
    report = made.report
    completeness = f"{report.completeness * 100:.1f} %" if report.completeness is not None else "-"
    print(
        f"{path}: {report.title_zh} {report.period} ({report.first_day} .. {report.last_day}"
        + (", so far" if report.partial else "")
        + f"), completeness {completeness}"
        + (", archived" if made.archived is not None else ""),
        file=out,
    )
    for note in report.notes:
        print(f"  {note.zh}", file=out)
    return 0


__all__ = ["main"]
