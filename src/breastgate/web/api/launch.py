"""``/api/launch/{viewer}``: open a Sectra viewer (IDS7, UniView) at a study or at an AI finding.

Launch strings expire within seconds (Sectra's URL Launch SDK), so breastgate hands out stable
references to this endpoint (results JSON, worklist, webhooks, ORU, the IDS7 report template) and
makes the launch string when someone follows one: a redirect (307) to the viewer's launch URL, or
``?format=json`` for a client that opens it itself. The finding is looked up among the results
shown at ``api`` (assistive or integrated); its first mark gives the image and, for DBT, the frame.
Every launch is audited (``phi.accessed``): the link carries the patient id, encrypted. Sectra's
SDK asks that launch strings be made server-side for authenticated users only: with
``BG_ENV=production`` a Bearer token (``breastgate users add``) is required until the HTTP API's
authentication issue brings single sign-on.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.governance import Destination
from breastgate.domain.model import Finding
from breastgate.governance.modes import ModeBook
from breastgate.integrations.sectra.launch import (
    SDK_VALIDITY_SECONDS,
    LaunchError,
    LaunchTarget,
    launch_links,
)
from breastgate.integrations.sectra.refs import VIEWERS
from breastgate.results.json import result_from_payload
from breastgate.store import audit, studies
from breastgate.store import results as result_store
from breastgate.store.orders import demographics_for_study, orders_for_study
from breastgate.web.api.deps import ContextDep, OptionalUser, SessionDep, actor

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/api/launch", tags=["launch"])


def _finding(session: Session, context: ContextDep, study_uid: str, finding_id: str) -> Finding:
    stored = [result_from_payload(s.payload) for s in result_store.for_study(session, study_uid)]
    shown = ModeBook.load(session, context.initial_mode).select(stored, Destination.API)
    for result in shown:
        for finding in result.findings:
            if finding.id == finding_id and finding.marks:
                return finding
    raise HTTPException(404, "No such finding is shown for this study")


def launch_target(
    session: Session, context: ContextDep, study_uid: str, finding_id: str | None
) -> LaunchTarget:
    """Patient, accession number, Sectra's exam number when its Healthcare Server has named one
    (Data Provider calls), and for a finding the image and frame of its first mark."""
    study = studies.get_study_ref(session, study_uid)
    if study is None:
        raise HTTPException(404, "Study not found")
    patient = demographics_for_study(session, study_uid)
    orders = orders_for_study(session, study_uid)
    accession = study.accession_number or next(
        (o.accession_number for o in orders if o.accession_number), None
    )
    exam_no = studies.sectra_exam_number(session, study_uid) if accession else None
    sop_uid, frame = None, None
    if finding_id:
        mark = _finding(session, context, study_uid, finding_id).marks[0]
        sop_uid, frame = mark.sop_instance_uid, mark.frame
    try:
        return LaunchTarget(
            patient_id=(patient.patient_id if patient else None) or study.patient_id or "",
            issuer=patient.issuer if patient else None,
            accession_numbers=(accession,) if accession else (),
            sop_instance_uid=sop_uid,
            frame=frame,
            examination_ids=(exam_no,) if exam_no else (),
        )
    except LaunchError as exc:
        raise HTTPException(409, f"The study cannot be launched: {exc}") from None


@router.get("/{viewer}", response_model=None)
def launch(
    viewer: str,
    session: SessionDep,
    context: ContextDep,
    user: OptionalUser,
    request: Request,
    study: str = Query(..., min_length=1, max_length=64, description="Study Instance UID"),
    finding: str | None = Query(None, max_length=64, description="finding id (results JSON)"),
    format: Literal["redirect", "json"] = Query("redirect"),
) -> Response:
    """Redirect to a freshly made launch URL of ``viewer`` (ids7 | uniview) at the study or finding."""
    config = context.launch
    if config is None:
        raise HTTPException(404, "Sectra URL launch is not configured (BG_SECTRA_LAUNCH_MODE)")
    if context.launch_needs_user and user is None:
        raise HTTPException(
            401, "A launch string is made for an authenticated user only", {"WWW-Authenticate": "Bearer"}
        )
    if viewer not in VIEWERS or not (config.ids7_url if viewer == "ids7" else config.uniview_url):
        raise HTTPException(404, f"Viewer {viewer!r} is not configured")
    target = launch_target(session, context, study, finding)
    only = replace(config, uniview_url=None) if viewer == "ids7" else replace(config, ids7_url=None)
    url = launch_links(only, target)[viewer]
    audit.append(
        session,
        AuditKind.PHI_ACCESSED,
        actor=actor(user, request),
        study_instance_uid=study,
        subject=f"launch {viewer}",
        data={"finding": finding, "image": target.sop_instance_uid, "frame": target.frame},
    )
    headers = {"Cache-Control": "no-store"}
    if format == "json":
        body: dict[str, Any] = {"viewer": viewer, "url": url, "expires_in_seconds": SDK_VALIDITY_SECONDS}
        return JSONResponse(body, headers=headers)
    return RedirectResponse(url, status_code=307, headers=headers)
