"""Manual (laboratory) results from a CSV or xlsx file, validated row by row. Pure: bytes in, rows or errors out.

The thirteen sections without a station are sampled by hand once a month; their results arrive as a table with
one result per row and a header row naming the columns (Chinese or English, any order, extra columns ignored):

    section     断面, 断面名称, 断面编号, section, section_id      a section id or its Chinese name
    time        采样时间, 监测时间, 时间, time, sample_time, ...     2026-07-03 10:00, 2026/7/3, ISO 8601 ...
    parameter   监测项目, 项目, 指标, parameter, param, item        HJ 212 code or Chinese name (w21003, 氨氮)
    value       监测值, 测定值, 浓度, 数值, 结果, value              a finite number
    unit        单位, unit                                       the catalogue's unit (common spellings)
    flag        标识, 数据标识, 标记, flag  (optional)               HJ 212 letter or its name; empty = N

Naive times are Asia/Shanghai; a time must fall in 2000-01-01 .. now + 1 day. Values are never converted or
rounded: a unit other than the catalogue's is an error, not a conversion. Every row is checked and every problem
reported with its row (as a spreadsheet numbers it: the header is row 1) and column; a file with any problem
yields no rows at all (ManualFileError carries all the problems).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from collector.sections import SectionRegistry
from collector.store.manual_rows import ManualRow
from protocols import catalogue
from protocols.errors import QingliuError
from protocols.flags import FLAG_NAMES, Flag

__all__ = ["COLUMNS", "ManualError", "ManualFileError", "ManualRow", "parse_manual", "read_manual"]

LOCAL = ZoneInfo("Asia/Shanghai")
EARLIEST = datetime(2000, 1, 1, tzinfo=LOCAL)
LATEST_AHEAD = timedelta(days=1)
MAX_ROWS = 100_000  # a month of 21 sections × 30 items is under 1,000
MAX_BYTES = 20_000_000

# Column → the header names accepted for it (compared case-insensitively, spaces as underscores).
COLUMNS: dict[str, tuple[str, ...]] = {
    "section": ("section", "section_id", "断面", "断面名称", "断面编号"),
    "time": ("time", "sample_time", "sampled_at", "sampling_time", "采样时间", "监测时间", "时间"),
    "parameter": ("parameter", "param", "item", "监测项目", "项目", "指标", "参数"),
    "value": ("value", "监测值", "测定值", "浓度", "数值", "结果"),
    "unit": ("unit", "单位"),
    "flag": ("flag", "标识", "数据标识", "标记"),
}
REQUIRED = ("section", "time", "parameter", "value", "unit")

# Common short names of items in lab reports, beside the catalogue's codes and Chinese names.
PARAM_ALIASES = {
    "ph值": "w01001",
    "do": "w01009",
    "codmn": "w01019",
    "cod": "w01018",
    "codcr": "w01018",
    "bod5": "w01017",
    "nh3-n": "w21003",
    "氨氮(nh3-n)": "w21003",
    "tp": "w21011",
    "tn": "w21001",
}

# Spellings of each catalogue unit (compared case-insensitively, without spaces).
UNIT_SPELLINGS: dict[str, frozenset[str]] = {
    "mg/L": frozenset({"mg/l", "毫克/升"}),
    "°C": frozenset({"°c", "℃", "摄氏度", "degc"}),
    "": frozenset({"", "无量纲", "无", "-", "—", "/", "ph"}),
    "μS/cm": frozenset({"μs/cm", "µs/cm", "us/cm"}),
    "NTU": frozenset({"ntu"}),
    "μg/L": frozenset({"μg/l", "µg/l", "ug/l"}),
    "L/s": frozenset({"l/s"}),
}

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M",
    "%Y年%m月%d日",
)

Cell = object


@dataclass(frozen=True, slots=True)
class _Problem:
    message: str


@dataclass(frozen=True, slots=True)
class ManualError:
    """One problem: ``row`` as a spreadsheet numbers it (1 = the header; 0 = the file as a whole) and
    ``column`` as its header is written in the file ("" when the problem is not in one cell)."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.row == 0:
            return f"file: {self.message}"
        if not self.column:
            return f"row {self.row}: {self.message}"
        return f"row {self.row}, column {self.column}: {self.message}"


class ManualFileError(QingliuError):
    """A manual-results file that imports nothing; ``errors`` lists every problem found."""

    reason = "manual_file"

    def __init__(self, name: str, errors: Sequence[ManualError]) -> None:
        self.name = name
        self.errors = list(errors)
        shown = "\n".join(f"  {e}" for e in self.errors[:20])
        more = f"\n  (+{len(self.errors) - 20} more)" if len(self.errors) > 20 else ""
        super().__init__(f"{name}: {len(self.errors)} problem(s), nothing imported:\n{shown}{more}")


def read_manual(
    path: str | Path, registry: SectionRegistry, *, now: datetime | None = None
) -> list[ManualRow]:
    """Read and validate the file at ``path`` (``.csv`` or ``.xlsx``); ManualFileError lists every problem."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ManualFileError(
            path.name, [ManualError(0, "", f"cannot read {path}: {exc.strerror}")]
        ) from None
    return parse_manual(data, path.name, registry, now=now or datetime.now(UTC))


def parse_manual(data: bytes, name: str, registry: SectionRegistry, *, now: datetime) -> list[ManualRow]:
    """Validate the CSV or xlsx ``data`` of the file called ``name`` (its suffix picks the format; an xlsx is
    also known by its zip signature). All rows or none: ManualFileError lists every problem."""
    if len(data) > MAX_BYTES:
        raise ManualFileError(name, [ManualError(0, "", f"larger than {MAX_BYTES} bytes")])
    is_xlsx = name.lower().endswith(".xlsx") or data.startswith(b"PK\x03\x04")
    table = _xlsx_rows(data, name) if is_xlsx else _csv_rows(data, name)
    rows, errors = _validate(table, Path(name).name, registry, now)
    if errors:
        raise ManualFileError(name, errors)
    return rows


# -- reading tables ----------------------------------------------------------------------------------------------


def _csv_rows(data: bytes, name: str) -> Iterator[tuple[int, list[Cell]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text at byte {exc.start} (save the file as \u201cCSV UTF-8\u201d)"
        raise ManualFileError(name, [ManualError(0, "", message)]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for number, record in enumerate(reader, start=1):
            yield number, list(record)
    except csv.Error as exc:
        raise ManualFileError(name, [ManualError(0, "", f"not a readable CSV file: {exc}")]) from None


def _xlsx_rows(data: bytes, name: str) -> Iterator[tuple[int, list[Cell]]]:
    import openpyxl  # only an xlsx import needs it

    # A damaged workbook can fail anywhere in the zip and XML parsers, with their own exception types: any of
    # them means "not a readable xlsx", reported as a file problem.
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ManualFileError(name, [ManualError(0, "", f"not a readable xlsx file: {exc}")]) from None
    try:
        if not book.worksheets:
            raise ManualFileError(name, [ManualError(0, "", "the workbook has no sheet")])
        records = book.worksheets[0].iter_rows(values_only=True)
        number = 0
        while True:
            try:
                record = next(records, None)
            except Exception as exc:
                message = f"not a readable xlsx file after row {number}: {exc}"
                raise ManualFileError(name, [ManualError(0, "", message)]) from None
            if record is None:
                return
            number += 1
            yield number, list(record)
    finally:
        book.close()


# -- validation --------------------------------------------------------------------------------------------------


def _header_key(text: Cell) -> str:
    return str(text or "").strip().lstrip("\ufeff").casefold().replace(" ", "_")


def _columns(header: list[Cell]) -> tuple[dict[str, int], list[ManualError]]:
    """Column → its index in the file, from the header row."""
    known = {alias.casefold(): column for column, aliases in COLUMNS.items() for alias in aliases}
    found: dict[str, int] = {}
    errors = []
    for i, cell in enumerate(header):
        column = known.get(_header_key(cell))
        if column is None:
            continue  # remarks and the like: not ours
        if column in found:
            errors.append(
                ManualError(1, str(cell), f"a second {column} column (first: {header[found[column]]})")
            )
        else:
            found[column] = i
    for column in REQUIRED:
        if column not in found:
            accepted = ", ".join(COLUMNS[column])
            errors.append(ManualError(1, "", f"no {column} column (header one of: {accepted})"))
    return found, errors


def _blank(record: list[Cell]) -> bool:
    return all(cell is None or str(cell).strip() == "" for cell in record)


def _validate(
    table: Iterator[tuple[int, list[Cell]]], source: str, registry: SectionRegistry, now: datetime
) -> tuple[list[ManualRow], list[ManualError]]:
    header: list[Cell] | None = None
    columns: dict[str, int] = {}
    errors: list[ManualError] = []
    rows: list[ManualRow] = []
    first_row: dict[tuple[str, str, datetime], int] = {}
    latest = now.astimezone(UTC) + LATEST_AHEAD
    count = 0
    for number, record in table:
        if header is None:
            if _blank(record):
                continue
            header = record
            columns, problems = _columns(header)
            if problems:
                return [], problems
            continue
        if _blank(record):
            continue
        count += 1
        if count > MAX_ROWS:
            return [], [ManualError(0, "", f"more than {MAX_ROWS} rows")]
        row, problems = _row(number, record, header, columns, source, registry, latest)
        errors += problems
        if row is None:
            continue
        key = (row.section, row.param, row.t_utc)
        if key in first_row:
            errors.append(
                ManualError(
                    number,
                    str(header[columns["time"]]),
                    f"same section, parameter and time as row {first_row[key]}",
                )
            )
            continue
        first_row[key] = number
        rows.append(row)
    if header is None:
        return [], [ManualError(0, "", "the file is empty (no header row)")]
    if not rows and not errors:
        return [], [ManualError(0, "", "no results below the header")]
    return rows, errors


def _row(
    number: int,
    record: list[Cell],
    header: list[Cell],
    columns: dict[str, int],
    source: str,
    registry: SectionRegistry,
    latest: datetime,
) -> tuple[ManualRow | None, list[ManualError]]:
    errors: list[ManualError] = []

    def cell(column: str) -> Cell:
        i = columns.get(column)
        return record[i] if i is not None and i < len(record) else None

    def fail(column: str, message: str) -> None:
        errors.append(ManualError(number, str(header[columns[column]]), message))

    section = _section(cell("section"), registry)
    if isinstance(section, _Problem):
        fail("section", section.message)
    param = _param(cell("parameter"))
    if param is None:
        fail("parameter", f"unknown parameter {_shown(cell('parameter'))} (an HJ 212 code or Chinese name)")
    elif not _unit_matches(param, cell("unit")):
        unit = catalogue.get(param).unit or "none"
        fail("unit", f"unit {_shown(cell('unit'))} is not {unit}, the unit of {param}")
    value = _value(cell("value"))
    if isinstance(value, _Problem):
        fail("value", value.message)
    t = _time(cell("time"))
    if isinstance(t, _Problem):
        fail("time", t.message)
    elif not (EARLIEST <= t <= latest):
        fail("time", f"{t.isoformat()} is outside {EARLIEST.date()} .. {latest.date()} (now + 1 day)")
    flag = _flag(cell("flag")) if "flag" in columns else Flag.NORMAL
    if flag is None:
        fail("flag", f"unknown flag {_shown(cell('flag'))} (one of {', '.join(f.value for f in Flag)})")
    if errors:  # in the file's column order, as a reader scans the row
        order = {str(header[i]): i for i in columns.values()}
        return None, sorted(errors, key=lambda e: order[e.column])
    assert isinstance(section, str) and param is not None and isinstance(value, float)
    assert isinstance(t, datetime) and flag is not None
    return ManualRow(section, param, t.astimezone(UTC), value, flag.value, f"{source}:row {number}"), []


def _shown(cell: Cell) -> str:
    return repr("" if cell is None else str(cell).strip()[:40])


def _section(cell: Cell, registry: SectionRegistry) -> str | _Problem:
    text = "" if cell is None else str(cell).strip()
    if not text:
        return _Problem("section missing")
    found = registry.get(text) or registry.by_name(text)
    if found is None:
        return _Problem(f"unknown section {_shown(text)} (a section id or Chinese name of the registry)")
    return found.id


def _param(cell: Cell) -> str | None:
    text = "" if cell is None else str(cell).strip()
    if catalogue.is_known(text.lower()):
        return text.lower()
    key = text.casefold().replace(" ", "")
    for p in catalogue.PARAMETERS.values():
        if p.name_zh.casefold() == key:
            return p.code
    return PARAM_ALIASES.get(key)


def _unit_matches(param: str, cell: Cell) -> bool:
    unit = catalogue.get(param).unit
    given = ("" if cell is None else str(cell)).strip().casefold().replace(" ", "")
    return given == unit.casefold() or given in UNIT_SPELLINGS.get(unit, frozenset())


def _value(cell: Cell) -> float | _Problem:
    if isinstance(cell, bool):
        return _Problem(f"not a number: {_shown(cell)}")
    if isinstance(cell, int | float):
        number = float(cell)
    else:
        text = "" if cell is None else str(cell).strip()
        if not text:
            return _Problem("value missing")
        if not _NUMBER.fullmatch(text):
            return _Problem(f"not a number: {_shown(text)}")
        number = float(text)
    if not math.isfinite(number):
        return _Problem(f"not a finite number: {_shown(cell)}")
    return number


def _time(cell: Cell) -> datetime | _Problem:
    """The sample time, aware (naive is Asia/Shanghai)."""
    if isinstance(cell, datetime):
        return cell if cell.tzinfo is not None else cell.replace(tzinfo=LOCAL)
    if isinstance(cell, date):
        return datetime.combine(cell, time(), tzinfo=LOCAL)
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return _Problem("time missing")
    if not isinstance(cell, str):  # a number (an unformatted Excel date), a bare time of day ...
        return _Problem(f"not a date and time: {_shown(cell)} (format the cell as a date)")
    text = cell.strip()
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=LOCAL)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return _Problem(f"not a date and time: {_shown(text)} (e.g. 2026-07-03 10:00)")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=LOCAL)


def _flag(cell: Cell) -> Flag | None:
    text = "" if cell is None else str(cell).strip()
    if not text:
        return Flag.NORMAL  # a laboratory result is a normal value unless the file says otherwise
    if text.upper() in {f.value for f in Flag}:
        return Flag(text.upper())
    for flag, (zh, en) in FLAG_NAMES.items():
        if text == zh or text.casefold() == en.casefold():
            return flag
    return None
