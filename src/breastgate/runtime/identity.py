"""Sign-in settings, and the first account of a new development install.

A gateway with no users answers 401 everywhere but ``/api/health``. So that ``make run`` on a new
machine can be signed in to, a development install with no users at all gets one: ``admin``
(role ai_admin) with a random password written to ``BG_HOME/initial-admin-password`` (mode 0600),
and one log line naming that file. Production never makes one: its users are made with
``breastgate users add`` (or come from the hospital's identity provider).
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta

from breastgate.domain.governance import Role
from breastgate.governance.accounts import hash_password
from breastgate.governance.sso import parse_role_map
from breastgate.runtime.settings import Settings
from breastgate.store import governance as users
from breastgate.store.db import Database
from breastgate.web.api.access import AuthConfig
from breastgate.web.api.oidc_client import OidcClient, OidcConfig

LOGGER = logging.getLogger(__name__)

FIRST_USER = "admin"
PASSWORD_FILE = "initial-admin-password"


def auth_config(settings: Settings) -> AuthConfig:
    secure = {"auto": None, "true": True, "false": False}[settings.cookie_secure]
    return AuthConfig(
        idle=timedelta(minutes=settings.session_idle_minutes),
        lifetime=timedelta(hours=settings.session_max_hours),
        secure_cookie=secure,
    )


def oidc_client(settings: Settings) -> OidcClient | None:
    """The relying party of BG_OIDC_ISSUER, None without single sign-on (settings are checked)."""
    if not settings.oidc_issuer:
        return None
    config = OidcConfig(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id.strip(),
        client_secret=settings.oidc_client_secret.strip(),
        scopes=tuple(settings.oidc_scopes.replace(",", " ").split()),
        roles_claim=settings.oidc_roles_claim.strip() or "roles",
        role_map=parse_role_map(settings.oidc_role_map),
        user_claim=settings.oidc_user_claim.strip() or "preferred_username",
        redirect_url=f"{settings.public_url}/api/session/oidc/callback" if settings.public_url else "",
    )
    return OidcClient(config)


def first_user(db: Database, settings: Settings) -> str | None:
    """Make ``admin`` when a development install has no user; the password file's path, or None."""
    if settings.env == "production":
        with db.session() as session:
            if not users.any_user(session):
                LOGGER.warning(
                    "no users yet: every route but /api/health answers 401; add one with "
                    "`breastgate users add NAME --role ROLE --password`"
                )
        return None
    password = secrets.token_urlsafe(18)
    with db.session() as session:
        if users.any_user(session):
            return None
        users.add_user(
            session,
            FIRST_USER,
            Role.AI_ADMIN.value,
            actor="system:first-start",
            password_hash=hash_password(password),
        )
    path = settings.home_path / PASSWORD_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(password + "\n")
    LOGGER.info(
        "no users yet: made %r (role ai_admin); its password is in %s (sign in at /, then add users "
        "with `breastgate users add`)",
        FIRST_USER,
        path,
    )
    return str(path)
