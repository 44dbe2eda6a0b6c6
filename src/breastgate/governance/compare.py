"""Two algorithm versions side by side on the same studies (a shadow re-run, DESIGN §6).

A new version runs beside the old one (``result_history`` keeps both); :func:`compare_versions`
reads the studies where both have an ``ok`` result, joins them with the outcomes and returns a
JSON document (schema :data:`SCHEMA`):

- ``n_common``: studies with an ``ok`` result of both versions;
- ``scores`` (both lesion algorithms): the AUC of each version on the studies whose truth is known
  (:func:`~breastgate.governance.metrics.auc_with_ci`) and the paired difference B − A with its
  bootstrap CI, and the Spearman correlation of the case scores;
- ``findings``: finding counts per study, A against B;
- ``density`` (both density algorithms): agreement of the categories, Cohen's kappa with linear and
  quadratic weights, the confusion matrix, and each version's kappa against the radiologists';
- ``studies``: per-study pairs, and ``disagreements``: the studies where the versions differ most.

Studies are named by Study Instance UID only; no patient data. The case score of a lesion
algorithm's result is its highest finding score (0 without findings); a density algorithm is
compared by ``density.category``. Whether a version is a lesion or a density algorithm comes from
its registered manifest (``outputs``), else from its results. Pure over store reads: the same
database and arguments give the same document (floats rounded to 6 decimals, NaN as null).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sqlalchemy.orm import Session

from breastgate.domain.errors import InvalidInputError
from breastgate.governance import outcomes
from breastgate.governance.metrics import (
    auc_with_ci,
    bootstrap_auc,
    cohen_kappa,
    confusion_matrix,
)
from breastgate.governance.validation import auc_json, json_number
from breastgate.store import governance as governance_store
from breastgate.store import results as result_store
from breastgate.store import studies

__all__ = [
    "SCHEMA",
    "Outputs",
    "StudyPair",
    "VersionRef",
    "case_score",
    "compare_versions",
    "comparison_document",
    "density_category",
    "summary_lines",
]

SCHEMA = "breastgate.comparison/1"
DENSITY_CATEGORIES = ("a", "b", "c", "d")
#: Manifest outputs that make an algorithm a lesion (finding) algorithm.
LESION_OUTPUTS = frozenset(
    {
        "findings",
        "mass",
        "calcification_cluster",
        "architectural_distortion",
        "asymmetry",
        "enhancing_lesion",
        "us_lesion",
    }
)


@dataclass(frozen=True)
class VersionRef:
    """One algorithm version, written ``ALGORITHM_ID@VERSION``."""

    algorithm_id: str
    version: str

    @classmethod
    def parse(cls, text: str) -> VersionRef:
        algorithm_id, sep, version = text.strip().rpartition("@")
        if not sep or not algorithm_id or not version:
            raise InvalidInputError(f"{text!r} is not ALGORITHM_ID@VERSION (e.g. breastgate.masses@1.0.0)")
        return cls(algorithm_id, version)

    def __str__(self) -> str:
        return f"{self.algorithm_id}@{self.version}"


@dataclass(frozen=True)
class Outputs:
    """What a version's results carry that can be compared."""

    lesion: bool
    density: bool


@dataclass(frozen=True)
class StudyPair:
    """Both versions' results on one study, and its truth (``cancer`` None when unknown)."""

    study_instance_uid: str
    score_a: float | None
    score_b: float | None
    findings_a: int
    findings_b: int
    density_a: str | None
    density_b: str | None
    cancer: bool | None = None
    radiologist_density: str | None = None


def _findings(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = payload.get("findings") or []
    return [f for f in found if isinstance(f, Mapping)] if isinstance(found, list) else []


def case_score(payload: Mapping[str, Any], outputs: Outputs) -> float | None:
    """Highest finding score of a lesion algorithm's result (0.0 without findings), else None."""
    if not outputs.lesion:
        return None
    scores = [float(f["score"]) for f in _findings(payload) if isinstance(f.get("score"), int | float)]
    return max(scores, default=0.0)


def density_category(payload: Mapping[str, Any]) -> str | None:
    """``density.category`` (a-d) of a result, None when it has none."""
    density = payload.get("density")
    category = density.get("category") if isinstance(density, Mapping) else None
    return category if category in DENSITY_CATEGORIES else None


def outputs_of(manifest_outputs: Iterable[str] | None, payloads: Iterable[Mapping[str, Any]]) -> Outputs:
    """From the registered manifest's ``outputs`` when there is one, else from the results."""
    if manifest_outputs is not None:
        declared = set(manifest_outputs)
        if declared:
            return Outputs(lesion=bool(declared & LESION_OUTPUTS), density="density" in declared)
    lesion = density = False
    for payload in payloads:
        lesion = lesion or bool(_findings(payload))
        density = density or density_category(payload) is not None
    return Outputs(lesion, density)


# The document ------------------------------------------------------------------------------------
def _scores_section(
    pairs: Sequence[StudyPair], *, n_resamples: int, confidence: float, seed: int
) -> dict[str, Any]:
    a = np.array([p.score_a for p in pairs], dtype=np.float64)
    b = np.array([p.score_b for p in pairs], dtype=np.float64)
    known = [i for i, p in enumerate(pairs) if p.cancer is not None]
    labels = np.array([bool(pairs[i].cancer) for i in known], dtype=bool)
    est_a = auc_with_ci(a[known], labels, n_resamples=n_resamples, confidence=confidence, seed=seed)
    est_b = auc_with_ci(b[known], labels, n_resamples=n_resamples, confidence=confidence, seed=seed)
    # Same seed, same labels: bootstrap_auc draws the same resamples for both versions (its draws
    # depend only on n₊, n₋ and the seed), so B − A per resample is a paired difference.
    diffs = bootstrap_auc(b[known], labels, n_resamples=n_resamples, seed=seed) - bootstrap_auc(
        a[known], labels, n_resamples=n_resamples, seed=seed
    )
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = (
        (float(v) for v in np.percentile(diffs, [tail, 100.0 - tail])) if len(diffs) else (math.nan,) * 2
    )
    rho = p_value = math.nan
    if len(pairs) >= 3 and np.ptp(a) > 0 and np.ptp(b) > 0:
        result = spearmanr(a, b)
        rho, p_value = float(result.statistic), float(result.pvalue)
    return {
        "n_with_truth": len(known),
        "n_cancer": int(labels.sum()),
        "bootstrap": {"n_resamples": n_resamples, "seed": seed, "paired": True},
        "auc_a": auc_json(est_a),
        "auc_b": auc_json(est_b),
        "auc_difference": {
            "value": json_number(est_b.auc - est_a.auc),
            "ci_low": json_number(low),
            "ci_high": json_number(high),
        },
        "spearman": {
            "rho": json_number(rho),
            "p_value": float(f"{p_value:.6g}") if math.isfinite(p_value) else None,
            "n": len(pairs),
        },
    }


def _findings_section(pairs: Sequence[StudyPair]) -> dict[str, Any]:
    diff = [p.findings_b - p.findings_a for p in pairs]
    n = len(pairs)
    return {
        "mean_a": json_number(sum(p.findings_a for p in pairs) / n) if n else None,
        "mean_b": json_number(sum(p.findings_b for p in pairs) / n) if n else None,
        "mean_difference": json_number(sum(diff) / n) if n else None,
        "more_in_a": sum(d < 0 for d in diff),
        "more_in_b": sum(d > 0 for d in diff),
        "equal": sum(d == 0 for d in diff),
    }


def _density_section(pairs: Sequence[StudyPair]) -> dict[str, Any]:
    rated = [p for p in pairs if p.density_a is not None and p.density_b is not None]
    a = [str(p.density_a) for p in rated]
    b = [str(p.density_b) for p in rated]
    truth = [p for p in rated if p.radiologist_density is not None]
    radiologist = [str(p.radiologist_density) for p in truth]
    return {
        "n": len(rated),
        "exact_agreement": json_number(sum(x == y for x, y in zip(a, b, strict=True)) / len(rated))
        if rated
        else None,
        "kappa_linear": json_number(cohen_kappa(a, b, weights="linear")),
        "kappa_quadratic": json_number(cohen_kappa(a, b, weights="quadratic")),
        "confusion": {
            "categories": list(DENSITY_CATEGORIES),
            "rows": "version A",
            "columns": "version B",
            "counts": confusion_matrix(a, b).tolist(),
        },
        "vs_radiologist": {
            "n": len(truth),
            "kappa_linear_a": json_number(
                cohen_kappa([str(p.density_a) for p in truth], radiologist, weights="linear")
            ),
            "kappa_linear_b": json_number(
                cohen_kappa([str(p.density_b) for p in truth], radiologist, weights="linear")
            ),
        },
    }


def _steps(a: str | None, b: str | None) -> int | None:
    if a is None or b is None:
        return None
    return abs(DENSITY_CATEGORIES.index(b) - DENSITY_CATEGORIES.index(a))


def _disagreements(pairs: Sequence[StudyPair], top: int) -> list[dict[str, Any]]:
    """Studies where the versions differ, most first: by score difference, then density steps,
    then finding count difference; ties by Study Instance UID."""

    def key(p: StudyPair) -> tuple[float, int, int]:
        score = abs(p.score_b - p.score_a) if p.score_a is not None and p.score_b is not None else 0.0
        return (round(score, 9), _steps(p.density_a, p.density_b) or 0, abs(p.findings_b - p.findings_a))

    differing = [p for p in pairs if key(p) != (0.0, 0, 0)]
    differing.sort(key=lambda p: p.study_instance_uid)
    differing.sort(key=key, reverse=True)  # stable: UID order within ties
    return [
        {
            "study_instance_uid": p.study_instance_uid,
            "score_a": json_number(p.score_a),
            "score_b": json_number(p.score_b),
            "score_difference": json_number(p.score_b - p.score_a)
            if p.score_a is not None and p.score_b is not None
            else None,
            "density_a": p.density_a,
            "density_b": p.density_b,
            "density_steps": _steps(p.density_a, p.density_b),
            "findings_difference": p.findings_b - p.findings_a,
        }
        for p in differing[:top]
    ]


def comparison_document(
    a: VersionRef,
    b: VersionRef,
    outputs_a: Outputs,
    outputs_b: Outputs,
    pairs: Sequence[StudyPair],
    *,
    n_ok_a: int,
    n_ok_b: int,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    top: int = 10,
) -> dict[str, Any]:
    """The comparison document of ``pairs`` (one per study in common; pure)."""
    pairs = sorted(pairs, key=lambda p: p.study_instance_uid)
    lesion = outputs_a.lesion and outputs_b.lesion
    density = outputs_a.density and outputs_b.density

    def side(ref: VersionRef, outputs: Outputs, n_ok: int) -> dict[str, Any]:
        return {
            "algorithm_id": ref.algorithm_id,
            "version": ref.version,
            "n_ok": n_ok,
            "lesion": outputs.lesion,
            "density": outputs.density,
        }

    return {
        "schema": SCHEMA,
        "a": side(a, outputs_a, n_ok_a),
        "b": side(b, outputs_b, n_ok_b),
        "n_common": len(pairs),
        "case_score": "highest finding score (0 without findings)" if lesion else None,
        "scores": _scores_section(pairs, n_resamples=n_resamples, confidence=confidence, seed=seed)
        if lesion and pairs
        else None,
        "findings": _findings_section(pairs),
        "density": _density_section(pairs) if density and pairs else None,
        "studies": [
            {
                "study_instance_uid": p.study_instance_uid,
                "score_a": json_number(p.score_a),
                "score_b": json_number(p.score_b),
                "findings_a": p.findings_a,
                "findings_b": p.findings_b,
                "density_a": p.density_a,
                "density_b": p.density_b,
            }
            for p in pairs
        ],
        "disagreements": _disagreements(pairs, top),
    }


# Store reads -------------------------------------------------------------------------------------
def _manifest_outputs(session: Session, ref: VersionRef) -> list[str] | None:
    for version in governance_store.versions(session):
        if (version.algorithm_id, version.version) == (ref.algorithm_id, ref.version):
            outputs = version.manifest.get("outputs")
            return [str(o) for o in outputs] if isinstance(outputs, list) else None
    return None


def compare_versions(
    session: Session,
    a: VersionRef,
    b: VersionRef,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    top: int = 10,
) -> dict[str, Any]:
    """Compare ``a`` and ``b`` on the studies where both have an ``ok`` result (see module doc)."""
    if a == b:
        raise InvalidInputError(f"compare two different versions, not {a} with itself")
    results_a = {
        r.study_instance_uid: r.payload for r in result_store.history(session, *_key(a), status="ok")
    }
    results_b = {
        r.study_instance_uid: r.payload for r in result_store.history(session, *_key(b), status="ok")
    }
    outputs_a = outputs_of(_manifest_outputs(session, a), results_a.values())
    outputs_b = outputs_of(_manifest_outputs(session, b), results_b.values())
    common = result_store.common_ok_studies(session, _key(a), _key(b))
    accessions = studies.accession_numbers(session, common)
    known = outcomes.for_studies(session, {uid: accessions.get(uid) for uid in common})
    pairs = []
    for uid in common:
        truth = outcomes.truth_of(known[uid])
        pa, pb = results_a[uid], results_b[uid]
        pairs.append(
            StudyPair(
                study_instance_uid=uid,
                score_a=case_score(pa, outputs_a),
                score_b=case_score(pb, outputs_b),
                findings_a=len(_findings(pa)),
                findings_b=len(_findings(pb)),
                density_a=density_category(pa),
                density_b=density_category(pb),
                cancer=truth.cancer,
                radiologist_density=truth.density,
            )
        )
    return comparison_document(
        a,
        b,
        outputs_a,
        outputs_b,
        pairs,
        n_ok_a=len(results_a),
        n_ok_b=len(results_b),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        top=top,
    )


def _key(ref: VersionRef) -> tuple[str, str]:
    return (ref.algorithm_id, ref.version)


# Console -----------------------------------------------------------------------------------------
def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def summary_lines(doc: Mapping[str, Any]) -> list[str]:
    """A few lines for the console (``breastgate compare``)."""
    a, b = doc["a"], doc["b"]
    name_a, name_b = f"{a['algorithm_id']}@{a['version']}", f"{b['algorithm_id']}@{b['version']}"
    lines = [
        f"A {name_a}: {a['n_ok']} ok results; B {name_b}: {b['n_ok']} ok results",
        f"studies in common: {doc['n_common']}",
    ]
    scores = doc.get("scores")
    if scores:
        for label in ("a", "b"):
            auc = scores[f"auc_{label}"]
            lines.append(
                f"AUC {label.upper()}: {_fmt(auc['value'])} [{_fmt(auc['ci_low'])}, {_fmt(auc['ci_high'])}]"
                f" on {scores['n_with_truth']} studies with known truth ({scores['n_cancer']} cancers)"
            )
        diff = scores["auc_difference"]
        lines.append(
            f"AUC B - A: {_fmt(diff['value'], '+.3f')} [{_fmt(diff['ci_low'], '+.3f')}, "
            f"{_fmt(diff['ci_high'], '+.3f')}] (paired bootstrap)"
        )
        rho = scores["spearman"]
        lines.append(f"case-score Spearman rho: {_fmt(rho['rho'])} (p {_fmt(rho['p_value'], '.3g')})")
    findings = doc["findings"]
    if doc["n_common"]:
        lines.append(
            f"findings per study: A {_fmt(findings['mean_a'], '.2f')}, B {_fmt(findings['mean_b'], '.2f')}"
            f" (more in A: {findings['more_in_a']}, more in B: {findings['more_in_b']},"
            f" equal: {findings['equal']})"
        )
    density = doc.get("density")
    if density:
        lines.append(
            f"density: exact agreement {_fmt(density['exact_agreement'])} on {density['n']} studies,"
            f" weighted kappa linear {_fmt(density['kappa_linear'])},"
            f" quadratic {_fmt(density['kappa_quadratic'])}"
        )
    if doc["disagreements"]:
        lines.append("most different studies:")
        for d in doc["disagreements"]:
            parts = []
            if d["score_difference"]:
                parts.append(f"score {_fmt(d['score_a'])} -> {_fmt(d['score_b'])}")
            if d["density_steps"]:
                parts.append(f"density {d['density_a']} -> {d['density_b']}")
            if d["findings_difference"]:
                parts.append(f"findings {d['findings_difference']:+d}")
            lines.append(f"  {d['study_instance_uid']}: {', '.join(parts)}")
    return lines
