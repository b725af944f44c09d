"""Secrets from the environment, files and systemd credentials; example secrets refused (issue 16)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collector.config import load_config, parse_config
from collector.secret_refs import resolve, weaknesses
from protocols.errors import ConfigError


def test_references_resolve_from_env_file_and_systemd_credentials(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-a-file-0123456789\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "admin-token").write_text("from-systemd-0123456789")
    env = {"QL_TOKEN": "from-env-0123456789", "CREDENTIALS_DIRECTORY": str(creds)}
    assert resolve("env:QL_TOKEN", environ=env) == "from-env-0123456789"
    assert resolve("file:token", base_dir=tmp_path, environ=env) == "from-a-file-0123456789"
    assert resolve("credential:admin-token", environ=env) == "from-systemd-0123456789"
    assert resolve("plain-secret-value", environ=env) == "plain-secret-value"
    with pytest.raises(ValueError, match="QL_OTHER is not set"):
        resolve("env:QL_OTHER", environ=env)
    with pytest.raises(ValueError, match="CREDENTIALS_DIRECTORY"):
        resolve("credential:x", environ={})


def test_the_config_resolves_a_file_reference_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "mqtt.pw").write_text("a-broker-password\n")
    path = tmp_path / "collector.toml"
    path.write_text('[mqtt]\nusername = "qingliu-collector"\npassword = "file:mqtt.pw"\n')
    assert load_config(path).mqtt.password == "a-broker-password"
    path.write_text('[api]\nadmin_token = "file:missing"\n')
    with pytest.raises(ConfigError, match=r"api\.admin_token"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('[api]\nadmin_token = "change-me"', "api.admin_token is a known example value ('change-me')"),
        ('[api]\nadmin_token = "CHANGEME"', "api.admin_token is a known example value"),
        ('[api]\nadmin_token = "short-token"', "api.admin_token is shorter than 16 characters"),
        ('[mqtt]\nusername = "qingliu-collector"', "mqtt.password is empty"),
        (
            '[mqtt]\nusername = "qingliu-collector"\npassword = "change-me"',
            "mqtt.password is a known example",
        ),
    ],
)
def test_example_and_empty_secrets_are_named(text: str, why: str) -> None:
    found = weaknesses(parse_config(text))
    assert len(found) == 1 and found[0].startswith(why)


def test_no_secret_at_all_is_fine() -> None:
    assert weaknesses(parse_config('[api]\nadmin_token = ""')) == []
    assert weaknesses(parse_config('[api]\nadmin_token = "a-long-random-token-0123"')) == []


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qingliu_cli", "collector", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", ["check", "run"])
def test_the_collector_refuses_change_me_and_says_why(tmp_path: Path, command: str) -> None:
    path = tmp_path / "collector.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "c.db"}"\n[api]\nadmin_token = "change-me"\n')
    result = run_cli(command, "--config", str(path))
    assert result.returncode == 2
    assert "api.admin_token is a known example value ('change-me')" in result.stderr
    assert not (tmp_path / "c.db").exists()  # refused before opening anything
