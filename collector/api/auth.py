"""Who may read and change what over HTTP (issue 16): sign-in, sessions in cookies with CSRF protection, API
tokens, roles on each change, the audit log.

POST /api/login    {username, password} → session cookie (HttpOnly, SameSite=Strict, Secure unless
                   api.cookie_secure = false) and a CSRF cookie; {ok, user, role, csrf}. 429 while locked out.
                   {token} (the bootstrap api.admin_token) → {ok} as before: scripts then send it as Bearer.
POST /api/logout   ends the session
GET  /api/me       {user, role, via} | 401
GET  /api/audit?who=&action=&limit=   the audit log, newest first (read as any /api/ read; no API changes it)
POST /api/tokens   {label} → {token} a new API token for the signed-in user, shown once

Credentials, in this order: ``Authorization: Bearer <api.admin_token>`` (the bootstrap admin, for scripts
during migration: documented in docs/SECURITY.md), ``Authorization: Bearer <a user's API token>``, the session
cookie. A browser write with the session cookie must carry the CSRF token (``X-CSRF-Token``) that the login
returned and the ``qingliu_csrf`` cookie holds (double submit, checked against the session's own token).
With ``api.read_requires_login`` every /api/ read needs one of them (sign-in, /healthz and /metrics excepted).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import HTTPConnection

from collector.auth.accounts import ADMIN_TOKEN_USER, Accounts, Principal
from collector.auth.roles import Role
from collector.store.auth_rows import AuditEntry
from collector.summaries import iso

if TYPE_CHECKING:
    from collector.service import CollectorService

SESSION_COOKIE = "qingliu_session"
CSRF_COOKIE = "qingliu_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/api/login", "/api/logout", "/api/me"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(default=None, max_length=1000)
    username: str | None = Field(default=None, max_length=100)
    password: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _one_way(self) -> LoginRequest:
        if self.token is None and (self.username is None or self.password is None):
            raise ValueError("give username and password (or the admin token)")
        return self


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=100)


def address(conn: HTTPConnection) -> str:
    """The client's address as the server sees it (behind a proxy: uvicorn's --proxy-headers decides)."""
    return conn.client.host if conn.client is not None else "unknown"


class Auth:
    def __init__(
        self, accounts: Accounts, *, admin_token: str, read_requires_login: bool, cookie_secure: bool
    ):
        self.accounts = accounts
        self.admin_token = admin_token
        self.read_requires_login = read_requires_login
        self.cookie_secure = cookie_secure

    # -- who is asking ------------------------------------------------------------------------------------------

    def admin_token_ok(self, given: str) -> bool:
        return bool(self.admin_token) and hmac.compare_digest(given.encode(), self.admin_token.encode())

    def principal(self, conn: HTTPConnection) -> Principal | None:
        scheme, _, given = (conn.headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and given.strip():
            given = given.strip()
            if self.admin_token_ok(given):
                return Principal(ADMIN_TOKEN_USER, Role.ADMIN, "admin_token")
            return self.accounts.token(given)
        cookie = conn.cookies.get(SESSION_COOKIE)
        return self.accounts.session(cookie) if cookie else None

    def require(self, role: Role) -> Callable[[Request], Principal]:
        """A dependency: the principal holding ``role`` (401 nobody, 403 CSRF or role missing)."""

        def dependency(request: Request) -> Principal:
            found = self.principal(request)
            if found is None:
                if not self.admin_token and not self.accounts.users():
                    raise HTTPException(403, "changes are disabled: no user and no api.admin_token")
                raise HTTPException(
                    401,
                    "sign in, or send 'Authorization: Bearer <token>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if found.via == "session" and request.method not in SAFE_METHODS:
                given = request.headers.get(CSRF_HEADER, "")
                if not given or not hmac.compare_digest(given.encode(), found.csrf.encode()):
                    raise HTTPException(403, "missing or wrong X-CSRF-Token header")
            if not found.role.allows(role):
                raise HTTPException(403, f"{found.name} is {found.role.label}: this needs {role.label}")
            request.state.principal = found
            return found

        return dependency

    def audit(self, request: Request, who: Principal, action: str, target: str, **detail: Any) -> None:
        self.accounts.audit(who, address(request), action, target, detail)

    # -- the routes ---------------------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter()
        viewer = self.require(Role.VIEWER)

        @router.post("/api/login")
        def login(body: LoginRequest, request: Request) -> JSONResponse:
            if body.token is not None:  # the bootstrap admin token, checked as before (also rate limited)
                return self._token_login(body.token, address(request))
            result = self.accounts.login(body.username or "", body.password or "", address(request))
            if result.locked_for_s:
                retry = str(int(result.locked_for_s) + 1)
                detail = {"ok": False, "detail": "too many failed logins: locked out", "retry_after_s": retry}
                return JSONResponse(detail, status_code=429, headers={"Retry-After": retry})
            if result.principal is None:
                return JSONResponse({"ok": False, "detail": "invalid user name or password"}, status_code=401)
            who = result.principal
            response = JSONResponse({"ok": True, "user": who.name, "role": who.role.label, "csrf": who.csrf})
            hours = self.accounts.session_length.total_seconds()
            secure = self.cookie_secure
            response.set_cookie(
                SESSION_COOKIE,
                result.session_token,
                max_age=int(hours),
                httponly=True,
                secure=secure,
                samesite="strict",
            )
            response.set_cookie(CSRF_COOKIE, who.csrf, max_age=int(hours), secure=secure, samesite="strict")
            return response

        @router.post("/api/logout")
        def logout(request: Request) -> JSONResponse:
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie:
                self.accounts.logout(cookie)
            response = JSONResponse({"ok": True})
            response.delete_cookie(SESSION_COOKIE)
            response.delete_cookie(CSRF_COOKIE)
            return response

        @router.get("/api/me")
        def me(request: Request) -> dict[str, Any]:
            found = self.principal(request)
            if found is None:
                raise HTTPException(401, "not signed in", headers={"WWW-Authenticate": "Bearer"})
            return {
                "user": found.name,
                "role": found.role.label,
                "via": found.via,
                "csrf": found.csrf or None,
            }

        @router.get("/api/audit")
        def audit_log(
            request: Request,
            who: Annotated[str | None, Query(max_length=100)] = None,
            action: Annotated[str | None, Query(max_length=40)] = None,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        ) -> dict[str, Any]:
            # Read like any other /api/ read (ReadGuard): behind a login unless api.read_requires_login is off.
            entries = self.accounts.rows.audit_log(who=who, action=action, limit=limit)
            return {"entries": [entry_json(e) for e in entries]}

        @router.post("/api/tokens", status_code=201)
        def new_token(body: TokenRequest, request: Request) -> dict[str, str]:
            who = viewer(request)
            if who.via == "admin_token":
                raise HTTPException(400, "the bootstrap admin token is no user: sign in as one")
            token = self.accounts.new_token(who.name, body.label)
            self.audit(request, who, "token.add", who.name, label=body.label)
            return {"token": token, "label": body.label}

        return router

    def _token_login(self, token: str, where: str) -> JSONResponse:
        accounts, key = self.accounts, f"address:{where}"
        now = accounts.monotonic()
        if accounts.by_address.locked_for(key, now):
            return JSONResponse(
                {"ok": False, "detail": "too many failed logins: locked out"}, status_code=429
            )
        if not self.admin_token_ok(token):
            accounts.by_address.failed(key, now)
            return JSONResponse({"ok": False, "detail": "invalid token"}, status_code=401)
        accounts.by_address.succeeded(key)
        return JSONResponse({"ok": True})


class ReadGuard:
    """ASGI middleware: with read_requires_login, /api/ reads need a principal (pure ASGI: streams pass as
    they are)."""

    def __init__(self, app: App, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    def _guarded(self, scope: Scope) -> bool:
        path = str(scope.get("path", ""))
        return (
            self.auth.read_requires_login
            and scope["type"] == "http"
            and path.startswith("/api/")
            and path not in OPEN_PATHS
            and scope.get("method") in SAFE_METHODS
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._guarded(scope) and self.auth.principal(HTTPConnection(scope)) is None:
            response = JSONResponse(
                {"detail": "sign in to read: api.read_requires_login is on"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def make_auth(service: CollectorService) -> Auth:
    api = service.config.api
    accounts = Accounts(
        service.store.auth(),
        session_hours=api.session_hours,
        max_failures=api.login_max_failures,
        lockout_s=api.lockout_s,
        clock=service.clock,
    )
    return Auth(
        accounts,
        admin_token=api.admin_token,
        read_requires_login=api.read_requires_login,
        cookie_secure=api.cookie_secure,
    )


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "who": entry.who,
        "role": entry.role,
        "address": entry.address,
        "action": entry.action,
        "target": entry.target,
        "detail": json.loads(entry.detail),
    }
