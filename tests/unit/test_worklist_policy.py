"""Case assessment and triage policy: flags, priority, which algorithms may drive triage."""

from __future__ import annotations

from dataclasses import replace

import pytest

from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    ChangeKind,
    DelayedPhase,
    DensityAssessment,
    Finding,
    FindingComparison,
    FindingKind,
    FindingKinetics,
    InitialPhase,
    Mark,
    Priority,
    QualityCheck,
)
from breastgate.worklist.policy import DEFAULT_POLICY, TriagePolicy, case_score, triage

UID = "1.2.3"


def lesion_result(algorithm_id: str, *scores: float, threshold: float = 0.5) -> AlgorithmResult:
    findings = tuple(
        Finding(
            f"f{i}",
            FindingKind.CALCIFICATION_CLUSTER,
            "L",
            s,
            (Mark("1.2.3.4", (10, 10), (5, 5, 15, 15), s),),
        )
        for i, s in enumerate(scores)
    )
    return AlgorithmResult(
        algorithm_id, "1.0.0", UID, AlgorithmStatus.OK, findings=findings, operating_threshold=threshold
    )


def test_suspicious_finding_makes_the_study_urgent() -> None:
    assessment, decision = triage([lesion_result("breastgate.calcifications", 0.2, 0.93)])
    assert assessment is not None and assessment.suspicion_score == 93.0 and assessment.birads == "0"
    assert decision.priority == Priority.URGENT
    assert decision.flags == ("suspicious_finding", "birads_0_suspected")
    assert decision.policy == "breastgate.triage@1.2.0"


def test_nothing_at_the_operating_point_is_routine() -> None:
    assessment, decision = triage([lesion_result("breastgate.calcifications", 0.3)])
    assert assessment is not None and assessment.birads == "1" and assessment.suspicion_score == 30.0
    assert decision.priority == Priority.ROUTINE and decision.flags == ()


def test_only_listed_algorithms_drive_triage() -> None:
    vendor = lesion_result("vendor.cad", 0.99)
    assessment, decision = triage([vendor])
    assert assessment is None and decision.priority == Priority.ROUTINE and decision.flags == ()
    site = TriagePolicy(version="site-1", triage_algorithms=frozenset({"vendor.cad"}))
    _, decision = triage([vendor], site)
    assert decision.priority == Priority.URGENT and decision.policy == "breastgate.triage@site-1"


def test_policy_1_1_lets_masses_drive_triage_and_names_the_figures() -> None:
    masses = lesion_result("breastgate.masses", 0.6, threshold=0.119)
    assessment, decision = triage([masses])
    assert assessment is not None and assessment.birads == "0" and decision.priority == Priority.URGENT
    assert assessment.suspicion_score >= DEFAULT_POLICY.suspicious_threshold == 80.0
    # A mark at its operating point is shown to the reader but is not, alone, a reason to read first.
    at_point = lesion_result("breastgate.masses", 0.119, threshold=0.119)
    assessment, decision = triage([at_point])
    assert assessment is not None and assessment.suspicion_score == 50.0 and assessment.birads == "1"
    assert decision.priority == Priority.ROUTINE
    assert DEFAULT_POLICY.version == "1.2.0" and DEFAULT_POLICY.case_score == "operating_point_odds"
    assert any(j.startswith("breastgate.masses") for j in DEFAULT_POLICY.justification)
    old = TriagePolicy(version="1.0.0", triage_algorithms=frozenset({"breastgate.calcifications"}))
    assert triage([masses], old)[0] is None


def test_dense_and_positioning_flags_and_stat() -> None:
    density = AlgorithmResult(
        "breastgate.density", "1.1.0", UID, AlgorithmStatus.OK, density=DensityAssessment("d", 80.0)
    )
    positioning = AlgorithmResult(
        "breastgate.positioning",
        "1.0.0",
        UID,
        AlgorithmStatus.OK,
        quality=(QualityCheck("study_verdict", False, "Left MLO: pectoral muscle too short"),),
    )
    calcs = lesion_result("breastgate.calcifications", 0.97)
    policy = replace(DEFAULT_POLICY, stat_threshold=95.0)
    _, decision = triage([density, positioning, calcs], policy)
    assert decision.priority == Priority.STAT
    assert set(decision.flags) == {
        "suspicious_finding",
        "birads_0_suspected",
        "positioning_inadequate",
        "dense_breast",
    }


def test_failed_results_do_not_count() -> None:
    failed = replace(lesion_result("breastgate.calcifications", 0.99), status=AlgorithmStatus.FAILED)
    assessment, decision = triage([failed])
    assert assessment is None and decision.flags == ()


def test_operating_point_odds_put_every_detector_s_operating_point_at_50() -> None:
    rule = TriagePolicy(
        version="odds",
        case_score="operating_point_odds",
        suspicious_threshold=50.0,
        recall_threshold=50.0,
        triage_algorithms=frozenset({"breastgate.calcifications", "breastgate.masses"}),
    )
    # A mass at its operating point 0.1 and a calcification cluster just under its 0.6.
    masses = lesion_result("breastgate.masses", 0.1, threshold=0.1)
    calcs = lesion_result("breastgate.calcifications", 0.55, threshold=0.6)
    assessment, decision = triage([masses, calcs], rule)
    assert assessment is not None and assessment.suspicion_score == 50.0 and assessment.birads == "0"
    assert decision.priority == Priority.URGENT
    # The raw rule would have let the weaker calcification score decide.
    raw, _ = triage([masses, calcs], replace(rule, case_score="highest_score"))
    assert raw is not None and raw.suspicion_score == 55.0


def test_operating_point_odds_keep_each_detector_s_order() -> None:
    scores = [0.01, 0.05, 0.1, 0.3, 0.9]
    mapped = [case_score(s, 0.1, "operating_point_odds") for s in scores]
    assert mapped == sorted(mapped) and abs(mapped[2] - 0.5) < 1e-9
    assert abs(case_score(0.3, 0.5, "operating_point_odds") - 0.3) < 1e-9


# --- policy 1.2.0: comparison with the prior and DCE-MRI kinetics --------------------------------


def _compared(result: AlgorithmResult, *changes: ChangeKind | None) -> AlgorithmResult:
    findings = tuple(
        f
        if change is None
        else replace(f, comparison=FindingComparison("9.9", change, prior_study_date="20251201"))
        for f, change in zip(result.findings, changes, strict=True)
    )
    return replace(result, findings=findings)


def test_a_new_or_growing_finding_raises_suspicion_and_a_stable_one_lowers_it() -> None:
    base = lesion_result("breastgate.masses", 0.119 * 1.5, threshold=0.119)
    plain, _ = triage([base])
    assert plain is not None
    new, decision = triage([_compared(base, ChangeKind.NEW)])
    grown, grown_decision = triage([_compared(base, ChangeKind.INCREASED)])
    stable, stable_decision = triage([_compared(base, ChangeKind.STABLE)])
    assert new is not None and grown is not None and stable is not None
    assert stable.suspicion_score < plain.suspicion_score < new.suspicion_score == grown.suspicion_score
    # Odds ×2 and ×0.5 of the finding's contribution c: c·k / (c·k + 1 − c).
    c = plain.suspicion_score / 100
    assert new.suspicion_score == pytest.approx(100 * 2 * c / (2 * c + 1 - c), abs=0.1)
    assert stable.suspicion_score == pytest.approx(100 * 0.5 * c / (0.5 * c + 1 - c), abs=0.1)
    assert "new_finding" in decision.flags and "growing_finding" in grown_decision.flags
    assert "calcification_cluster f0 new since prior: odds ×2" in decision.reasons
    assert any("stable since prior: odds ×0.5" in r for r in stable_decision.reasons)
    assert not {"new_finding", "growing_finding"} & set(stable_decision.flags)


def test_findings_without_comparison_score_as_policy_1_1_0() -> None:
    result = lesion_result("breastgate.calcifications", 0.2, 0.93)
    # 1.1.0 had no factors: the same rule with every factor 1.
    neutral = replace(DEFAULT_POLICY, change_factors={c: 1.0 for c in ChangeKind}, washout_factor=1.0)
    assert triage([result]) == (triage([result], neutral)[0], triage([result], neutral)[1])
    assessment, decision = triage([result])
    assert assessment is not None and assessment.suspicion_score == 93.0  # as under 1.1.0
    assert decision.flags == ("suspicious_finding", "birads_0_suspected")
    # A compared finding under every factor 1 counts as if uncompared (flags aside).
    compared = _compared(result, ChangeKind.STABLE, ChangeKind.NEW)
    assert triage([compared], neutral)[0] == triage([result], neutral)[0]
    assert triage([compared], neutral)[1].reasons == triage([result], neutral)[1].reasons


def test_a_new_finding_below_its_operating_point_changes_the_score_but_raises_no_flag() -> None:
    result = _compared(lesion_result("breastgate.calcifications", 0.3), ChangeKind.NEW)
    assessment, decision = triage([result])
    assert assessment is not None and assessment.suspicion_score > 30.0
    assert "new_finding" not in decision.flags and decision.reasons == ()


def test_washout_kinetics_raise_suspicion_of_an_enhancing_lesion() -> None:
    mri = "vendor.dce"
    lesion = Finding(
        "e1",
        FindingKind.ENHANCING_LESION,
        "R",
        0.6,
        (Mark("1.2.3.4", (10, 10), (5, 5, 15, 15), 0.6),),
        kinetics=FindingKinetics(InitialPhase.FAST, DelayedPhase.WASHOUT),
    )
    result = AlgorithmResult(
        mri, "1.0.0", UID, AlgorithmStatus.OK, findings=(lesion,), operating_threshold=0.5
    )
    policy = replace(DEFAULT_POLICY, triage_algorithms=frozenset({mri}))
    washout, decision = triage([result], policy)
    persistent = replace(lesion, kinetics=FindingKinetics(InitialPhase.FAST, DelayedPhase.PERSISTENT))
    plain, plain_decision = triage([replace(result, findings=(persistent,))], policy)
    assert washout is not None and plain is not None
    assert washout.suspicion_score > plain.suspicion_score
    assert "washout_kinetics" in decision.flags and "washout_kinetics" not in plain_decision.flags
    assert any("washout (type III curve): odds ×2" in r for r in decision.reasons)


def test_the_prior_comparison_s_annotations_reach_the_detectors_findings() -> None:
    """breastgate.comparison annotates copies of the detectors' findings; the policy carries the
    change back to the detector's own finding (same id), so a new mass raises suspicion."""
    from breastgate.domain.model import ChangeKind, FindingComparison
    from breastgate.worklist.policy import with_comparisons

    mark = Mark("1.2.3", (10.0, 10.0), (5.0, 5.0, 15.0, 15.0), 0.3, "L", "CC")
    mass = Finding("m1", FindingKind.MASS, "L", 0.3, (mark,))
    detector = AlgorithmResult(
        "breastgate.masses", "1", "1.2", AlgorithmStatus.OK, findings=(mass,), operating_threshold=0.2
    )
    new = FindingComparison("9.9", ChangeKind.NEW)
    copy = replace(mass, attributes={"source_algorithm": "breastgate.masses"}, comparison=new)
    compared = AlgorithmResult("breastgate.comparison", "1", "1.2", AlgorithmStatus.OK, findings=(copy,))
    (carried, _) = with_comparisons([detector, compared])
    assert carried.findings[0].comparison == new
    alone, _ = triage([detector])
    together, decision = triage([detector, compared])
    assert alone is not None and together is not None
    assert together.suspicion_score > alone.suspicion_score
    assert "new_finding" in decision.flags
