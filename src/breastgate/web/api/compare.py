"""``GET /api/algorithms/compare``: two algorithm versions side by side on the same studies.

``?a=ALGORITHM_ID@VERSION&b=ALGORITHM_ID@VERSION`` returns the document of
:func:`breastgate.governance.compare.compare_versions` (schema ``breastgate.comparison/1``):
studies in common, AUCs with bootstrap CIs, case-score correlation, finding counts, density
agreement and the studies where the versions disagree most (Study Instance UIDs only).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.governance import Role
from breastgate.governance.compare import VersionRef, compare_versions
from breastgate.web.api.access import allow
from breastgate.web.api.deps import SessionDep
from breastgate.web.api.schemas.monitoring import Comparison

__all__ = ["router"]

#: Comparisons list studies by UID: roles ai_admin and auditor.
router = APIRouter(
    prefix="/api", tags=["governance"], dependencies=[Depends(allow(Role.AI_ADMIN, Role.AUDITOR))]
)

_SPEC = "ALGORITHM_ID@VERSION, e.g. breastgate.masses@1.0.0"


@router.get("/algorithms/compare", response_model=Comparison, response_model_exclude_unset=True)
def compare(
    session: SessionDep,
    a: str = Query(..., min_length=3, max_length=128, description=f"Version A: {_SPEC}"),
    b: str = Query(..., min_length=3, max_length=128, description=f"Version B: {_SPEC}"),
    top: int = Query(10, ge=0, le=1000, description="How many most-different studies to list"),
    bootstrap: int = Query(2000, ge=1, le=20000, description="Bootstrap resamples per AUC"),
    seed: int = Query(0, ge=0, description="Seed of the bootstrap"),
) -> dict[str, Any]:
    try:
        return compare_versions(
            session, VersionRef.parse(a), VersionRef.parse(b), n_resamples=bootstrap, seed=seed, top=top
        )
    except InvalidInputError as exc:
        raise HTTPException(422, str(exc)) from exc
