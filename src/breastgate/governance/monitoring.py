"""Monitoring of each algorithm version inside the running gateway (DESIGN §6).

:func:`algorithm_report` joins every stored ``ok`` result of one algorithm version with the
outcomes the gateway received (:mod:`~breastgate.governance.outcomes`: final BI-RADS, pathology,
imports) and with the study's device and age (indexed at ingest), and computes:

- for lesion algorithms, the *case score* (the highest finding score of the study, 0 without
  findings): AUC with a stratified bootstrap CI, and sensitivity, specificity, recall rate, PPV1
  and cancer detection rate at the operating points (default: the results' own
  ``operating_threshold``), also per density, age band and device
  (:func:`~breastgate.governance.metrics.subgroup_table`);
- for density algorithms (no case score), agreement of the AI category with the radiologists'
  (weighted Cohen's kappa, exact agreement, confusion matrix), overall, per age band and device.

A study whose truth is unknown (no outcome, or only BI-RADS 0/3/4/5 without pathology) is counted
(``n_unknown``) and left out of the accuracy metrics; nothing is guessed.

:func:`drift_report` compares the score distribution of a baseline window with the current window
(by result ``created_at``), per device (:func:`~breastgate.governance.drift.check_drift`); density
algorithms are compared on their percent dense.

Both return JSON-able dicts (NaN as null) and read only; the caller owns the session.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from breastgate.governance.drift import KS_ALPHA, MIN_SAMPLES, PSI_MAJOR, DriftCheck, check_drift
from breastgate.governance.metrics import (
    DENSITY_CATEGORIES,
    CaseRecord,
    age_band,
    auc_with_ci,
    cohen_kappa,
    confusion_matrix,
    operating_point,
    subgroup_table,
)
from breastgate.governance.outcomes import Truth, for_studies, truth_of
from breastgate.governance.validation import auc_json, json_number, point_json
from breastgate.store import tables as t

__all__ = ["DRIFT_SCHEMA", "SCHEMA", "MonitoredCase", "algorithm_report", "drift_report", "version_counts"]

SCHEMA = "breastgate.monitoring/1"
DRIFT_SCHEMA = "breastgate.drift/1"
#: Manifest outputs that make an algorithm a lesion algorithm (it has a case score).
FINDING_OUTPUTS = frozenset(
    {
        "findings", "mass", "calcification_cluster", "architectural_distortion", "asymmetry",
        "enhancing_lesion", "us_lesion",
    }
)  # fmt: skip
#: Operating point used when neither the caller nor the results give one.
FALLBACK_THRESHOLD = 0.5
_UNKNOWN_TRUTH = Truth(None, None, None)
_CHUNK = 500


@dataclass(frozen=True)
class MonitoredCase:
    """One study's result of the monitored version, with what the metrics join to it."""

    study_instance_uid: str
    created_at: datetime
    score: float  # highest finding score; 0 without findings
    ai_density: str | None
    percent_dense: float | None
    operating_threshold: float | None
    has_findings: bool
    manufacturer: str | None = None
    model: str | None = None
    age: int | None = None
    truth: Truth = _UNKNOWN_TRUTH
    other_density: str | None = None  # the AI density another algorithm gave the study

    @property
    def device(self) -> str:
        return f"{self.manufacturer or 'unknown'} / {self.model or 'unknown'}"

    @property
    def density(self) -> str | None:
        """Density for subgroups: the radiologists', else the AI's."""
        return self.truth.density or self.ai_density or self.other_density


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _density_of(payload: dict[str, Any]) -> tuple[str | None, float | None]:
    density = payload.get("density")
    if not isinstance(density, dict):
        return None, None
    category = str(density.get("category") or "").lower()
    percent = density.get("percent_dense")
    return (
        category if category in DENSITY_CATEGORIES else None,
        float(percent) if isinstance(percent, int | float) and math.isfinite(percent) else None,
    )


def _case(uid: str, created_at: datetime, payload: dict[str, Any]) -> MonitoredCase:
    scores = [float(f["score"]) for f in payload.get("findings") or () if f.get("score") is not None]
    category, percent = _density_of(payload)
    threshold = payload.get("operating_threshold")
    return MonitoredCase(
        study_instance_uid=uid,
        created_at=_utc(created_at),
        score=max(scores, default=0.0),
        ai_density=category,
        percent_dense=percent,
        operating_threshold=None if threshold is None else float(threshold),
        has_findings=bool(scores),
    )


def _devices(session: Session, uids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """Most common (manufacturer, model) of each study's MG instances (any instance without MG)."""
    counts: dict[str, dict[bool, Counter[tuple[str | None, str | None]]]] = {}
    for chunk in _chunks(uids):
        query = (
            select(t.Instance.study_instance_uid, t.Instance.modality, t.Instance.manufacturer,
                   t.Instance.model, func.count())
            .where(t.Instance.study_instance_uid.in_(chunk))
            .where((t.Instance.manufacturer.is_not(None)) | (t.Instance.model.is_not(None)))
            .group_by(t.Instance.study_instance_uid, t.Instance.modality, t.Instance.manufacturer,
                      t.Instance.model)
        )  # fmt: skip
        for uid, modality, manufacturer, model, n in session.execute(query):
            per_study = counts.setdefault(uid, {True: Counter(), False: Counter()})
            per_study[modality == "MG"][(manufacturer, model)] += int(n)
    devices = {}
    for uid, per_study in counts.items():
        counter = per_study[True] or per_study[False]
        # ties: the alphabetically first device, so a report is deterministic
        devices[uid] = min(counter, key=lambda d: (-counter[d], d[0] or "", d[1] or ""))
    return devices


def _other_densities(session: Session, uids: Sequence[str], algorithm_id: str) -> dict[str, str]:
    """The AI density category other algorithms gave each study (the first by algorithm id)."""
    found: dict[str, str] = {}
    for chunk in _chunks(uids):
        query = (
            select(t.Result.study_instance_uid, t.Result.payload)
            .where(t.Result.study_instance_uid.in_(chunk), t.Result.status == "ok")
            .where(t.Result.algorithm_id != algorithm_id)
            .order_by(t.Result.algorithm_id)
        )
        for uid, text in session.execute(query):
            category, _ = _density_of(json.loads(text))
            if category is not None:
                found.setdefault(uid, category)
    return found


def _load(
    session: Session,
    algorithm_id: str,
    version: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    with_truth: bool = True,
) -> tuple[list[MonitoredCase], Counter[str]]:
    """The version's ok results as cases (sorted by study), and the count of results per status."""
    query = (
        select(t.Result.study_instance_uid, t.Result.status, t.Result.payload, t.Result.created_at,
               t.Study.accession_number, t.Study.patient_age)
        .join(t.Study, t.Study.study_instance_uid == t.Result.study_instance_uid)
        .where(t.Result.algorithm_id == algorithm_id, t.Result.algorithm_version == version)
        .order_by(t.Result.study_instance_uid)
    )  # fmt: skip
    if since is not None:
        query = query.where(t.Result.created_at >= since)
    if until is not None:
        query = query.where(t.Result.created_at <= until)
    statuses: Counter[str] = Counter()
    raw: list[tuple[MonitoredCase, str | None, int | None]] = []
    for uid, status, text, created_at, accession, age in session.execute(query):
        statuses[status] += 1
        if status == "ok":
            raw.append((_case(uid, created_at, json.loads(text)), accession, age))
    uids = [case.study_instance_uid for case, _, _ in raw]
    devices = _devices(session, uids)
    truths: dict[str, Truth] = {}
    others: dict[str, str] = {}
    if with_truth:
        outcomes = for_studies(session, {case.study_instance_uid: acc for case, acc, _ in raw})
        truths = {uid: truth_of(records) for uid, records in outcomes.items()}
        others = _other_densities(session, uids, algorithm_id)
    cases = []
    for case, _, age in raw:
        uid = case.study_instance_uid
        manufacturer, model = devices.get(uid, (None, None))
        truth, other = truths.get(uid, _UNKNOWN_TRUTH), others.get(uid)
        cases.append(
            replace(case, manufacturer=manufacturer, model=model, age=age, truth=truth, other_density=other)
        )
    return cases, statuses


def _outputs(session: Session, algorithm_id: str, version: str) -> set[str]:
    row = session.get(t.AlgorithmVersionRow, (algorithm_id, version))
    if row is None:
        return set()
    outputs = json.loads(row.manifest).get("outputs") or ()
    return {str(o) for o in outputs}


def _kind(session: Session, algorithm_id: str, version: str, cases: Sequence[MonitoredCase]) -> str:
    """``lesion``, ``density``, ``lesion+density`` or ``other``: from the manifest's outputs and
    from what the results carry."""
    outputs = _outputs(session, algorithm_id, version)
    lesion = bool(outputs & FINDING_OUTPUTS) or any(c.has_findings for c in cases)
    density = "density" in outputs or any(c.ai_density is not None for c in cases)
    return {(True, True): "lesion+density", (True, False): "lesion", (False, True): "density"}.get(
        (lesion, density), "other"
    )


def _thresholds(cases: Sequence[MonitoredCase], given: Sequence[float] | None) -> tuple[list[float], str]:
    if given is not None and len(given) > 0:
        return [float(v) for v in given], "given"
    own = sorted({c.operating_threshold for c in cases if c.operating_threshold is not None})
    if own:
        return own, "results"
    return [FALLBACK_THRESHOLD], "fallback"


def _accuracy(
    cases: Sequence[MonitoredCase], thresholds: Sequence[float], *, seed: int, bootstrap: int
) -> dict[str, Any]:
    known = [c for c in cases if c.truth.cancer is not None]
    scores = [c.score for c in known]
    labels = [bool(c.truth.cancer) for c in known]
    auc = auc_with_ci(scores, labels, n_resamples=bootstrap, seed=seed) if known else None
    records = [
        CaseRecord(c.score, bool(c.truth.cancer), c.density, c.age, c.manufacturer, c.model) for c in known
    ]
    subgroups = {
        by: [
            {
                "group": row.group,
                "n": row.n,
                "positives": row.positives,
                "auc": auc_json(row.auc),
                **{k: v for k, v in point_json(row.point).items() if k not in ("threshold", "n")},
            }
            for row in subgroup_table(records, by, thresholds[0], n_resamples=bootstrap, seed=seed)
        ]
        for by in ("density", "age_band", "device")
    }
    return {
        "case_score": "highest finding score of the study (0 without findings)",
        "auc": auc_json(auc),
        "operating_points": [
            point_json(operating_point(scores, labels, v), f"score ≥ {v:g}") for v in thresholds
        ],
        "subgroup_threshold": thresholds[0],
        "subgroups": subgroups,
    }


def _agreement(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    ai = [a for a, _ in pairs]
    radiologist = [r for _, r in pairs]
    return {
        "n": len(pairs),
        "kappa_linear": json_number(cohen_kappa(ai, radiologist, weights="linear")) if pairs else None,
        "kappa_quadratic": json_number(cohen_kappa(ai, radiologist, weights="quadratic")) if pairs else None,
        "exact_agreement": json_number(sum(a == r for a, r in pairs) / len(pairs)) if pairs else None,
    }


def _density_agreement(cases: Sequence[MonitoredCase]) -> dict[str, Any]:
    rated = [c for c in cases if c.ai_density is not None and c.truth.density is not None]
    pairs = [(str(c.ai_density), str(c.truth.density)) for c in rated]
    by: dict[str, dict[str, list[tuple[str, str]]]] = {"age_band": {}, "device": {}}
    for case, pair in zip(rated, pairs, strict=True):
        by["age_band"].setdefault(age_band(case.age), []).append(pair)
        by["device"].setdefault(case.device, []).append(pair)
    order = {band: k for k, band in enumerate(("<40", "40-49", "50-59", "60-69", "70+", "unknown"))}
    return {
        **_agreement(pairs),
        "n_unknown": sum(1 for c in cases if c.ai_density is not None and c.truth.density is None),
        "n_without_ai_density": sum(1 for c in cases if c.ai_density is None),
        "confusion_ai_rows_radiologist_columns": confusion_matrix(
            [a for a, _ in pairs], [r for _, r in pairs]
        ).tolist(),
        "by_age_band": [
            {"group": g, **_agreement(p)}
            for g, p in sorted(by["age_band"].items(), key=lambda i: order.get(i[0], len(order)))
        ],
        "by_device": [{"group": g, **_agreement(p)} for g, p in sorted(by["device"].items())],
    }


def algorithm_report(
    session: Session,
    algorithm_id: str,
    version: str,
    *,
    operating_points: Sequence[float] | None = None,
    seed: int = 0,
    bootstrap: int = 1000,
) -> dict[str, Any]:
    """Accuracy of one algorithm version on every study it analysed that has a known outcome.

    ``operating_points``: case-score thresholds (recall when ``score >= threshold``); by default
    the ``operating_threshold`` the results carry (0.5 when none does). The subgroup tables use
    the first. ``bootstrap`` resamples (seeded by ``seed``) give the AUC confidence intervals.
    """
    cases, statuses = _load(session, algorithm_id, version)
    kind = _kind(session, algorithm_id, version, cases)
    scored = kind in ("lesion", "lesion+density")
    known = [c for c in cases if c.truth.cancer is not None]
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "algorithm_id": algorithm_id,
        "version": version,
        "kind": kind,
        "counts": {
            "results": sum(statuses.values()),
            "ok": statuses.get("ok", 0),
            "failed": statuses.get("failed", 0),
            "skipped": statuses.get("skipped", 0),
            "with_truth": len(known),
            "n_unknown": len(cases) - len(known),
            "cancer": sum(1 for c in known if c.truth.cancer),
            "not_cancer": sum(1 for c in known if not c.truth.cancer),
        },
        "density_source": "radiologist (outcome), else the AI's",
    }
    if scored:
        thresholds, source = _thresholds(cases, operating_points)
        report["operating_points_source"] = source
        report.update(_accuracy(cases, thresholds, seed=seed, bootstrap=bootstrap))
    if kind in ("density", "lesion+density"):
        report["density_agreement"] = _density_agreement(cases)
    return report


def _check_json(check: DriftCheck) -> dict[str, Any]:
    return {
        "device": check.key,
        "n_baseline": check.n_baseline,
        "n_current": check.n_current,
        "evaluated": not math.isnan(check.psi),
        "psi": json_number(check.psi),
        "psi_level": check.psi_level,
        "ks_statistic": json_number(check.ks_statistic),
        "ks_pvalue": json_number(check.ks_pvalue, 12),
        "crossed": check.crossed,
        "note": check.note,
    }


def drift_report(
    session: Session,
    algorithm_id: str,
    version: str,
    *,
    baseline_days: float = 30.0,
    current_days: float = 7.0,
    now: datetime | None = None,
    psi_threshold: float = PSI_MAJOR,
    ks_alpha: float = KS_ALPHA,
    min_samples: int = MIN_SAMPLES,
) -> dict[str, Any]:
    """Score distributions of the baseline window ``[now - current - baseline, now - current)``
    against the current window ``[now - current, now]`` (by result ``created_at``), per device.

    The score is the case score for lesion algorithms, percent dense for density algorithms;
    algorithms with neither get no checks (``quantity`` null).
    """
    if baseline_days <= 0 or current_days <= 0:
        raise ValueError("baseline_days and current_days must be > 0")
    now = _utc(now or datetime.now(UTC))
    split = now - timedelta(days=current_days)
    start = split - timedelta(days=baseline_days)
    cases, _ = _load(session, algorithm_id, version, since=start, until=now, with_truth=False)
    kind = _kind(session, algorithm_id, version, cases)
    quantity = {"lesion": "case_score", "lesion+density": "case_score", "density": "percent_dense"}.get(kind)
    baseline: dict[str, list[float]] = {}
    current: dict[str, list[float]] = {}
    for case in cases:
        value = case.score if quantity == "case_score" else case.percent_dense
        if quantity is None or value is None:
            continue
        (current if case.created_at >= split else baseline).setdefault(case.device, []).append(value)
    checks = check_drift(
        baseline, current, psi_threshold=psi_threshold, ks_alpha=ks_alpha, min_samples=min_samples
    )
    return {
        "schema": DRIFT_SCHEMA,
        "algorithm_id": algorithm_id,
        "version": version,
        "kind": kind,
        "quantity": quantity,
        "now": now.isoformat(),
        "baseline": {"start": start.isoformat(), "end": split.isoformat(),
                     "n": sum(len(v) for v in baseline.values())},
        "current": {"start": split.isoformat(), "end": now.isoformat(),
                    "n": sum(len(v) for v in current.values())},
        "psi_threshold": psi_threshold,
        "ks_alpha": ks_alpha,
        "min_samples": min_samples,
        "checks": [_check_json(c) for c in checks],
    }  # fmt: skip


def version_counts(session: Session) -> list[dict[str, Any]]:
    """Every registered algorithm version (and any with results but no registration), with its
    results per status and its latest result time."""
    registered = {(r.algorithm_id, r.version): r for r in session.scalars(select(t.AlgorithmVersionRow))}
    query = select(
        t.Result.algorithm_id, t.Result.algorithm_version, t.Result.status, func.count(),
        func.max(t.Result.created_at),
    ).group_by(t.Result.algorithm_id, t.Result.algorithm_version, t.Result.status)  # fmt: skip
    counts: dict[tuple[str, str], dict[str, int]] = {}
    latest: dict[tuple[str, str], datetime] = {}
    for algorithm_id, version, status, n, last in session.execute(query):
        key = (algorithm_id, version)
        counts.setdefault(key, {})[status] = int(n)
        if last is not None and (key not in latest or _utc(last) > latest[key]):
            latest[key] = _utc(last)
    out = []
    for key in sorted(set(registered) | set(counts)):
        row = registered.get(key)
        per_status = counts.get(key, {})
        out.append(
            {
                "algorithm_id": key[0],
                "version": key[1],
                "name": row.name if row is not None else None,
                "registered": row is not None,
                "available": row.available if row is not None else None,
                "results": sum(per_status.values()),
                "by_status": dict(sorted(per_status.items())),
                "latest_result_at": latest[key].isoformat() if key in latest else None,
            }
        )
    return out
