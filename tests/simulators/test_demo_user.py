"""The demo makes its own named admin with a fresh password each run (issue 16: no default secrets)."""

from __future__ import annotations

import sys
from pathlib import Path

from collector.auth.accounts import Accounts
from collector.store.sqlite import SqliteStore
from simulators import demo


def test_the_demo_user_gets_a_fresh_password_each_run_and_it_signs_in(tmp_path: Path) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(demo.collector_config("mqtt://127.0.0.1:1883", tmp_path, 8000), encoding="utf-8")
    exe = [sys.executable, "-m", "qingliu_cli"]
    first = demo._demo_user(exe, config)
    second = demo._demo_user(exe, config)  # --keep: the user exists, its password is reset
    assert first and second and first != second
    store = SqliteStore(tmp_path / "collector.db")
    try:
        accounts = Accounts(store.auth())
        assert accounts.login(demo.DEMO_USER, first, "local").principal is None
        who = accounts.login(demo.DEMO_USER, second, "local").principal
        assert who is not None and who.role.label == "admin"
    finally:
        store.close()
    assert demo.ADMIN_TOKEN not in ("", "demo-admin-token") and len(demo.ADMIN_TOKEN) >= 16
