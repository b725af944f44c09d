"""A product as one standalone HTML page: inline CSS, charts as inline SVG, no request to anywhere.

The dashboard shows it in an iframe and a browser prints it on A4 (table rows are not split across pages, a
table's header repeats on each page). Every text of the report is escaped.
"""

from __future__ import annotations

from html import escape

from collector.reports.document import Chart, ColumnKind, Part, Report, Table
from collector.reports.render import charts, meta
from collector.reports.render.cells import cell_text, class_fill, header, is_numeric, pick, title

CSS = """
:root { --ink: #1d2733; --rule: #c9d1da; --muted: #5f6b78; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei",
  "PingFang SC", sans-serif; color: var(--ink); margin: 0 auto; max-width: 1000px; padding: 24px;
  line-height: 1.55; font-size: 14px; }
h1 { font-size: 24px; margin: 0 0 4px; text-align: center; }
h2 { font-size: 18px; border-bottom: 2px solid var(--ink); padding-bottom: 2px; margin-top: 28px;
  break-after: avoid; page-break-after: avoid; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 12px 0;
  color: var(--muted); }
.meta dt { font-weight: 600; }
.meta dd { margin: 0; }
.notes { border-left: 4px solid #f2c200; background: #fffbe6; padding: 6px 12px; margin: 12px 0; }
.notes p { margin: 2px 0; }
.summary { font-size: 15px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 4px; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid var(--rule); padding: 3px 6px; vertical-align: top; }
th { background: #eef2f6; text-align: center; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.cls { text-align: center; font-weight: 600; white-space: nowrap; }
tr.warn td:not(.cls) { background: #fff4d6; }
tr.bad td:not(.cls) { background: #fde3e3; }
tr.bad td:first-child, tr.warn td:first-child { font-weight: 600; }
.table-note { color: var(--muted); font-size: 12px; margin: 0 0 12px; }
figure { margin: 12px 0; text-align: center; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; }
@page { size: A4; margin: 15mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  thead { display: table-header-group; }
  tr, figure, .meta { break-inside: avoid; page-break-inside: avoid; }
  h2, caption { break-after: avoid; page-break-after: avoid; }
  table { font-size: 9pt; }
}
"""


def _table(table: Table, number: int, lang: str) -> str:
    head = "".join(f"<th>{escape(header(c, lang))}</th>" for c in table.columns)
    body: list[str] = []
    for i, row in enumerate(table.rows):
        mark = table.emphasis[i] if table.emphasis else None
        cells: list[str] = []
        for value, column in zip(row, table.columns, strict=True):
            text = escape(cell_text(value, column, lang))
            fill = class_fill(value) if column.kind is ColumnKind.CLASS else None
            if fill is not None:
                cells.append(f'<td class="cls" style="background:{fill[0]};color:{fill[1]}">{text}</td>')
            elif is_numeric(column):
                cells.append(f'<td class="num">{text}</td>')
            else:
                cells.append(f"<td>{text}</td>")
        attr = f' class="{mark.value}"' if mark else ""
        body.append(f"<tr{attr}>{''.join(cells)}</tr>")
    caption = meta.caption("table", number, title(table.title_zh, table.title_en, lang), lang)
    out = [
        f'<table id="table-{escape(table.key)}"><caption>{escape(caption)}</caption>',
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
    ]
    if table.note is not None:
        out.append(f'<p class="table-note">{escape(pick(table.note, lang))}</p>')
    return "\n".join(out)


def _chart(chart: Chart, number: int, lang: str) -> str:
    caption = meta.caption("figure", number, title(chart.title_zh, chart.title_en, lang), lang)
    return (
        f'<figure class="chart" id="chart-{escape(chart.key)}">{charts.svg(chart, lang)}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _part(part: Part, counters: dict[str, int], lang: str) -> str:
    out = [
        f'<section id="part-{escape(part.key)}"><h2>{escape(title(part.title_zh, part.title_en, lang))}</h2>'
    ]
    out += [f"<p>{escape(pick(p, lang))}</p>" for p in part.paragraphs]
    for table in part.tables:
        counters["table"] += 1
        out.append(_table(table, counters["table"], lang))
    for chart in part.charts:
        counters["figure"] += 1
        out.append(_chart(chart, counters["figure"], lang))
    out.append("</section>")
    return "\n".join(out)


def render(report: Report, lang: str) -> str:
    name = meta.report_title(report, lang)
    lines = "".join(f"<dt>{escape(x.label)}</dt><dd>{escape(x.value)}</dd>" for x in meta.lines(report, lang))
    notes = meta.notes(report, lang)
    counters = {"table": 0, "figure": 0}
    body = [
        f'<header><h1>{escape(name)}</h1><dl class="meta">{lines}</dl></header>',
    ]
    if notes:
        body.append('<div class="notes">' + "".join(f"<p>{escape(n)}</p>" for n in notes) + "</div>")
    body.append(
        f'<section class="summary"><h2>{escape(meta.word("summary", lang))}</h2>'
        + "".join(f"<p>{escape(pick(t, lang))}</p>" for t in report.summary)
        + "</section>"
    )
    body += [_part(part, counters, lang) for part in report.parts]
    html_lang = "zh-CN" if lang == "zh" else "en"
    page_title = f"{name} {report.period}"
    return (
        f'<!DOCTYPE html>\n<html lang="{html_lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(page_title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


__all__ = ["render"]
