"""Results JSON ``breastgate.results/1`` (DESIGN §4) and the per-algorithm payload stored in the database.

Field meanings are fixed by DESIGN §4; fields added here: ``images[]`` (per-image outcomes),
``label`` (not-for-diagnostic-use text) and ``generated_by``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import (
    NOT_FOR_DIAGNOSTIC_USE,
    AlgorithmResult,
    AlgorithmStatus,
    BreastDensity,
    DensityAssessment,
    ImageOutcome,
)

LOGGER = logging.getLogger(__name__)

SCHEMA = "breastgate.results/1"
PAYLOAD_SCHEMA = "breastgate.algorithm-result/1"


def _density_json(density: DensityAssessment) -> dict[str, Any]:
    return {
        "category": density.category,
        "percent_dense": density.percent_dense,
        "per_breast": {
            side: {
                "category": b.category,
                "percent_dense": b.percent_dense,
                "sop_instance_uids": list(b.sop_instance_uids),
            }
            for side, b in sorted(density.per_breast.items())
        },
    }


def _image_json(algorithm_id: str, image: ImageOutcome) -> dict[str, Any]:
    return {
        "sop_instance_uid": image.sop_instance_uid,
        "algorithm": algorithm_id,
        "status": str(image.status),
        "message": image.message,
        "laterality": image.laterality,
        "view": image.view,
        "measurements": dict(image.measurements),
    }


def build_results(study_instance_uid: str, results: Sequence[AlgorithmResult]) -> dict[str, Any]:
    """The results document of one study (DESIGN §4 "Results JSON").

    ``density`` comes from the first ok result that carries one (null otherwise); ``findings`` is
    empty and ``assessment``, ``triage``, ``quality``, ``risk`` are null until algorithms compute them.
    """
    foreign = [r.algorithm_id for r in results if r.study_instance_uid != study_instance_uid]
    if foreign:
        raise InvalidInputError(f"results of another study passed for {study_instance_uid}: {foreign}")
    density = next(
        (r.density for r in results if r.density is not None and r.status == AlgorithmStatus.OK), None
    )
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
            }
            for r in results
        ],
        "density": _density_json(density) if density is not None else None,
        "findings": [],
        "assessment": None,
        "triage": None,
        "quality": None,
        "risk": None,
        "images": [_image_json(r.algorithm_id, i) for r in results for i in r.images],
    }


def result_to_payload(result: AlgorithmResult) -> dict[str, Any]:
    """JSON-safe dict of an :class:`AlgorithmResult` (inverse: :func:`result_from_payload`)."""
    return {
        "schema": PAYLOAD_SCHEMA,
        "algorithm_id": result.algorithm_id,
        "algorithm_version": result.algorithm_version,
        "study_instance_uid": result.study_instance_uid,
        "status": str(result.status),
        "message": result.message,
        "images": [
            {
                "sop_instance_uid": i.sop_instance_uid,
                "status": str(i.status),
                "message": i.message,
                "laterality": i.laterality,
                "view": i.view,
                "measurements": dict(i.measurements),
            }
            for i in result.images
        ],
        "density": _density_json(result.density) if result.density is not None else None,
    }


def _density_from(data: Mapping[str, Any]) -> DensityAssessment:
    per_breast = {
        side: BreastDensity(
            side,
            str(b["category"]),
            float(b["percent_dense"]),
            tuple(str(u) for u in b.get("sop_instance_uids", ())),
        )
        for side, b in data.get("per_breast", {}).items()
    }
    return DensityAssessment(str(data["category"]), float(data["percent_dense"]), per_breast)


def result_from_payload(payload: Mapping[str, Any]) -> AlgorithmResult:
    """Rebuild an :class:`AlgorithmResult` from :func:`result_to_payload` output."""
    try:
        images = tuple(
            ImageOutcome(
                sop_instance_uid=str(i["sop_instance_uid"]),
                status=AlgorithmStatus(i["status"]),
                message=str(i.get("message", "")),
                laterality=i.get("laterality"),
                view=i.get("view"),
                measurements={str(k): float(v) for k, v in (i.get("measurements") or {}).items()},
            )
            for i in payload.get("images", ())
        )
        density = payload.get("density")
        return AlgorithmResult(
            algorithm_id=str(payload["algorithm_id"]),
            algorithm_version=str(payload["algorithm_version"]),
            study_instance_uid=str(payload["study_instance_uid"]),
            status=AlgorithmStatus(payload["status"]),
            message=str(payload.get("message", "")),
            images=images,
            density=_density_from(density) if density else None,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"stored algorithm result cannot be read: {exc}") from exc
