"""Making a product for the archive: make it (products/), compare it with the latest making of the same period
in the store (remaking.py: same figures, or late data, or changed), note that in the product, archive it with
its cut-off and completeness, and optionally write its files into ``[reports] archive_dir``.

The scheduler (scheduler.py), the API (collector/api/reports.py) and ``qingliu report`` (report_cli.py) all
make products through ``make_product``; a test hands in its own maker and renderer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import import_module
from pathlib import Path

from collector.reports.context import ReportContext
from collector.reports.document import Report, ReportKind, dumps, figures_digest, to_json
from collector.reports.remaking import changed_tables, period_range, remake_note
from collector.store.report_rows import Arrivals, ReportRecord, StoredReport

log = logging.getLogger("qingliu.collector.reports")

FORMATS = ("json", "html", "xlsx", "docx")
LANGS = ("zh", "en")

Maker = Callable[[ReportContext, ReportKind, str], Report]
Renderer = Callable[[Report, str, str], bytes]  # (report, format, lang) → the file's bytes


def real_maker(ctx: ReportContext, kind: ReportKind, ref: str) -> Report:
    from collector.reports import products  # each product only when made

    return products.make(ctx, kind, ref)


def real_renderer(report: Report, fmt: str, lang: str) -> bytes:
    """Any format from the document; JSON is the archive's own text (both languages)."""
    if fmt == "json":
        return document_text(report).encode("utf-8")
    # openpyxl, python-docx and matplotlib only when rendering
    render: Renderer = import_module("collector.reports.render").render
    return render(report, fmt, lang)


def document_text(report: Report) -> str:
    return dumps(to_json(report))


def file_name(kind: str, period: str, fmt: str, lang: str = "zh") -> str:
    """``qingliu-monthly-2026-06.xlsx``; an English rendering says so (``…-en.docx``); JSON carries both."""
    suffix = "" if fmt == "json" or lang == "zh" else f"-{lang}"
    return f"qingliu-{kind}-{period}{suffix}.{fmt}"


@dataclass(frozen=True, slots=True)
class Made:
    report: Report  # with the note on the earlier making, if any
    previous: StoredReport | None  # the latest making of this period before this one
    same: bool | None  # same figures as ``previous``; None: nothing to compare with
    archived: int | None  # the archive row id; None: not archived
    files: tuple[Path, ...] = ()


def compare(ctx: ReportContext, report: Report, previous: StoredReport) -> tuple[bool, Report]:
    """Whether ``report`` has ``previous``'s figures, and ``report`` with a note saying so or saying why not."""
    same = previous.digest == figures_digest(report)
    if same:
        note = remake_note(previous, True, Arrivals(), [])
    else:
        start, end = period_range(report)
        stations = [s.id for s in ctx.stations]
        arrivals = ctx.store.arrivals(stations, start, end, previous.cutoff)
        note = remake_note(previous, False, arrivals, changed_tables(previous.document, report), _names(ctx))
    return same, replace(report, notes=(*report.notes, note))


def _names(ctx: ReportContext) -> dict[str, str]:
    names = {s.id: s.name_zh for s in ctx.config.stations}
    names.update({s.id: s.name_zh for s in ctx.assessor.registry})
    return names


def make_product(
    ctx: ReportContext,
    kind: ReportKind | str,
    ref: str,
    *,
    archive: bool | None = None,
    write_files: bool = True,
    maker: Maker = real_maker,
    renderer: Renderer = real_renderer,
) -> Made:
    """Make ``kind``/``ref`` and compare it with its latest archived making. ``archive`` True: archive it;
    None: archive it when its period is complete (not ``partial``); False: do not. Files go into
    ``archive_dir`` (when set and ``write_files``) only for an archived making. ValueError for a bad or
    not-yet-started period (from the product)."""
    kind = ReportKind(kind)
    report = maker(ctx, kind, ref)
    previous = ctx.store.report(kind.value, report.period)
    same: bool | None = None
    if previous is not None:
        same, report = compare(ctx, report, previous)
    keep = (not report.partial) if archive is None else archive
    archived: int | None = None
    files: tuple[Path, ...] = ()
    if keep:
        archived = ctx.store.save_report(record(report))
        if write_files and ctx.settings.archive_dir:
            files = write_archive_files(Path(ctx.settings.archive_dir), report, renderer)
    return Made(report, previous, same, archived, files)


def record(report: Report) -> ReportRecord:
    return ReportRecord(
        kind=report.kind.value,
        period=report.period,
        made_at=report.made_at,
        cutoff=report.cutoff,
        completeness=report.completeness,
        partial=report.partial,
        digest=figures_digest(report),
        figures=dumps(dict(report.figures)),
        document=document_text(report),
    )


def write_archive_files(directory: Path, report: Report, renderer: Renderer) -> tuple[Path, ...]:
    """Every format (Chinese, and JSON with both languages) into ``directory/<kind>/``, each written whole
    before it takes its name (a reader never sees half a file); a format that fails to render is logged and
    skipped, the others are still written."""
    folder = directory / report.kind.value
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in FORMATS:
        try:
            data = renderer(report, fmt, "zh")
        except Exception:
            log.exception("%s %s: the %s file could not be rendered", report.kind.value, report.period, fmt)
            continue
        path = folder / file_name(report.kind.value, report.period, fmt)
        part = path.with_name(path.name + ".part")
        part.write_bytes(data)
        os.replace(part, path)
        written.append(path)
    return tuple(written)


__all__ = [
    "FORMATS",
    "LANGS",
    "Made",
    "Maker",
    "Renderer",
    "compare",
    "document_text",
    "file_name",
    "make_product",
    "real_maker",
    "real_renderer",
    "record",
    "write_archive_files",
]
