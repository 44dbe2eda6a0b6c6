"""Results JSON ``breastgate.results/1`` (DESIGN §4): the document of one study.

Field meanings are fixed by DESIGN §4; fields added here: ``images[]`` (per-image outcomes),
``label`` (not-for-diagnostic-use text), ``generated_by``, and in ``risk`` the ``algorithm`` that made
the estimate and the ``average_*`` figures of the model's "average" woman. Findings, marks and
quality checks are encoded by :mod:`breastgate.domain.payload`, as in the stored payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import (
    NOT_FOR_DIAGNOSTIC_USE,
    AlgorithmResult,
    AlgorithmStatus,
    CaseAssessment,
    Triage,
)
from breastgate.domain.payload import (
    density_change_json,
    density_json,
    finding_to_json,
    image_json,
    priors_json,
    quality_to_json,
    risk_json,
)

SCHEMA = "breastgate.results/1"


def build_results(
    study_instance_uid: str,
    results: Sequence[AlgorithmResult],
    assessment: CaseAssessment | None = None,
    triage: Triage | None = None,
) -> dict[str, Any]:
    """The results document of one study (DESIGN §4 "Results JSON").

    ``density`` comes from the first ok result that carries one (null otherwise); ``findings`` are
    the ok results' findings (each with ``algorithm`` and ``shown``: at or above its algorithm's
    operating point); ``quality`` lists the positioning checks with an overall ``verdict``;
    ``assessment`` and ``triage`` are the study-level values computed by the pipeline (null when
    not given); ``risk`` is the estimate of the first ok result that carries one (a risk model's
    result stored with the study, e.g. ``breastgate.risk.bcrat``), with the ``algorithm`` that
    made it, else null.
    """
    foreign = [r.algorithm_id for r in results if r.study_instance_uid != study_instance_uid]
    if foreign:
        raise InvalidInputError(f"results of another study passed for {study_instance_uid}: {foreign}")
    ok = [r for r in results if r.status == AlgorithmStatus.OK]
    density = next((r.density for r in ok if r.density is not None), None)
    density_change = next((r.density_change for r in ok if r.density_change is not None), None)
    risk = next(((r.algorithm_id, r.risk) for r in ok if r.risk is not None), None)
    findings = []
    for r in ok:
        threshold = r.operating_threshold if r.operating_threshold is not None else 0.0
        for f in r.findings:
            findings.append(
                {**finding_to_json(f), "algorithm": r.algorithm_id, "shown": f.score >= threshold}
            )
    checks = [q for r in ok for q in r.quality]
    quality = None
    if checks:
        verdict = next((q for q in checks if q.name == "study_verdict"), None)
        quality = {
            "verdict": ("adequate" if verdict.passed else "inadequate") if verdict else None,
            "checks": [quality_to_json(q) for q in checks],
        }
    return {
        "schema": SCHEMA,
        "study_instance_uid": study_instance_uid,
        "label": NOT_FOR_DIAGNOSTIC_USE,
        "algorithms": [
            {
                "id": r.algorithm_id,
                "version": r.algorithm_version,
                "status": str(r.status),
                "message": r.message,
                "model_card": r.model_card or None,
                **({"priors": priors_json(r.priors)} if r.priors is not None else {}),
            }
            for r in results
        ],
        "density": density_json(density) if density is not None else None,
        "density_change": density_change_json(density_change) if density_change is not None else None,
        "findings": findings,
        "assessment": None
        if assessment is None
        else {
            "suspicion_score": assessment.suspicion_score,
            "birads": assessment.birads,
            "recommendation": assessment.recommendation,
        },
        "triage": None
        if triage is None
        else {
            "priority": str(triage.priority),
            "score": triage.score,
            "flags": list(triage.flags),
            "policy": triage.policy,
            "reasons": list(triage.reasons),
        },
        "quality": quality,
        "risk": None if risk is None else {**risk_json(risk[1]), "algorithm": risk[0]},
        "images": [image_json(r.algorithm_id, i) for r in results for i in r.images],
    }
