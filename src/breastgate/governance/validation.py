"""The metrics document of a retrospective silent-mode validation (``breastgate validate``).

:func:`validation_metrics` joins what the algorithms said about each study (:class:`StudyCase`)
with the outcomes CSV (:class:`~breastgate.governance.validation_outcomes.StudyOutcome`) and computes every
figure of the report: ROC with a bootstrap CI on the AUC, FROC, calibration, density agreement,
the operating-point simulation and the subgroup tables. Studies without an outcome and outcomes
without a study are listed, never silently dropped. Pure: same inputs, same document (floats
rounded to 6 decimals, NaN as null, lists in a fixed order), so ``metrics.json`` is byte-stable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from breastgate.governance.metrics import (
    AucEstimate,
    CaseRecord,
    MarkOutcome,
    OperatingPoint,
    age_band,
    auc_with_ci,
    calibration_bins,
    cohen_kappa,
    confusion_matrix,
    froc,
    operating_point,
    roc_curve,
    subgroup_table,
)
from breastgate.governance.validation_outcomes import StudyOutcome

__all__ = ["NOTICE", "SCHEMA", "CaseMark", "StudyCase", "validation_metrics"]

SCHEMA = "breastgate.validation/1"
NOTICE = (
    "Reference implementations evaluated on synthetic phantoms — not for diagnostic use unless "
    "validated by the site."
)
#: Thresholds of the operating-point simulation grid (case score, 0-1).
GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))


@dataclass(frozen=True)
class CaseMark:
    """One mark of a finding: where it is and the finding's score."""

    sop_instance_uid: str
    point: tuple[float, float]
    score: float
    algorithm_id: str


@dataclass
class StudyCase:
    """What the algorithms said about one study, plus header facts the subgroups need.

    ``score`` is the case score (0-1); ``algorithm_scores`` the highest finding score per lesion
    algorithm; ``failed`` the messages of failed algorithms (a study with any is left out of the
    metrics and listed).
    """

    study_instance_uid: str
    accession_number: str | None
    score: float
    n_images: int
    algorithm_scores: dict[str, float] = field(default_factory=dict)
    ai_density: str | None = None
    age: float | None = None
    manufacturer: str | None = None
    model: str | None = None
    marks: list[CaseMark] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def json_number(value: float | None, digits: int = 6) -> float | None:
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return None
    return round(float(value), digits)


def auc_json(est: AucEstimate | None) -> dict[str, Any] | None:
    if est is None:
        return None
    return {
        "value": json_number(est.auc),
        "ci_low": json_number(est.ci_low),
        "ci_high": json_number(est.ci_high),
        "confidence": est.confidence,
        "n_resamples": est.n_resamples,
        "seed": est.seed,
        "n_positive": est.n_positive,
        "n_negative": est.n_negative,
    }


def point_json(op: OperatingPoint, label: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"label": label} if label is not None else {}
    out.update(
        threshold=json_number(op.threshold),
        n=op.n,
        tp=op.tp,
        fp=op.fp,
        tn=op.tn,
        fn=op.fn,
        sensitivity=json_number(op.sensitivity),
        specificity=json_number(op.specificity),
        recall_rate=json_number(op.recall_rate),
        ppv=json_number(op.ppv),
        cdr_per_1000=json_number(op.cdr_per_1000),
        workload=json_number(op.workload),
    )
    return out


def _join(
    cases: Sequence[StudyCase], outcomes: Sequence[StudyOutcome]
) -> tuple[list[tuple[StudyCase, StudyOutcome]], list[str], list[StudyOutcome]]:
    """Pairs (case, outcome) by Study Instance UID, else accession number; plus the studies
    without an outcome (sorted) and the outcomes without a study."""
    by_uid = {c.study_instance_uid: c for c in cases}
    by_accession: dict[str, StudyCase] = {}
    for c in cases:
        if c.accession_number:
            by_accession.setdefault(c.accession_number, c)
    pairs: list[tuple[StudyCase, StudyOutcome]] = []
    used: set[str] = set()
    orphans: list[StudyOutcome] = []
    for o in outcomes:
        case = by_uid.get(o.study_instance_uid or "") or by_accession.get(o.accession_number or "")
        if case is None or case.study_instance_uid in used:
            orphans.append(o)
            continue
        used.add(case.study_instance_uid)
        pairs.append((case, o))
    pairs.sort(key=lambda p: p[0].study_instance_uid)
    without = sorted(c.study_instance_uid for c in cases if c.study_instance_uid not in used)
    return pairs, without, orphans


def _froc_json(pairs: Sequence[tuple[StudyCase, StudyOutcome]]) -> dict[str, Any]:
    """Lesion-level FROC over the matched studies: a mark hits the nearest lesion view (same image,
    within its radius) of its study; every other mark is a false mark."""
    marks: list[MarkOutcome] = []
    lesions: set[str] = set()
    images = 0
    for case, outcome in pairs:
        images += case.n_images
        lesions.update(f"{case.study_instance_uid}/{t.lesion_id}" for t in outcome.lesions)
        for mark in case.marks:
            hits = [
                (math.hypot(mark.point[0] - t.col, mark.point[1] - t.row), t.lesion_id)
                for t in outcome.lesions
                if t.is_hit_by(mark.sop_instance_uid, mark.point)
            ]
            hit = f"{case.study_instance_uid}/{min(hits)[1]}" if hits else None
            marks.append(MarkOutcome(mark.score, hit))
    curve = froc(marks, len(lesions), images)
    points = [
        {"threshold": json_number(t), "sensitivity": json_number(s), "fp_per_image": json_number(f)}
        for t, s, f in zip(curve.thresholds, curve.sensitivity, curve.fp_per_image, strict=True)
    ]
    at = {f"{x:g}": json_number(curve.sensitivity_at_fp(x)) for x in (0.1, 0.25, 0.5, 1.0)}
    return {
        "n_lesions": curve.n_lesions,
        "n_images": curve.n_images,
        "sensitivity_at_fp": at,
        "points": points,
    }


def _density_json(pairs: Sequence[tuple[StudyCase, StudyOutcome]]) -> dict[str, Any]:
    rated = [
        (o.radiologist_density, c.ai_density) for c, o in pairs if o.radiologist_density and c.ai_density
    ]
    radiologist = [r for r, _ in rated]
    ai = [a for _, a in rated if a is not None]
    return {
        "n": len(rated),
        "kappa_linear": json_number(cohen_kappa(ai, radiologist, weights="linear")) if rated else None,
        "kappa_quadratic": json_number(cohen_kappa(ai, radiologist, weights="quadratic")) if rated else None,
        "exact_agreement": json_number(sum(a == r for r, a in rated) / len(rated)) if rated else None,
        "confusion_ai_rows_radiologist_columns": confusion_matrix(ai, radiologist).tolist(),
    }


def validation_metrics(
    cases: Sequence[StudyCase],
    outcomes: Sequence[StudyOutcome],
    *,
    threshold: float,
    algorithm_thresholds: Mapping[str, float],
    seed: int = 0,
    n_resamples: int = 2000,
    provenance: Mapping[str, Any] | None = None,
    models: Sequence[Mapping[str, Any]] = (),
    unreadable_files: int = 0,
) -> dict[str, Any]:
    """The whole metrics document (``metrics.json``; the HTML report renders it).

    ``threshold`` is the case-score operating point of the subgroup tables; ``algorithm_thresholds``
    the operating point of each lesion algorithm, simulated on that algorithm's highest finding
    score per study. The bootstrap of every AUC uses ``seed`` and ``n_resamples``.
    """
    failed = sorted((c for c in cases if c.failed), key=lambda c: c.study_instance_uid)
    usable = [c for c in cases if not c.failed]
    pairs, without_outcome, orphans = _join(usable, outcomes)
    # An outcome whose study failed is not "without a study": the study is listed as failed.
    _, _, orphans = _join(failed, orphans)
    without_study = sorted(o.study_instance_uid or f"accession {o.accession_number}" for o in orphans)
    scores = [c.score for c, _ in pairs]
    labels = [o.cancer for _, o in pairs]
    records = [
        CaseRecord(
            c.score,
            o.cancer,
            o.radiologist_density or c.ai_density,
            o.patient_age if o.patient_age is not None else c.age,
            c.manufacturer,
            c.model,
        )
        for c, o in pairs
    ]
    auc = auc_with_ci(scores, labels, n_resamples=n_resamples, seed=seed) if pairs else None
    roc = roc_curve(scores, labels)
    grid = [point_json(operating_point(scores, labels, t), f"case score ≥ {t:.2f}") for t in GRID]
    for algorithm_id in sorted(algorithm_thresholds):
        t = algorithm_thresholds[algorithm_id]
        algo_scores = [c.algorithm_scores.get(algorithm_id, 0.0) for c, _ in pairs]
        grid.append(point_json(operating_point(algo_scores, labels, t), f"{algorithm_id} operating point"))
    subgroups = {
        by: [
            {
                "group": row.group,
                "n": row.n,
                "positives": row.positives,
                "auc": auc_json(row.auc),
                **{k: v for k, v in point_json(row.point).items() if k not in ("threshold", "n")},
            }
            for row in subgroup_table(records, by, threshold, n_resamples=n_resamples, seed=seed)
        ]
        for by in ("density", "age_band", "device")
    }
    return {
        "schema": SCHEMA,
        "notice": NOTICE,
        "provenance": dict(provenance or {}),
        "models": [dict(m) for m in models],
        "counts": {
            "studies": len(cases),
            "outcome_rows": len(outcomes),
            "matched": len(pairs),
            "cancer": sum(o.outcome == "cancer" for _, o in pairs),
            "benign": sum(o.outcome == "benign" for _, o in pairs),
            "normal": sum(o.outcome == "normal" for _, o in pairs),
            "unreadable_files": unreadable_files,
            "studies_without_outcome": without_outcome,
            "outcomes_without_study": without_study,
            "failed_studies": [
                {"study_instance_uid": c.study_instance_uid, "messages": c.failed} for c in failed
            ],
        },
        "case_score": "assessment.suspicion_score / 100 (else the highest finding score, else 0)",
        "threshold": json_number(threshold),
        "auc": auc_json(auc),
        "roc": [
            {"threshold": json_number(t), "fpr": json_number(f), "tpr": json_number(s)}
            for t, f, s in zip(roc.thresholds, roc.fpr, roc.tpr, strict=True)
        ],
        "froc": _froc_json(pairs),
        "calibration": [
            {
                "lower": b.lower,
                "upper": b.upper,
                "count": b.count,
                "positives": b.positives,
                "mean_score": json_number(b.mean_score),
                "observed_rate": json_number(b.observed_rate),
            }
            for b in calibration_bins([min(max(s, 0.0), 1.0) for s in scores], labels)
        ],
        "density_agreement": _density_json(pairs),
        "operating_points": grid,
        "subgroups": subgroups,
        "studies": [
            {
                "study_instance_uid": c.study_instance_uid,
                "accession_number": c.accession_number,
                "outcome": o.outcome,
                "final_birads": o.final_birads,
                "score": json_number(c.score),
                "algorithm_scores": {k: json_number(v) for k, v in sorted(c.algorithm_scores.items())},
                "ai_density": c.ai_density,
                "radiologist_density": o.radiologist_density,
                "age": json_number(r.age, 2),
                "age_band": age_band(r.age),
                "manufacturer": c.manufacturer,
                "model": c.model,
                "marks": len(c.marks),
                "lesions": len(o.lesions),
            }
            for (c, o), r in zip(pairs, records, strict=True)
        ],
    }
