"""``qingliu collector import-history``: a history from ``qingliu sim history`` bulk-written to a SQLite store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from collector import assess_cli
from collector.cli import main as collector_main
from collector.store import open_store
from simulators.cli import main as sim_main

END = "2026-11-01T00:00+08:00"  # one month: October 2026 local


@pytest.fixture(scope="module")
def history_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("history")
    assert sim_main(["history", "--out", str(out), "--months", "1", "--end", END, "--seed", "3"]) == 0
    return out


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{(tmp_path / "c.db").as_posix()}"\n', encoding="utf-8")
    return path


def _lines_readings(history_dir: Path) -> int:
    lines = (history_dir / "readings.jsonl").read_text(encoding="utf-8").splitlines()
    return sum(len(json.loads(line)["readings"]) for line in lines)


def test_import_counts_equal_and_a_second_import_inserts_nothing(
    history_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    expected = _lines_readings(history_dir)
    assert expected == 8 * 31 * (24 * 5 + 6 * 5)

    assert collector_main(["import-history", "--config", str(config), str(history_dir)]) == 0
    first = capsys.readouterr().out
    assert f"{expected} readings new, 0 already held" in first
    assert "78 new, 0 unchanged" in first  # 13 sections × 6 items, once
    assert re.search(r"done in \d+\.\d s", first)

    store = open_store(f"sqlite:///{(tmp_path / 'c.db').as_posix()}")
    try:
        held = store.readings("jiehepucun", param="w01010", limit=10_000)
        assert len(held) == 31 * 24
    finally:
        store.close()

    assert collector_main(["import-history", "--config", str(config), str(history_dir)]) == 0
    second = capsys.readouterr().out
    assert f"0 readings new, {expected} already held" in second
    assert "0 new, 78 unchanged" in second


def test_the_drifting_section_is_judged_worse_than_iii(
    history_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    assert collector_main(["import-history", "--config", str(config), str(history_dir)]) == 0
    capsys.readouterr()
    args = ["all", "--period", "month", "--ref", "2026-10", "--config", str(config), "--format", "json"]
    assert assess_cli.main(args) == 0
    sections = {s["id"]: s for s in json.loads(capsys.readouterr().out)["sections"]}
    drifting = sections["jiehepucun"]
    assert drifting["class"] in ("IV", "V", "劣V") and drifting["meets_target"] is False
    assert sections["chuanhutun"]["meets_target"] is True
    assert sections["fanwangsi"]["status"] == "judged"  # the manual results count


def test_bad_lines_are_refused_by_number_and_the_rest_imported(
    history_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    lines = (history_dir / "readings.jsonl").read_text(encoding="utf-8").splitlines()
    good = len(json.loads(lines[1])["readings"])
    (broken / "readings.jsonl").write_text(f"{{not json\n{lines[1]}\n", encoding="utf-8")
    assert collector_main(["import-history", "--config", str(_config(tmp_path)), str(broken)]) == 1
    captured = capsys.readouterr()
    assert "readings.jsonl line 1: refused" in captured.err
    assert f"{good} readings new" in captured.out and "1 line(s) refused" in captured.out


def test_missing_directory_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert collector_main(["import-history", "--config", str(_config(tmp_path)), str(tmp_path / "no")]) == 2
    assert "readings.jsonl not found" in capsys.readouterr().err
