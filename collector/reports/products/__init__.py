"""One module per product, each with ``make(ctx: ReportContext, ref: str) -> Report``; the registry below
names them so that a caller (scheduler, API, CLI) never imports a product it does not make."""

from __future__ import annotations

from importlib import import_module

from collector.reports.context import ReportContext
from collector.reports.document import Report, ReportKind

MODULES: dict[ReportKind, str] = {
    ReportKind.DAILY: "collector.reports.products.daily",
    ReportKind.WEEKLY: "collector.reports.products.weekly",
    ReportKind.MONTHLY: "collector.reports.products.monthly",
    ReportKind.FLOOD: "collector.reports.products.flood",
}


def make(ctx: ReportContext, kind: ReportKind | str, ref: str) -> Report:
    """Make product ``kind`` for period ``ref``; ValueError for a bad or not-yet-started period."""
    module = import_module(MODULES[ReportKind(kind)])
    report: Report = module.make(ctx, ref)
    return report


__all__ = ["MODULES", "make"]
