"""Named dependencies (STYLE pattern 5)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from breastgate.domain.governance import Mode, Role
from breastgate.domain.outputs import HttpEndpoint
from breastgate.integrations.sectra.config import SectraConfig
from breastgate.integrations.sectra.refs import LaunchRefs
from breastgate.pipeline.letters import LetterConfig
from breastgate.store import governance as governance_store
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.worklist.policy import DEFAULT_POLICY, TriagePolicy


@dataclass(frozen=True)
class AppContext:
    """What the API needs from the running gateway (set on ``app.state.context``)."""

    db: Database
    version: str
    ae_title: str
    dicom_port: int | None
    workers_in_process: bool
    hl7_port: int | None = None
    letters: LetterConfig | None = None
    blobs: BlobStore | None = None
    results_path: Path | None = None
    webhooks: tuple[HttpEndpoint, ...] = ()
    policy: TriagePolicy = DEFAULT_POLICY
    #: Mode of an algorithm version with no recorded mode (new versions start silent).
    initial_mode: Mode = Mode.SILENT
    #: Sectra: Data Provider protection and URL launch (default: all off).
    sectra: SectraConfig = field(default_factory=SectraConfig)

    def launch_refs(self, absolute: bool = False) -> LaunchRefs | None:
        """References to the launch endpoint (:meth:`SectraConfig.launch_refs`)."""
        return self.sectra.launch_refs(absolute)


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


def get_session(context: Annotated[AppContext, Depends(get_context)]) -> Iterator[Session]:
    with context.db.session() as session:
        yield session


ContextDep = Annotated[AppContext, Depends(get_context)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_optional_user(request: Request, session: SessionDep) -> governance_store.User | None:
    """The user of ``Authorization: Bearer <token>``; None without the header; 401 for a bad token."""
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "Authorization must be 'Bearer <token>'", {"WWW-Authenticate": "Bearer"})
    user = governance_store.user_for_token(session, token.strip())
    if user is None:
        raise HTTPException(401, "Unknown or disabled API token", {"WWW-Authenticate": "Bearer"})
    return user


OptionalUser = Annotated[governance_store.User | None, Depends(get_optional_user)]


def get_token_user(request: Request, session: SessionDep) -> governance_store.User | None:
    """The user of a valid ``Authorization: Bearer <token>``, else None (never a 401).

    For protocol routes (UPS-RS) that take no token but audit who called: their clients may carry
    another authorization scheme (a proxy's Basic credentials), which is none of breastgate's
    business there; only a known token names a user in the audit trail.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return governance_store.user_for_token(session, token.strip())


TokenUser = Annotated[governance_store.User | None, Depends(get_token_user)]


def get_current_user(user: OptionalUser) -> governance_store.User:
    if user is None:
        raise HTTPException(401, "This action needs an API token", {"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[governance_store.User, Depends(get_current_user)]


class RequireRole:
    """Dependency: the current user must hold one of ``roles`` (403 otherwise)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(r.value for r in roles)

    def __call__(self, user: CurrentUser) -> governance_store.User:
        if user.role not in self.roles:
            raise HTTPException(403, f"This action needs the role {' or '.join(sorted(self.roles))}")
        return user


def actor(user: governance_store.User | None, request: Request) -> str:
    """Who did it, for the audit trail: the user, else the anonymous client's address."""
    if user is not None:
        return f"user:{user.name}"
    client = request.client.host if request.client else "unknown"
    return f"anonymous@{client}"
