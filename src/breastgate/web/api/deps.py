"""Named dependencies (STYLE pattern 5)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from breastgate.domain.governance import Mode
from breastgate.domain.outputs import HttpEndpoint
from breastgate.integrations.sectra.config import SectraConfig
from breastgate.integrations.sectra.refs import LaunchRefs
from breastgate.pipeline.letters import LetterConfig
from breastgate.pipeline.publish.hl7 import Hl7Outbound
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.web.api.access import AuthConfig
from breastgate.web.api.oidc_client import OidcClient
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
    #: Where HL7 results go (the final ORU of a confirmed report); None: nowhere.
    hl7: Hl7Outbound | None = None
    #: Browser sessions: limits, cookie flags, the clock (who may call what: ``web.api.access``).
    auth: AuthConfig = field(default_factory=AuthConfig)
    #: Single sign-on through the hospital's IdP (BG_OIDC_*); None: password and token only.
    oidc: OidcClient | None = None

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
