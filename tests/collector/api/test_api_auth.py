"""Roles, sessions with CSRF protection, API tokens, lock-out and the audit log over HTTP (issue 16)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.api import create_app
from collector.auth.accounts import Accounts
from collector.auth.roles import Role
from collector.config import parse_config
from collector.service import CollectorService
from protocols.messages import Reading, ReadingBatch
from tests.collector.api.helpers import FakeMqtt, feed
from tests.collector.factories import T0

BOOTSTRAP = "bootstrap-token-0123456789"
PW = {"viewer": "viewer password 1", "operator": "operator password 1", "admin": "admin password 1"}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CollectorService]:
    config = parse_config(
        f'[mqtt]\nurl = "mqtt://127.0.0.1:1883"\nclient_id = "auth-{tmp_path.name[-20:]}"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "c.db"}"\nbatch_wait_s = 0.01\n'
        f'[api]\nadmin_token = "{BOOTSTRAP}"\nlogin_max_failures = 3\n'  # read_requires_login: default true
    )
    svc = CollectorService(config, clock=lambda: T0 + timedelta(hours=5))
    svc.start(mqtt=False)
    svc.mqtt = FakeMqtt()  # type: ignore[assignment]
    accounts = Accounts(svc.store.auth())
    for role in Role:
        accounts.add_user(f"{role.label}-1", role, PW[role.label])
    yield svc
    svc.stop()


def client_for(service: CollectorService) -> TestClient:
    return TestClient(create_app(service), base_url="https://testserver")  # the cookies are Secure


def signed_in(service: CollectorService, role: str) -> tuple[TestClient, dict[str, str]]:
    """A client with a session cookie, and the CSRF header its writes must carry."""
    client = client_for(service)
    body = client.post("/api/login", json={"username": f"{role}-1", "password": PW[role]}).json()
    assert body["ok"] and body["role"] == role and client.cookies.get("qingliu_csrf") == body["csrf"]
    return client, {"X-CSRF-Token": body["csrf"]}


def open_alert(service: CollectorService, client: TestClient) -> str:
    readings = [
        Reading(param="w21003", t=T0 + timedelta(hours=4 * i), value=v, device="nh3n")
        for i, v in enumerate([1.8, 1.9])
    ]
    feed(service, "readings", ReadingBatch(station="hexicun", seq=1, sent_at=T0, readings=readings))
    alerts = client.get("/api/alerts", params={"state": "open"}).json()["alerts"]
    return str(next(a["id"] for a in alerts if a["rule"] == "exceedance"))


def test_reading_needs_a_login_by_default(service: CollectorService) -> None:
    anonymous = client_for(service)
    assert anonymous.get("/api/overview").status_code == 401
    assert anonymous.get("/api/audit").status_code == 401
    assert anonymous.get("/healthz").status_code in (200, 503)  # monitoring stays open
    assert anonymous.get("/").status_code == 200  # the page with the sign-in form
    viewer, _ = signed_in(service, "viewer")
    assert viewer.get("/api/overview").status_code == 200
    assert viewer.get("/api/me").json() == {
        "user": "viewer-1",
        "role": "viewer",
        "via": "session",
        "csrf": viewer.cookies.get("qingliu_csrf"),
    }


def test_viewer_cannot_acknowledge_operator_cannot_command_admin_can_and_the_audit_log_shows_each(
    service: CollectorService,
) -> None:
    viewer, v_csrf = signed_in(service, "viewer")
    operator, o_csrf = signed_in(service, "operator")
    admin, a_csrf = signed_in(service, "admin")
    alert = open_alert(service, admin)
    ack = f"/api/alerts/{alert}/ack"
    command = "/api/stations/hexicun/commands"

    refused = viewer.post(ack, json={"note": "x"}, headers=v_csrf)
    assert refused.status_code == 403 and "needs operator" in refused.json()["detail"]
    done = operator.post(ack, json={"by": "someone else", "note": "已通知运维"}, headers=o_csrf)
    assert done.status_code == 200 and done.json()["acked_by"] == "operator-1"  # the person, not a typed name
    assert operator.post(command, json={"kind": "get_config"}, headers=o_csrf).status_code == 403
    sent = admin.post(command, json={"kind": "get_config"}, headers=a_csrf)
    assert sent.status_code == 202

    entries = viewer.get("/api/audit").json()["entries"]
    assert [(e["action"], e["who"], e["role"], e["target"], e["address"]) for e in entries] == [
        ("command", "admin-1", "admin", "hexicun", "testclient"),
        ("ack", "operator-1", "operator", alert, "testclient"),
    ]
    assert entries[0]["detail"]["kind"] == "get_config" and entries[0]["detail"]["id"] == sent.json()["id"]
    assert entries[1]["detail"]["note"] == "已通知运维"
    assert entries[0]["at"].endswith("Z")
    # Nobody can change it: the log has no write route at all.
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert admin.request(method, "/api/audit", headers=a_csrf).status_code == 405


def test_browser_writes_need_the_csrf_token_of_their_session(service: CollectorService) -> None:
    operator, csrf = signed_in(service, "operator")
    alert = open_alert(service, operator)
    url = f"/api/alerts/{alert}/ack"
    assert operator.post(url, json={}).status_code == 403  # cookie alone: a cross-site form could send it
    assert operator.post(url, json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    _, other = signed_in(service, "admin")
    assert operator.post(url, json={}, headers=other).status_code == 403  # another session's token
    assert operator.post(url, json={}, headers=csrf).status_code == 200
    operator.post("/api/logout")
    assert operator.get("/api/overview").status_code == 401


def test_api_tokens_for_scripts_carry_their_users_role(service: CollectorService) -> None:
    operator, csrf = signed_in(service, "operator")
    made = operator.post("/api/tokens", json={"label": "cron"}, headers=csrf)
    assert made.status_code == 201
    script = client_for(service)
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    alert = open_alert(service, operator)
    assert script.get("/api/overview", headers=bearer).status_code == 200
    assert script.post(f"/api/alerts/{alert}/ack", json={}, headers=bearer).status_code == 200  # no CSRF
    assert (
        script.post("/api/stations/hexicun/commands", json={"kind": "get_config"}, headers=bearer).status_code
        == 403
    )
    assert script.get("/api/overview", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_the_bootstrap_admin_token_still_works_and_is_audited_as_itself(service: CollectorService) -> None:
    script = client_for(service)
    bearer = {"Authorization": f"Bearer {BOOTSTRAP}"}
    alert = open_alert(
        service, TestClient(create_app(service), base_url="https://testserver", headers=bearer)
    )
    acked = script.post(f"/api/alerts/{alert}/ack", json={"by": "值班员 李工"}, headers=bearer)
    assert acked.status_code == 200 and acked.json()["acked_by"] == "值班员 李工"
    [entry] = script.get("/api/audit", headers=bearer).json()["entries"]
    assert (entry["who"], entry["role"], entry["detail"]["by"]) == ("admin-token", "admin", "值班员 李工")
    assert script.post("/api/login", json={"token": BOOTSTRAP}).json() == {"ok": True}


def test_login_locks_out_after_n_failures_with_a_log_line(
    service: CollectorService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="qingliu.collector.auth")
    client = client_for(service)
    wrong = {"username": "admin-1", "password": "not the password"}
    assert [client.post("/api/login", json=wrong).status_code for _ in range(3)] == [401, 401, 401]
    locked = client.post("/api/login", json={"username": "admin-1", "password": PW["admin"]})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "qingliu_session" not in client.cookies
    assert any("locked out" in r.getMessage() and "admin-1" in r.getMessage() for r in caplog.records)
    assert (
        client.post("/api/login", json={"username": "viewer-1", "password": PW["viewer"]}).status_code == 200
    )
