"""``[[uplink.hj212]]`` in the agent config: the defaults, and errors that name the target's field."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main as agent_cli
from agent.config import parse_config
from protocols.errors import ConfigError

BASE = '[station]\nid = "hexicun"\n'
TARGET = '[[uplink.hj212]]\nname = "{name}"\nhost = "10.0.0.1"\nport = 9001\nmn = "MN01"\npassword = "{pw}"\n'


def target(name: str = "national", pw: str = "123456") -> str:
    return TARGET.format(name=name, pw=pw)


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="agent.toml")
    return str(caught.value)


def test_defaults_are_the_standard_s() -> None:
    (t,) = parse_config(BASE + target()).uplink.hj212
    assert (t.st, t.reply_required, t.reply_timeout_s, t.retries) == ("21", True, 5.0, 3)
    assert (t.realtime, t.hourly, t.daily, t.legacy_codes, t.codes) == (True, True, False, False, {})
    assert parse_config(BASE).uplink.hj212 == []  # no targets: no feed, nothing runs


def test_two_targets_of_one_name_and_a_password_the_codec_cannot_send() -> None:
    assert "used twice" in problems(BASE + target() + target())
    found = problems(BASE + target(pw="pass word"))
    assert "password" in found and "uplink" in found


def test_check_lists_the_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(BASE + target() + target("province").replace("9001", "9002") + "daily = true\n")
    assert agent_cli(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "hj212     national 10.0.0.1:9001  MN MN01  ST 21  2011, 2061  (9014 required)" in out
    assert "hj212     province 10.0.0.1:9002  MN MN01  ST 21  2011, 2061, 2031  (9014 required)" in out
