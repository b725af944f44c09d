"""``qingliu collector user``: add, passwd, role, disable, token, list — on the store the config names."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from collector.auth.accounts import Accounts
from collector.auth.cli import run
from collector.cli import _parser
from collector.store.sqlite import SqliteStore


def user(config: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    args = _parser().parse_args(["user", *argv, "--config", str(config)])
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out=out, err=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text('[store]\nurl = "sqlite:///c.db"\n')
    return path


def test_users_are_added_changed_disabled_and_listed_and_each_change_is_audited(config: Path) -> None:
    assert (
        user(config, "add", "li", "--role", "operator", "--password-stdin", stdin="first password\n")[0] == 0
    )
    assert user(config, "add", "li", "--role", "admin", "--password-stdin", stdin="first password\n")[2] == (
        "qingliu collector user: user 'li' exists already\n"
    )
    assert user(config, "add", "wu", "--role", "viewer", "--password-stdin", stdin="short\n")[0] == 2
    assert user(config, "passwd", "li", "--password-stdin", stdin="second password\n")[0] == 0
    assert user(config, "role", "li", "admin")[0] == 0
    code, token, _ = user(config, "token", "li", "--label", "cron")
    assert code == 0 and len(token.strip()) >= 40
    store = SqliteStore(config.parent / "c.db")
    try:
        accounts = Accounts(store.auth())
        assert accounts.login("li", "first password", "a").principal is None
        who = accounts.login("li", "second password", "a").principal
        assert who is not None and who.role.label == "admin"
        assert accounts.token(token.strip()) is not None
        assert user(config, "disable", "li")[0] == 0
        assert accounts.login("li", "second password", "b").principal is None
        assert accounts.token(token.strip()) is None
        actions = [(e.action, e.who, e.target) for e in store.auth().audit_log()]
        assert actions == [
            ("user.disable", "cli", "li"),
            ("user.token", "cli", "li"),
            ("user.role", "cli", "li"),
            ("user.passwd", "cli", "li"),
            ("user.add", "cli", "li"),
        ]
    finally:
        store.close()
    listed = user(config, "list")[1]
    assert listed.startswith("li ") and "admin" in listed and "disabled" in listed
    assert user(config, "disable", "nobody")[2] == "qingliu collector user: no user 'nobody'\n"
