"""``/api/session/oidc/…``: single sign-on through the hospital's identity provider (BG_OIDC_*).

- ``GET /api/session/oidc/login?next=/path``: 302 to the IdP (authorization code, PKCE S256,
  state, nonce); the sign-in's state rides in the sealed ``bg_oidc`` cookie (path
  ``/api/session/oidc``, HttpOnly, SameSite=Lax so that it comes back with the IdP's redirect).
- ``GET /api/session/oidc/callback``: the code exchanged and the ID token checked
  (:mod:`breastgate.web.api.oidc_client`), the claims mapped to roles and the user admitted
  (:mod:`breastgate.governance.sso`), a browser session started (``via: oidc``, audited) with the
  ``bg_session`` cookie, then 302 to ``next`` (a path on this server).
- ``GET /api/session/oidc/logout``: 302 to the IdP's end-session endpoint (RP-Initiated Logout,
  with ``client_id`` and ``post_logout_redirect_uri`` = this server's ``/``), 404 when the IdP has
  none. It does not touch breastgate's session: the page ends that first with ``DELETE
  /api/session`` (CSRF-checked), then opens this URL to end the IdP's session too.

Every failure is a problem answer: 404 when SSO is not configured, 400 for a callback that does not
belong to this browser's sign-in (state, expiry, tampering), 401 when the IdP's answer is refused
(a replayed code, a wrong nonce, issuer or audience, a bad signature), 403 for a user refused here
(no mapped role, disabled, a local account's name), 502 when the IdP cannot be reached.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse

from breastgate.governance import accounts, sso
from breastgate.web.api.access import PUBLIC, client_address
from breastgate.web.api.deps import AppContext, ContextDep
from breastgate.web.api.oidc_client import TRANSACTION_TTL, OidcClient, OidcError
from breastgate.web.api.signin import set_session_cookie

LOGGER = logging.getLogger(__name__)

TRANSACTION_COOKIE = "bg_oidc"
COOKIE_PATH = "/api/session/oidc"

router = APIRouter(prefix="/api/session/oidc", tags=["identity"], dependencies=[Depends(PUBLIC)])


def _client(context: AppContext) -> OidcClient:
    if context.oidc is None:
        raise HTTPException(404, "Single sign-on is not configured (BG_OIDC_ISSUER)")
    return context.oidc


def _redirect_uri(request: Request, client: OidcClient) -> str:
    return client.config.redirect_url or str(request.url_for("oidc_callback"))


def _secure(request: Request, context: AppContext) -> bool:
    configured = context.auth.secure_cookie
    return configured if configured is not None else request.url.scheme == "https"


def _refused(exc: OidcError) -> HTTPException:
    LOGGER.warning("single sign-on refused: %s", exc)
    return HTTPException(exc.status, str(exc))


@router.get("/login", response_class=RedirectResponse, status_code=302)
def oidc_login(
    request: Request, context: ContextDep, next: Annotated[str, Query(max_length=2048)] = "/"
) -> RedirectResponse:
    """Send the browser to the IdP to sign in; it comes back to ``/api/session/oidc/callback``."""
    client = _client(context)
    try:
        url, sealed = client.begin(next, _redirect_uri(request, client), context.auth.clock())
    except OidcError as exc:
        raise _refused(exc) from None
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        TRANSACTION_COOKIE,
        sealed,
        max_age=int(TRANSACTION_TTL.total_seconds()),
        path=COOKIE_PATH,
        secure=_secure(request, context),
        httponly=True,
        samesite="lax",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/callback", name="oidc_callback", response_class=RedirectResponse, status_code=302)
def oidc_callback(request: Request, context: ContextDep) -> RedirectResponse:
    """Finish the sign-in: a breastgate session for the user the IdP vouches for, then ``next``."""
    client, config = _client(context), context.auth
    now, address = config.clock(), client_address(request)
    params = {k: v for k, v in request.query_params.items() if k in ("code", "state", "iss", "error")}
    try:
        claims, next_path = client.finish(
            params, request.cookies.get(TRANSACTION_COOKIE), _redirect_uri(request, client), now
        )
    except OidcError as exc:
        raise _refused(exc) from None
    name = sso.user_name(claims, client.config.user_claim)
    roles = sso.mapped_roles(claims, client.config.roles_claim, client.config.role_map)
    refusal, signed = "", None
    with context.db.session() as session:
        try:
            user = sso.admit(session, name=name, roles=roles, client=address)
        except accounts.SignInRefused as exc:
            refusal = str(exc)
        else:
            signed = accounts.start_session(
                session,
                user_name=user.name,
                roles=roles,
                via=sso.SOURCE,
                now=now,
                lifetime=config.lifetime,
                client=address,
            )
    if signed is None:
        LOGGER.warning("single sign-on refused by breastgate: %s", refusal)
        raise HTTPException(403, f"Signed in at the identity provider, but refused here: {refusal}")
    response = RedirectResponse(next_path, status_code=302)
    set_session_cookie(response, request, config, signed.secret, int(config.lifetime.total_seconds()))
    response.delete_cookie(TRANSACTION_COOKIE, path=COOKIE_PATH)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/logout", response_class=RedirectResponse, status_code=302)
def oidc_logout(request: Request, context: ContextDep) -> RedirectResponse:
    """To the IdP's end-session endpoint, coming back to this server's ``/``."""
    client = _client(context)
    try:
        url = client.logout_url(_home(client.config.redirect_url or str(request.base_url)))
    except OidcError as exc:
        raise _refused(exc) from None
    if url is None:
        raise HTTPException(404, "The identity provider offers no end-session endpoint")
    return RedirectResponse(url, status_code=302)


def _home(url: str) -> str:
    """The root of the server at ``url`` (``https://host:port/``)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/"
