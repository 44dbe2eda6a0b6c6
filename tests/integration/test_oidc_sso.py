"""Single sign-on against a real OpenID Provider (panva's oidc-provider, started by this module).

Each browser is an httpx client following redirects between breastgate (uvicorn, a real socket)
and the IdP, signing in on the IdP's own pages; the ID tokens are the IdP's, signed with its key.
"""

from __future__ import annotations

import dataclasses
import html
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from breastgate.governance.sso import parse_role_map
from breastgate.store import audit
from breastgate.store import governance as users
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.api.oidc import TRANSACTION_COOKIE
from breastgate.web.api.oidc_client import IdTokenError, OidcClient, OidcConfig, ProviderUnavailableError
from breastgate.web.app import create_app
from tests.support.db import upgrade
from tests.support.http_server import serve
from tests.support.oidc_provider import Provider, running_provider, through_idp
from tests.support.ports import free_ports

SECRET = secrets.token_urlsafe(32)
CALLBACK = "/api/session/oidc/callback"
ROLE_MAP = "breast-radiologist=radiologist;mammo-tech=technologist"


@dataclass(frozen=True)
class Site:
    provider: Provider
    db: Database
    main: str  # breastgate with BG_OIDC_ROLES_CLAIM=roles and ROLE_MAP
    keycloak: str  # breastgate with BG_OIDC_ROLES_CLAIM=realm_access.roles, the identity map
    oidc: OidcClient  # the main gateway's relying party


def _client_config(provider: Provider, **changes: Any) -> OidcConfig:
    config = OidcConfig(
        issuer=provider.issuer,
        client_id="breastgate",
        client_secret=SECRET,
        scopes=("openid", "profile", "roles"),
        role_map=parse_role_map(ROLE_MAP),
    )
    return dataclasses.replace(config, **changes)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    main_port, keycloak_port = free_ports(2)
    bases = [f"http://127.0.0.1:{p}" for p in (main_port, keycloak_port)]
    clients = [
        {
            "client_id": "breastgate",
            "client_secret": SECRET,
            "redirect_uris": [base + CALLBACK for base in bases],
            "post_logout_redirect_uris": [base + "/" for base in bases],
        },
        {"client_id": "other", "client_secret": SECRET, "redirect_uris": ["http://127.0.0.1:9/cb"]},
    ]
    path = tmp_path_factory.mktemp("oidc") / "bg.db"
    upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}")
    with running_provider(clients) as provider:
        oidc = OidcClient(_client_config(provider))
        keycloak = OidcClient(
            _client_config(provider, roles_claim="realm_access.roles", role_map=parse_role_map(""))
        )
        main_app = create_app(
            AppContext(
                db=db, version="test", ae_title="BG", dicom_port=None, workers_in_process=False, oidc=oidc
            )
        )
        kc_app = create_app(
            AppContext(
                db=db, version="test", ae_title="BG", dicom_port=None, workers_in_process=False, oidc=keycloak
            )
        )
        with serve(main_app, port=main_port) as main, serve(kc_app, port=keycloak_port) as kc:
            yield Site(provider, db, main, kc, oidc)
    db.dispose()


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _browsers_closed() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _browser() -> httpx.Client:
    """A browser: a cookie jar, redirects followed by the test (:func:`through_idp`)."""
    _OPEN.append(httpx.Client(follow_redirects=False, timeout=10))
    return _OPEN[-1]


def _sign_in(
    site: Site, login: str, base: str | None = None, next_path: str = "/api/session"
) -> httpx.Response:
    """The whole way: breastgate → IdP pages → callback → ``next``; the last answer."""
    browser = _browser()
    return through_idp(browser, f"{base or site.main}/api/session/oidc/login?next={next_path}", login)


def _to_callback(site: Site, login: str) -> tuple[httpx.Client, httpx.URL]:
    """A browser signed in at the IdP, stopped before the callback: the callback URL (code, state)."""
    browser = _browser()
    answer = through_idp(
        browser, f"{site.main}/api/session/oidc/login?next=/api/session", login, stop_at=site.main + CALLBACK
    )
    return browser, httpx.URL(answer.headers["location"])


def _events(db: Database, kind: str, subject: str) -> list[dict[str, Any]]:
    with db.session() as session:
        return [e.data for e in audit.iter_events(session) if e.kind == kind and e.subject == subject]


def test_sign_in_through_the_idp_gives_a_session_with_the_mapped_roles(site: Site) -> None:
    answer = _sign_in(site, "alice")
    assert answer.status_code == 200, answer.text
    assert str(answer.url) == site.main + "/api/session"  # followed to next, with the session cookie
    who = answer.json()
    assert (who["user"], who["roles"], who["via"]) == ("alice", ["radiologist"], "oidc")
    assert who["csrf_token"]
    with site.db.session() as session:
        user = users.get_user(session, "alice")
        found = users.credentials(session, "alice")
    assert user is not None and user.source == "oidc" and user.roles == frozenset({"radiologist"})
    assert found is not None and found.password_hash is None
    signed = _events(site.db, "user.signed_in", "alice")
    assert signed and signed[-1]["via"] == "oidc" and signed[-1]["roles"] == ["radiologist"]


def test_a_text_claim_and_a_nested_keycloak_claim_map_too(site: Site) -> None:
    tom = _sign_in(site, "tom")  # roles: "mammo-tech, it-staff" (one text)
    assert tom.status_code == 200, tom.text
    assert tom.json()["roles"] == ["technologist"]
    kate = _sign_in(site, "kate", base=site.keycloak)  # realm_access.roles: auditor, offline_access
    assert kate.status_code == 200, kate.text
    assert (kate.json()["user"], kate.json()["roles"]) == ("kate", ["auditor"])
    nameless = _sign_in(site, "nameless")  # no preferred_username: the user is named by sub
    assert nameless.json()["user"] == "nameless"
    uma = _sign_in(site, "uma")  # roles only at the userinfo endpoint
    assert (uma.json()["user"], uma.json()["roles"]) == ("uma", ["technologist"])


def test_a_user_whose_claims_map_to_no_role_is_refused_and_audited(site: Site) -> None:
    answer = _sign_in(site, "bob")  # roles: visitor
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "no claim value maps to a breastgate role" in answer.json()["title"]
    assert "bg_session" not in answer.headers.get("set-cookie", "")
    refused = _events(site.db, "user.sign_in_refused", "bob")
    assert refused == [{"reason": "no claim value maps to a breastgate role", "via": "oidc"}]
    with site.db.session() as session:
        assert users.get_user(session, "bob") is None


def test_a_disabled_user_and_a_local_accounts_name_are_refused(site: Site) -> None:
    assert _sign_in(site, "dave").status_code == 200
    with site.db.session() as session:
        users.deactivate_user(session, "dave", actor="user:test-admin")
        users.add_user(session, "admin", "ai_admin", actor="test")  # a local account
    dave = _sign_in(site, "dave")
    assert dave.status_code == 403 and "disabled" in dave.json()["title"]
    admin = _sign_in(site, "admin")  # the IdP's "admin" does not become the local admin
    assert admin.status_code == 403 and "local account" in admin.json()["title"]
    with site.db.session() as session:
        dave_now, admin_now = users.get_user(session, "dave"), users.get_user(session, "admin")
    assert dave_now is not None and not dave_now.active  # not re-enabled by the IdP
    assert (
        admin_now is not None and admin_now.roles == frozenset({"ai_admin"}) and admin_now.source == "local"
    )


def test_a_tampered_state_or_sign_in_record_is_refused(site: Site) -> None:
    browser, callback = _to_callback(site, "alice")
    wrong_state = browser.get(callback.copy_set_param("state", secrets.token_urlsafe(32)))
    assert wrong_state.status_code == 400 and "state" in wrong_state.json()["title"]
    sealed = browser.cookies.get(TRANSACTION_COOKIE)
    assert sealed
    browser.cookies.set(
        TRANSACTION_COOKIE, sealed[:-4] + "AAAA", domain="127.0.0.1", path="/api/session/oidc"
    )
    tampered = browser.get(callback)
    assert tampered.status_code == 400 and "not valid" in tampered.json()["title"]
    stranger = _browser().get(callback)  # another browser: no sign-in record at all
    assert stranger.status_code == 400
    assert "bg_session" not in browser.cookies and "bg_session" not in stranger.cookies


def test_a_replayed_code_is_refused(site: Site) -> None:
    browser, callback = _to_callback(site, "alice")
    sealed = browser.cookies.get(TRANSACTION_COOKIE)
    first = browser.get(callback)
    assert first.status_code == 302 and first.headers["location"] == "/api/session"
    browser.cookies.set(TRANSACTION_COOKIE, sealed, domain="127.0.0.1", path="/api/session/oidc")
    again = browser.get(callback)
    assert again.status_code == 401 and "invalid_grant" in again.json()["title"]


def test_the_nonce_of_this_sign_in_is_required(site: Site) -> None:
    browser, callback = _to_callback(site, "alice")
    sealed = browser.cookies.get(TRANSACTION_COOKIE)
    now = datetime.now(UTC)
    record = site.oidc.sealer.open(sealed, now)
    other = site.oidc.sealer.seal(dataclasses.replace(record, nonce=secrets.token_urlsafe(32)))
    browser.cookies.set(TRANSACTION_COOKIE, other, domain="127.0.0.1", path="/api/session/oidc")
    answer = browser.get(callback)
    assert answer.status_code == 401 and "nonce" in answer.json()["title"]


def test_a_sign_in_cancelled_at_the_idp_is_refused(site: Site) -> None:
    browser = _browser()
    page = browser.get(f"{site.main}/api/session/oidc/login")
    while page.is_redirect:  # to the IdP's login page
        page = browser.get(page.url.join(page.headers["location"]))
    cancel = re.search(r'<a href="([^"]+)">\[ Cancel \]</a>', page.text)
    assert cancel is not None
    answer = through_idp(browser, str(page.url.join(html.unescape(cancel.group(1)))), "alice")
    assert answer.status_code == 401 and "access_denied" in answer.json()["title"]
    assert str(answer.url).startswith(site.main + CALLBACK)


def _raw_id_token(site: Site, nonce: str) -> str:
    """An ID token the IdP issued to the client ``other`` (not breastgate)."""
    other = OidcClient(dataclasses.replace(site.oidc.config, client_id="other"))
    meta = other.metadata()
    browser = _browser()
    with other._oauth("http://127.0.0.1:9/cb") as oauth:
        url, _ = oauth.create_authorization_url(
            meta.authorization_endpoint, state="s", code_verifier="v" * 50, nonce=nonce
        )
    answer = through_idp(browser, url, "alice", stop_at="http://127.0.0.1:9/cb")
    code = httpx.URL(answer.headers["location"]).params["code"]
    with other._oauth("http://127.0.0.1:9/cb") as oauth:
        token = oauth.fetch_token(meta.token_endpoint, code=code, code_verifier="v" * 50)
    return str(token["id_token"])


def test_id_token_checks_audience_nonce_and_expiry(site: Site) -> None:
    nonce = secrets.token_urlsafe(16)
    token = _raw_id_token(site, nonce)
    now = datetime.now(UTC)
    other = OidcClient(dataclasses.replace(site.oidc.config, client_id="other"))
    assert other.verify_id_token(token, nonce, now)["sub"] == "alice"
    with pytest.raises(IdTokenError, match="aud"):
        site.oidc.verify_id_token(token, nonce, now)  # issued to "other", not to breastgate
    with pytest.raises(IdTokenError, match="nonce"):
        other.verify_id_token(token, "another nonce", now)
    with pytest.raises(IdTokenError, match="expired"):
        other.verify_id_token(token, nonce, now + timedelta(hours=1))
    forged = token[:-8] + ("AAAAAAAA" if not token.endswith("AAAAAAAA") else "BBBBBBBB")
    with pytest.raises(IdTokenError, match="signature"):
        other.verify_id_token(forged, nonce, now)


def test_next_is_a_path_on_this_server_only(site: Site) -> None:
    for asked, kept in (
        ("/worklist?q=1", "/worklist?q=1"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
    ):
        login = _browser().get(f"{site.main}/api/session/oidc/login", params={"next": asked})
        assert login.status_code == 302 and login.headers["location"].startswith(site.provider.issuer)
        record = site.oidc.sealer.open(login.cookies[TRANSACTION_COOKIE], datetime.now(UTC))
        assert record.next_path == kept


def test_logout_goes_to_the_idps_end_session_endpoint(site: Site) -> None:
    answer = _browser().get(f"{site.main}/api/session/oidc/logout")
    assert answer.status_code == 302
    target = httpx.URL(answer.headers["location"])
    assert str(target).startswith(site.provider.issuer + "/session/end?")
    assert target.params["client_id"] == "breastgate"
    assert target.params["post_logout_redirect_uri"] == site.main + "/"
    assert httpx.get(str(target)).status_code == 200  # the IdP knows the client and the return URL


def test_an_unreachable_or_wrong_idp_is_a_502_problem(site: Site, tmp_path: Path) -> None:
    (free,) = free_ports(1)
    down = OidcClient(_client_config(site.provider, issuer=f"http://127.0.0.1:{free}"))
    elsewhere = OidcClient(
        _client_config(site.provider, issuer=site.provider.issuer.replace("127.0.0.1", "localhost"))
    )
    for oidc, words in ((down, "cannot be reached"), (elsewhere, "another issuer")):
        client = TestClient(
            create_app(
                AppContext(
                    db=site.db,
                    version="t",
                    ae_title="BG",
                    dicom_port=None,
                    workers_in_process=False,
                    oidc=oidc,
                )
            )
        )
        answer = client.get("/api/session/oidc/login", follow_redirects=False)
        assert answer.status_code == 502 and words in answer.json()["title"]
        assert TRANSACTION_COOKIE not in answer.cookies
    with pytest.raises(ProviderUnavailableError):
        down.metadata()


def test_without_sso_the_routes_answer_404(site: Site) -> None:
    client = TestClient(
        create_app(
            AppContext(db=site.db, version="t", ae_title="BG", dicom_port=None, workers_in_process=False)
        )
    )
    for path in ("/api/session/oidc/login", CALLBACK, "/api/session/oidc/logout"):
        assert client.get(path, follow_redirects=False).status_code == 404
