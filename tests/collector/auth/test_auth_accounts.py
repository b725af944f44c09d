"""Users, sessions, API tokens, lock-out and the audit log on both engines (collector/auth/accounts.py)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from collector.auth.accounts import AccountError, Accounts, Principal
from collector.auth.roles import Role
from collector.store.base import Store

T0 = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
PW = "correct horse battery"


class Clocks:
    def __init__(self) -> None:
        self.now = T0
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def accounts(store: Store, clocks: Clocks) -> Accounts:
    return Accounts(
        store.auth(),
        session_hours=1,
        max_failures=3,
        lockout_s=600,
        clock=lambda: clocks.now,
        monotonic=lambda: clocks.mono,
    )


def test_a_user_signs_in_with_the_password_kept_as_an_argon2_hash(accounts: Accounts, store: Store) -> None:
    accounts.add_user("li.gong", Role.OPERATOR, PW)
    stored = store.auth().user("li.gong")
    assert (
        stored is not None
        and stored.password_hash.startswith("$argon2id$")
        and PW not in stored.password_hash
    )
    result = accounts.login("li.gong", PW, "10.0.0.7")
    assert result.principal == Principal("li.gong", Role.OPERATOR, "session", result.principal.csrf)  # type: ignore[union-attr]
    assert accounts.session(result.session_token) == result.principal
    assert accounts.login("li.gong", "wrong password!", "10.0.0.7").principal is None
    assert accounts.login("nobody", PW, "10.0.0.7").principal is None


def test_sessions_expire_and_end_with_logout_a_new_password_or_disabling(
    accounts: Accounts, clocks: Clocks
) -> None:
    accounts.add_user("wang", Role.VIEWER, PW)
    first = accounts.login("wang", PW, "a").session_token
    clocks.advance(3601)  # session_hours=1
    assert accounts.session(first) is None
    second = accounts.login("wang", PW, "a").session_token
    accounts.logout(second)
    assert accounts.session(second) is None
    third = accounts.login("wang", PW, "a").session_token
    accounts.set_password("wang", "another long password")
    assert accounts.session(third) is None
    assert accounts.login("wang", PW, "a").principal is None
    fourth = accounts.login("wang", "another long password", "a").session_token
    api_token = accounts.new_token("wang", "script")
    assert accounts.token(api_token) == Principal("wang", Role.VIEWER, "token")
    accounts.set_enabled("wang", False)
    assert accounts.session(fourth) is None and accounts.token(api_token) is None
    assert accounts.login("wang", "another long password", "a").principal is None


def test_api_tokens_are_kept_only_as_digests(accounts: Accounts, store: Store) -> None:
    accounts.add_user("ops", Role.ADMIN, PW)
    token = accounts.new_token("ops", "cron")
    assert store.auth().token_user(token) is None  # the token itself is not a key
    assert accounts.token(token) == Principal("ops", Role.ADMIN, "token")
    assert accounts.token(token + "x") is None
    assert [label for label, _ in store.auth().tokens("ops")] == ["cron"]


def test_bad_users_are_refused(accounts: Accounts) -> None:
    accounts.add_user("zhao", Role.VIEWER, PW)
    with pytest.raises(AccountError, match="exists already"):
        accounts.add_user("zhao", Role.ADMIN, PW)
    with pytest.raises(AccountError, match="at least 10"):
        accounts.add_user("qian", Role.VIEWER, "short")
    with pytest.raises(AccountError, match="not a valid user name"):
        accounts.add_user("a b", Role.VIEWER, PW)
    with pytest.raises(AccountError, match="no user"):
        accounts.set_password("sun", PW)


def test_lock_out_after_n_failures_even_for_the_right_password_then_again_after_the_lockout(
    accounts: Accounts, clocks: Clocks, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    accounts.add_user("li", Role.ADMIN, PW)
    caplog.set_level(logging.WARNING, logger="qingliu.collector.auth")
    for _ in range(3):  # max_failures=3
        assert accounts.login("li", "guess-guess-guess", "203.0.113.9").principal is None
    locked = accounts.login("li", PW, "203.0.113.9")
    assert locked.principal is None and locked.locked_for_s == 600
    # The user name is locked, from any address.
    assert accounts.login("li", PW, "198.51.100.1").locked_for_s == 600
    assert any("locked out" in r.getMessage() and "'li'" in r.getMessage() for r in caplog.records)
    entry = store.auth().audit_log(action="login.locked")[0]
    assert (entry.who, entry.address, entry.target) == ("li", "203.0.113.9", "li")
    clocks.advance(601)
    assert accounts.login("li", PW, "203.0.113.9").principal is not None


def test_the_audit_log_is_append_only_on_both_engines(accounts: Accounts, store: Store) -> None:
    who = Principal("li", Role.OPERATOR, "session")
    accounts.audit(who, "10.0.0.7", "ack", "a-1", {"note": "已通知运维"})
    accounts.audit(who, "10.0.0.7", "comment", "a-1", {"text": "pump replaced"})
    log = store.auth().audit_log()
    assert [(e.action, e.who, e.role, e.address, e.at) for e in log] == [
        ("comment", "li", "operator", "10.0.0.7", T0),
        ("ack", "li", "operator", "10.0.0.7", T0),
    ]
    assert json.loads(log[1].detail) == {"note": "已通知运维"}
    with pytest.raises(Exception, match="append-only"), store._transaction() as db:  # type: ignore[attr-defined]
        db.execute("UPDATE audit_log SET who = 'someone else'")
    with pytest.raises(Exception, match="append-only"), store._transaction() as db:  # type: ignore[attr-defined]
        db.execute("DELETE FROM audit_log")
    assert len(store.auth().audit_log()) == 2
