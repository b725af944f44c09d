"""The collector's users: adding and changing them, signing in (with lock-out), sessions, API tokens and the
audit log, over the store's auth tables (collector/store/auth_rows.py). No HTTP here (collector/api/auth.py).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.auth import passwords
from collector.auth.limiter import LoginLimiter
from collector.auth.roles import Role
from collector.store.auth_rows import AuditEntry, AuthRows, Session, User

log = logging.getLogger("qingliu.collector.auth")

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
ADDRESS_FACTOR = 4  # one address (an office behind NAT) may fail this many times more than one user name
ADMIN_TOKEN_USER = "admin-token"  # who the bootstrap api.admin_token is in the audit log


class AccountError(ValueError):
    """A user that cannot be added or changed, with the reason."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a signed-in user (``via`` session: browser writes need the CSRF token), a user's API
    token, or the bootstrap admin token."""

    name: str
    role: Role
    via: str  # session | token | admin_token
    csrf: str = ""


@dataclass(frozen=True, slots=True)
class LoginResult:
    principal: Principal | None = None
    session_token: str = ""
    locked_for_s: float = 0.0  # >0: locked out, try again after this


class Accounts:
    def __init__(
        self,
        rows: AuthRows,
        *,
        session_hours: float = 12.0,
        max_failures: int = 5,
        lockout_s: float = 900.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rows = rows
        self.session_length = timedelta(hours=session_hours)
        self.clock = clock
        self.monotonic = monotonic
        self.by_user = LoginLimiter(max_failures, lockout_s)
        self.by_address = LoginLimiter(max_failures * ADDRESS_FACTOR, lockout_s)

    # -- users --------------------------------------------------------------------------------------------------

    def add_user(self, name: str, role: Role, password: str) -> None:
        if not NAME.match(name) or name == ADMIN_TOKEN_USER:
            raise AccountError(f"{name!r} is not a valid user name (letters, digits, . _ @ -; up to 64)")
        if not self.rows.add_user(name, role.label, self._hash(password), self.clock()):
            raise AccountError(f"user {name!r} exists already")

    def set_password(self, name: str, password: str) -> None:
        self._change(name, password_hash=self._hash(password))

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._change(name, enabled=enabled)

    def set_role(self, name: str, role: Role) -> None:
        self._change(name, role=role.label)

    def users(self) -> list[User]:
        return self.rows.users()

    def _hash(self, password: str) -> str:
        try:
            return passwords.hash_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None

    def _change(self, name: str, **changes: Any) -> None:
        if not self.rows.update_user(name, self.clock(), **changes):
            raise AccountError(f"no user {name!r}")

    # -- signing in ---------------------------------------------------------------------------------------------

    def login(self, name: str, password: str, address: str) -> LoginResult:
        now = self.monotonic()
        user_key, address_key = f"user:{name}", f"address:{address}"
        locked = max(self.by_user.locked_for(user_key, now), self.by_address.locked_for(address_key, now))
        if locked:
            log.warning("login refused (locked out %.0f s more): user %r from %s", locked, name, address)
            return LoginResult(locked_for_s=locked)
        user = self.rows.user(name)
        ok = passwords.verify(user.password_hash if user is not None else None, password)
        if not ok or user is None or not user.enabled:
            locks = [self.by_user.failed(user_key, now), self.by_address.failed(address_key, now)]
            log.warning("login failed: user %r from %s", name, address)
            if any(locks):
                log.warning(
                    "login locked out for %.0f s: user %r from %s", self.by_user.lockout_s, name, address
                )
                self.audit(Principal(name, Role.VIEWER, "login"), address, "login.locked", name, {})
            return LoginResult()
        self.by_user.succeeded(user_key)
        self.by_address.succeeded(address_key)
        token, csrf = passwords.new_token(), secrets.token_urlsafe(24)
        started = self.clock()
        session = Session(user.name, csrf, address, started, started + self.session_length)
        self.rows.add_session(passwords.digest(token), session)
        log.info("login: user %r (%s) from %s", user.name, user.role, address)
        return LoginResult(Principal(user.name, Role.parse(user.role), "session", csrf), token)

    def session(self, token: str) -> Principal | None:
        found = self.rows.session(passwords.digest(token), self.clock())
        if found is None:
            return None
        user = self.rows.user(found.name)
        if user is None or not user.enabled:
            return None
        return Principal(user.name, Role.parse(user.role), "session", found.csrf)

    def logout(self, token: str) -> None:
        self.rows.drop_session(passwords.digest(token))

    # -- API tokens ---------------------------------------------------------------------------------------------

    def new_token(self, name: str, label: str) -> str:
        """A new API token for the user (shown once; only its digest is kept)."""
        if self.rows.user(name) is None:
            raise AccountError(f"no user {name!r}")
        token = passwords.new_token()
        self.rows.add_token(passwords.digest(token), name, label, self.clock())
        return token

    def token(self, token: str) -> Principal | None:
        name = self.rows.token_user(passwords.digest(token))
        user = self.rows.user(name) if name is not None else None
        if user is None or not user.enabled:
            return None
        return Principal(user.name, Role.parse(user.role), "token")

    # -- the audit log ------------------------------------------------------------------------------------------

    def audit(self, who: Principal, address: str, action: str, target: str, detail: dict[str, Any]) -> None:
        entry = AuditEntry(
            self.clock(),
            who.name,
            who.role.label,
            address,
            action,
            target,
            json.dumps(detail, ensure_ascii=False, sort_keys=True),
        )
        self.rows.audit(entry)
