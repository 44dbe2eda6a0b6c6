"""Case assessment and triage policy: flags, priority, which algorithms may drive triage."""

from __future__ import annotations

from dataclasses import replace

from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    DensityAssessment,
    Finding,
    FindingKind,
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
    assert decision.policy == "breastgate.triage@1.1.0"


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
    assert DEFAULT_POLICY.version == "1.1.0" and DEFAULT_POLICY.case_score == "operating_point_odds"
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
