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

Policy 1.2.0 (default) reads the comparison with the prior study and the DCE-MRI kinetics the
algorithms attach to a finding (``Finding.comparison``, ``Finding.kinetics``): each finding's
contribution c (0-1) has its odds multiplied by a factor, c' = c·k / (c·k + 1 − c), before the case
takes the highest. ``change_factors`` holds k per change: a new or enlarging finding raises
suspicion (BI-RADS 5th edition: a new or growing mass or calcification group warrants work-up;
default ×2), a stable one lowers it (stability on prior mammograms supports a benign finding;
default ×0.5), a smaller one is left as it is (default ×1: shrinking is reassuring only once
the radiologist sees why). ``washout_factor`` (default ×2) applies to an enhancing lesion whose
delayed phase washes out (a type III curve, the kinetic feature most associated with malignancy in
the BI-RADS MRI lexicon). A finding without a comparison or kinetics keeps factor 1, so 1.2.0
scores every study without priors exactly as 1.1.0 did, and "no prior available" changes nothing.
The factors are the lexicon's direction with a round size, not a fitted figure (no prior pairs were
available to fit them); the justification says so and the triage reasons name each factor used.
Setting every factor to 1 turns the comparison off. The prior comparison
(``breastgate.comparison``) annotates copies of the detectors' findings (attribute
``source_algorithm``, same finding id); :func:`with_comparisons` carries each annotation back to
the detector's own finding, so the policy's ``triage_algorithms`` (the detectors) see the change
whichever algorithm measured it.

Flags:

- ``suspicious_finding``: suspicion ≥ ``suspicious_threshold``;
- ``birads_0_suspected``: suspicion ≥ ``recall_threshold`` (a screening reader would likely recall:
  BI-RADS 0, needs additional imaging evaluation);
- ``positioning_inadequate``: a positioning check named ``study_verdict`` failed;
- ``dense_breast``: density category c or d;
- ``new_finding``: a finding at its operating point is new since the prior (1.2.0);
- ``growing_finding``: a finding at its operating point has increased in size (1.2.0);
- ``washout_kinetics``: an enhancing lesion at its operating point has a type III curve (1.2.0).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    CaseAssessment,
    ChangeKind,
    DelayedPhase,
    Finding,
    FindingComparison,
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
    "comparison and kinetics factors (1.2.0): odds ×2 for a new or enlarging finding, ×0.5 for a "
    "stable one, ×2 for a washout (type III) curve; the BI-RADS direction with a round size, not "
    "fitted (no pairs of current and prior studies to fit them on)",
)

#: Default odds factor per change since the prior (policy 1.2.0).
CHANGE_FACTORS: Mapping[ChangeKind, float] = MappingProxyType(
    {ChangeKind.NEW: 2.0, ChangeKind.INCREASED: 2.0, ChangeKind.STABLE: 0.5, ChangeKind.DECREASED: 1.0}
)


@dataclass(frozen=True)
class TriagePolicy:
    """Thresholds on the case suspicion score (0-100) and which flags to raise."""

    id: str = "breastgate.triage"
    version: str = "1.2.0"
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
    #: Odds factor per change since the prior study (1.2.0); a change not listed counts ×1.
    change_factors: Mapping[ChangeKind, float] = field(default_factory=lambda: dict(CHANGE_FACTORS))
    #: Odds factor of an enhancing lesion with a washout delayed phase (type III curve) (1.2.0).
    washout_factor: float = 2.0

    @property
    def name(self) -> str:
        return f"{self.id}@{self.version}"


DEFAULT_POLICY = TriagePolicy()


def with_comparisons(results: Sequence[AlgorithmResult]) -> list[AlgorithmResult]:
    """``results`` with each detector finding that has none carrying the comparison another ok
    result attached to its copy (a finding with ``source_algorithm`` = the detector's id and the
    same finding id: what ``breastgate.comparison`` emits)."""
    annotated: dict[tuple[str, str], FindingComparison] = {}
    for r in results:
        if r.status != AlgorithmStatus.OK:
            continue
        for f in r.findings:
            source = f.attributes.get("source_algorithm")
            if f.comparison is not None and isinstance(source, str) and source != r.algorithm_id:
                annotated.setdefault((source, f.id), f.comparison)
    if not annotated:
        return list(results)
    out: list[AlgorithmResult] = []
    for r in results:
        findings = tuple(
            replace(f, comparison=annotated[(r.algorithm_id, f.id)])
            if f.comparison is None and (r.algorithm_id, f.id) in annotated
            else f
            for f in r.findings
        )
        out.append(replace(r, findings=findings) if findings != r.findings else r)
    return out


def assess(
    results: Sequence[AlgorithmResult], policy: TriagePolicy = DEFAULT_POLICY
) -> CaseAssessment | None:
    """Case assessment from the ok results of the lesion algorithms the policy lets drive triage;
    None when none ran. Comparisons made by another algorithm count (:func:`with_comparisons`)."""
    results = with_comparisons(results)
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
        with_odds_factor(
            case_score(f.score, r.operating_threshold, policy.case_score), finding_factor(f, policy)
        )
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


def finding_factor(finding: Finding, policy: TriagePolicy) -> float:
    """The odds factor of a finding under ``policy``: its change since the prior times the
    washout factor when its kinetics wash out; 1 when it carries neither (policy 1.2.0)."""
    factor = 1.0
    if finding.comparison is not None:
        factor *= policy.change_factors.get(finding.comparison.change, 1.0)
    if finding.kinetics is not None and finding.kinetics.delayed_phase == DelayedPhase.WASHOUT:
        factor *= policy.washout_factor
    return factor


def with_odds_factor(contribution: float, factor: float) -> float:
    """``contribution`` (0-1) with its odds multiplied by ``factor``: c·k / (c·k + 1 − c)."""
    if factor == 1.0:
        return contribution
    raised = contribution * factor
    return raised / (raised + 1.0 - contribution) if raised + 1.0 - contribution > 0 else 1.0


_CHANGE_FLAGS = {ChangeKind.NEW: "new_finding", ChangeKind.INCREASED: "growing_finding"}


def _temporal(results: Sequence[AlgorithmResult], policy: TriagePolicy) -> tuple[list[str], list[str]]:
    """Flags and reasons from the comparison and kinetics of the findings at their operating
    point, in the triage algorithms' ok results (policy 1.2.0)."""
    results = with_comparisons(results)
    flags: list[str] = []
    reasons: list[str] = []
    for r in results:
        if r.status != AlgorithmStatus.OK or r.algorithm_id not in policy.triage_algorithms:
            continue
        threshold = r.operating_threshold if r.operating_threshold is not None else 0.0
        for f in r.findings:
            if f.kind not in LESION_KINDS or f.score < threshold:
                continue
            if f.comparison is not None:
                change = f.comparison.change
                flag = _CHANGE_FLAGS.get(change)
                if flag and flag not in flags:
                    flags.append(flag)
                factor = policy.change_factors.get(change, 1.0)
                if factor != 1.0:
                    reasons.append(f"{f.kind.value} {f.id} {change.value} since prior: odds ×{factor:g}")
            washout = f.kinetics is not None and f.kinetics.delayed_phase == DelayedPhase.WASHOUT
            if washout:
                if "washout_kinetics" not in flags:
                    flags.append("washout_kinetics")
                if policy.washout_factor != 1.0:
                    reasons.append(
                        f"{f.kind.value} {f.id} washout (type III curve): odds ×{policy.washout_factor:g}"
                    )
    return flags, reasons


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
    temporal_flags, temporal_reasons = _temporal(results, policy)
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
    flags += temporal_flags
    reasons += temporal_reasons
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
    "change_factors": dict,
    "washout_factor": float,
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
        if key in ("change_factors", "washout_factor"):
            values[key] = _factors(path, key, value)
        elif kind is float and isinstance(value, int | float) and not isinstance(value, bool):
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


def _factor(path: Path, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < float(value) <= 100.0:
        raise ConfigurationError(f"triage policy {path}: {key} must be a number above 0 and at most 100")
    return float(value)


def _factors(path: Path, key: str, value: object) -> object:
    """``washout_factor`` as a float, ``change_factors`` as {ChangeKind: float} (unknown changes
    refused; changes not listed keep the default factor)."""
    if key == "washout_factor":
        return _factor(path, key, value)
    if not isinstance(value, dict):
        raise ConfigurationError(f"triage policy {path}: change_factors must be a table")
    known = {c.value for c in ChangeKind}
    unknown = set(value) - known
    if unknown:
        raise ConfigurationError(
            f"triage policy {path}: change_factors: unknown changes {sorted(unknown)} "
            f"(of {', '.join(sorted(known))})"
        )
    factors = dict(CHANGE_FACTORS)
    factors.update({ChangeKind(k): _factor(path, f"change_factors.{k}", v) for k, v in value.items()})
    return factors
