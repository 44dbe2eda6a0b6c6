"""The per-algorithm payload stored in the database (``breastgate.algorithm-result/1``): an
:class:`~breastgate.domain.model.AlgorithmResult` as plain JSON-able values and back.

Pure (stdlib only), so every reader of stored results — the governance gate, the pipeline, the
results JSON of :mod:`breastgate.results.json` — decodes them the same way. Findings, marks,
quality checks, density and risk are written with the field names of DESIGN §4's results JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import (
    PRIOR_STATUS_TEXT,
    AlgorithmResult,
    AlgorithmStatus,
    BreastDensity,
    ChangeKind,
    DelayedPhase,
    DensityAssessment,
    DensityChange,
    Finding,
    FindingComparison,
    FindingKind,
    FindingKinetics,
    FindingLocation,
    ImageOutcome,
    InitialPhase,
    Mark,
    PriorStatus,
    PriorUse,
    QualityCheck,
    RiskEstimate,
)

PAYLOAD_SCHEMA = "breastgate.algorithm-result/1"


def density_json(density: DensityAssessment) -> dict[str, Any]:
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


def risk_json(risk: RiskEstimate) -> dict[str, Any]:
    return {
        "model": risk.model,
        "five_year_pct": risk.five_year_pct,
        "lifetime_pct": risk.lifetime_pct,
        "average_five_year_pct": risk.average_five_year_pct,
        "average_lifetime_pct": risk.average_lifetime_pct,
    }


def _risk_from(data: Mapping[str, Any]) -> RiskEstimate:
    return RiskEstimate(
        model=str(data["model"]),
        five_year_pct=_opt_float(data.get("five_year_pct")),
        lifetime_pct=_opt_float(data.get("lifetime_pct")),
        average_five_year_pct=_opt_float(data.get("average_five_year_pct")),
        average_lifetime_pct=_opt_float(data.get("average_lifetime_pct")),
    )


def image_json(algorithm_id: str, image: ImageOutcome) -> dict[str, Any]:
    return {
        "sop_instance_uid": image.sop_instance_uid,
        "algorithm": algorithm_id,
        "status": str(image.status),
        "message": image.message,
        "laterality": image.laterality,
        "view": image.view,
        "measurements": dict(image.measurements),
    }


def _pair(values: Sequence[Any]) -> tuple[float, float]:
    if len(values) != 2:
        raise ValueError(f"expected [col, row], got {values!r}")
    return float(values[0]), float(values[1])


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_xyz(values: Sequence[Any] | None) -> tuple[float, float, float] | None:
    if values is None:
        return None
    if len(values) != 3:
        raise ValueError(f"patient_mm needs 3 numbers, got {values!r}")
    return float(values[0]), float(values[1]), float(values[2])


def _mark_json(mark: Mark) -> dict[str, Any]:
    return {
        "sop_instance_uid": mark.sop_instance_uid,
        "frame": mark.frame,
        "view": mark.view,
        "point": list(mark.point),
        "bbox": list(mark.bbox),
        "outline": [list(p) for p in mark.outline],
        "members": [list(p) for p in mark.members],
        "score": mark.score,
        "laterality": mark.laterality,
        "sop_class_uid": mark.sop_class_uid,
        "size_mm": mark.size_mm,
        "patient_mm": list(mark.patient_mm) if mark.patient_mm is not None else None,
        "frames": list(mark.frames) if mark.frames is not None else None,
        "lines": [[list(a), list(b)] for a, b in mark.lines],
    }


def _mark_from(data: Mapping[str, Any]) -> Mark:
    bbox = tuple(float(v) for v in data["bbox"])
    if len(bbox) != 4:
        raise ValueError(f"bbox needs 4 numbers, got {bbox!r}")
    frame = data.get("frame")
    return Mark(
        sop_instance_uid=str(data["sop_instance_uid"]),
        point=_pair(data["point"]),
        bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
        score=float(data["score"]),
        laterality=data.get("laterality"),
        view=data.get("view"),
        frame=None if frame is None else int(frame),
        sop_class_uid=str(data.get("sop_class_uid") or ""),
        outline=tuple(_pair(p) for p in data.get("outline") or ()),
        members=tuple(_pair(p) for p in data.get("members") or ()),
        size_mm=_opt_float(data.get("size_mm")),
        patient_mm=_opt_xyz(data.get("patient_mm")),
        frames=_opt_frames(data.get("frames")),
        lines=tuple((_pair(a), _pair(b)) for a, b in data.get("lines") or ()),
    )


def _opt_frames(values: Sequence[Any] | None) -> tuple[int, int] | None:
    if values is None:
        return None
    if len(values) != 2:
        raise ValueError(f"frames needs [first, last], got {values!r}")
    return int(values[0]), int(values[1])


def _attribute(value: Any) -> str | float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def comparison_json(comparison: FindingComparison) -> dict[str, Any]:
    """DESIGN §4 ``findings[].comparison`` (plus the prior's size, date and marks)."""
    return {
        "prior_study_instance_uid": comparison.prior_study_instance_uid,
        "change": str(comparison.change),
        "size_change_mm": comparison.size_change_mm,
        "prior_size_mm": comparison.prior_size_mm,
        "prior_study_date": comparison.prior_study_date,
        "prior_marks": [_mark_json(m) for m in comparison.prior_marks],
    }


def _comparison_from(data: Mapping[str, Any]) -> FindingComparison:
    return FindingComparison(
        prior_study_instance_uid=str(data["prior_study_instance_uid"]),
        change=ChangeKind(data["change"]),
        size_change_mm=_opt_float(data.get("size_change_mm")),
        prior_size_mm=_opt_float(data.get("prior_size_mm")),
        prior_study_date=data.get("prior_study_date"),
        prior_marks=tuple(_mark_from(m) for m in data.get("prior_marks") or ()),
    )


def kinetics_json(kinetics: FindingKinetics) -> dict[str, Any]:
    """DESIGN §4 ``findings[].kinetics`` (plus peak enhancement and the curve-type shares)."""
    return {
        "initial_phase": str(kinetics.initial_phase),
        "delayed_phase": str(kinetics.delayed_phase),
        "curve_type": kinetics.curve_type,
        "peak_enhancement_pct": kinetics.peak_enhancement_pct,
        "washout_share": kinetics.washout_share,
        "plateau_share": kinetics.plateau_share,
        "persistent_share": kinetics.persistent_share,
    }


def _kinetics_from(data: Mapping[str, Any]) -> FindingKinetics:
    return FindingKinetics(
        initial_phase=InitialPhase(data["initial_phase"]),
        delayed_phase=DelayedPhase(data["delayed_phase"]),
        peak_enhancement_pct=_opt_float(data.get("peak_enhancement_pct")),
        washout_share=_opt_float(data.get("washout_share")),
        plateau_share=_opt_float(data.get("plateau_share")),
        persistent_share=_opt_float(data.get("persistent_share")),
    )


def priors_json(priors: PriorUse) -> dict[str, Any]:
    """Results JSON ``algorithms[].priors``: status, its wording, and the prior studies read."""
    return {
        "status": str(priors.status),
        "text": PRIOR_STATUS_TEXT[priors.status],
        "study_instance_uids": list(priors.study_instance_uids),
        "message": priors.message,
    }


def density_change_json(change: DensityChange) -> dict[str, Any]:
    """Results JSON ``density_change``: the prior's category and percent density, and the change."""
    return {
        "prior_study_instance_uid": change.prior_study_instance_uid,
        "prior_study_date": change.prior_study_date,
        "prior_category": change.prior_category,
        "prior_percent_dense": change.prior_percent_dense,
        "change_pp": change.change_pp,
    }


def _density_change_from(data: Mapping[str, Any]) -> DensityChange:
    return DensityChange(
        prior_study_instance_uid=str(data["prior_study_instance_uid"]),
        prior_category=str(data["prior_category"]),
        prior_percent_dense=float(data["prior_percent_dense"]),
        change_pp=float(data["change_pp"]),
        prior_study_date=data.get("prior_study_date"),
    )


def _priors_from(data: Mapping[str, Any]) -> PriorUse:
    return PriorUse(
        status=PriorStatus(data["status"]),
        study_instance_uids=tuple(str(u) for u in data.get("study_instance_uids") or ()),
        message=str(data.get("message") or ""),
    )


def finding_to_json(finding: Finding) -> dict[str, Any]:
    """JSON-safe dict of a finding shaped as DESIGN §4 ``findings[]`` (inverse: :func:`finding_from_json`)."""
    loc = finding.location
    extra: dict[str, Any] = {}
    if finding.comparison is not None:
        extra["comparison"] = comparison_json(finding.comparison)
    if finding.kinetics is not None:
        extra["kinetics"] = kinetics_json(finding.kinetics)
    if finding.diameters_mm is not None:
        extra["diameters_mm"] = list(finding.diameters_mm)
    if finding.volume_mm3 is not None:
        extra["volume_mm3"] = finding.volume_mm3
    return {
        "id": finding.id,
        "kind": str(finding.kind),
        "laterality": finding.laterality,
        "score": finding.score,
        "size_mm": finding.size_mm,
        "location": None
        if loc is None
        else {
            "clock": loc.clock,
            "quadrant": loc.quadrant,
            "depth": loc.depth,
            "distance_from_nipple_mm": loc.distance_from_nipple_mm,
            "patient_mm": list(loc.patient_mm) if loc.patient_mm is not None else None,
        },
        "marks": [_mark_json(m) for m in finding.marks],
        "attributes": dict(finding.attributes),
        "correlated_with": list(finding.correlated_with),
        **extra,
    }


def finding_from_json(data: Mapping[str, Any]) -> Finding:
    """Rebuild a :class:`Finding` from :func:`finding_to_json` output; InvalidInputError when malformed."""
    try:
        loc = data.get("location")
        location = None
        if loc:
            clock = loc.get("clock")
            location = FindingLocation(
                clock=None if clock is None else int(clock),
                quadrant=loc.get("quadrant"),
                depth=loc.get("depth"),
                distance_from_nipple_mm=_opt_float(loc.get("distance_from_nipple_mm")),
                patient_mm=_opt_xyz(loc.get("patient_mm")),
            )
        return Finding(
            id=str(data["id"]),
            kind=FindingKind(data["kind"]),
            laterality=str(data["laterality"]),
            score=float(data["score"]),
            marks=tuple(_mark_from(m) for m in data["marks"]),
            size_mm=_opt_float(data.get("size_mm")),
            location=location,
            attributes={str(k): _attribute(v) for k, v in (data.get("attributes") or {}).items()},
            correlated_with=tuple(str(i) for i in data.get("correlated_with") or ()),
            comparison=_comparison_from(data["comparison"]) if data.get("comparison") else None,
            kinetics=_kinetics_from(data["kinetics"]) if data.get("kinetics") else None,
            diameters_mm=_opt_xyz(data.get("diameters_mm")),
            volume_mm3=_opt_float(data.get("volume_mm3")),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidInputError(f"finding cannot be read: {exc!r}") from exc


def quality_to_json(check: QualityCheck) -> dict[str, Any]:
    """JSON-safe dict of one quality check (inverse: :func:`quality_from_json`)."""
    return {
        "name": check.name,
        "passed": check.passed,
        "reason": check.reason,
        "sop_instance_uid": check.sop_instance_uid,
        "laterality": check.laterality,
        "view": check.view,
        "value": check.value,
        "unit": check.unit,
    }


def quality_from_json(data: Mapping[str, Any]) -> QualityCheck:
    """Rebuild a :class:`QualityCheck` from :func:`quality_to_json` output."""
    try:
        return QualityCheck(
            name=str(data["name"]),
            passed=bool(data["passed"]),
            reason=str(data.get("reason") or ""),
            sop_instance_uid=data.get("sop_instance_uid"),
            laterality=data.get("laterality"),
            view=data.get("view"),
            value=_opt_float(data.get("value")),
            unit=str(data.get("unit") or ""),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"quality check cannot be read: {exc!r}") from exc


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
        "density": density_json(result.density) if result.density is not None else None,
        "findings": [finding_to_json(f) for f in result.findings],
        "quality": [quality_to_json(q) for q in result.quality],
        "operating_threshold": result.operating_threshold,
        "risk": risk_json(result.risk) if result.risk is not None else None,
        **({"model_card": result.model_card} if result.model_card else {}),
        **({"priors": priors_json(result.priors)} if result.priors is not None else {}),
        **(
            {"density_change": density_change_json(result.density_change)}
            if result.density_change is not None
            else {}
        ),
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
        threshold = payload.get("operating_threshold")
        risk = payload.get("risk")
        return AlgorithmResult(
            algorithm_id=str(payload["algorithm_id"]),
            algorithm_version=str(payload["algorithm_version"]),
            study_instance_uid=str(payload["study_instance_uid"]),
            status=AlgorithmStatus(payload["status"]),
            message=str(payload.get("message", "")),
            images=images,
            density=_density_from(density) if density else None,
            findings=tuple(finding_from_json(f) for f in payload.get("findings") or ()),
            quality=tuple(quality_from_json(q) for q in payload.get("quality") or ()),
            operating_threshold=None if threshold is None else float(threshold),
            risk=_risk_from(risk) if risk else None,
            model_card=str(payload.get("model_card") or ""),
            priors=_priors_from(payload["priors"]) if payload.get("priors") else None,
            density_change=(
                _density_change_from(payload["density_change"]) if payload.get("density_change") else None
            ),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"stored algorithm result cannot be read: {exc}") from exc
