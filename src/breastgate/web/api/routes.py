"""``/api``: health, studies, results (DESIGN §4), orders and report drafts."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.governance import Destination, Role
from breastgate.governance import feedback
from breastgate.governance.gate import StudyResults
from breastgate.hl7 import oru_final
from breastgate.jobs import ledger
from breastgate.pipeline.lesions import add_correlations, cross_study_links
from breastgate.pipeline.letters import queue_letter
from breastgate.pipeline.publish.base import ResultFiles
from breastgate.pipeline.publish.hl7 import owe_confirmed_report
from breastgate.pipeline.publish.webhooks import enqueue_event
from breastgate.results.json import build_results
from breastgate.store import audit, outbox, prefetch, studies
from breastgate.store import orders as order_store
from breastgate.store import reports as report_store
from breastgate.web.api.access import PUBLIC, Identity, ReaderOrSystem, allow
from breastgate.web.api.deps import AppContext, ContextDep, SessionDep
from breastgate.web.api.rows import as_dict
from breastgate.web.api.schemas.gateway import ConfirmedReport, Health, OrderList, Report, StudyPage
from breastgate.web.api.schemas.results import ResultsDocument
from breastgate.worklist.policy import triage

router = APIRouter(prefix="/api")


@router.get(
    "/health", response_model=Health, response_model_exclude_unset=True, dependencies=[Depends(PUBLIC)]
)
def health(context: ContextDep, session: SessionDep) -> dict[str, Any]:
    session.execute(text("SELECT 1"))
    return {
        "status": "ok",
        "version": context.version,
        "dicom": {"ae_title": context.ae_title, "port": context.dicom_port},
        "hl7": {"port": context.hl7_port},
        "workers_in_process": context.workers_in_process,
        "jobs": ledger.counts(session),
        "outbox": outbox.counts(session),
    }


@router.get("/studies", response_model=StudyPage, response_model_exclude_unset=True)
def list_studies(
    session: SessionDep,
    _: ReaderOrSystem,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    rows = studies.list_studies(session, limit=limit, offset=offset)
    uids = [r.study_instance_uid for r in rows]
    priors = prefetch.prior_uids(session, uids)
    jobs = ledger.list_for_studies(session, uids)  # one query for the page, not one per study
    items = []
    for row in rows:
        item = as_dict(row)
        uid = item["study_instance_uid"]
        item["prior"] = uid in priors  # retrieved from the PACS for comparison; not analysed
        item["jobs"] = [
            {
                "algorithm_id": j.algorithm_id,
                "state": j.state.value,
                "attempts": j.attempts,
                "last_error": j.last_error,
            }
            for j in jobs[uid]
        ]
        items.append(item)
    return {"items": items, "limit": limit, "offset": offset}


@router.get(
    "/studies/{study_instance_uid}/results",
    response_model=ResultsDocument,
    response_model_exclude_unset=True,
)
def study_results(
    study_instance_uid: str,
    session: SessionDep,
    context: ContextDep,
    user: ReaderOrSystem,
    include_silent: bool = Query(False, description="also silent results (roles ai_admin, auditor)"),
) -> dict[str, Any]:
    """The study's results JSON: only algorithm versions at least assistive at ``api`` (silent
    ones are stored and audited, not shown), each finding with its feedback and, in
    ``correlated_with``, the same lesion in the woman's other studies (``<study_uid>/<finding_id>``,
    gated alike). Viewing is audited."""
    if studies.get_study_ref(session, study_instance_uid) is None:
        raise HTTPException(404, "Study not found")
    if include_silent and not user.has(Role.AI_ADMIN, Role.AUDITOR):
        raise HTTPException(403, "Silent results are for the roles ai_admin and auditor")
    study = StudyResults.load(session, study_instance_uid, context.initial_mode)
    gated = study.at(Destination.API)
    results = study.stored if include_silent else gated.results
    assessment, decision = triage(results, context.policy)
    body = build_results(study_instance_uid, results, assessment, decision)
    links = cross_study_links(
        session, study_instance_uid, default_mode=context.initial_mode, include_silent=include_silent
    )
    add_correlations(body, links)  # the same lesion in the woman's other studies
    feedback.attach(body, feedback.for_study(session, study_instance_uid))
    refs = context.launch_refs()
    if refs is not None:
        refs.attach(body)
    body["governance"] = {"hidden": len(study.stored) - len(results), "modes": study.modes(results)}
    audit.append(
        session,
        AuditKind.RESULT_VIEWED,
        actor=user.actor,
        study_instance_uid=study_instance_uid,
        data={
            "algorithms": [f"{r.algorithm_id}@{r.algorithm_version}" for r in results],
            "include_silent": include_silent,
        },
    )
    return body


@router.get(
    "/studies/{study_instance_uid}/orders", response_model=OrderList, response_model_exclude_unset=True
)
def study_orders(
    study_instance_uid: str, session: SessionDep, user: ReaderOrSystem, request: Request
) -> dict[str, Any]:
    """The RIS orders matched to a study (Study Instance UID, accession number or patient/date/modality).
    They carry patient identifiers: every read is audited as PHI access."""
    if studies.get_study_ref(session, study_instance_uid) is None:
        raise HTTPException(404, "Study not found")
    items = [as_dict(o) for o in order_store.orders_for_study(session, study_instance_uid)]
    _phi_read(session, user, request, "orders of a study", len(items), study_instance_uid)
    return {"items": items}


def _phi_read(
    session: SessionDep,
    user: Identity,
    request: Request,
    what: str,
    count: int,
    study_uid: str | None = None,
) -> None:
    audit.append(
        session,
        AuditKind.PHI_ACCESSED,
        actor=user.actor,
        study_instance_uid=study_uid,
        subject=what,
        data={"path": request.url.path, "records": count},
    )


@router.get("/orders", response_model=OrderList, response_model_exclude_unset=True)
def list_orders(
    session: SessionDep,
    user: ReaderOrSystem,
    request: Request,
    accession_number: str | None = Query(None, max_length=64),
    patient_id: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Orders received over HL7, newest first, optionally by accession number or patient id."""
    rows = order_store.find_orders(
        session, accession_number=accession_number, patient_id=patient_id, limit=limit
    )
    _phi_read(session, user, request, "order search", len(rows))
    return {"items": [as_dict(o) for o in rows]}


class Confirmation(BaseModel):
    """Body of ``POST /api/studies/{study}/report/confirm``: what the radiologist decided where it
    differs from the draft (category 0-6, density a-d). The confirmation is in the signed-in
    radiologist's name; ``radiologist``, when sent, must be that name."""

    radiologist: str | None = Field(default=None, min_length=1, max_length=128)
    birads: Literal["0", "1", "2", "3", "4", "5", "6"] | None = None
    density: Literal["a", "b", "c", "d"] | None = None
    note: str | None = Field(default=None, max_length=2000)


def _report(record: report_store.ReportRecord) -> dict[str, Any]:
    data = as_dict(record)
    data["draft"] = json.loads(record.draft)
    data.pop("sr_path", None)
    data["draft_sr"] = record.sr_path is not None
    return data


@router.get("/studies/{study_instance_uid}/report", response_model=Report, response_model_exclude_unset=True)
def study_report(study_instance_uid: str, session: SessionDep, _: ReaderOrSystem) -> dict[str, Any]:
    """The AI report draft (structured and as text) and whether a radiologist has confirmed it."""
    record = report_store.get_report(session, study_instance_uid)
    if record is None:
        raise HTTPException(404, "No report draft for this study")
    return _report(record)


@router.post(
    "/studies/{study_instance_uid}/report/confirm",
    response_model=ConfirmedReport,
    response_model_exclude_unset=True,
)
def confirm_report(
    study_instance_uid: str,
    body: Confirmation,
    session: SessionDep,
    context: ContextDep,
    user: Annotated[Identity, Depends(allow(Role.RADIOLOGIST))],
) -> dict[str, Any]:
    """A radiologist confirms the draft (with their own category or density if they differ).
    A confirmed density makes the patient's MQSA density letter when letters are set up."""
    if body.radiologist is not None and body.radiologist != user.name:
        raise HTTPException(422, "A report is confirmed in the signed-in radiologist's own name")
    try:
        record = report_store.confirm(
            session,
            study_instance_uid,
            by=user.name,
            birads=body.birads,
            density=body.density,
            note=body.note,
        )
    except LookupError:
        raise HTTPException(404, "No report draft for this study") from None
    except InvalidInputError as exc:
        raise HTTPException(422, str(exc)) from None
    audit.append(
        session,
        AuditKind.REPORT_CONFIRMED,
        actor=user.actor,
        study_instance_uid=study_instance_uid,
        subject=f"generation {record.generation}",
        data={
            "radiologist": user.name,
            "birads": record.confirmed_birads,
            "density": record.confirmed_density,
            "ai_birads": record.birads,
            "ai_density": record.density,
        },
    )
    letter = _letter_and_webhooks(session, context, record)
    _final_oru(session, context, record)
    return {**_report(record), "letter": letter}


def _final_oru(session: Session, context: AppContext, record: report_store.ReportRecord) -> str | None:
    """Owe the RIS the final ORU of the confirmed report (when HL7 results are set up)."""
    if context.hl7 is None or context.blobs is None or context.results_path is None:
        return None
    study = studies.get_study_ref(session, record.study_instance_uid)
    assert record.confirmed_by is not None and record.confirmed_at is not None  # just confirmed
    report = oru_final.ConfirmedReport(
        radiologist=record.confirmed_by,
        confirmed_at=record.confirmed_at,
        birads=record.confirmed_birads,
        density=record.confirmed_density,
        ai_birads=record.birads,
        ai_density=record.density,
        note=record.note,
        report_lines=record.text.splitlines(),
    )
    return owe_confirmed_report(
        session,
        ResultFiles(context.blobs, context.results_path),
        context.hl7,
        record.study_instance_uid,
        report,
        patient_id=study.patient_id if study is not None else None,
        accession_number=study.accession_number if study is not None else None,
    )


def _letter_and_webhooks(
    session: Session, context: AppContext, record: report_store.ReportRecord
) -> str | None:
    """Owe the confirmed report's MQSA density letter (when letters are set up) and its
    ``report.confirmed`` webhooks; returns the letter's outbox key, or None."""
    letter = None
    if context.blobs is not None and context.results_path is not None:
        if context.letters is not None:
            letter = queue_letter(session, context.blobs, context.results_path, context.letters, record)
        data = {
            "study_instance_uid": record.study_instance_uid,
            "birads": record.confirmed_birads,
            "density": record.confirmed_density,
            "ai_birads": record.birads,
            "ai_density": record.density,
            "letter": letter is not None,
        }
        uid = record.study_instance_uid
        parts = (uid, record.generation, record.confirmed_birads, record.confirmed_density)
        files = ResultFiles(context.blobs, context.results_path)
        enqueue_event(
            session, files, context.webhooks, "report.confirmed", data, study_uid=uid, key_parts=parts
        )
    return letter
