"""``import-manual`` end to end: a file into a store, all or nothing, idempotent (CSV and xlsx, both engines)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from collector.manual import parse_manual
from collector.manual_import import run_import_manual
from collector.sections import load_sections
from collector.store.base import Store
from collector.store.sqlite import SqliteStore
from tests.collector.test_manual import GOOD_CSV, NOW

BAD_CSV = (
    "断面,采样时间,监测项目,监测值,单位\n梵王寺,2026-07-03 10:00,氨氮,0.5,mg/L\n南庄,2026-07-03,氨氮,?,mg/L\n"
)


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{(tmp_path / "c.db").as_posix()}"\n{extra}', encoding="utf-8")
    return path


def run(config: Path, file: Path, *, dry_run: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_import_manual(config, file, dry_run=dry_run, now=NOW, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def stored(tmp_path: Path, section: str) -> list[tuple[str, float, str]]:
    s = SqliteStore(tmp_path / "c.db")
    try:
        return [(r.param, r.value, r.source) for r in s.manual_results(section)]
    finally:
        s.close()


def test_import_then_reimport_changes_nothing(tmp_path: Path) -> None:
    config, file = write_config(tmp_path), tmp_path / "2026-07.csv"
    file.write_text(GOOD_CSV, encoding="utf-8")
    code, out, err = run(config, file)
    assert (code, err) == (0, "")
    assert (
        "6 result(s) of 3 section(s), sampled 2026-07-03 .. 2026-07-05" in out
        and "6 new, 0 unchanged, 0 changed" in out
    )
    assert ("w21003", 0.125, "2026-07.csv:row 2") in stored(tmp_path, "fanwangsi")
    code, out, _ = run(config, file)
    assert code == 0 and "0 new, 6 unchanged, 0 changed" in out
    # A corrected value replaces the held one (the old is kept in the history).
    file.write_text(GOOD_CSV.replace("w21003,0.125", "w21003,0.135"), encoding="utf-8")
    code, out, _ = run(config, file)
    assert code == 0 and "0 new, 5 unchanged, 1 changed" in out and "history" in out
    assert ("w21003", 0.135, "2026-07.csv:row 2") in stored(tmp_path, "fanwangsi")


def test_a_bad_file_is_refused_whole_with_its_rows(tmp_path: Path) -> None:
    config, file = write_config(tmp_path), tmp_path / "bad.csv"
    file.write_text(BAD_CSV, encoding="utf-8")
    code, out, err = run(config, file)
    assert (code, out) == (1, "")
    assert "bad.csv: refused, nothing imported (1 problem(s))" in err
    assert "row 3, column 监测值: not a number: '?'" in err
    assert stored(tmp_path, "fanwangsi") == []  # row 2 was good, yet nothing of the file is stored


def test_dry_run_validates_without_writing(tmp_path: Path) -> None:
    config, file = write_config(tmp_path), tmp_path / "2026-07.csv"
    file.write_text(GOOD_CSV, encoding="utf-8")
    code, out, _ = run(config, file, dry_run=True)
    assert code == 0 and "valid, 6 result(s)" in out and "nothing written" in out
    assert not (tmp_path / "c.db").exists()


def test_config_problems_exit_2(tmp_path: Path) -> None:
    file = tmp_path / "2026-07.csv"
    file.write_text(GOOD_CSV, encoding="utf-8")
    code, _, err = run(write_config(tmp_path, "[store2]\n"), file)
    assert code == 2 and "store2" in err
    code, _, err = run(tmp_path / "missing.toml", file)
    assert code == 2 and "cannot read" in err


def xlsx_of(csv_text: str) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for line in csv_text.lstrip("\ufeff").splitlines():
        sheet.append(line.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_reimport_is_idempotent_on_both_engines(store: Store, kind: str) -> None:
    data = GOOD_CSV.encode() if kind == "csv" else xlsx_of(GOOD_CSV)
    rows = parse_manual(data, f"july.{kind}", load_sections(), now=NOW)
    assert len(rows) == 6
    assert store.save_manual_results(rows) == (6, 0, 0)
    again = parse_manual(data, f"july.{kind}", load_sections(), now=NOW)
    assert store.save_manual_results(again) == (0, 6, 0)
    held = store.manual_results(
        "guanhekou", datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC)
    )
    assert [(r.param, r.value, r.flag, r.source) for r in held] == [
        ("w01010", 18.5, "N", f"july.{kind}:row 5"),
        ("w01019", 16.2, "T", f"july.{kind}:row 6"),
    ]


def test_the_collector_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from collector.cli import main

    config, file = write_config(tmp_path), tmp_path / "bad.csv"
    file.write_text(BAD_CSV, encoding="utf-8")
    assert main(["import-manual", "--config", str(config), "--dry-run", str(file)]) == 1
    assert "row 3, column 监测值" in capsys.readouterr().err
    file.write_text(BAD_CSV.replace(",?,", ",0.3,"), encoding="utf-8")
    assert main(["import-manual", "--config", str(config), str(file)]) == 0
    assert "2 new, 0 unchanged, 0 changed" in capsys.readouterr().out
