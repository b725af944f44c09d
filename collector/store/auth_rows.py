"""People, their sessions and API tokens, and the audit log — the same on both engines (issue 16).

Passwords are kept as argon2 hashes (collector/auth/passwords.py); session and API tokens only as their SHA-256
digests, so that a copy of the store signs nobody in. The audit log is append-only: nothing in qingliu updates
or deletes its rows, and each engine refuses to (a trigger), so that an entry stands as it was written.
Queries are written once here, given the engine's ``Dialect``; the tables are created by each engine's
``connect`` from ``SQLITE_SCHEMA`` / ``POSTGRES_SCHEMA``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # dialect.py imports base.py, which may import this module's types
    from collector.store.dialect import Dialect, Query

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL, changed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY, name TEXT NOT NULL, csrf TEXT NOT NULL, address TEXT NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    digest TEXT PRIMARY KEY, name TEXT NOT NULL, label TEXT NOT NULL, created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, who TEXT NOT NULL, role TEXT NOT NULL,
    address TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

# One statement each (a function body holds semicolons): run in order by postgres_schema.connect.
POSTGRES_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
    name text PRIMARY KEY, role text NOT NULL, password_hash text NOT NULL, enabled boolean NOT NULL,
    created_at timestamptz NOT NULL, changed_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sessions (
    digest text PRIMARY KEY, name text NOT NULL, csrf text NOT NULL, address text NOT NULL,
    created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS api_tokens (
    digest text PRIMARY KEY, name text NOT NULL, label text NOT NULL, created_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL, who text NOT NULL,
    role text NOT NULL, address text NOT NULL, action text NOT NULL, target text NOT NULL, detail text NOT NULL)""",
    """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$""",
    """CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
)


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    password_hash: str
    enabled: bool
    created_at: datetime
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class Session:
    name: str
    csrf: str
    address: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    who: str
    role: str
    address: str
    action: str  # ack | comment | command | reapply | login | user.add ... (collector/auth/audit.py)
    target: str  # what it was done to: an alert id, a station, a user name
    detail: str  # JSON text: the note, the command's kind and arguments
    id: int = 0


USER_COLUMNS = "name, role, password_hash, enabled, created_at, changed_at"
AUDIT_COLUMNS = "id, at, who, role, address, action, target, detail"
Transaction = Callable[[], AbstractContextManager[Any]]


class AuthRows:
    """The auth tables of one store: ``transaction`` and ``rows`` are the store's, under its lock."""

    def __init__(self, transaction: Transaction, rows: Query, dialect: Dialect) -> None:
        self._transaction = transaction
        self._rows = rows
        self._d = dialect

    def _user(self, row: Sequence[Any]) -> User:
        d = self._d
        return User(row[0], row[1], row[2], bool(row[3]), d.when(row[4]), d.when(row[5]))

    # -- users --------------------------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, now: datetime) -> bool:
        """False when the name is taken."""
        d = self._d
        with self._transaction() as db:
            if db.execute(f"SELECT 1 FROM users WHERE name = {d.mark}", (name,)).fetchone():
                return False
            db.execute(
                f"INSERT INTO users ({USER_COLUMNS}) VALUES ({d.marks(6)})",
                (name, role, password_hash, True, d.time(now), d.time(now)),
            )
        return True

    def user(self, name: str) -> User | None:
        rows = self._rows(f"SELECT {USER_COLUMNS} FROM users WHERE name = {self._d.mark}", (name,))
        return self._user(rows[0]) if rows else None

    def users(self) -> list[User]:
        return [self._user(r) for r in self._rows(f"SELECT {USER_COLUMNS} FROM users ORDER BY name", ())]

    def update_user(
        self,
        name: str,
        now: datetime,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        enabled: bool | None = None,
    ) -> bool:
        """Change what is given; a new password or a disabled user ends the user's sessions. False: no user."""
        d = self._d
        sets = [
            (c, v)
            for c, v in (("password_hash", password_hash), ("role", role), ("enabled", enabled))
            if v is not None
        ]
        with self._transaction() as db:
            assignments = ", ".join(f"{c} = {d.mark}" for c, _ in [*sets, ("changed_at", None)])
            cur = db.execute(
                f"UPDATE users SET {assignments} WHERE name = {d.mark}",
                (*[v for _, v in sets], d.time(now), name),
            )
            if cur.rowcount == 0:
                return False
            if password_hash is not None or enabled is False or role is not None:
                db.execute(f"DELETE FROM sessions WHERE name = {d.mark}", (name,))
            if enabled is False:
                db.execute(f"DELETE FROM api_tokens WHERE name = {d.mark}", (name,))
        return True

    # -- sessions -----------------------------------------------------------------------------------------------

    def add_session(self, digest: str, session: Session) -> None:
        d = self._d
        with self._transaction() as db:
            db.execute(f"DELETE FROM sessions WHERE expires_at < {d.mark}", (d.time(session.created_at),))
            db.execute(
                "INSERT INTO sessions (digest, name, csrf, address, created_at, expires_at)"
                f" VALUES ({d.marks(6)})",
                (
                    digest,
                    session.name,
                    session.csrf,
                    session.address,
                    d.time(session.created_at),
                    d.time(session.expires_at),
                ),
            )

    def session(self, digest: str, now: datetime) -> Session | None:
        d = self._d
        rows = self._rows(
            "SELECT name, csrf, address, created_at, expires_at FROM sessions"
            f" WHERE digest = {d.mark} AND expires_at > {d.mark}",
            (digest, d.time(now)),
        )
        if not rows:
            return None
        r = rows[0]
        return Session(r[0], r[1], r[2], d.when(r[3]), d.when(r[4]))

    def drop_session(self, digest: str) -> None:
        with self._transaction() as db:
            db.execute(f"DELETE FROM sessions WHERE digest = {self._d.mark}", (digest,))

    # -- API tokens ---------------------------------------------------------------------------------------------

    def add_token(self, digest: str, name: str, label: str, now: datetime) -> None:
        d = self._d
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO api_tokens (digest, name, label, created_at) VALUES ({d.marks(4)})",
                (digest, name, label, d.time(now)),
            )

    def token_user(self, digest: str) -> str | None:
        rows = self._rows(f"SELECT name FROM api_tokens WHERE digest = {self._d.mark}", (digest,))
        return str(rows[0][0]) if rows else None

    def tokens(self, name: str) -> list[tuple[str, datetime]]:
        """(label, created_at) of each of the user's tokens."""
        d = self._d
        rows = self._rows(
            f"SELECT label, created_at FROM api_tokens WHERE name = {d.mark} ORDER BY created_at", (name,)
        )
        return [(str(r[0]), d.when(r[1])) for r in rows]

    def revoke_tokens(self, name: str, label: str | None = None) -> int:
        d = self._d
        where, args = d.where(("label =", label))
        with self._transaction() as db:
            return int(
                db.execute(f"DELETE FROM api_tokens WHERE name = {d.mark}{where}", (name, *args)).rowcount
            )

    # -- the audit log ------------------------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> int:
        d = self._d
        with self._transaction() as db:
            row = db.execute(
                "INSERT INTO audit_log (at, who, role, address, action, target, detail)"
                f" VALUES ({d.marks(7)}) RETURNING id",
                (
                    d.time(entry.at),
                    entry.who,
                    entry.role,
                    entry.address,
                    entry.action,
                    entry.target,
                    entry.detail,
                ),
            ).fetchone()
        return int(row[0])

    def audit_log(
        self, *, who: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Newest first."""
        d = self._d
        where, args = d.where(("who =", who), ("action =", action))
        rows = self._rows(
            f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE 1 = 1{where} ORDER BY id DESC LIMIT {d.mark}",
            (*args, limit),
        )
        return [AuditEntry(d.when(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], id=int(r[0])) for r in rows]
