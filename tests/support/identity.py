"""Identities for tests: a user with roles and an API token in a test's database.

Every route but ``/api/health`` and the sign-in flow needs an identity (breastgate.web.api.access):
tests sign their clients in with :func:`grant` (a TestClient) or :func:`bearer` (headers).
"""

from __future__ import annotations

import secrets
from typing import Any

from breastgate.store import governance as users
from breastgate.store.db import Database

#: Every role: a test that is not about access control acts as someone allowed everything.
ALL_ROLES = "ai_admin,auditor,integration,radiologist,technologist"


def token_for(db: Database, roles: str = ALL_ROLES, name: str | None = None) -> str:
    """A new API token of a user with ``roles`` (comma-separated), made in ``db``."""
    token = secrets.token_urlsafe(24)
    with db.session() as session:
        users.add_user(session, name or f"test-{roles.replace(',', '-')}", roles, token, actor="test")
    return token


def bearer(db: Database, roles: str = ALL_ROLES, name: str | None = None) -> dict[str, str]:
    """``Authorization: Bearer`` headers of a new user with ``roles``."""
    return {"Authorization": f"Bearer {token_for(db, roles, name)}"}


def grant(client: Any, db: Database, roles: str = ALL_ROLES, name: str | None = None) -> Any:
    """Sign a TestClient (or httpx.Client) in as a new user with ``roles``; returns the client."""
    client.headers.update(bearer(db, roles, name))
    return client
