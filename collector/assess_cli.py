"""``qingliu assess``: the section assessment from the command line, read straight from the store named in the
collector config (no running collector needed).

qingliu assess section ID  [--period month] [--ref 2026-07] [--config FILE] [--format table|json]
qingliu assess all         [--period month] [--ref 2026-07] ...   every section, counts, river grades
qingliu assess cwqi        [--period month] [--ref 2026-07] ...   CWQI, ΔCWQI, county rankings
qingliu assess flood       [--year 2026] ...                      flood-season intensity and ranking
qingliu assess neighbours ID --from 2026-07-01 --to 2026-08-01 ... the section's river, upstream → downstream

JSON is the API's (collector/assessing_json.py); tables align columns by display width, so Chinese names line up
in a terminal. Without ``--ref``, the current period (assessed so far). Exit status 2 for a bad config, period or
section.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from collector import assessing_json
from collector.assessing import Assessor, current_ref
from collector.assessment import PeriodKind
from collector.assessment.periods import ZONE
from collector.config import CollectorConfig, load_config
from protocols import catalogue
from protocols.errors import ConfigError

PERIODS = [k.value for k in PeriodKind]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qingliu assess", description="section assessment / 断面水质评价")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", help="collector TOML file (its [store] and [assessment]; default: defaults)"
    )
    common.add_argument("--format", choices=["table", "json"], default="table")
    timed = argparse.ArgumentParser(add_help=False)
    timed.add_argument("--period", choices=PERIODS, default="month")
    timed.add_argument("--ref", help="e.g. 2026-07, 2026-W27, 2026-Q3, 2026, 2026-07-01..2026-07-15")
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("section", parents=[common, timed], help="one section over a period")
    one.add_argument("id", help="section id (see collector/sections.toml)")
    sub.add_parser("all", parents=[common, timed], help="every section, counts and river grades")
    sub.add_parser("cwqi", parents=[common, timed], help="CWQI per section, county and city, and ΔCWQI")
    flood = sub.add_parser("flood", parents=[common], help="flood-season pollution intensity")
    flood.add_argument("--year", type=int, help="season year (default: this year)")
    near = sub.add_parser("neighbours", parents=[common], help="a section with its river neighbours")
    near.add_argument("id")
    near.add_argument("--from", dest="start", required=True, help="local date, first day (YYYY-MM-DD)")
    near.add_argument("--to", dest="end", required=True, help="local date, the day after the last")
    return parser


# -- tables --------------------------------------------------------------------------------------------------


def width(text: str) -> int:
    """Terminal columns: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in [header, *rows]]
    widths = [max(width(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def fixed(value: float | None, places: int) -> str | None:
    """A rounded JSON number printed with its decimals (5.0 at 2 places → "5.00"); never rounds again, so a
    figure that kept one significant digit (0.004 at 2 places) stays as it is."""
    if value is None:
        return None
    d = Decimal(repr(value))
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    return str(d.quantize(Decimal(1).scaleb(-places)) if -exponent < places else d)


def _decimals(code: str) -> int:
    return catalogue.get(code).decimals


def _percent(fraction: float | None) -> str | None:
    return f"{fixed(float(Decimal(repr(fraction)) * 100), 1)}%" if fraction is not None else None


def _class(entry: dict[str, Any]) -> str:
    return entry["class"] or {"ice": "结冰 ice", "dry": "断流 dry"}.get(
        entry["not_measured"] or "", "无数据 no data"
    )


def _period_line(p: dict[str, Any]) -> str:
    return f"{p['kind']} {p['ref']}: {p['from']} .. {p['to']}" + (" (so far)" if p["partial"] else "")


def section_table(body: dict[str, Any]) -> str:
    s = body["section"]
    head = (
        f"{s['name_zh']} {s['name_en']} ({s['id']})  {s['river_zh']}  {s['level']}  {s['county'] or '-'}\n"
        f"{_period_line(body['period'])}\n"
        f"class 水质类别 {_class(s)}  target 目标 {s['target']}  met 达标 {_cell(s['meets_target'])}  "
        f"CWQI {_cell(fixed(s['cwqi']['value'], 2) if s['cwqi'] else None)}  "
        f"completeness 完整率 {_cell(_percent(s['completeness']))}\n"
        f"main pollutants 主要污染指标 {s['main_pollutants_zh'] or '-'}\n"
    )
    rows = [
        (
            code,
            i["name_zh"],
            fixed(i["mean"], _decimals(code)),
            i["unit"],
            i["class"],
            fixed(i["multiple_iii"], 2),
            fixed(i["multiple_target"], 2),
            f"{i['n_valid']}/{_cell(i['n_expected'])}",
            i["source"] or i["not_measured"],
        )
        for code, i in s["items"].items()
    ]
    header = ("item", "项目", "mean", "unit", "class", "×III", "×target", "valid/expected", "source")
    return head + "\n" + table(header, rows)


def all_table(body: dict[str, Any]) -> str:
    rows = [
        (
            s["id"],
            s["name_zh"],
            s["river_zh"],
            s["level"],
            s["county"] or None,
            _class(s),
            s["target"],
            s["meets_target"],
            s["main_pollutants_zh"] or None,
            fixed(s["cwqi"]["value"], 2) if s["cwqi"] else None,
            _percent(s["completeness"]),
        )
        for s in body["sections"]
    ]
    header = ("id", "断面", "河流", "level", "县", "class", "target", "met", "主要污染指标", "CWQI", "完整率")
    counts = [
        (
            scope,
            c["sections"],
            c["classed"],
            c["i_to_iii"],
            fixed(c["percent_i_to_iii"], 1),
            c["worse_than_v"],
            fixed(c["percent_worse_than_v"], 1),
        )
        for scope, c in body["counts"].items()
    ]
    rivers = [
        (r["name_zh"], r["grade"]["sections"], r["grade"]["label_zh"], r["grade"]["label_en"])
        for r in body["rivers"]
        if r["grade"]
    ]
    parts = [
        _period_line(body["period"]),
        table(header, rows),
        table(("scope", "sections", "classed", "I–III", "% I–III", "劣V", "% 劣V"), counts),
    ]
    if rivers:
        parts.append(table(("河流", "sections", "评价", "grade"), rivers))
    return "\n\n".join(parts)


def cwqi_table(body: dict[str, Any]) -> str:
    sections = [
        (
            s["id"],
            s["name_zh"],
            s["county"] or None,
            fixed(s["cwqi"], 2),
            fixed(s["last_year"], 2),
            fixed(s["delta_percent"], 2),
        )
        for s in body["sections"]
    ]
    areas = [
        (
            a["name"],
            len(a["sections"]),
            fixed(a["cwqi"], 2),
            fixed(a["last_year"], 2),
            fixed(a["delta_percent"], 2),
        )
        for a in [*body["counties"], body["city"]]
    ]
    ranks = [(r["rank"], r["county"], fixed(r["value"], 2)) for r in body["county_ranking"]]
    return "\n\n".join(
        [
            f"{_period_line(body['period'])}; a year earlier {body['last_year_period']['ref']}; "
            f"items {', '.join(body['items']) or '-'}",
            table(("id", "断面", "县", "CWQI", "last year", "ΔCWQI %"), sections),
            table(("county 县", "sections", "CWQI", "last year", "ΔCWQI %"), areas),
            table(("rank", "county 县", "CWQI"), ranks),
        ]
    )


def flood_table(body: dict[str, Any]) -> str:
    rows = [
        (
            r["rank"],
            r["section"],
            r["section_zh"],
            r["name_zh"],
            fixed(r["value"], _decimals(r["param"])),
            r["at"],
            fixed(r["ratio"], 1),
        )
        for r in body["ranking"]
    ]
    return f"flood season {body['year']}: {_period_line(body['period'])}\n\n" + table(
        ("rank", "id", "断面", "项目", "max", "at", "intensity"), rows
    )


def neighbours_table(body: dict[str, Any]) -> str:
    chain = [*reversed(body["upstream"]), body["section"], *body["downstream"]]
    rows = [
        (
            "→" if s["id"] == body["section"]["id"] else "",
            s["id"],
            s["name_zh"],
            _class(s),
            s["main_pollutants_zh"] or None,
        )
        for s in chain
    ]
    return f"{_period_line(body['period'])} (upstream → downstream)\n\n" + table(
        ("", "id", "断面", "class", "主要污染指标"), rows
    )


# -- running ---------------------------------------------------------------------------------------------------


def _local_day(text: str) -> datetime:
    day = date.fromisoformat(text)
    return datetime(day.year, day.month, day.day, tzinfo=ZONE).astimezone(UTC)


def run(args: argparse.Namespace, assessor: Assessor) -> tuple[dict[str, Any], str]:
    """The JSON body and its table for the command in ``args``."""
    registry = assessor.registry
    now = assessor.now()
    if args.command == "flood":
        year = args.year if args.year is not None else now.astimezone(ZONE).year
        body = assessing_json.flood(assessor.flood(year), registry)
        return body, flood_table(body)
    if args.command == "neighbours":
        registry.section(args.id)
        view = assessor.neighbours(args.id, assessor.window(_local_day(args.start), _local_day(args.end)))
        body = assessing_json.neighbours(view, registry)
        return body, neighbours_table(body)
    period = assessor.period(args.period, args.ref or current_ref(PeriodKind(args.period), now))
    if args.command == "section":
        body = assessing_json.section_report(assessor.section(args.id, period), registry)
        return body, section_table(body)
    if args.command == "all":
        body = assessing_json.city(assessor.city(period), registry)
        return body, all_table(body)
    body = assessing_json.cwqi_report(assessor.cwqi(period), registry)
    return body, cwqi_table(body)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = load_config(args.config) if args.config else CollectorConfig()
    except ConfigError as exc:
        print(f"qingliu assess: {exc}", file=sys.stderr)
        return 2
    from collector.store import open_store_for_command

    store = open_store_for_command(config.store.url, "qingliu assess", sys.stderr)
    if store is None:
        return 2
    try:
        body, text = run(args, Assessor.from_config(config, store))
    except (ValueError, KeyError) as exc:
        print(f"qingliu assess: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    try:
        print(json.dumps(body, ensure_ascii=False, indent=2) if args.format == "json" else text)
    except BrokenPipeError:  # piped into head: the reader has what it wanted; nothing more to flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
