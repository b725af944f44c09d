"""``qingliu assess``: read straight from the store named in the collector config (the hand-computed month in a
SQLite file, hexicun's frozen month in the controller history the collector saved there), as JSON and as a
table a terminal lines up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import qingliu_cli
from collector.assess_cli import fixed, table, width
from collector.memories import CONTROLLER_STATE_KEY
from collector.store.sqlite import SqliteStore
from tests.collector.assessment import fixture_month as fx
from tests.collector.assessment_replay import fill, fixture_config_text, frozen_history

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_file(tmp_path: Path) -> str:
    store = SqliteStore(tmp_path / "collector.db")
    fill(store)
    store.save_blob(CONTROLLER_STATE_KEY, frozen_history().dump())  # as the running collector saves it
    store.close()
    path = tmp_path / "collector.toml"
    path.write_text(fixture_config_text(tmp_path), encoding="utf-8")
    return str(path)


def assess(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = qingliu_cli.main(["assess", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_section_as_json(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = assess(
        capsys, "section", "boshuicun", "--period", "month", "--ref", fx.MONTH, "--config", config_file,
        "--format", "json",
    )  # fmt: skip
    assert code == 0
    body = json.loads(out)
    s = body["section"]
    assert (s["class"], s["meets_target"], s["cwqi"]["value"]) == ("V", False, 6.48)
    assert [m["param"] for m in s["main_pollutants"]] == [fx.TP, fx.NH3N, fx.CODMN]
    assert s["items"][fx.TP]["multiple_iii"] == 1.0 and s["items"][fx.TP]["n_expected"] == 31


def test_the_frozen_month_comes_from_the_saved_controller_history(
    config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = assess(
        capsys, "section", "hexicun", "--ref", fx.MONTH, "--config", config_file, "--format", "json"
    )
    assert code == 0 and json.loads(out)["section"]["not_measured"] == "ice"


def test_all_sections_as_a_table(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = assess(capsys, "all", "--period", "month", "--ref", fx.MONTH, "--config", config_file)
    assert code == 0
    lines = out.splitlines()
    row = next(line for line in lines if line.startswith("nanzhuang"))
    assert "南庄" in row and "劣V" in row and "10.54" in row and "化学需氧量" not in row
    assert "高锰酸盐指数（1.67）" in row  # main pollutants with their multiples
    header = next(line for line in lines if line.startswith("id "))
    # Columns line up by display width: the class column starts at the same terminal column in every row.
    at = width(header[: header.index("class")])
    for sid in ("bifengcun", "nanzhuang", "hexicun"):
        line = next(x for x in lines if x.startswith(sid + " "))
        cls = {"bifengcun": "III", "nanzhuang": "劣V", "hexicun": "结冰"}[sid]
        assert width(line[: line.index(cls, len(sid) + 4)]) == at, line
    assert any(line.startswith("滹沱河") and "重度污染" in line for line in lines)  # the river grade


def test_cwqi_and_flood_tables(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = assess(capsys, "cwqi", "--ref", fx.MONTH, "--config", config_file)
    assert code == 0 and "5.36" in out and "-8.63" in out and "原平" in out
    code, out, _ = assess(capsys, "flood", "--year", fx.FLOOD_YEAR, "--config", config_file)
    assert code == 0
    ranked = [line for line in out.splitlines() if line[:1].isdigit()]
    assert ranked[0].split()[:3] == ["1", "boshuicun", "泊水村"] and ranked[0].split()[-1] == "2.2"
    code, out, _ = assess(
        capsys, "flood", "--year", fx.FLOOD_YEAR, "--config", config_file, "--format", "json"
    )
    assert json.loads(out)["ranking"][1]["ratio"] == 0.6


def test_neighbours_upstream_to_downstream(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = assess(
        capsys,
        "neighbours",
        "boshuicun",
        "--from",
        "2026-03-01",
        "--to",
        "2026-04-01",
        "--config",
        config_file,
    )
    assert code == 0
    order = [line.split()[1] if line.startswith("→") else line.split()[0] for line in out.splitlines()[4:]]
    assert order[:5] == ["bifengcun", "xiaruyue", "daixianqiao", "boshuicun", "jiehepucun"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["section", "nowhere", "--ref", fx.MONTH], "unknown section"),
        (["all", "--ref", "2026-13"], "month must be 1"),
        (["all", "--period", "custom"], "custom period needs"),
        (["flood", "--year", "2999"], "not started"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    config_file: str, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    code, out, err = assess(capsys, *args, "--config", config_file)
    assert code == 2 and out == "" and says in err


def test_a_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[assessment]\nsections = "missing.toml"\n', encoding="utf-8")
    code, _, err = assess(capsys, "all", "--config", str(bad))
    assert code == 2 and "assessment.sections" in err


def test_the_console_command_dispatches(config_file: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qingliu_cli",
            "assess",
            "section",
            "xiaruyue",
            "--ref",
            fx.MONTH,
            "--config",
            config_file,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "下茹越" in done.stdout and "manual" in done.stdout


def test_table_width_counts_wide_characters() -> None:
    assert width("劣V") == 3 and width("abc") == 3
    text = table(("a", "b"), [("南庄", 1), ("x", 22)])
    lines = text.splitlines()
    assert [width(line[: line.index(v)]) for line, v in zip(lines[2:], ("1", "22"), strict=True)] == [6, 6]


def test_tables_print_figures_with_their_decimals(
    config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = assess(capsys, "section", "bifengcun", "--ref", fx.MONTH, "--config", config_file)
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("w")}
    assert rows[fx.CODMN][2] == "5.00" and rows[fx.NH3N][2] == "1.000" and rows[fx.TP][2] == "0.160"
    assert fixed(0.004, 2) == "0.004" and fixed(1.0, 2) == "1.00" and fixed(33.0, 1) == "33.0"


def test_the_shipped_sample_of_manual_results_imports_and_is_assessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "c.db"}"\n', encoding="utf-8")
    sample = str(REPO / "deploy" / "examples" / "manual-2026-07.csv")
    assert qingliu_cli.main(["collector", "import-manual", "--config", str(config), sample]) == 0
    assert "78 new" in capsys.readouterr().out
    code, out, _ = assess(capsys, "all", "--ref", "2026-07", "--config", str(config), "--format", "json")
    body = json.loads(out)
    manual = [s for s in body["sections"] if s["station"] is None]
    assert code == 0 and len(manual) == 13 and all(s["status"] == "judged" for s in manual)
    nanzhuang = next(s for s in manual if s["id"] == "nanzhuang")
    assert nanzhuang["meets_target"] is False and nanzhuang["main_pollutants"]
