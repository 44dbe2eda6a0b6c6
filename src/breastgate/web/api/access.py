"""Who is calling, and may they: every route declares its rule, and the app refuses to start otherwise.

An identity comes from one of
- ``Authorization: Bearer <token>``: an API token (``breastgate users add``), for API clients;
- ``Authorization: Basic``: a local account's name and password (integrations that can only send
  Basic: Sectra's Data Provider call, DICOMweb and UPS-RS clients); a good pair is remembered for
  a minute so a busy client does not pay argon2 on every request;
- the ``bg_session`` cookie of a browser signed in with a password or through the hospital's IdP
  (OIDC). A cookie-authenticated request that changes anything must carry the session's CSRF token
  in ``X-CSRF-Token`` and, when the browser sends one, an ``Origin`` of this server.

Rules: :func:`allow` (one of these roles), :func:`signed_in` (any identity) or :data:`PUBLIC`
(health and the sign-in flow only). :func:`check_rules` walks the app's routes at start-up and
raises naming any route without a rule, so a route added later cannot be open by accident.
No identity is a 401 problem; the wrong role a 403. Audit events name ``user:<name>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket, WebSocketException
from fastapi.routing import APIRoute, APIWebSocketRoute
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection
from starlette.status import WS_1008_POLICY_VIOLATION

from breastgate.domain.governance import Role
from breastgate.governance import accounts
from breastgate.store import governance as users
from breastgate.store import sessions

COOKIE = "bg_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Everyone who reads studies, results, reports and the worklist in the pages.
READERS = (Role.RADIOLOGIST, Role.TECHNOLOGIST, Role.AI_ADMIN, Role.AUDITOR)
#: Readers and machine clients (RIS, reporting, PACS-side tools).
READERS_AND_SYSTEMS = (*READERS, Role.INTEGRATION)


@dataclass(frozen=True)
class Identity:
    """A signed-in person or system, and how they proved it (``token``, ``basic``, ``password`` or
    ``oidc`` sessions)."""

    name: str
    roles: frozenset[str]
    via: str
    csrf_token: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        """How the audit trail names them."""
        return f"user:{self.name}"

    def has(self, *roles: Role) -> bool:
        return any(r.value in self.roles for r in roles)


@dataclass(frozen=True)
class AuthConfig:
    """Session limits and cookie flags (BG_SESSION_*), and the clock sessions are measured by."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    #: ``Secure`` on the cookie: True, False, or None for "when the request came over https".
    secure_cookie: bool | None = None
    #: Failed sign-ins from one client address allowed per ``window`` before 429.
    sign_in_attempts: int = 10
    sign_in_window: timedelta = timedelta(minutes=5)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False, compare=False)


class SignInLimiter:
    """Failed sign-ins per client address in a sliding window (this process's memory: each HTTP
    process limits on its own; the account lockout in the database holds across all)."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str, config: AuthConfig) -> int:
        """Seconds to wait before this client may try again (0: now)."""
        now, window = config.clock().timestamp(), config.sign_in_window.total_seconds()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if t > now - window]
            self._failures[client] = recent
            if len(recent) < config.sign_in_attempts:
                return 0
            return max(1, int(recent[0] + window - now) + 1)

    def failed(self, client: str, config: AuthConfig) -> None:
        with self._lock:
            self._failures.setdefault(client, []).append(config.clock().timestamp())


class _BasicCache:
    """Good Basic pairs for ``ttl`` seconds (keyed by a SHA-256 of the pair, never the password)."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._known: dict[str, tuple[float, Identity]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Identity | None:
        with self._lock:
            hit = self._known.get(key)
            if hit is None or hit[0] < time.monotonic():
                self._known.pop(key, None)
                return None
            return hit[1]

    def put(self, key: str, identity: Identity) -> None:
        with self._lock:
            if len(self._known) > 1000:
                self._known.clear()
            self._known[key] = (time.monotonic() + self.ttl, identity)


_BASIC_CACHE = _BasicCache()


def client_address(connection: HTTPConnection) -> str:
    return connection.client.host if connection.client else "unknown"


def _auth_config(connection: HTTPConnection) -> AuthConfig:
    config: AuthConfig = connection.app.state.context.auth
    return config


def _basic(connection: HTTPConnection, session: Session, encoded: str) -> Identity | None:
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, colon, password = decoded.partition(":")
    if not colon or not name:
        return None
    key = hashlib.sha256(decoded.encode("utf-8")).hexdigest()
    cached = _BASIC_CACHE.get(key)
    if cached is not None and (user := users.get_user(session, name)) is not None and user.active:
        return cached
    now = _auth_config(connection).clock()
    try:
        user = accounts.check_password(session, name, password, now=now, client=client_address(connection))
    except accounts.SignInRefused:
        return None
    identity = Identity(user.name, user.roles, "basic")
    _BASIC_CACHE.put(key, identity)
    return identity


def _cookie(connection: HTTPConnection, session: Session) -> Identity | None:
    secret = connection.cookies.get(COOKIE)
    if not secret:
        return None
    config = _auth_config(connection)
    record = sessions.use(session, secret, now=config.clock(), idle=config.idle)
    if record is None:
        return None
    return Identity(record.user_name, record.roles, record.via, record.csrf_token)


@dataclass(frozen=True)
class _Refusal:
    detail: str
    basic: bool


def _resolve(connection: HTTPConnection, session: Session) -> Identity | _Refusal | None:
    header = connection.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            user = users.user_for_token(session, value.strip())
            if user is None:
                return _Refusal("Unknown or disabled API token", basic=False)
            return Identity(user.name, user.roles, "token")
        if scheme.lower() == "basic" and value.strip():
            return _basic(connection, session, value) or _Refusal("Wrong user name or password", basic=True)
        return _Refusal("Authorization must be 'Bearer <token>' or 'Basic'", basic=True)
    return _cookie(connection, session)


def identify(connection: HTTPConnection) -> Identity | None:
    """The caller's identity, None without credentials; 401 for credentials that are wrong (a bad
    token or password is never treated as anonymous). Its own unit of work, committed even when
    the credentials are refused: a counted failure and its audit event stay."""
    with connection.app.state.context.db.session() as session:
        outcome = _resolve(connection, session)
    if isinstance(outcome, _Refusal):
        raise HTTPException(401, outcome.detail, _challenge(outcome.basic))
    return outcome


def _challenge(basic: bool) -> dict[str, str]:
    value = 'Basic realm="breastgate", charset="UTF-8", Bearer' if basic else "Bearer"
    return {"WWW-Authenticate": value}


def _same_origin(request: HTTPConnection) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "")


def _check_csrf(request: Request, identity: Identity) -> None:
    """A browser session changing something must show its CSRF token, from this server's pages."""
    if identity.csrf_token is None or request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not _same_origin(request) or not sent or not _equal(sent, identity.csrf_token):
        raise HTTPException(403, "A change from a browser session needs the page's CSRF token")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Rule:
    """Base of the access rules :func:`check_rules` looks for."""

    description = ""


class Allow(Rule):
    """Dependency: an identity holding one of ``roles`` (401 without one, 403 with another role)."""

    def __init__(self, *roles: Role, basic_challenge: bool = False) -> None:
        self.roles = tuple(roles)
        self.basic_challenge = basic_challenge
        self.description = " or ".join(r.value for r in roles) if roles else "any signed-in user"

    def __call__(self, request: Request) -> Identity:
        identity = identify(request)
        if identity is None:
            raise HTTPException(401, "Sign in, or send an API token", _challenge(self.basic_challenge))
        _check_csrf(request, identity)
        if self.roles and not identity.has(*self.roles):
            raise HTTPException(403, f"This needs the role {self.description}")
        return identity


class AllowSocket(Rule):
    """The same rule for a WebSocket: the handshake is refused (close 1008) without the role."""

    def __init__(self, *roles: Role) -> None:
        self.roles = tuple(roles)
        self.description = " or ".join(r.value for r in roles)

    def __call__(self, websocket: WebSocket) -> Identity:
        try:
            identity = identify(websocket)
        except HTTPException as exc:
            raise WebSocketException(WS_1008_POLICY_VIOLATION, str(exc.detail)) from None
        if identity is None or (self.roles and not identity.has(*self.roles)):
            raise WebSocketException(WS_1008_POLICY_VIOLATION, f"This needs the role {self.description}")
        if identity.csrf_token is not None and not _same_origin(websocket):  # a page of another site
            raise WebSocketException(WS_1008_POLICY_VIOLATION, "A browser session's socket is for this site")
        return identity


class _Public(Rule):
    description = "public"

    def __call__(self) -> None:
        return None


#: The rule of the routes anyone may call: ``/api/health`` and the sign-in flow.
PUBLIC = _Public()


def allow(*roles: Role, basic_challenge: bool = False) -> Allow:
    return Allow(*roles, basic_challenge=basic_challenge)


def signed_in() -> Allow:
    return Allow()


# Annotated shortcuts for route signatures.
Reader = Annotated[Identity, Depends(allow(*READERS))]
ReaderOrSystem = Annotated[Identity, Depends(allow(*READERS_AND_SYSTEMS))]
AnyIdentity = Annotated[Identity, Depends(signed_in())]


def _rules(dependant: Any) -> list[Rule]:
    found: list[Rule] = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, Rule):
            found.append(sub.call)
        found.extend(_rules(sub))
    return found


def routes(app: FastAPI) -> Iterator[tuple[str, frozenset[str], Any]]:
    """Every route of ``app`` (included routers followed): path, methods, the route object."""

    def walk(items: Any, prefix: str) -> Iterator[tuple[str, frozenset[str], Any]]:
        for route in items:
            original = getattr(route, "original_router", None)
            if original is not None:  # FastAPI's included router
                yield from walk(original.routes, prefix + (route.include_context.prefix or ""))
            elif isinstance(route, APIWebSocketRoute):
                yield prefix + route.path, frozenset({"WEBSOCKET"}), route
            else:
                methods = frozenset(getattr(route, "methods", None) or {"GET"})
                yield prefix + getattr(route, "path", ""), methods, route

    yield from walk(app.routes, "")


def rule_of(route: Any) -> Rule | None:
    if isinstance(route, APIRoute | APIWebSocketRoute):
        found = _rules(route.dependant)
        return found[0] if found else None
    return getattr(route, "access_rule", None)


def check_rules(app: FastAPI) -> None:
    """Raise naming every route that declares no access rule (an app with one does not start)."""
    missing = [
        f"{'/'.join(sorted(methods))} {path}"
        for path, methods, route in routes(app)
        if rule_of(route) is None
    ]
    if missing:
        raise RuntimeError(f"routes without an access rule (breastgate.web.api.access): {', '.join(missing)}")
