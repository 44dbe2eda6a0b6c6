"""The pages: a small HTML shell per page; the bundle in ``static/`` (built by vite from the
repository's ``frontend/``, never from a CDN) draws it from the JSON API.

A page that shows patient data needs a signed-in user: a browser without a session is sent to
``/signin?next=<page>`` (303), not given a JSON 401; a user without the page's role gets a 403.
The shell carries no patient data itself; the API the bundle calls checks every role again.
"""

from __future__ import annotations

import functools
import hashlib
import html
import logging
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from breastgate.domain.governance import Role
from breastgate.web.api.access import PUBLIC, READERS, Allow, Identity, identify

LOGGER = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
#: Content-Security-Policy of every page: the bundle from this server only, no inline script.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_UID = re.compile(r"^[0-9.]{1,64}$")

router = APIRouter(include_in_schema=False)


class PageRule(Allow):
    """Like :class:`~breastgate.web.api.access.Allow`, but a browser without a session is
    redirected to the sign-in page (303) instead of answered 401."""

    def __call__(self, request: Request) -> Identity:
        identity = identify(request)
        if identity is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(303, "Sign in first", {"Location": f"/signin?next={quote(target, safe='')}"})
        if self.roles and not identity.has(*self.roles):
            raise HTTPException(403, f"This page needs the role {self.description}")
        return identity


def page(*roles: Role) -> PageRule:
    """The rule of a page: one of ``roles`` (any signed-in user when none)."""
    return PageRule(*roles)


PageReader = Annotated[Identity, Depends(page(*READERS))]


@functools.cache
def bundle_version() -> str:
    """A short hash of the built bundle, appended to its URLs so a new build is fetched anew."""
    digest = hashlib.sha256()
    for name in ("app.js", "app.css"):
        path = STATIC / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


def shell(page_name: str, title: str, **data: str) -> HTMLResponse:
    """The HTML shell of one page: the bundle draws ``page_name`` into ``#app``."""
    version = bundle_version()
    attrs = "".join(f' data-{k.replace("_", "-")}="{html.escape(v)}"' for k, v in data.items())
    body = (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · breastgate</title>"
        f'<link rel="stylesheet" href="/static/app.css?v={version}">'
        f'<script type="module" src="/static/app.js?v={version}"></script>'
        f'</head><body data-page="{html.escape(page_name)}"{attrs}>'
        "<noscript>breastgate's pages need JavaScript.</noscript>"
        '<div id="app" aria-live="polite"></div></body></html>'
    )
    return HTMLResponse(body, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this server only (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/worklist"
    return value if not urlsplit(value).netloc else "/worklist"


def _sso_label(request: Request) -> str:
    oidc = getattr(request.app.state.context, "oidc", None)
    if oidc is None:
        return ""
    host = urlsplit(oidc.config.issuer).hostname or "your identity provider"
    return str(host)


@router.get("/signin", dependencies=[Depends(PUBLIC)])
def signin_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form (and "Sign in with <IdP>" when single sign-on is set up)."""
    return shell("signin", "Sign in", next=_safe_next(next), sso=_sso_label(request))


@router.get("/", dependencies=[Depends(page(*READERS))])
def home() -> RedirectResponse:
    """The worklist is the start page."""
    return RedirectResponse("/worklist", status_code=303)


@router.get("/worklist")
def worklist_page(_: PageReader) -> HTMLResponse:
    """The reading worklist, live (server-sent events)."""
    return shell("worklist", "Worklist")


@router.get("/studies/{study_instance_uid}")
def study_page(study_instance_uid: str, _: PageReader) -> HTMLResponse:
    """One study: findings with verdicts, positioning, the report draft."""
    if not _UID.match(study_instance_uid):
        raise HTTPException(404, "Not a Study Instance UID")
    return shell("study", "Study", study=study_instance_uid)


@router.get("/governance")
def governance_page(_: PageReader) -> HTMLResponse:
    """Algorithm modes per destination, and the audit log with its verification."""
    return shell("governance", "Governance")


def install(app: FastAPI) -> None:
    """Add the pages and the static bundle (public: it holds no patient data) to ``app``."""
    app.include_router(router)
    static = Mount("/static", app=StaticFiles(directory=STATIC), name="static")
    static.access_rule = PUBLIC  # type: ignore[attr-defined]
    app.router.routes.append(static)
