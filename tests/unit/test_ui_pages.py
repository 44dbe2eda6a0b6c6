"""The page routes: sign-in redirects, roles, the shell's headers, no open redirect after sign-in,
and the worklist fingerprint the live-update stream polls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from breastgate.governance.accounts import hash_password
from breastgate.store import governance as users
from breastgate.store import studies
from breastgate.store import worklist as worklist_store
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.api.events import fingerprint
from breastgate.web.app import create_app
from breastgate.web.ui.pages import CSP
from tests.support.db import upgrade
from tests.support.identity import bearer

PASSWORD = "correct horse battery staple"
T0 = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        users.add_user(s, "rita", "radiologist", actor="test", password_hash=hash_password(PASSWORD))
    yield create_app(AppContext(db=db, version="t", ae_title="BG", dicom_port=None, workers_in_process=False))
    db.dispose()


def _signed_in(app: FastAPI) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert client.post("/api/session", json={"name": "rita", "password": PASSWORD}).status_code == 200
    return client


def test_a_page_without_a_session_goes_to_sign_in_and_keeps_its_target(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    answer = client.get("/studies/1.2.3?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=%2Fstudies%2F1.2.3%3Fx%3D1"
    signin = client.get("/signin?next=/studies/1.2.3")
    assert signin.status_code == 200 and 'data-next="/studies/1.2.3"' in signin.text
    assert 'data-sso=""' in signin.text  # no single sign-on configured


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "worklist"]
)
def test_sign_in_never_sends_the_browser_to_another_site(app: FastAPI, target: str) -> None:
    page = TestClient(app).get("/signin", params={"next": target}).text
    assert 'data-next="/worklist"' in page


def test_signed_in_pages_are_shells_with_a_strict_policy(app: FastAPI) -> None:
    client = _signed_in(app)
    assert client.get("/").headers["location"] == "/worklist"
    for path in ("/worklist", "/studies/1.2.840.1", "/governance"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-security-policy"] == CSP
        assert "rita" not in answer.text  # the shell holds no user or patient data; the API does
    assert client.get("/studies/not-a-uid").status_code == 404
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")


def test_an_integration_account_gets_no_page(app: FastAPI) -> None:
    token = bearer(app.state.context.db, "integration", name="ris")
    answer = TestClient(app, follow_redirects=False).get("/worklist", headers=token)
    assert answer.status_code == 403


def test_the_worklist_fingerprint_moves_with_arrivals_and_status_changes(app: FastAPI) -> None:
    context = SimpleNamespace(db=app.state.context.db)
    empty = fingerprint(context)
    with context.db.session() as session:
        studies.record_instance(
            session,
            studies.InstanceInfo("2.25.1", "2.25.1.1", "2.25.1.1.1", "1.2.840.10008.5.1.4.1.1.1.2", "x.dcm"),
            now=T0,
        )
        worklist_store.apply_triage(
            session,
            "2.25.1",
            priority="routine",
            score=3,
            flags=(),
            policy="p@1",
            queue="radiologist",
            now=T0,
        )
    arrived = fingerprint(context)
    with context.db.session() as session:
        worklist_store.set_status(session, "2.25.1", "in_progress", now=T0.replace(minute=5))
    moved = fingerprint(context)
    assert len({empty, arrived, moved}) == 3
    assert fingerprint(context) == moved  # nothing changed: nothing to push
