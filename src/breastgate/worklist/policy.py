"""Case assessment and triage from a study's algorithm results, through a versioned policy.

The policy is data (:class:`TriagePolicy`, overridable per site); every triage it produces names
``id@version`` so a worklist change can be traced to the policy that caused it.

Case suspicion score (0-100) = 100 × the highest contribution of any lesion finding (mass,
calcification cluster, ...) from an ok result of an algorithm the policy lets drive triage
(``triage_algorithms``): the case is as suspicious as its most suspicious finding. A finding's
contribution is its score (``case_score = "highest_score"``, policy 1.0.0) or, from policy 1.1.0,
its odds relative to its algorithm's operating point (``"operating_point_odds"``): a finding at
its detector's operating point contributes 0.5, so detectors whose scores live on different scales
(the mass model's probabilities around 0.1, the calcification model's around 0.3) compare.
Findings below an algorithm's operating threshold still count, so the score stays continuous for
ROC analysis (bench/real_mias.py measures the case AUC on the same rule).

``triage_algorithms`` holds the algorithms whose measured performance met the acceptance targets;
``justification`` names the figures. Policy 1.0.0 listed only ``breastgate.calcifications`` (its
phantom FROC target met; the mass detector missed its target on phantoms). Policy 1.1.0 (default)
adds ``breastgate.masses``: cross-validated by woman on the 162 real mammograms of the mini-MIAS
calibration half, masses 1.2.0 find 0.86 of masses at 1 false mark per image (target 0.80) and
0.71 at 0.5 (target 0.70). A detector's operating point is set for marks a reader looks at (0.5
false marks per image for masses), far too many for a worklist: at suspicion 50 most normal
4-view studies would be urgent.
So 1.1.0 flags ``suspicious_finding`` (urgent) and drafts BI-RADS 0 at suspicion 80, the level
that flags 10 % of the normal films of the mini-MIAS calibration half (chosen on training folds:
77.7-82.8; out of fold it flags 10 of 105 normal images and 16 of 41 images with a mass or
calcification cluster). The case score's real figure (out-of-fold AUC 0.77, target 0.85) is not
met, so no ``stat_threshold`` is set: the suspicion score orders and flags, it does not page.
Sites change all of this by configuration, which is what the silent → assistive → integrated
rollout formalises.

Flags:

- ``suspicious_finding``: suspicion ≥ ``suspicious_threshold``;
- ``birads_0_suspected``: suspicion ≥ ``recall_threshold`` (a screening reader would likely recall:
  BI-RADS 0, needs additional imaging evaluation);
- ``positioning_inadequate``: a positioning check named ``study_verdict`` failed;
- ``dense_breast``: density category c or d.

Priority: ``stat`` when suspicion ≥ ``stat_threshold`` (off by default), ``urgent`` when
``suspicious_finding``, else ``routine``. BI-RADS draft: "0" (incomplete, recall) when the
suspicion reaches ``recall_threshold`` (``operating_point_odds``) or, under ``highest_score``,
when a finding reaches its algorithm's operating threshold; else "1" (negative); a benign "2" is
the reader's call.
No lesion algorithm ran → no assessment.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    CaseAssessment,
    FindingKind,
    Priority,
    Triage,
)

LESION_KINDS = frozenset(
    {
        FindingKind.MASS,
        FindingKind.CALCIFICATION_CLUSTER,
        FindingKind.ARCHITECTURAL_DISTORTION,
        FindingKind.ASYMMETRY,
        FindingKind.ENHANCING_LESION,
        FindingKind.US_LESION,
    }
)


#: Why policy 1.1.0 lets each of its algorithms drive triage (bench/real_mias.py, docs/algorithms/).
JUSTIFICATION = (
    "breastgate.masses 1.2.0: real mammograms (mini-MIAS calibration half, 162 films, 5-fold "
    "cross-validation by woman): sensitivity 0.86 [0.69-0.94] at 1 false mark per image (target "
    "0.80) and 0.71 [0.53-0.85] at 0.5 (target 0.70)",
    "breastgate.calcifications 2.0.0: phantoms 1.00 at 0.07 false marks per image (target 0.95 at "
    "0.25); real mammograms 0.80 [0.55-0.93] at 1 false mark per image (target 0.85, missed by one "
    "cluster of 15; kept from policy 1.0.0)",
)


@dataclass(frozen=True)
class TriagePolicy:
    """Thresholds on the case suspicion score (0-100) and which flags to raise."""

    id: str = "breastgate.triage"
    version: str = "1.1.0"
    suspicious_threshold: float = 80.0
    recall_threshold: float = 80.0
    stat_threshold: float | None = None
    flag_dense: bool = True
    triage_algorithms: frozenset[str] = frozenset({"breastgate.calcifications", "breastgate.masses"})
    #: How a finding's score becomes the case score: ``highest_score`` (1.0.0: the raw score) or
    #: ``operating_point_odds`` (the score's odds relative to its algorithm's operating point, so
    #: every algorithm's operating point is suspicion 50 and scores of different detectors compare).
    case_score: str = "operating_point_odds"
    #: The measured figures that justified each algorithm in ``triage_algorithms`` (free text).
    justification: tuple[str, ...] = JUSTIFICATION

    @property
    def name(self) -> str:
        return f"{self.id}@{self.version}"


DEFAULT_POLICY = TriagePolicy()


def assess(
    results: Sequence[AlgorithmResult], policy: TriagePolicy = DEFAULT_POLICY
) -> CaseAssessment | None:
    """Case assessment from the ok results of the lesion algorithms the policy lets drive triage;
    None when none ran."""
    lesion_results = [
        r
        for r in results
        if r.status == AlgorithmStatus.OK
        and r.algorithm_id in policy.triage_algorithms
        and (r.findings or r.operating_threshold is not None)
    ]
    if not lesion_results:
        return None
    scores = [
        case_score(f.score, r.operating_threshold, policy.case_score)
        for r in lesion_results
        for f in r.findings
        if f.kind in LESION_KINDS
    ]
    suspicion = round(100.0 * max(scores, default=0.0), 1)
    if policy.case_score == "operating_point_odds":
        above = suspicion >= policy.recall_threshold
    else:
        above = any(
            f.score >= (r.operating_threshold if r.operating_threshold is not None else 0.5)
            for r in lesion_results
            for f in r.findings
        )
    if above:
        return CaseAssessment(
            suspicion,
            "0",
            "AI marked a finding at its operating point: review the marks; recall for additional "
            "imaging if confirmed (draft, not for diagnostic use).",
        )
    return CaseAssessment(
        suspicion, "1", "No AI finding at its operating point; routine screening interval (draft)."
    )


CASE_SCORES = ("highest_score", "operating_point_odds")


def case_score(score: float, threshold: float | None, rule: str) -> float:
    """A finding's contribution to the case score (0-1) under ``rule`` (see :class:`TriagePolicy`).

    ``operating_point_odds``: σ(logit(score) − logit(threshold)), so a finding exactly at its
    algorithm's operating point scores 0.5; monotone in the score, so one detector's ranking (its
    case AUC) is unchanged, while findings of detectors with different score scales compare.
    """
    if rule == "highest_score" or threshold is None:
        return score
    eps = 1e-6
    s = min(max(score, eps), 1.0 - eps)
    t = min(max(threshold, eps), 1.0 - eps)
    logit = math.log(s / (1.0 - s)) - math.log(t / (1.0 - t))
    return 1.0 / (1.0 + math.exp(-logit))


def triage(
    results: Sequence[AlgorithmResult], policy: TriagePolicy = DEFAULT_POLICY
) -> tuple[CaseAssessment | None, Triage]:
    """Assessment and triage of a study under ``policy``."""
    assessment = assess(results, policy)
    score = assessment.suspicion_score if assessment else 0.0
    flags: list[str] = []
    reasons: list[str] = []
    if assessment is not None and score >= policy.suspicious_threshold:
        flags.append("suspicious_finding")
        reasons.append(f"suspicion {score:.0f} ≥ {policy.suspicious_threshold:.0f}")
    if assessment is not None and score >= policy.recall_threshold:
        flags.append("birads_0_suspected")
    for r in results:
        if r.status != AlgorithmStatus.OK:
            continue
        failed = any(q.name == "study_verdict" and not q.passed for q in r.quality)
        if failed and "positioning_inadequate" not in flags:
            flags.append("positioning_inadequate")
            reasons.append("positioning checks failed")
        dense = r.density is not None and r.density.category in ("c", "d")
        if policy.flag_dense and dense and "dense_breast" not in flags:
            flags.append("dense_breast")
    if policy.stat_threshold is not None and score >= policy.stat_threshold:
        priority = Priority.STAT
    elif "suspicious_finding" in flags:
        priority = Priority.URGENT
    else:
        priority = Priority.ROUTINE
    return assessment, Triage(priority, score, tuple(flags), policy.name, tuple(reasons))


#: Worklist queues: studies go to the radiologists' list, or to the technologists' list when the
#: images must be repeated (a ``positioning_inadequate`` flag).
RADIOLOGIST_QUEUE = "radiologist"
TECHNOLOGIST_QUEUE = "technologist"


def queue_for(decision: Triage) -> str:
    """Which worklist a study goes to: technologists when positioning must be repeated."""
    return TECHNOLOGIST_QUEUE if "positioning_inadequate" in decision.flags else RADIOLOGIST_QUEUE


_POLICY_KEYS = {
    "id": str,
    "version": str,
    "suspicious_threshold": float,
    "recall_threshold": float,
    "stat_threshold": float,
    "flag_dense": bool,
    "triage_algorithms": list,
    "case_score": str,
    "justification": list,
}


def load_policy(path: Path) -> TriagePolicy:
    """A site's triage policy from a TOML file (the keys of :class:`TriagePolicy`; ``id`` and
    ``version`` required, so every worklist change names the policy that made it).

    Raises ConfigurationError for an unreadable file, an unknown key, a wrong type, a missing
    version, or thresholds outside 0-100.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"triage policy {path}: {exc}") from None
    unknown = set(data) - set(_POLICY_KEYS)
    if unknown:
        raise ConfigurationError(f"triage policy {path}: unknown keys {sorted(unknown)}")
    for key in ("id", "version"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ConfigurationError(f"triage policy {path}: {key!r} must be a non-empty string")
    values: dict[str, object] = {}
    for key, value in data.items():
        kind = _POLICY_KEYS[key]
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            if not 0.0 <= float(value) <= 100.0:
                raise ConfigurationError(f"triage policy {path}: {key} {value} outside 0-100")
            values[key] = float(value)
        elif key == "justification" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            values[key] = tuple(value)
        elif kind is list and isinstance(value, list) and all(isinstance(v, str) for v in value):
            values[key] = frozenset(value)
        elif kind in (str, bool) and isinstance(value, kind):
            values[key] = value
        else:
            raise ConfigurationError(f"triage policy {path}: {key} must be {kind.__name__}")
    if values.get("case_score", "highest_score") not in CASE_SCORES:
        raise ConfigurationError(f"triage policy {path}: case_score must be one of {', '.join(CASE_SCORES)}")
    return TriagePolicy(**values)  # type: ignore[arg-type]
