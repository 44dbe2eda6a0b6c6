"""Who may call what: every route of the app is tried without credentials and with a wrong role.

The routes are enumerated from the app itself, so a route added later is covered without editing
this file; a route with no access rule stops the app from being made at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from breastgate.domain.audit import AuditKind
from breastgate.domain.governance import Role
from breastgate.governance.accounts import LOCK_AFTER, hash_password
from breastgate.store import audit
from breastgate.store import governance as users
from breastgate.store.db import Database
from breastgate.web.api.access import COOKIE, PUBLIC, Allow, AuthConfig, check_rules, routes, rule_of
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from breastgate.web.ui.pages import PageRule
from tests.support.db import upgrade
from tests.support.identity import bearer

PASSWORD = "correct horse battery staple"
T0 = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
#: Routes anyone may call.
PUBLIC_ROUTES = {
    "GET /api/health",
    "POST /api/session",
    "GET /api/session/oidc/login",
    "GET /api/session/oidc/callback",
    "GET /api/session/oidc/logout",
    "GET /signin",  # the sign-in page
    "GET /static",  # the pages' script and style (no patient data)
}


class Clock:
    """A settable clock for session limits (no waiting on the real one)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        users.add_user(s, "rita", "radiologist", actor="test", password_hash=hash_password(PASSWORD))
    auth = AuthConfig(idle=timedelta(minutes=30), lifetime=timedelta(hours=12), clock=clock)
    context = AppContext(
        db=db, version="t", ae_title="BG", dicom_port=None, workers_in_process=False, auth=auth
    )
    yield create_app(context)
    db.dispose()


def _db(app: FastAPI) -> Database:
    db: Database = app.state.context.db
    return db


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def _cases(app: FastAPI) -> list[tuple[str, str, object]]:
    return [
        (method, path, route)
        for path, methods, route in routes(app)
        for method in sorted(methods - {"HEAD", "OPTIONS"})
    ]


def test_every_route_needs_an_identity(app: FastAPI) -> None:
    client = TestClient(app)
    cases = _cases(app)
    assert len(cases) >= 40  # the whole API, not a part of it
    open_routes = set()
    for method, path, route in cases:
        if method == "WEBSOCKET":
            with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(_concrete(path)):
                pass
            assert refused.value.code == 1008, path
            continue
        response = client.request(method, _concrete(path), follow_redirects=False)
        if isinstance(rule_of(route), PageRule):  # a page sends a browser without a session to sign in
            assert response.status_code == 303, f"{method} {path}: {response.status_code}"
            assert response.headers["location"].startswith("/signin?next="), path
            continue
        if f"{method} {path}" in PUBLIC_ROUTES:
            open_routes.add(f"{method} {path}")
            continue
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.headers["content-type"] == "application/problem+json"
        assert "WWW-Authenticate" in response.headers
    assert open_routes == PUBLIC_ROUTES


def test_every_role_restricted_route_refuses_the_other_roles(app: FastAPI) -> None:
    client = TestClient(app)
    headers = {role: bearer(_db(app), role.value, name=f"only-{role.value}") for role in Role}
    checked = 0
    for method, path, route in _cases(app):
        rule = rule_of(route)
        if method == "WEBSOCKET" or not isinstance(rule, Allow) or not rule.roles:
            continue
        for role in set(Role) - set(rule.roles):
            response = client.request(method, _concrete(path), headers=headers[role])
            assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
            checked += 1
    assert checked >= 60


def test_an_app_with_a_route_without_a_rule_does_not_start() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/open")
    def open_route() -> dict[str, str]:
        return {}

    @router.get("/health")
    def fine(_: None = PUBLIC) -> dict[str, str]:  # type: ignore[assignment]
        return {}

    app.include_router(router, prefix="/api")
    with pytest.raises(RuntimeError, match=r"GET /api/open"):
        check_rules(app)


def _sign_in(client: TestClient, password: str = PASSWORD, name: str = "rita") -> object:
    return client.post("/api/session", json={"name": name, "password": password})


def test_sign_in_sets_a_lax_http_only_cookie_and_the_session_names_the_user(app: FastAPI) -> None:
    client = TestClient(app)
    response = _sign_in(client)
    assert response.status_code == 200  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["user"] == "rita" and body["roles"] == ["radiologist"] and body["via"] == "password"
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http (the TestClient): Secure follows the scheme
    me = client.get("/api/session").json()
    assert me["user"] == "rita" and me["csrf_token"] == body["csrf_token"]
    with _db(app).session() as s:
        events = list(audit.iter_events(s))
    assert AuditKind.SIGNED_IN.value in [e.kind for e in events]
    assert PASSWORD not in str([e.as_dict() for e in events])


def test_a_browser_change_needs_the_csrf_token_and_this_origin(app: FastAPI) -> None:
    client = TestClient(app)
    token = _sign_in(client).json()["csrf_token"]  # type: ignore[attr-defined]
    url = "/api/worklist/1.2.3/status"
    body = {"status": "in_progress"}
    assert client.put(url, json=body).status_code == 403
    assert client.put(url, json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    other_site = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
    assert client.put(url, json=body, headers=other_site).status_code == 403
    assert client.put(url, json=body, headers={"X-CSRF-Token": token}).status_code == 404  # allowed: no study
    assert client.get("/api/worklist").status_code == 200  # reads need no token
    with client.websocket_connect("/ups-rs/subscribers/PAGE1", headers={"Origin": "http://testserver"}):
        pass  # the session's own pages may open the event channel
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/ups-rs/subscribers/PAGE2", headers={"Origin": "https://evil.example"}),
    ):
        pass
    assert refused.value.code == 1008


def test_sessions_end_when_idle_or_old_and_at_sign_out(app: FastAPI, clock: Clock) -> None:
    client = TestClient(app)
    _sign_in(client)
    clock.now += timedelta(minutes=29)
    assert client.get("/api/session").status_code == 200
    clock.now += timedelta(minutes=31)  # idle for 31 minutes
    assert client.get("/api/session").status_code == 401
    _sign_in(client)
    signed_at = clock.now
    for _ in range(30):  # used every 29 minutes: never idle, but 12 hours after sign-in is the end
        clock.now += timedelta(minutes=29)
        if client.get("/api/session").status_code != 200:
            break
    assert timedelta(hours=12) <= clock.now - signed_at < timedelta(hours=12, minutes=29)
    assert client.get("/api/session").status_code == 401
    token = _sign_in(client).json()["csrf_token"]  # type: ignore[attr-defined]
    assert client.delete("/api/session", headers={"X-CSRF-Token": token}).status_code == 204
    assert client.get("/api/session").status_code == 401


def test_wrong_passwords_lock_the_account_and_are_rate_limited(app: FastAPI, clock: Clock) -> None:
    client = TestClient(app)
    for _ in range(LOCK_AFTER):
        assert _sign_in(client, "wrong password!").status_code == 401  # type: ignore[attr-defined]
    locked = _sign_in(client)  # the right password, but locked: the same answer
    assert locked.status_code == 401  # type: ignore[attr-defined]
    assert locked.json()["title"] == "Unknown user name or wrong password"  # type: ignore[attr-defined]
    assert _sign_in(client, name="nobody").status_code == 401  # type: ignore[attr-defined]
    for _ in range(5):
        _sign_in(client, "wrong again!!")
    limited = _sign_in(client)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0  # type: ignore[attr-defined]
    clock.now += timedelta(minutes=16)  # the window and the lock are over
    assert _sign_in(client).status_code == 200  # type: ignore[attr-defined]
    with _db(app).session() as s:
        refused = [e for e in audit.iter_events(s) if e.kind == AuditKind.SIGN_IN_REFUSED.value]
    assert any("locked" in e.data["reason"] for e in refused)
    assert all(PASSWORD not in str(e.data) for e in refused)


def test_a_disabled_user_loses_token_and_session(app: FastAPI) -> None:
    client = TestClient(app)
    headers = bearer(_db(app), "radiologist", name="rita")  # a token for rita too
    _sign_in(client)
    with _db(app).session() as s:
        users.deactivate_user(s, "rita", actor="test")
    assert client.get("/api/session").status_code == 401
    assert TestClient(app).get("/api/session", headers=headers).status_code == 401


def test_a_large_body_is_refused_before_it_is_read_and_errors_do_not_echo(app: FastAPI) -> None:
    client = TestClient(app)
    headers = bearer(_db(app), "radiologist")
    big = b'{"current_age": "' + b"9" * (2 * 1024 * 1024) + b'"}'
    json_headers = {**headers, "content-type": "application/json"}
    refused = client.post("/api/risk/bcrat", content=big, headers=json_headers)
    assert refused.status_code == 413 and len(refused.content) < 500
    chunks = iter([b'{"current_age": "' + b"9" * 600_000] * 3)  # no Content-Length: counted as it comes
    streamed = client.post("/api/risk/bcrat", content=chunks, headers=json_headers)
    assert streamed.status_code == 413
    secret = "DOE^JANE-1234567"
    bad = client.post("/api/risk/bcrat", json={"current_age": secret}, headers=headers)
    assert bad.status_code == 422 and secret not in bad.text and len(bad.content) < 5000


def test_unknown_studies_are_404_for_feedback_and_approval(app: FastAPI) -> None:
    client = TestClient(app)
    headers = bearer(_db(app), "radiologist")
    assert client.get("/api/studies/9.9/feedback", headers=headers).status_code == 404
    assert client.get("/api/studies/9.9/approval", headers=headers).status_code == 404
    decided = client.post("/api/studies/9.9/approval", json={"decision": "approve"}, headers=headers)
    assert decided.status_code == 404
    assert client.get("/api/studies/9.9/outcomes", headers=headers).status_code == 404
