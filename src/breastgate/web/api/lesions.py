"""``GET /api/patients/{patient_id}/lesions``: a woman's lesions across modalities and time
(issue 19): her studies' findings, gated as the study results route gates them, placed in one
breast frame and linked (:mod:`breastgate.pipeline.lesions`). Viewing is audited per study."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query

from breastgate.domain.audit import AuditKind
from breastgate.domain.governance import Role
from breastgate.pipeline.lesions import lesions_json, patient_lesions
from breastgate.store import audit
from breastgate.web.api.access import ReaderOrSystem
from breastgate.web.api.deps import ContextDep, SessionDep
from breastgate.web.api.schemas.lesions import LesionTable

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["results"])


@router.get("/patients/{patient_id}/lesions", response_model=LesionTable, response_model_exclude_unset=True)
def patient_lesion_table(
    session: SessionDep,
    context: ContextDep,
    user: ReaderOrSystem,
    patient_id: str = Path(..., min_length=1, max_length=64),
    include_silent: bool = Query(False, description="also silent results (roles ai_admin, auditor)"),
) -> dict[str, Any]:
    """The woman's lesion table: each lesion with its findings per modality and date and the
    links (with their evidence) that joined them; findings that could not be placed, with why."""
    if include_silent and not user.has(Role.AI_ADMIN, Role.AUDITOR):
        raise HTTPException(403, "Silent results are for the roles ai_admin and auditor")
    lesions = patient_lesions(
        session, patient_id, default_mode=context.initial_mode, include_silent=include_silent
    )
    if lesions is None:
        raise HTTPException(404, "Patient not found")
    who = user.actor
    audit.append_many(
        session,
        [
            audit.NewEvent(
                AuditKind.RESULT_VIEWED,
                who,
                {"algorithms": list(versions), "include_silent": include_silent, "view": "lesion table"},
                study_instance_uid=uid,
            )
            for uid, versions in lesions.algorithms.items()
            if versions
        ],
    )
    return lesions_json(lesions)
