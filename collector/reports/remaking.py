"""What re-making a product says about the making before it (issue 13 item 7): the same figures, or figures
that changed because late data arrived (and which), or figures that changed for another reason. Pure: the
earlier making, what arrived since its cut-off and the new document in; a note (``Text``) out.

The comparison is on ``figures_digest`` (tables, charts, summary; not when it was made). Which tables changed
is read by comparing each table's rows in the earlier document's JSON with the new one's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from collector.assessment.periods import ZONE
from collector.reports.document import Report, Text, dumps, loads, to_json
from collector.store.report_rows import Arrivals, StoredReport

MAX_NAMED = 5  # stations / sections / tables named in a note; the rest are counted


@dataclass(frozen=True, slots=True)
class TableName:
    key: str
    title_zh: str
    title_en: str


def period_range(report: Report) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local days the product covers."""
    return _midnight(report.first_day), _midnight(report.last_day + timedelta(days=1))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=ZONE).astimezone(UTC)


def local(t: datetime) -> str:
    """``2026-07-02 08:00`` in Asia/Shanghai."""
    return t.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def _tables(document: Mapping[str, Any]) -> dict[str, tuple[TableName, Any]]:
    out: dict[str, tuple[TableName, Any]] = {}
    for part in document.get("parts", []):
        for table in part.get("tables", []):
            title = table.get("title", {})
            name = TableName(str(table["key"]), str(title.get("zh", "")), str(title.get("en", "")))
            out[name.key] = (name, table.get("rows"))
    return out


def changed_tables(earlier_document: str, report: Report) -> list[TableName]:
    """Tables of ``report`` whose rows differ from the earlier document's (or that it did not have), and
    tables it no longer has, in the new document's order."""
    try:
        before = _tables(loads(earlier_document))
    except ValueError:  # an unreadable earlier document: every table counts as changed
        before = {}
    now = _tables(loads(dumps(to_json(report))))  # the same JSON round trip as the archived one
    changed = [name for key, (name, rows) in now.items() if key not in before or before[key][1] != rows]
    changed += [name for key, (name, _) in before.items() if key not in now]
    return changed


def _named(counts: Mapping[str, int], names: Mapping[str, str]) -> str:
    items = [f"{names.get(k, k)} {n}" for k, n in counts.items()]
    if len(items) > MAX_NAMED:
        items = [*items[:MAX_NAMED], f"… +{len(items) - MAX_NAMED}"]
    return ", ".join(items)


def _tables_text(tables: Sequence[TableName], zh: bool) -> str:
    names = [(t.title_zh if zh else t.title_en) or t.key for t in tables]
    if len(names) > MAX_NAMED:
        names = [*names[:MAX_NAMED], f"… +{len(names) - MAX_NAMED}"]
    return ("、" if zh else ", ").join(names)


def remake_note(
    earlier: StoredReport,
    same: bool,
    arrivals: Arrivals,
    tables: Sequence[TableName],
    names: Mapping[str, str] | None = None,
) -> Text:
    """The note a re-made product carries about ``earlier`` (the latest making before it). ``names``: station
    and section ids → display names."""
    names = names or {}
    at = local(earlier.made_at)
    if same:
        return Text(f"与 {at} 所作产品的数字相同。", f"Same figures as made at {at}.")
    changed_zh = f"变化的表：{_tables_text(tables, True)}。" if tables else ""
    changed_en = f" Tables changed: {_tables_text(tables, False)}." if tables else ""
    if earlier.partial:  # new data of a period still running then are not late
        return Text(
            f"{at} 制作时该时段尚未结束；此后的数据已计入。" + changed_zh,
            f"The period was still running at the making of {at}; the data since are included." + changed_en,
        )
    if not arrivals.any:
        return Text(
            f"数字与 {at} 所作产品不同（未发现该时段在其数据截止 {local(earlier.cutoff)} 后到达的数据）。"
            + changed_zh,
            f"Figures changed since the making of {at} (no data for this period arrived after its cut-off "
            f"{local(earlier.cutoff)})." + changed_en,
        )
    zh: list[str] = []
    en: list[str] = []
    if arrivals.readings:
        n = sum(arrivals.readings.values())
        zh.append(f"自动监测数据 {n} 条（{_named(arrivals.readings, names)}）")
        en.append(f"{n} readings ({_named(arrivals.readings, names)})")
    if arrivals.revisions:
        n = sum(arrivals.revisions.values())
        zh.append(f"修订值 {n} 条（{_named(arrivals.revisions, names)}）")
        en.append(f"{n} revised values ({_named(arrivals.revisions, names)})")
    if arrivals.manual_results:
        n = sum(arrivals.manual_results.values())
        zh.append(f"手工监测结果 {n} 条（{_named(arrivals.manual_results, names)}）")
        en.append(f"{n} manual results ({_named(arrivals.manual_results, names)})")
    return Text(
        f"迟到数据：{at} 制作本产品（数据截止 {local(earlier.cutoff)}）后，又收到该时段的"
        + "、".join(zh)
        + "，本版数字已计入。"
        + changed_zh,
        f"Late data: after the making of {at} (data cut-off {local(earlier.cutoff)}), "
        + "; ".join(en)
        + " arrived for this period; these figures include them."
        + changed_en,
    )


__all__ = ["TableName", "changed_tables", "local", "period_range", "remake_note"]
