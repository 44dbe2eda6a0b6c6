"""``/api/launch/{viewer}``: open a Sectra viewer (IDS7, UniView) at a study or at an AI finding.

Launch strings expire within seconds (Sectra's URL Launch SDK), so breastgate hands out stable
references to this endpoint (results JSON, worklist, webhooks, ORU, the IDS7 report template) and
makes the launch string when someone follows one: a redirect (307) to the viewer's launch URL, or
``?format=json`` for a client that opens it itself. The finding is looked up among the results
shown at ``api`` (assistive or integrated); its first mark gives the image and, for DBT, the frame.
Every launch is audited (``phi.accessed``): the link carries the patient id, encrypted. Sectra's
SDK asks that launch strings be made server-side for authenticated users only: the route needs a
signed-in reader (:mod:`breastgate.web.api.access`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse, RedirectResponse, Response

from breastgate.domain.audit import AuditKind
from breastgate.integrations.sectra import provider
from breastgate.integrations.sectra.launch import (
    SDK_VALIDITY_SECONDS,
    LaunchError,
    launch_links,
)
from breastgate.integrations.sectra.refs import VIEWERS
from breastgate.store import audit
from breastgate.web.api.access import Reader
from breastgate.web.api.deps import ContextDep, SessionDep
from breastgate.web.api.schemas.risk import LaunchLink

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/api/launch", tags=["launch"])


@router.get(
    "/{viewer}",
    response_model=None,
    responses={
        200: {"model": LaunchLink, "description": "``format=json``: the launch URL"},
        307: {"description": "Redirect to the viewer's freshly made launch URL (``format=redirect``)"},
    },
)
def launch(
    viewer: str,
    session: SessionDep,
    context: ContextDep,
    user: Reader,
    study: str = Query(..., min_length=1, max_length=64, description="Study Instance UID"),
    finding: str | None = Query(None, max_length=64, description="finding id (results JSON)"),
    format: Literal["redirect", "json"] = Query("redirect"),
) -> Response:
    """Redirect to a freshly made launch URL of ``viewer`` (ids7 | uniview) at the study or finding."""
    config = context.sectra.launch
    if config is None:
        raise HTTPException(404, "Sectra URL launch is not configured (BG_SECTRA_LAUNCH_MODE)")
    if viewer not in VIEWERS or not (config.ids7_url if viewer == "ids7" else config.uniview_url):
        raise HTTPException(404, f"Viewer {viewer!r} is not configured")
    try:
        target = provider.launch_target(session, study, finding, context.initial_mode)
    except provider.NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except LaunchError as exc:
        raise HTTPException(409, f"The study cannot be launched: {exc}") from None
    only = replace(config, uniview_url=None) if viewer == "ids7" else replace(config, ids7_url=None)
    url = launch_links(only, target)[viewer]
    audit.append(
        session,
        AuditKind.PHI_ACCESSED,
        actor=user.actor,
        study_instance_uid=study,
        subject=f"launch {viewer}",
        data={"finding": finding, "image": target.sop_instance_uid, "frame": target.frame},
    )
    headers = {"Cache-Control": "no-store"}
    if format == "json":
        body: dict[str, Any] = {"viewer": viewer, "url": url, "expires_in_seconds": SDK_VALIDITY_SECONDS}
        return JSONResponse(body, headers=headers)
    return RedirectResponse(url, status_code=307, headers=headers)
