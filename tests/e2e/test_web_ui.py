"""The pages in a real browser (Playwright driving Debian's chromium) against a real
``breastgate serve``: sign in, the worklist updating itself when a suspicious study arrives over
DICOM, verdicts on its findings, and pages and API refusing what a role may not do.

One gateway and one browser for the module; screenshots go to a temporary folder (and to
``$UI_SCREENSHOTS`` when set: ``make screenshots`` writes ``docs/screenshots``)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from breastgate.governance.accounts import hash_password
from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from breastgate.store import governance as users
from breastgate.store.db import Database
from tests.support.browser import Screenshots, chromium, open_page, sign_in
from tests.support.gateway import GatewayProcess, storescu, wait_for
from tests.support.oidc_provider import running_provider

pytestmark = [pytest.mark.peers, pytest.mark.slow]

PASSWORD = "reading-room-2030"
USERS = {"rita": "radiologist", "tom": "technologist", "ada": "ai_admin", "otto": "auditor"}
#: Each user's API token (the same user's password signs in to the pages).
TOKENS: dict[str, str] = {}
ARRIVAL_MS = 150_000  # a study's way from storescu to the worklist, on a busy 2-core CI machine


def _send(folder: Path, seed: int, lesions: list[LesionRequest], port: int) -> str:
    study = generate_mg_study(seed, category="b", vendor="profile-b-100um", lesions=lesions)
    folder.mkdir(parents=True)
    paths = []
    for i, ds in enumerate(study.datasets):
        paths.append(folder / f"{i}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    storescu(port, paths)
    return str(study.truth["study_instance_uid"])


def _add_users(database: Path) -> dict[str, str]:
    """The page users, each with the password and an API token (in this process: one argon2 hash,
    not a CLI start and a hash per user)."""
    db = Database(f"sqlite:///{database}")
    hashed, tokens = hash_password(PASSWORD), {name: secrets.token_urlsafe(32) for name in USERS}
    try:
        with db.session() as session:
            for name, role in USERS.items():
                users.add_user(session, name, role, tokens[name], actor="test", password_hash=hashed)
    finally:
        db.dispose()
    return tokens


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The gateway, its page users, and single sign-on through a real OpenID Provider."""
    home = tmp_path_factory.mktemp("web-ui") / "gw"
    secret = secrets.token_urlsafe(32)
    gw = GatewayProcess(
        home, BG_ALGORITHMS="breastgate.density,breastgate.calcifications,breastgate.positioning"
    )
    client = {"client_id": "breastgate", "client_secret": secret}
    client |= {
        "redirect_uris": [f"{gw.url}/api/session/oidc/callback"],
        "post_logout_redirect_uris": [f"{gw.url}/"],
    }
    with running_provider([client]) as provider:
        gw.env |= {
            "BG_OIDC_ISSUER": provider.issuer,
            "BG_OIDC_CLIENT_ID": "breastgate",
            "BG_OIDC_CLIENT_SECRET": secret,
            "BG_OIDC_SCOPES": "openid profile roles",
            "BG_OIDC_ROLE_MAP": "breast-radiologist=radiologist;mammo-tech=technologist",
        }
        gw.headers  # noqa: B018 - `breastgate users add` makes the database
        TOKENS.update(_add_users(gw.home / "breastgate.db"))
        gw.start()
        yield gw
        gw.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    return Screenshots(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture(scope="module")
def arrival(
    gateway: GatewayProcess, browser: Browser, shots: Screenshots, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Rita's worklist open while a normal study, then a suspicious one, arrive over DICOM."""
    page = sign_in(browser, gateway.url, "rita", PASSWORD)
    expect(page.locator("#live")).to_have_text(re.compile("live"))
    page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded
    rows = page.locator("#worklist-rows tr[data-uid]")
    folder = tmp_path_factory.mktemp("studies")
    normal = _send(folder / "normal", 4401, [], gateway.dicom_port)
    expect(rows).to_have_count(1, timeout=ARRIVAL_MS)
    clusters = [
        LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality=side) for side in "LR"
    ]
    suspicious = _send(folder / "suspicious", 4310, clusters, gateway.dicom_port)
    expect(rows).to_have_count(2, timeout=ARRIVAL_MS)
    order = [rows.nth(i).get_attribute("data-uid") for i in range(2)]
    shots.take(page, "worklist")
    return {
        "page": page,
        "normal": normal,
        "suspicious": suspicious,
        "order": order,
        "same_document": page.evaluate("window.__sameDocument === true"),
        "first_priority": rows.first.locator(".prio").text_content(),
        "first_flags": rows.first.locator(".badge").all_text_contents(),
    }


def _api(gateway: GatewayProcess, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, f"{gateway.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_sign_in_through_the_form_and_a_wrong_password_is_refused(
    gateway: GatewayProcess, browser: Browser, shots: Screenshots
) -> None:
    page = open_page(browser, gateway.url)
    page.goto("/worklist")  # no session: sent to sign in, and back after
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fworklist$"))
    page.fill("#name", "rita")
    page.fill("#password", "not-the-password")
    page.click("#signin button[type=submit]")
    expect(page.locator("#signin-error")).to_have_text("Unknown user name or wrong password.")
    shots.take(page, "signin")
    page.fill("#password", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_url("**/worklist")
    expect(page.locator("#who")).to_have_text("rita · radiologist")
    expect(page.locator("#worklist")).to_be_visible()
    page.click("#signout")
    page.wait_for_url("**/signin")
    page.goto("/worklist")  # the session ended
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fworklist$"))
    page.context.close()


def test_sign_in_through_the_hospital_idp(gateway: GatewayProcess, browser: Browser) -> None:
    page = open_page(browser, gateway.url)
    page.goto("/governance")  # no session: to the sign-in page, whose SSO button keeps the target
    page.click("text=Sign in with 127.0.0.1")
    page.fill("input[name=login]", "alice")  # oidc-provider's development login: any password
    page.fill("input[name=password]", "any")
    page.click("button[type=submit]")
    page.click("button[type=submit]")  # the consent page
    page.wait_for_url(f"{gateway.url}/governance")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#who")).to_have_text("alice · radiologist")
    page.context.close()


def test_a_suspicious_study_rises_to_the_top_without_a_reload(arrival: dict[str, Any]) -> None:
    assert arrival["order"] == [arrival["suspicious"], arrival["normal"]]
    assert arrival["same_document"] is True  # drawn by the live update, not a reload
    assert arrival["first_priority"] == "urgent"
    assert "suspicious finding" in arrival["first_flags"]


def test_verdicts_on_findings_are_saved_audited_and_shown(
    arrival: dict[str, Any], gateway: GatewayProcess, shots: Screenshots
) -> None:
    page: Page = arrival["page"]
    uid = arrival["suspicious"]
    page.keyboard.press("Enter")  # the top row is selected: open it from the keyboard
    page.wait_for_url(f"**/studies/{uid}")
    page.wait_for_selector("body[data-ready=true]")
    shown = page.locator("#findings-table tbody tr:visible")
    assert shown.count() >= 2
    first, second = shown.nth(0), shown.nth(1)
    first_id, second_id = first.get_attribute("data-finding"), second.get_attribute("data-finding")
    first.locator("button.accept").click()
    expect(first.locator("td.verdict")).to_have_text("accepted")
    second.locator("select.reason").select_option("benign_finding")
    second.locator("button.reject").click()
    expect(second.locator("td.verdict")).to_have_text("rejected: benign finding")
    shots.take(page, "study")
    # The API has both verdicts in rita's name, and the audit trail has their events.
    verdicts = {f["finding_id"]: f for f in gateway.get(f"/api/studies/{uid}/feedback")["items"]}
    assert verdicts[first_id]["action"] == "accept" and verdicts[first_id]["user"] == "user:rita"
    assert verdicts[second_id]["action"] == "reject" and verdicts[second_id]["reason"] == "benign_finding"
    events = gateway.get(f"/api/audit?study={uid}")["items"]
    verdict_events = sorted(
        e["kind"] for e in events if e["actor"] == "user:rita" and e["kind"].startswith("finding.")
    )
    assert verdict_events == ["finding.accepted", "finding.rejected"]
    # A fresh load shows the stored verdicts.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator(f'tr[data-finding="{first_id}"] td.verdict')).to_have_text("accepted")
    expect(page.locator(f'tr[data-finding="{second_id}"] td.verdict')).to_have_text(
        "rejected: benign finding"
    )


def test_a_technologist_cannot_change_a_mode(
    gateway: GatewayProcess, browser: Browser, shots: Screenshots
) -> None:
    page = sign_in(browser, gateway.url, "tom", PASSWORD, "/governance")
    expect(page.locator("#modes table")).to_be_visible()
    expect(page.locator("#mode-form")).to_have_count(0)
    expect(page.locator("#modes")).to_contain_text("Changing a mode needs the role ai_admin")
    algorithm = gateway.get("/api/algorithms")["items"][0]
    path = f"/api/algorithms/{algorithm['id']}/versions/{algorithm['version']}/modes/api"
    body = {"mode": "silent", "reason": "trying without the role"}
    assert _api(gateway, "PUT", path, TOKENS["tom"], body).status_code == 403
    # ... nor from tom's browser session with its CSRF token.
    status = page.evaluate(
        """async ([path, body]) => {
            const me = await (await fetch('/api/session')).json();
            const r = await fetch(path, {method: 'PUT', body: JSON.stringify(body),
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token}});
            return r.status;
        }""",
        [path, body],
    )
    assert status == 403
    page.context.close()
    admin = sign_in(browser, gateway.url, "ada", PASSWORD, "/governance")
    expect(admin.locator("#mode-form")).to_be_visible()
    expect(admin.locator("#audit-verify")).to_contain_text("chain verified")
    shots.take(admin, "governance")
    admin.context.close()


def test_an_auditor_cannot_confirm_a_report(
    arrival: dict[str, Any], gateway: GatewayProcess, browser: Browser
) -> None:
    uid = arrival["suspicious"]
    wait_for(
        lambda: (
            httpx.get(f"{gateway.url}/api/studies/{uid}/report", headers=gateway.headers).status_code == 200
        ),
        timeout=60,
        what="the report draft",
    )
    page = sign_in(browser, gateway.url, "otto", PASSWORD, f"/studies/{uid}")
    expect(page.locator("#report")).to_contain_text("Draft")
    expect(page.locator("#confirm")).to_have_count(0)
    expect(page.locator("button.accept")).to_have_count(0)
    assert _api(gateway, "POST", f"/api/studies/{uid}/report/confirm", TOKENS["otto"], {}).status_code == 403
    assert gateway.get(f"/api/studies/{uid}/report")["status"] == "draft"
    page.context.close()


def test_a_radiologist_confirms_the_report_with_her_own_density(
    arrival: dict[str, Any], gateway: GatewayProcess
) -> None:
    uid = arrival["suspicious"]
    page: Page = arrival["page"]
    page.goto(f"/studies/{uid}")
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#report-density", "c")
    page.fill("#report-note", "Density read as c.")
    page.click("#confirm")
    expect(page.locator("#report-state")).to_contain_text("Confirmed by rita")
    report = gateway.get(f"/api/studies/{uid}/report")
    assert (report["status"], report["confirmed_by"], report["confirmed_density"]) == (
        "confirmed",
        "rita",
        "c",
    )
    assert report["note"] == "Density read as c."
