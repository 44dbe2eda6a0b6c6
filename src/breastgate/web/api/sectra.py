"""Sectra IDS7 structured-report Data Provider: ``/v1/getstructureddata/`` and
``/v1/getStructuredDataCompability`` (Sectra's spelling).

The Sectra Healthcare Server calls a registered Data Provider when a structured-report template
asks for its values (``window.parent.getData(["breastgate"])``): a POST of JSON
``{patient: {ids}, user: {login, domain, name}, exam: {examNo, accNo, studyUid, date}}`` answered
with ``{Compatibility: {Uid, Version}, PropValues: {...}}``; HTTP 500 signals an error. Shapes as
in Sectra's StructuredReportingTemplatesDevResources "Data provider example" (DataProvider.js).

The values pre-fill the radiologist's report, so the governance gate is ``report``: only
algorithm versions integrated at ``report`` are served (DESIGN §6), silent ones never. Optional
HTTP Basic authentication (``BG_SECTRA_PROVIDER_USER`` / ``_PASSWORD``); every served request is
audited with the Sectra user's login as the actor.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.governance import Destination
from breastgate.domain.model import AlgorithmResult
from breastgate.governance import feedback
from breastgate.governance.modes import ModeBook
from breastgate.integrations.sectra.props import (
    SCHEMA_UID,
    SCHEMA_VERSION,
    PropValue,
    ReportState,
    build_prop_values,
)
from breastgate.results.json import build_results, result_from_payload
from breastgate.store import audit, studies
from breastgate.store import orders as order_store
from breastgate.store import reports as report_store
from breastgate.store import results as result_store
from breastgate.web.api.deps import AppContext, ContextDep, SessionDep
from breastgate.worklist.policy import triage

LOGGER = logging.getLogger(__name__)

PROVIDER_NAME = "breastgate"
_CHALLENGE = {"WWW-Authenticate": f'Basic realm="{PROVIDER_NAME}", charset="UTF-8"'}


def require_credentials(request: Request, context: ContextDep) -> None:
    """401 unless the request carries the configured Basic credentials (none configured: open)."""
    expected = context.sectra_provider
    if expected is None:
        return
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    user, colon, password = decoded.partition(":")
    user_ok = hmac.compare_digest(user.encode(), expected.user.encode())
    password_ok = hmac.compare_digest(password.encode(), expected.password.encode())
    if scheme.lower() != "basic" or not colon or not (user_ok and password_ok):
        raise HTTPException(401, "Data Provider credentials required", _CHALLENGE)


router = APIRouter(prefix="/v1", tags=["sectra"], dependencies=[Depends(require_credentials)])


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)


class SectraPatient(_Lenient):
    ids: list[str] = Field(default_factory=list)


class SectraUser(_Lenient):
    login: str | None = None
    domain: str | None = None
    name: str | None = None


class SectraExam(_Lenient):
    exam_no: str | None = Field(default=None, alias="examNo")
    acc_no: str | None = Field(default=None, alias="accNo")
    study_uid: str | None = Field(default=None, alias="studyUid")
    date: str | None = None


class StructuredDataRequest(_Lenient):
    """Body the Sectra Healthcare Server posts (every part optional: read tolerantly)."""

    patient: SectraPatient = Field(default_factory=SectraPatient)
    user: SectraUser = Field(default_factory=SectraUser)
    exam: SectraExam = Field(default_factory=SectraExam)


def compatibility() -> dict[str, Any]:
    return {"Uid": SCHEMA_UID, "Version": SCHEMA_VERSION}


def find_study(session: Session, exam: SectraExam) -> tuple[str, str] | None:
    """(Study Instance UID, how it was found): by Study UID, else by accession number (the study's,
    then a matched order's)."""
    uid = (exam.study_uid or "").strip()
    if uid and studies.get_study_ref(session, uid) is not None:
        return uid, "study_uid"
    accession = (exam.acc_no or "").strip()
    if not accession:
        return None
    found = studies.study_for_accession(session, accession)
    if found is not None:
        return found, "accession_number"
    linked = [o.study_instance_uid for o in order_store.find_orders(session, accession_number=accession)]
    return next(((u, "order") for u in linked if u), None)


def same_patient(session: Session, study_uid: str, ids: list[str]) -> bool:
    """True when the request names no patient ids, or one of them is the exam's patient (its id on
    the images, the RIS's current id after a merge, or a matched order's), compared without case
    or surrounding blanks."""
    wanted = {i.strip().upper() for i in ids if i and i.strip()}
    if not wanted:
        return True
    study = studies.get_study_ref(session, study_uid)
    patient = order_store.demographics_for_study(session, study_uid)
    known = {
        study.patient_id if study else None,
        patient.patient_id if patient else None,
        *(o.patient_id for o in order_store.orders_for_study(session, study_uid)),
    }
    return bool(wanted & {k.strip().upper() for k in known if k})


def prop_values(
    session: Session, context: AppContext, study_uid: str
) -> tuple[dict[str, PropValue], list[AlgorithmResult]]:
    """The study's PropValues from the results that reach the report, and those results."""
    stored = [result_from_payload(s.payload) for s in result_store.for_study(session, study_uid)]
    served = ModeBook.load(session, context.initial_mode).select(stored, Destination.REPORT)
    assessment, decision = triage(served, context.policy) if served else (None, None)
    document = build_results(study_uid, served, assessment, decision)
    feedback.attach(document, feedback.for_study(session, study_uid))
    refs = context.launch_refs(absolute=True)
    if refs is not None:
        refs.attach(document)
    record = report_store.get_report(session, study_uid)
    report = None
    if record is not None:
        report = ReportState(
            record.status,
            birads=record.confirmed_birads,
            density=record.confirmed_density,
            confirmed_by=record.confirmed_by,
            confirmed_at=record.confirmed_at,
        )
    return build_prop_values(document, report), served


@router.post("/getstructureddata/")
@router.post("/getstructureddata", include_in_schema=False)
def get_structured_data(
    body: StructuredDataRequest, session: SessionDep, context: ContextDep
) -> dict[str, Any]:
    """PropValues for the exam of a Sectra structured report; 500 when the exam is unknown."""
    found = find_study(session, body.exam)
    if found is None:
        raise HTTPException(500, "Exam not found")
    study_uid, lookup = found
    if context.sectra_match_patient and not same_patient(session, study_uid, body.patient.ids):
        LOGGER.warning(
            "Data Provider: the request's patient ids do not include the exam's patient (%s)", lookup
        )
        raise HTTPException(500, "The exam belongs to another patient than the request names")
    values, served = prop_values(session, context, study_uid)
    if body.exam.exam_no:  # Sectra's own exam number: image-level launch strings carry it
        studies.remember_sectra_exam(session, study_uid, body.exam.exam_no)
    login = (body.user.login or "").strip()[:128] or "unknown"
    audit.append(
        session,
        AuditKind.RESULT_VIEWED,
        actor=f"sectra:{login}",
        study_instance_uid=study_uid,
        subject="sectra data provider",
        data={
            "destination": Destination.REPORT.value,
            "lookup": lookup,
            "domain": (body.user.domain or "")[:128],
            "algorithms": [f"{r.algorithm_id}@{r.algorithm_version}" for r in served],
        },
    )
    return {"Compatibility": compatibility(), "PropValues": values}


@router.get("/getStructuredDataCompability")
def get_compatibility() -> dict[str, Any]:
    """The provider's schema identity (``Uid``, ``Version``), as templates may require it."""
    return compatibility()
