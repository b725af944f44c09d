"""One rule for paths in config files (issue 18 item 6): relative to the config file's directory, ~ is home —
whatever directory the collector is started in, as for the agent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collector.config import load_config, parse_config
from protocols.paths import resolve


def write(tmp_path: Path, text: str) -> Path:
    conf = tmp_path / "etc" / "collector.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text(text)
    return conf


def test_relative_paths_are_relative_to_the_config_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sections = tmp_path / "etc" / "mine" / "sections.toml"
    conf = write(
        tmp_path,
        '[store]\nurl = "sqlite:///state/c.db"\n[inbox]\npath = "state/in.db"\n'
        '[assessment]\nsections = "mine/sections.toml"\n[reports]\narchive_dir = "reports"\n',
    )
    sections.parent.mkdir()
    sections.write_text((Path(__file__).resolve().parents[2] / "collector" / "sections.toml").read_text())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(os.path.relpath(conf, elsewhere))
    etc = conf.parent.resolve()
    assert config.store.sqlite_path == str(etc / "state" / "c.db")
    assert config.inbox_path == etc / "state" / "in.db"
    assert config.assessment.sections == str(sections.resolve())
    assert config.reports.archive_dir == str(etc / "reports")


def test_defaults_and_postgres_inbox_live_beside_the_config(tmp_path: Path) -> None:
    etc = write(tmp_path, "").parent.resolve()
    assert load_config(etc / "collector.toml").inbox_path == etc / "var" / "collector.inbox.db"
    (etc / "pg.toml").write_text('[store]\nurl = "postgresql://q@127.0.0.1/q"\n')
    assert load_config(etc / "pg.toml").inbox_path == etc / "var" / "collector-inbox.db"


def test_home_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    conf = write(tmp_path, f'[store]\nurl = "sqlite:///~/q/c.db"\n[inbox]\npath = "{tmp_path}/abs/in.db"\n')
    config = load_config(conf)
    assert config.store.sqlite_path == str(tmp_path / "home" / "q" / "c.db")
    assert config.inbox_path == tmp_path / "abs" / "in.db"
    assert resolve("x/y", None) == Path("x/y") and resolve("~/z", "/base") == tmp_path / "home" / "z"


def test_text_without_a_file_keeps_paths_as_given() -> None:
    assert parse_config('[store]\nurl = "sqlite:///var/c.db"\n').store.sqlite_path == "var/c.db"
