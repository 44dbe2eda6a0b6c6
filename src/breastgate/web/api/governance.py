"""``/api``: governance — algorithm registry and modes, feedback, approval, outcomes, audit.

Every route needs an identity with the right role (:mod:`breastgate.web.api.access`); every
change writes its audit event in the transaction of the change (STYLE pattern 5, DESIGN §6).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.governance import Destination, FeedbackAction, Mode, RejectReason, Role
from breastgate.domain.outcomes import OutcomeRecord
from breastgate.governance import approvals, feedback, outcomes
from breastgate.governance.audit import verify_events
from breastgate.store import audit as audit_store
from breastgate.store import governance as governance_store
from breastgate.store import studies
from breastgate.web.api.access import Identity, Reader, allow, signed_in
from breastgate.web.api.deps import SessionDep
from breastgate.web.api.schemas.governance import (
    AlgorithmList,
    Approval,
    AuditEvents,
    AuditVerification,
    Feedback,
    FeedbackList,
    ModeSettings,
    OutcomeCreated,
    OutcomesImported,
    StudyOutcomes,
)

router = APIRouter(prefix="/api")

AiAdmin = Annotated[Identity, Depends(allow(Role.AI_ADMIN))]
Radiologist = Annotated[Identity, Depends(allow(Role.RADIOLOGIST))]
Auditor = Annotated[Identity, Depends(allow(Role.AUDITOR, Role.AI_ADMIN))]
OutcomeWriter = Annotated[Identity, Depends(allow(Role.RADIOLOGIST, Role.AI_ADMIN, Role.INTEGRATION))]
OutcomeReader = Annotated[Identity, Depends(allow(Role.RADIOLOGIST, Role.AI_ADMIN, Role.AUDITOR))]


def _user_actor(user: Identity) -> str:
    return user.actor


def _known_study(session: SessionDep, study_instance_uid: str) -> None:
    if studies.get_study_ref(session, study_instance_uid) is None:
        raise HTTPException(404, "Study not found")


# Registry and modes --------------------------------------------------------------------------
@router.get("/algorithms", response_model=AlgorithmList, response_model_exclude_unset=True)
def algorithms(session: SessionDep, _: Annotated[Identity, Depends(signed_in())]) -> dict[str, Any]:
    """Every algorithm version the gateway has registered: manifest, availability, modes."""
    modes: dict[tuple[str, str], dict[str, Any]] = {}
    for m in governance_store.modes(session):
        modes.setdefault((m.algorithm_id, m.version), {})[m.destination] = {
            "mode": m.mode.value,
            "approval_required": m.approval_required,
            "changed_by": m.changed_by,
            "changed_at": m.changed_at.isoformat(),
            "reason": m.reason,
        }
    return {
        "items": [
            {
                "id": v.algorithm_id,
                "version": v.version,
                "name": v.name,
                "manifest": v.manifest,
                "available": v.available,
                "availability": v.availability,
                "first_seen_at": v.first_seen_at.isoformat(),
                "last_seen_at": v.last_seen_at.isoformat(),
                "modes": modes.get((v.algorithm_id, v.version), {}),
            }
            for v in governance_store.versions(session)
        ]
    }


class ModeChange(BaseModel):
    """Body of ``PUT /api/algorithms/{id}/versions/{version}/modes/{destination}``."""

    mode: Literal["silent", "assistive", "integrated"]
    reason: str = Field(min_length=3, max_length=2000)
    approval_required: bool | None = None


@router.put(
    "/algorithms/{algorithm_id}/versions/{version}/modes/{destination}",
    response_model=ModeSettings,
    response_model_exclude_unset=True,
)
def change_mode(
    algorithm_id: str,
    version: str,
    destination: str,
    body: ModeChange,
    session: SessionDep,
    user: AiAdmin,
) -> dict[str, Any]:
    """Set the mode of one version at one destination (``*``: every destination). Needs the
    ``ai_admin`` role and a reason; audited."""
    if not any(
        v.algorithm_id == algorithm_id and v.version == version for v in governance_store.versions(session)
    ):
        raise HTTPException(404, "Unknown algorithm version")
    try:
        targets = list(Destination) if destination == "*" else [Destination.parse(destination)]
    except InvalidInputError as exc:
        raise HTTPException(422, str(exc)) from None
    changed = [
        governance_store.set_mode(
            session,
            algorithm_id=algorithm_id,
            version=version,
            destination=target,
            mode=Mode(body.mode),
            actor=_user_actor(user),
            reason=body.reason.strip(),
            approval_required=body.approval_required,
        )
        for target in targets
    ]
    return {
        "items": [
            {"destination": c.destination, "mode": c.mode.value, "approval_required": c.approval_required}
            for c in changed
        ]
    }


# Feedback ------------------------------------------------------------------------------------
class ModificationBody(BaseModel):
    point: tuple[float, float] | None = None
    bbox: tuple[float, float, float, float] | None = None
    sop_instance_uid: str | None = Field(default=None, max_length=64)
    birads: Literal["0", "1", "2", "3", "4", "5", "6"] | None = None
    kind: str | None = Field(default=None, max_length=32)


class FeedbackBody(BaseModel):
    """Body of ``POST /api/studies/{study}/findings/{finding}/feedback``."""

    action: Literal["accept", "reject", "modify"]
    reason: (
        Literal[
            "normal_tissue",
            "benign_finding",
            "artifact",
            "known_stable",
            "wrong_location",
            "duplicate",
            "other",
        ]
        | None
    ) = None
    comment: str = Field(default="", max_length=2000)
    modification: ModificationBody | None = None


def _feedback_json(item: feedback.Feedback) -> dict[str, Any]:
    return {
        "id": item.id,
        "finding_id": item.finding_id,
        "algorithm_id": item.algorithm_id,
        "algorithm_version": item.algorithm_version,
        "generation": item.generation,
        "action": item.action,
        "reason": item.reason,
        "comment": item.comment,
        "modification": item.modification,
        "user": item.user,
        "at": item.at.isoformat(),
    }


@router.post(
    "/studies/{study_instance_uid}/findings/{finding_id}/feedback",
    status_code=201,
    response_model=Feedback,
    response_model_exclude_unset=True,
)
def give_feedback(
    study_instance_uid: str,
    finding_id: str,
    body: FeedbackBody,
    session: SessionDep,
    user: Radiologist,
) -> dict[str, Any]:
    """A radiologist accepts, rejects (reason from the list, free text beside it) or modifies
    (moved/resized mark, changed category) one AI finding. Stored and audited."""
    modification = (
        feedback.Modification(**body.modification.model_dump()) if body.modification is not None else None
    )
    try:
        item = feedback.record(
            session,
            study_instance_uid,
            finding_id,
            FeedbackAction(body.action),
            user=_user_actor(user),
            reason=RejectReason(body.reason) if body.reason else None,
            comment=body.comment,
            modification=modification,
        )
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidInputError as exc:
        raise HTTPException(422, str(exc)) from None
    return _feedback_json(item)


@router.get(
    "/studies/{study_instance_uid}/feedback", response_model=FeedbackList, response_model_exclude_unset=True
)
def study_feedback(study_instance_uid: str, session: SessionDep, _: Reader) -> dict[str, Any]:
    """Every radiologist's verdict on the study's findings (404 for a study breastgate does not have)."""
    _known_study(session, study_instance_uid)
    return {"items": [_feedback_json(f) for f in feedback.for_study(session, study_instance_uid)]}


# Approval ------------------------------------------------------------------------------------
def _approval_json(item: approvals.Approval | None) -> dict[str, Any]:
    if item is None:
        return {"state": "not_required"}
    return {
        "generation": item.generation,
        "state": item.state,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "reason": item.reason,
        "held_objects": item.held,
    }


@router.get(
    "/studies/{study_instance_uid}/approval", response_model=Approval, response_model_exclude_unset=True
)
def study_approval(study_instance_uid: str, session: SessionDep, _: Reader) -> dict[str, Any]:
    """Whether the study's results wait for a radiologist before entering the permanent record."""
    _known_study(session, study_instance_uid)
    return _approval_json(approvals.latest(session, study_instance_uid))


class ApprovalBody(BaseModel):
    decision: Literal["approve", "withhold"]
    reason: str = Field(default="", max_length=2000)


@router.post(
    "/studies/{study_instance_uid}/approval", response_model=Approval, response_model_exclude_unset=True
)
def decide_approval(
    study_instance_uid: str, body: ApprovalBody, session: SessionDep, user: Radiologist
) -> dict[str, Any]:
    """Approve (held PACS objects and HL7 results are sent) or withhold (never sent, with a reason)."""
    _known_study(session, study_instance_uid)
    try:
        item = approvals.decide(
            session,
            study_instance_uid,
            approvals.Decision(body.decision),
            user=_user_actor(user),
            reason=body.reason,
        )
    except InvalidInputError as exc:
        raise HTTPException(409, str(exc)) from None
    return _approval_json(item)


# Outcomes ------------------------------------------------------------------------------------
class OutcomeBody(BaseModel):
    """Body of ``POST /api/outcomes``: a final category, density, pathology or outcome of a study."""

    source: Literal["pathology", "api"] = "api"
    study_instance_uid: str | None = Field(default=None, max_length=64)
    accession_number: str | None = Field(default=None, max_length=64)
    final_birads: Literal["0", "1", "2", "3", "4", "5", "6"] | None = None
    density: Literal["a", "b", "c", "d"] | None = None
    outcome: Literal["cancer", "benign", "normal"] | None = None
    laterality: Literal["L", "R", "B"] | None = None
    pathology: str | None = Field(default=None, max_length=4000)
    reported_at: str | None = Field(default=None, max_length=26)


@router.post("/outcomes", status_code=201, response_model=OutcomeCreated, response_model_exclude_unset=True)
def add_outcome(body: OutcomeBody, session: SessionDep, user: OutcomeWriter) -> dict[str, Any]:
    try:
        outcome_id = outcomes.record(session, OutcomeRecord(**body.model_dump()), actor=_user_actor(user))
    except InvalidInputError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"id": outcome_id}


@router.post(
    "/outcomes/csv", status_code=201, response_model=OutcomesImported, response_model_exclude_unset=True
)
async def import_outcomes(request: Request, session: SessionDep, user: AiAdmin) -> dict[str, Any]:
    """Historical outcomes as CSV (``text/csv`` body; columns in docs/governance.md)."""
    raw = await request.body()
    try:
        count = outcomes.import_csv(session, raw.decode("utf-8-sig"), actor=_user_actor(user))
    except UnicodeDecodeError:
        raise HTTPException(422, "the outcomes CSV must be UTF-8") from None
    except InvalidInputError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"imported": count}


@router.get(
    "/studies/{study_instance_uid}/outcomes", response_model=StudyOutcomes, response_model_exclude_unset=True
)
def study_outcomes(study_instance_uid: str, session: SessionDep, user: OutcomeReader) -> dict[str, Any]:
    ref = studies.get_study_ref(session, study_instance_uid)
    accession = ref.accession_number if ref is not None else None
    items = outcomes.for_study(session, study_instance_uid, accession)
    if ref is None and not items:  # outcomes may come before the study (imports): 404 for neither
        raise HTTPException(404, "Study not found")
    truth = outcomes.truth_of(items)
    return {
        "items": [vars(i) for i in items],
        "truth": {"cancer": truth.cancer, "final_birads": truth.final_birads, "density": truth.density},
    }


# Audit ---------------------------------------------------------------------------------------
@router.get("/audit", response_model=AuditEvents, response_model_exclude_unset=True)
def audit_events(
    session: SessionDep,
    user: Auditor,
    study: str | None = Query(None, max_length=64),
    after: int = Query(0, ge=0),
    limit: int = Query(500, ge=1, le=5000),
) -> dict[str, Any]:
    """Audit events in order (by study, or the chain from ``after``); reading them is itself audited."""
    if study is not None:
        events = audit_store.for_study(session, study)
    else:
        events = []
        for event in audit_store.iter_events(session, after=after, batch=limit):
            events.append(event)
            if len(events) >= limit:
                break
    audit_store.append(
        session,
        AuditKind.AUDIT_READ,
        actor=user.actor,
        study_instance_uid=study,
        data={"after": after, "count": len(events)},
    )
    return {"items": [e.as_dict() for e in events]}


@router.get("/audit/verify", response_model=AuditVerification, response_model_exclude_unset=True)
def audit_verify(session: SessionDep, user: Auditor) -> dict[str, Any]:
    """Verify the whole chain against its head (may take a while on millions of events)."""
    head_seq, head_hash = audit_store.head(session)
    report = verify_events(audit_store.iter_events(session), head_seq, head_hash)
    return {
        "ok": report.ok,
        "events": report.count,
        "problems": [{"seq": p.seq, "problem": p.problem} for p in report.problems[:100]],
    }
