"""``qingliu report``: a product made from the store in the config and written to a file; compared with its
archived making (the same figures, or late data, said on the terminal); bad input is exit status 2 with a
message. In process with the tests' small product, and once as a real subprocess with the real one."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector import report_cli
from collector.reports.document import loads
from collector.store.sqlite import SqliteStore
from tests.collector.factories import batch, received
from tests.collector.reports.fakes import fake_maker, fake_renderer

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 7, 3, 2, 0, tzinfo=UTC)  # 10:00 on the 3rd, local
START = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)  # the local day 2026-07-02 starts


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    store = SqliteStore(tmp_path / "collector.db")
    store.apply(
        [received(batch("hexicun", 1, start=START + timedelta(hours=2), n=5), START + timedelta(hours=3))]
    )
    store.close()
    path = tmp_path / "collector.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "collector.db"}"\n', encoding="utf-8")
    return path


def run(*args: str, now: datetime = NOW) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = report_cli.main(list(args), maker=fake_maker, renderer=fake_renderer, now=now, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_product_is_written_to_the_file_asked(config_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "daily.xlsx"
    code, out, err = run(
        "daily",
        "--date",
        "2026-07-02",
        "--format",
        "xlsx",
        "--config",
        str(config_file),
        "--out",
        str(target),
    )
    assert (code, err) == (0, "")
    assert target.read_bytes() == "xlsx:zh:水质日预警:2026-07-02:5".encode()
    assert out == f"{target}: 水质日预警 2026-07-02 (2026-07-02 .. 2026-07-02), completeness 50.0 %\n"


def test_without_a_date_the_period_just_ended_and_the_default_file_name(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("daily", "--config", str(config_file), "--lang", "en")
    assert code == 0 and out.startswith("qingliu-daily-2026-07-02-en.html: ")
    assert (tmp_path / "qingliu-daily-2026-07-02-en.html").read_bytes() == (
        b"html:en:Daily water-quality warning:2026-07-02:5"
    )
    code, out, _ = run("monthly", "--date", "2026-07-02", "--format", "json", "--config", str(config_file))
    assert code == 0 and "(2026-07-01 .. 2026-07-31, so far)" in out
    assert loads((tmp_path / "qingliu-monthly-2026-07.json").read_text())["partial"] is True


def test_an_archived_making_is_compared_with_and_late_data_said(config_file: Path, tmp_path: Path) -> None:
    out_file = str(tmp_path / "d.json")
    common = (
        "daily",
        "--date",
        "2026-07-02",
        "--format",
        "json",
        "--config",
        str(config_file),
        "--out",
        out_file,
    )
    code, out, _ = run(*common, "--archive")
    assert code == 0 and out.endswith(", archived\n")
    code, out, _ = run(*common, now=NOW + timedelta(hours=1))
    assert code == 0 and out.splitlines()[1] == "  与 2026-07-03 10:00 所作产品的数字相同。"
    store = SqliteStore(tmp_path / "collector.db")
    store.apply(
        [received(batch("boshuicun", 1, start=START + timedelta(hours=5), n=2), NOW + timedelta(minutes=30))]
    )
    assert len(store.report_history("daily", "2026-07-02")) == 1  # only --archive kept one
    store.close()
    code, out, _ = run(*common, now=NOW + timedelta(hours=2))
    assert code == 0 and "又收到该时段的自动监测数据 2 条（泊水村 2）" in out
    assert "迟到数据" in json.loads(Path(out_file).read_text())["notes"][-1]["zh"]


def test_bad_input_is_exit_status_2_with_a_message(config_file: Path, tmp_path: Path) -> None:
    code, _, err = run(
        "daily", "--date", "2026-08-01", "--config", str(config_file), "--out", str(tmp_path / "x")
    )
    assert code == 2 and err == "qingliu report: daily 2026-08-01 has not started\n"
    bad = tmp_path / "bad.toml"
    bad.write_text("[reports]\ndaily_at = 'at eight'\n", encoding="utf-8")
    code, _, err = run("daily", "--config", str(bad))
    assert code == 2 and "not a cron expression" in err
    code, _, err = run("daily", "--config", str(tmp_path / "missing.toml"))
    assert code == 2 and err.startswith("qingliu report: ")
    with pytest.raises(SystemExit) as exit_:
        run("daily", "--date", "2 July")
    assert exit_.value.code == 2


def test_the_command_as_a_subprocess_with_the_real_product(config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "daily.json"
    done = subprocess.run(
        [sys.executable, "-m", "qingliu_cli", "report", "daily", "--date", "2026-07-02", "--format", "json",
         "--config", str(config_file), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = loads(out.read_text(encoding="utf-8"))
    assert (document["kind"], document["period"], document["first_day"]) == (
        "daily",
        "2026-07-02",
        "2026-07-02",
    )
    assert done.stdout.startswith(f"{out}: 水质日预警 2026-07-02 (2026-07-02 .. 2026-07-02), completeness ")
