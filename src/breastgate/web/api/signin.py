"""``/api/session``: sign in with a password, who am I, sign out (the browser session cookie).

``POST /api/session`` takes ``{"name", "password"}`` as JSON or a form; a good pair starts a
session: the ``bg_session`` cookie (HttpOnly, SameSite=Lax so that a link from the PACS or the
identity provider's redirect opens a signed-in page, Secure over https or when set, path ``/``)
and, in the answer, the CSRF token the pages send back in ``X-CSRF-Token`` on every change.
A wrong pair is a 401 that does not say which half was wrong; too many failures from one address
a 429 with ``Retry-After``; an account locks after repeated failures (audited).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field, ValidationError

from breastgate.governance import accounts
from breastgate.web.api.access import (
    COOKIE,
    PUBLIC,
    AnyIdentity,
    AuthConfig,
    Identity,
    SignInLimiter,
    client_address,
)
from breastgate.web.api.deps import ContextDep
from breastgate.web.api.schemas.gateway import SessionInfo

router = APIRouter(prefix="/api", tags=["identity"])

MAX_SIGN_IN_BODY = 4096


class SignIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


def _limiter(request: Request) -> SignInLimiter:
    limiter: SignInLimiter = request.app.state.sign_in_limiter
    return limiter


async def _body(request: Request) -> SignIn:
    raw = await request.body()
    if len(raw) > MAX_SIGN_IN_BODY:
        raise HTTPException(413, "A sign-in is a name and a password")
    try:
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = await request.form()
            data: Any = {k: form.get(k) for k in ("name", "password")}
        else:
            data = json.loads(raw or b"{}")
        return SignIn.model_validate(data)
    except (ValueError, ValidationError):
        raise HTTPException(422, "A sign-in needs 'name' and 'password'") from None


def set_session_cookie(
    response: Response, request: Request, config: AuthConfig, secret: str, max_age: int
) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure over https (or as configured). Lax, not
    Strict: a top-level navigation from another site (the IdP's redirect, a link in the PACS)
    must arrive signed in; changes are guarded by the CSRF token, not by the cookie's flag."""
    secure = config.secure_cookie if config.secure_cookie is not None else request.url.scheme == "https"
    response.set_cookie(
        COOKIE, secret, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax"
    )


def session_answer(identity: Identity, expires_at: str | None) -> dict[str, Any]:
    """The :class:`SessionInfo` body (keys without a value left out)."""
    body: dict[str, Any] = {"user": identity.name, "roles": sorted(identity.roles), "via": identity.via}
    if identity.csrf_token is not None:
        body["csrf_token"] = identity.csrf_token
    if expires_at is not None:
        body["expires_at"] = expires_at
    return body


@router.post(
    "/session", dependencies=[Depends(PUBLIC)], response_model=SessionInfo, response_model_exclude_unset=True
)
async def sign_in(request: Request, response: Response, context: ContextDep) -> dict[str, Any]:
    """Start a browser session with a local account's password."""
    config, limiter, client = context.auth, _limiter(request), client_address(request)
    wait = limiter.retry_after(client, config)
    if wait:
        raise HTTPException(429, "Too many failed sign-ins; try again later", {"Retry-After": str(wait)})
    body = await _body(request)
    now = config.clock()
    signed = None
    with context.db.session() as session:
        try:
            user = accounts.check_password(session, body.name, body.password, now=now, client=client)
        except accounts.SignInRefused:
            user = None
        if user is not None:
            signed = accounts.start_session(
                session,
                user_name=user.name,
                roles=user.roles,
                via="password",
                now=now,
                lifetime=config.lifetime,
                client=client,
            )
    if signed is None:
        limiter.failed(client, config)
        raise HTTPException(401, "Unknown user name or wrong password")
    set_session_cookie(response, request, config, signed.secret, int(config.lifetime.total_seconds()))
    identity = Identity(signed.record.user_name, signed.record.roles, "password", signed.record.csrf_token)
    return session_answer(identity, signed.record.expires_at.isoformat())


@router.get("/session", response_model=SessionInfo, response_model_exclude_unset=True)
def who_am_i(identity: AnyIdentity) -> dict[str, Any]:
    """The signed-in user, roles, and (for a browser session) the CSRF token."""
    return session_answer(identity, None)


@router.delete("/session", status_code=204)
def sign_out(identity: AnyIdentity, request: Request, response: Response, context: ContextDep) -> Response:
    """End this browser session (a token or Basic caller has none: 204 all the same)."""
    secret = request.cookies.get(COOKIE)
    if secret:
        with context.db.session() as session:
            accounts.end_session(session, secret)
    answer = Response(status_code=204)
    answer.delete_cookie(COOKIE, path="/")
    return answer
