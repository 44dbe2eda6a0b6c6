"""``/api/monitoring``: per algorithm version accuracy against outcomes and score drift (DESIGN §6)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field

from breastgate.domain.governance import Role
from breastgate.governance import monitoring
from breastgate.web.api.access import allow
from breastgate.web.api.deps import SessionDep
from breastgate.web.api.schemas.monitoring import DriftReport, MonitoredVersions, MonitoringReport

#: Monitoring is for the AI committee: roles ai_admin and auditor.
router = APIRouter(
    prefix="/api/monitoring",
    tags=["monitoring"],
    dependencies=[Depends(allow(Role.AI_ADMIN, Role.AUDITOR))],
)

#: A case-score operating point (recall when score >= threshold).
Threshold = Annotated[float, Field(ge=0.0, le=1.0)]


def _known(session: SessionDep, algorithm_id: str, version: str) -> None:
    versions = monitoring.version_counts(session)
    if not any(v["algorithm_id"] == algorithm_id and v["version"] == version for v in versions):
        raise HTTPException(404, f"No algorithm version {algorithm_id} {version}")


@router.get("/algorithms", response_model=MonitoredVersions, response_model_exclude_unset=True)
def algorithms(session: SessionDep) -> dict[str, Any]:
    """Every algorithm version the gateway registered or holds results of, with counts per status."""
    return {"versions": monitoring.version_counts(session)}


@router.get(
    "/algorithms/{algorithm_id}/versions/{version}",
    response_model=MonitoringReport,
    response_model_exclude_unset=True,
)
def algorithm_report(
    session: SessionDep,
    algorithm_id: str,
    version: str,
    threshold: Annotated[list[Threshold] | None, Query()] = None,
    seed: int = 0,
    bootstrap: Annotated[int, Query(ge=0, le=10000)] = 1000,
) -> dict[str, Any]:
    """AUC with bootstrap CI, operating points, subgroups and density agreement of one version."""
    _known(session, algorithm_id, version)
    return monitoring.algorithm_report(
        session, algorithm_id, version, operating_points=threshold, seed=seed, bootstrap=bootstrap
    )


@router.get(
    "/algorithms/{algorithm_id}/versions/{version}/drift",
    response_model=DriftReport,
    response_model_exclude_unset=True,
)
def drift_report(
    session: SessionDep,
    algorithm_id: str,
    version: str,
    baseline_days: Annotated[float, Query(gt=0, le=3650)] = 30.0,
    current_days: Annotated[float, Query(gt=0, le=3650)] = 7.0,
) -> dict[str, Any]:
    """Score distribution of the baseline window against the current window, per device."""
    _known(session, algorithm_id, version)
    return monitoring.drift_report(
        session, algorithm_id, version, baseline_days=baseline_days, current_days=current_days
    )
