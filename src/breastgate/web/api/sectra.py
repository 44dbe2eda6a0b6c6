"""Sectra IDS7 structured-report Data Provider: ``/v1/getstructureddata/`` and
``/v1/getStructuredDataCompability`` (Sectra's spelling).

The Sectra Healthcare Server calls a registered Data Provider when a structured-report template
asks for its values (``window.parent.getData(["breastgate"])``): a POST of JSON
``{patient: {ids}, user: {login, domain, name}, exam: {examNo, accNo, studyUid, date}}`` answered
with ``{Compatibility: {Uid, Version}, PropValues: {...}}``; HTTP 500 signals an error. Shapes as
in Sectra's StructuredReportingTemplatesDevResources "Data provider example" (DataProvider.js).

The values pre-fill the radiologist's report, so the governance gate is ``report``: only
algorithm versions integrated at ``report`` are served (DESIGN §6), silent ones never. HTTP Basic
authentication: the pair set for Sectra (``BG_SECTRA_PROVIDER_USER`` / ``_PASSWORD``) or a local
account with the role ``integration``; every served request is audited with the Sectra user's
login as the actor.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from breastgate.domain.audit import AuditKind
from breastgate.domain.governance import Destination, Role
from breastgate.integrations.sectra import provider
from breastgate.integrations.sectra.props import SCHEMA_UID, SCHEMA_VERSION
from breastgate.pipeline.lesions import correspondences
from breastgate.store import audit
from breastgate.web.api.access import Allow, Identity
from breastgate.web.api.deps import ContextDep, SessionDep
from breastgate.web.api.schemas.risk import SectraCompatibility, StructuredData

LOGGER = logging.getLogger(__name__)

PROVIDER_NAME = "breastgate"


class ProviderAccess(Allow):
    """The Data Provider's rule: the Basic pair set for Sectra (``BG_SECTRA_PROVIDER_USER`` /
    ``_PASSWORD``), else any identity with the role ``integration`` (a local account's Basic pair,
    or a token)."""

    def __init__(self) -> None:
        super().__init__(Role.INTEGRATION, basic_challenge=True)

    def __call__(self, request: Request) -> Identity:
        expected = request.app.state.context.sectra.provider
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if expected is not None and scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            user, colon, password = decoded.partition(":")
            user_ok = hmac.compare_digest(user.encode(), expected.user.encode())
            password_ok = hmac.compare_digest(password.encode(), expected.password.encode())
            if colon and user_ok and password_ok:
                return Identity(f"sectra:{expected.user}", frozenset({Role.INTEGRATION.value}), "basic")
        return super().__call__(request)


router = APIRouter(prefix="/v1", tags=["sectra"], dependencies=[Depends(ProviderAccess())])


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


@router.post("/getstructureddata/", response_model=StructuredData, response_model_exclude_unset=True)
@router.post(
    "/getstructureddata",
    include_in_schema=False,
    response_model=StructuredData,
    response_model_exclude_unset=True,
)
def get_structured_data(
    body: StructuredDataRequest, session: SessionDep, context: ContextDep
) -> dict[str, Any]:
    """PropValues for the exam of a Sectra structured report; 500 when the exam is unknown."""
    found = provider.find_study(session, body.exam.study_uid, body.exam.acc_no)
    if found is None:
        raise HTTPException(500, "Exam not found")
    study_uid, lookup = found
    if context.sectra.match_patient and not provider.same_patient(session, study_uid, body.patient.ids):
        LOGGER.warning(
            "Data Provider: the request's patient ids do not include the exam's patient (%s)", lookup
        )
        raise HTTPException(500, "The exam belongs to another patient than the request names")
    values, served = provider.prop_values(
        session,
        study_uid,
        policy=context.policy,
        default_mode=context.initial_mode,
        launch=context.launch_refs(absolute=True),
        correspondences=correspondences(session, study_uid, default_mode=context.initial_mode),
    )
    if body.exam.exam_no:  # Sectra's own exam number: image-level launch strings carry it
        provider.remember_sectra_exam(session, study_uid, body.exam.exam_no)
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


@router.get(
    "/getStructuredDataCompability", response_model=SectraCompatibility, response_model_exclude_unset=True
)
def get_compatibility() -> dict[str, Any]:
    """The provider's schema identity (``Uid``, ``Version``), as templates may require it."""
    return compatibility()
