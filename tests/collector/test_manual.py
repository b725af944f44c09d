"""Manual results files: CSV and xlsx, Chinese or English headers; every bad row reported, a bad file yields none."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from hypothesis import strategies as st

from collector.manual import ManualError, ManualFileError, ManualRow, parse_manual, read_manual
from collector.sections import SectionRegistry, load_sections
from tests.fuzz_settings import Budget, budgets, check

NOW = datetime(2026, 8, 5, 12, 0, tzinfo=UTC)
CST = timedelta(hours=8)

GOOD_CSV = """\ufeff断面,采样时间,监测项目,监测值,单位,标识,备注
梵王寺,2026-07-03 10:00,w21003,0.125,mg/L,,
梵王寺,2026-07-03 10:00,总磷,0.05,mg/l,N,
fanwangsi,2026-07-03 10:00,pH,7.62,无量纲,正常,
关河口,2026/7/4 9:30,水温,18.5,℃,,晴
关河口,2026-07-04T09:30:00+08:00,高锰酸盐指数,16.2,mg/L,T,超测量上限
碛塄,2026-07-05,溶解氧,7.4,MG/L,n,
"""


@pytest.fixture(scope="module")
def registry() -> SectionRegistry:
    return load_sections()


def parse(text: str, registry: SectionRegistry, name: str = "july.csv") -> list[ManualRow]:
    return parse_manual(text.encode("utf-8"), name, registry, now=NOW)


def problems(data: bytes, name: str, registry: SectionRegistry) -> list[ManualError]:
    with pytest.raises(ManualFileError) as caught:
        parse_manual(data, name, registry, now=NOW)
    return caught.value.errors


def test_a_good_csv_with_chinese_headers(registry: SectionRegistry) -> None:
    rows = parse(GOOD_CSV, registry)
    assert [(r.section, r.param, r.value, r.flag) for r in rows] == [
        ("fanwangsi", "w21003", 0.125, "N"),
        ("fanwangsi", "w21011", 0.05, "N"),
        ("fanwangsi", "w01001", 7.62, "N"),
        ("guanhekou", "w01010", 18.5, "N"),
        ("guanhekou", "w01019", 16.2, "T"),
        ("qileng", "w01009", 7.4, "N"),
    ]
    # Naive times are Asia/Shanghai: 10:00 there is 02:00 UTC; a date alone is local midnight.
    assert rows[0].t_utc == datetime(2026, 7, 3, 2, 0, tzinfo=UTC)
    assert rows[3].t_utc == rows[4].t_utc == datetime(2026, 7, 4, 1, 30, tzinfo=UTC)
    assert rows[5].t_utc == datetime(2026, 7, 5, tzinfo=UTC) - CST
    assert [r.source for r in rows[:2]] == ["july.csv:row 2", "july.csv:row 3"]


def test_english_headers_without_a_flag_column_and_without_bom(registry: SectionRegistry) -> None:
    text = "Value,Unit,Sample time,Section,Parameter\n1.5,mg/L,2026-07-10 08:00,dulicun,W21003\n"
    (row,) = parse(text, registry)
    assert (row.section, row.param, row.value, row.flag) == ("dulicun", "w21003", 1.5, "N")
    assert row.t_utc == datetime(2026, 7, 10, tzinfo=UTC)


def test_every_bad_row_is_reported_with_its_column_and_nothing_is_returned(registry: SectionRegistry) -> None:
    text = (
        "断面,采样时间,监测项目,监测值,单位,标识\n"
        "梵王寺,2026-07-03 10:00,氨氮,0.5,mg/L,\n"  # row 2: good
        "不存在,2026-07-03 10:00,氨氮,0.5,mg/L,\n"  # row 3: unknown section
        "梵王寺,2026-07-03 10:00,铅,0.5,mg/L,\n"  # row 4: unknown parameter
        "梵王寺,2026-07-03 10:00,总磷,0.5,μg/L,\n"  # row 5: wrong unit
        "梵王寺,2026-07-03 10:00,总氮,abc,mg/L,\n"  # row 6: not a number
        "梵王寺,2026-07-03 10:00,溶解氧,nan,mg/L,\n"  # row 7: not finite
        "梵王寺,2026-07-03 10:00,COD,,mg/L,\n"  # row 8: value missing
        "梵王寺,七月三日,BOD5,1,mg/L,\n"  # row 9: time not parseable
        "梵王寺,1999-12-31 23:00,氟化物,0.2,mg/L,\n"  # row 10: before 2000
        "梵王寺,2026-08-07 12:00,浊度,3,NTU,\n"  # row 11: more than a day ahead of now
        "梵王寺,2026-07-03 12:00,电导率,300,μS/cm,X\n"  # row 12: bad flag
        "\n"  # row 13: blank, skipped
        "fanwangsi,2026-07-03 10:00,w21003,0.6,mg/L,\n"  # row 14: same key as row 2
        "不存在,then,铅,x,kg,?\n"  # row 15: everything wrong at once
    )
    found = problems(text.encode(), "bad.csv", registry)
    where = [(p.row, p.column) for p in found]
    assert where == [
        (3, "断面"),
        (4, "监测项目"),
        (5, "单位"),
        (6, "监测值"),
        (7, "监测值"),
        (8, "监测值"),
        (9, "采样时间"),
        (10, "采样时间"),
        (11, "采样时间"),
        (12, "标识"),
        (14, "采样时间"),
        (15, "断面"),
        (15, "采样时间"),
        (15, "监测项目"),
        (15, "监测值"),
        (15, "标识"),
    ]
    text_of = {(p.row, p.column): p.message for p in found}
    assert "unknown section '不存在'" in text_of[(3, "断面")]
    assert "is not mg/L" in text_of[(5, "单位")]
    assert "same section, parameter and time as row 2" in text_of[(14, "采样时间")]
    assert str(found[0]).startswith("row 3, column 断面: ")


def test_a_missing_required_column_names_it(registry: SectionRegistry) -> None:
    found = problems("断面,采样时间,监测值\n梵王寺,2026-07-03,1\n".encode(), "x.csv", registry)
    assert [(p.row, p.message.split(" (")[0]) for p in found] == [
        (1, "no parameter column"),
        (1, "no unit column"),
    ]
    twice = problems("断面,section,采样时间,监测项目,监测值,单位\n".encode(), "x.csv", registry)
    assert twice[0].row == 1 and twice[0].column == "section" and "second section column" in twice[0].message


def test_file_level_problems(registry: SectionRegistry) -> None:
    gbk = "断面,采样时间,监测项目,监测值,单位\n梵王寺,2026-07-03,氨氮,1,mg/L\n".encode("gb18030")
    (p,) = problems(gbk, "gbk.csv", registry)
    assert p.row == 0 and "not UTF-8" in p.message and str(p).startswith("file: ")
    assert "empty" in problems(b"", "empty.csv", registry)[0].message
    assert (
        "no results"
        in problems("断面,采样时间,监测项目,监测值,单位\n".encode(), "h.csv", registry)[0].message
    )
    assert "not a readable xlsx" in problems(b"PK\x03\x04garbage", "broken.xlsx", registry)[0].message
    assert "not a readable xlsx" in problems(b"not a zip at all", "broken.xlsx", registry)[0].message


def xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.create_sheet("notes").append(["ignored: only the first sheet is read"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_good_xlsx(registry: SectionRegistry) -> None:
    data = xlsx(
        [
            ["断面名称", "监测时间", "项目", "浓度", "单位"],
            ["坪上桥", datetime(2026, 7, 8, 9, 0), "氨氮", 0.42, "mg/L"],
            ["坪上桥", date(2026, 7, 8), "pH", 8, None],  # a date cell; an int value; no unit for pH
            ["禹庙", "2026-07-09 14:00", "w21011", "0.085", "mg/L"],  # text cells work too
        ]
    )
    rows = parse_manual(data, "july.xlsx", registry, now=NOW)
    assert [(r.section, r.param, r.value, r.t_utc, r.source) for r in rows] == [
        ("pingshangqiao", "w21003", 0.42, datetime(2026, 7, 8, 1, 0, tzinfo=UTC), "july.xlsx:row 2"),
        ("pingshangqiao", "w01001", 8.0, datetime(2026, 7, 8, tzinfo=UTC) - CST, "july.xlsx:row 3"),
        ("yumiao", "w21011", 0.085, datetime(2026, 7, 9, 6, 0, tzinfo=UTC), "july.xlsx:row 4"),
    ]


def test_a_bad_xlsx_lists_every_bad_row(registry: SectionRegistry) -> None:
    data = xlsx(
        [
            ["section", "time", "parameter", "value", "unit", "flag"],
            ["yumiao", datetime(2026, 7, 8, 9, 0), "w21003", 0.42, "mg/L", "N"],
            ["yumiao", 46211, "w21003", 0.42, "mg/L", None],  # an unformatted Excel date serial
            ["yumiao", datetime(2026, 7, 9), "w21003", True, "mg/L", None],  # a boolean is no value
            [None, None, None, None, None, None],  # blank: skipped
            [
                "yumiao",
                datetime(2026, 7, 10),
                "w21003",
                0.5,
                "mg/L",
                "maintenance",
            ],  # valid English flag name
            ["nowhere", datetime(2026, 7, 11), "w21003", 0.5, "mg/L", "Z"],
        ]
    )
    found = problems(data, "bad.xlsx", registry)
    assert [(p.row, p.column) for p in found] == [(3, "time"), (4, "value"), (7, "section"), (7, "flag")]
    assert "format the cell as a date" in found[0].message


def test_read_manual_from_a_path(tmp_path: Path, registry: SectionRegistry) -> None:
    path = tmp_path / "july.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    assert len(read_manual(path, registry, now=NOW)) == 6
    with pytest.raises(ManualFileError) as caught:
        read_manual(tmp_path / "missing.csv", registry)
    (p,) = caught.value.errors
    assert p.row == 0 and "cannot read" in p.message


def parse_or_refuse(data: bytes, name: str, registry: SectionRegistry) -> None:
    """Rows, or ManualFileError with at least one located problem: nothing else escapes."""
    try:
        rows = parse_manual(data, name, registry, now=NOW)
    except ManualFileError as exc:
        assert exc.errors and all(p.row >= 0 for p in exc.errors)
        return
    assert rows and all(r.t_utc.tzinfo is UTC for r in rows)


@budgets(150)
def test_hostile_files_give_rows_or_a_refusal(budget: Budget, registry: SectionRegistry) -> None:
    good = GOOD_CSV.encode()

    @st.composite
    def mutated_csv(draw: st.DrawFn) -> bytes:
        data = good
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(max_size=6)) + data[at + draw(st.integers(0, 6)) :]
        return data

    check(lambda data: parse_or_refuse(data, "fuzz.csv", registry), budget, mutated_csv())
    check(lambda data: parse_or_refuse(data, "fuzz.csv", registry), budget, st.binary(max_size=200))
    check(
        lambda data: parse_or_refuse(b"PK\x03\x04" + data, "fuzz.xlsx", registry),
        budget,
        st.binary(max_size=200),
    )
