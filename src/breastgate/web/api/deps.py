"""Named dependencies (STYLE pattern 5)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from breastgate.pipeline.letters import LetterConfig
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
    webhooks: tuple[str, ...] = ()
    policy: TriagePolicy = DEFAULT_POLICY


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


def get_session(context: Annotated[AppContext, Depends(get_context)]) -> Iterator[Session]:
    with context.db.session() as session:
        yield session


ContextDep = Annotated[AppContext, Depends(get_context)]
SessionDep = Annotated[Session, Depends(get_session)]
