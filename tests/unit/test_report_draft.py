"""Report draft (reporting/draft.py): exact sentences, the rule table, comparison wording, text form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from breastgate.domain.density import DENSITY_SENTENCES
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    CaseAssessment,
    ChangeKind,
    DelayedPhase,
    DensityChange,
    Finding,
    FindingComparison,
    FindingKind,
    FindingKinetics,
    FindingLocation,
    InitialPhase,
    Mark,
    PriorStatus,
    PriorUse,
)
from breastgate.domain.report import DRAFT_LABEL, Change, ReportDraft, ReportStatus
from breastgate.reporting.draft import NO_PRIORS, RULES_VERSION, build_draft, render_text
from breastgate.results.json import build_results
from tests.support.mg_headers import density_result, four_view_study

STUDY = "1.2.826.0.1.3680043.8.498.1"


def _mark(side: str = "R") -> Mark:
    return Mark("1.2.3.4", (100.0, 200.0), (90.0, 190.0, 110.0, 210.0), 0.8, side, "CC")


def _finding(
    fid: str,
    kind: FindingKind,
    side: str = "R",
    score: float = 0.8,
    *,
    size: float | None = None,
    location: FindingLocation | None = None,
    **attributes: str,
) -> Finding:
    return Finding(fid, kind, side, score, (_mark(side),), size, location, dict(attributes))


def _doc(
    *findings: Finding,
    category: str | None = "b",
    threshold: float = 0.5,
    assessment: CaseAssessment | None = None,
    lesion_status: AlgorithmStatus | None = AlgorithmStatus.OK,
) -> dict[str, Any]:
    """A results document exactly as build_results makes it, through a JSON round trip."""
    results = []
    if category is not None:
        headers = four_view_study(STUDY)
        results.append(density_result(headers, category=category))
    if lesion_status is not None:
        results.append(
            AlgorithmResult(
                "breastgate.calcifications",
                "1.1.0",
                STUDY,
                lesion_status,
                findings=findings if lesion_status == AlgorithmStatus.OK else (),
                operating_threshold=threshold,
            )
        )
    doc: dict[str, Any] = json.loads(json.dumps(build_results(STUDY, results, assessment)))
    return doc


def _with_comparison(doc: dict[str, Any], index: int, **comparison: object) -> dict[str, Any]:
    doc["findings"][index]["comparison"] = dict(comparison)
    return doc


UOQ_10 = FindingLocation(10, "UOQ", "middle", 42.5)


# --- composition ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "sentence"),
    [
        ("a", "The breasts are almost entirely fatty."),
        ("b", "There are scattered areas of fibroglandular density."),
        ("c", "The breasts are heterogeneously dense, which may obscure small masses."),
        ("d", "The breasts are extremely dense, which lowers the sensitivity of mammography."),
    ],
)
def test_composition_is_the_regulatory_sentence(category: str, sentence: str) -> None:
    draft = build_draft(_doc(category=category))
    assert draft.composition == sentence == DENSITY_SENTENCES[category]
    assert draft.composition_category == category
    assert draft.percent_dense is not None


def test_composition_not_assessed_without_density() -> None:
    draft = build_draft(_doc(category=None))
    assert draft.composition == "Breast composition not assessed by AI."
    assert draft.composition_category is None


# --- finding sentences ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finding", "sentence"),
    [
        (
            _finding("m", FindingKind.MASS, size=12.4, location=UOQ_10),
            "Mass in the upper outer quadrant of the right breast at 10 o'clock, middle depth, "
            "4.3 cm from the nipple, measuring 12 mm.",
        ),
        (
            _finding(
                "m",
                FindingKind.MASS,
                "L",
                size=9.46,
                location=FindingLocation(2, None, "anterior", 30.0),
                shape="irregular",
                margin="spiculated",
            ),
            "Irregular mass with spiculated margins in the left breast at 2 o'clock, anterior depth, "
            "3 cm from the nipple, measuring 9.5 mm.",
        ),
        (
            _finding("m", FindingKind.MASS, location=FindingLocation(4), shape="oval"),
            "Oval mass in the right breast at 4 o'clock.",
        ),
        (
            _finding("m", FindingKind.MASS, margin="circumscribed"),
            "Mass with circumscribed margins in the right breast.",
        ),
        (
            _finding("c", FindingKind.CALCIFICATION_CLUSTER, size=7.0, location=UOQ_10),
            "Grouped calcifications in the upper outer quadrant of the right breast at 10 o'clock, "
            "middle depth, 4.3 cm from the nipple, spanning 7 mm.",
        ),
        (
            _finding("c", FindingKind.CALCIFICATION_CLUSTER, "L", calcification_type="fine_pleomorphic"),
            "Grouped fine pleomorphic calcifications in the left breast.",
        ),
        (
            _finding(
                "c",
                FindingKind.CALCIFICATION_CLUSTER,
                location=FindingLocation(quadrant="LIQ", depth="posterior"),
                calcification_type="amorphous",
                distribution="segmental",
            ),
            "Amorphous calcifications in a segmental distribution in the lower inner quadrant of the "
            "right breast, posterior depth.",
        ),
        (
            _finding("d", FindingKind.ARCHITECTURAL_DISTORTION, "L", location=FindingLocation(12)),
            "Architectural distortion in the left breast at 12 o'clock.",
        ),
        (_finding("a", FindingKind.ASYMMETRY, size=20.0), "Asymmetry in the right breast, measuring 20 mm."),
    ],
)
def test_finding_sentence(finding: Finding, sentence: str) -> None:
    (drafted,) = build_draft(_doc(finding)).findings
    assert drafted.sentence == sentence
    assert drafted.number == 1


def test_enhancing_lesion_kinetics_only_when_given() -> None:
    doc = _doc(_finding("e", FindingKind.ENHANCING_LESION, size=8.0))
    doc["findings"][0]["kinetics"] = {
        "initial_phase": "fast",
        "delayed_phase": "washout",
        "curve_type": "III",
    }
    (drafted,) = build_draft(doc).findings
    assert drafted.sentence == (
        "Enhancing lesion in the right breast, measuring 8 mm, kinetics: fast initial phase, "
        "washout delayed phase, type III curve."
    )
    doc["findings"][0]["kinetics"] = {"initial_phase": "sudden"}
    assert build_draft(doc).findings[0].sentence == "Enhancing lesion in the right breast, measuring 8 mm."


def test_no_invented_descriptors() -> None:
    plain = _finding("m", FindingKind.MASS, size=10.0, location=UOQ_10)
    odd = _finding(
        "m2", FindingKind.MASS, "L", shape="blobby", margin="fuzzy", calcification_type="amorphous"
    )
    calc = _finding("c", FindingKind.CALCIFICATION_CLUSTER, "L", 0.7, shape="round", margin="spiculated")
    draft = build_draft(_doc(plain, odd, calc))
    words = ["oval", "round", "irregular", "lobular", "circumscribed", "obscured", "microlobulated"]
    words += ["indistinct", "spiculated", "margins", "amorphous", "pleomorphic", "blobby", "fuzzy"]
    for finding in draft.findings:
        assert finding.descriptors == {}
        assert not any(w in finding.sentence.lower() for w in words), finding.sentence
    assert [f.sentence for f in draft.findings][1:] == [
        "Mass in the left breast.",
        "Grouped calcifications in the left breast.",
    ]


def test_only_findings_at_the_operating_point_are_reported_right_breast_first() -> None:
    below = _finding("low", FindingKind.MASS, "R", 0.3)
    left = _finding("left", FindingKind.MASS, "L", 0.95)
    right = _finding("right", FindingKind.CALCIFICATION_CLUSTER, "R", 0.6)
    draft = build_draft(_doc(below, left, right))
    assert [(f.number, f.id) for f in draft.findings] == [(1, "right"), (2, "left")]


# --- rule table ----------------------------------------------------------------------------------

ZERO = ("0", "Recall for additional imaging and/or comparison with prior examination(s).")
ROUTINE = "Routine mammography screening."


@pytest.mark.parametrize(
    ("doc", "rule", "birads", "recommendation", "first_impression"),
    [
        pytest.param(
            _doc(_finding("m", FindingKind.MASS)),
            "R1",
            *ZERO,
            "BI-RADS 0: Incomplete - Need Additional Imaging Evaluation.",
            id="R1-suspicious-finding",
        ),
        pytest.param(
            _doc(
                _finding("v", FindingKind.CALCIFICATION_CLUSTER, calcification_type="vascular"),
                _finding("r", FindingKind.CALCIFICATION_CLUSTER, "L", calcification_type="round"),
            ),
            "R1",
            *ZERO,
            "BI-RADS 0: Incomplete - Need Additional Imaging Evaluation.",
            id="R1-round-is-not-benign",
        ),
        pytest.param(
            _doc(_finding("m", FindingKind.MASS, score=0.2), assessment=CaseAssessment(60.0, "0", "recall")),
            "R3",
            *ZERO,
            "BI-RADS 0: Incomplete - Need Additional Imaging Evaluation.",
            id="R3-pipeline-recall",
        ),
        pytest.param(
            _doc(assessment=CaseAssessment(90.0, "4", "biopsy")),
            "R3",
            *ZERO,
            "BI-RADS 0: Incomplete - Need Additional Imaging Evaluation.",
            id="R3-pipeline-4-becomes-0",
        ),
        pytest.param(
            _doc(
                _finding("v", FindingKind.CALCIFICATION_CLUSTER, calcification_type="vascular"),
                _finding("k", FindingKind.CALCIFICATION_CLUSTER, "L", calcification_type="coarse"),
                assessment=CaseAssessment(90.0, "0", "recall"),
            ),
            "R2",
            "2",
            ROUTINE,
            "BI-RADS 2: Benign.",
            id="R2-benign-only",
        ),
        pytest.param(
            _doc(_finding("m", FindingKind.MASS, score=0.2)),
            "R4",
            "1",
            ROUTINE,
            "BI-RADS 1: Negative.",
            id="R4-nothing-shown",
        ),
        pytest.param(
            _doc(category="d", lesion_status=None, assessment=CaseAssessment(3.0, "1", "routine")),
            "R4",
            "1",
            ROUTINE,
            "BI-RADS 1: Negative.",
            id="R4-assessment-present",
        ),
        pytest.param(
            _doc(lesion_status=None),
            "R5",
            None,
            "Recommendation to be made by the radiologist.",
            "No BI-RADS category drafted: no AI lesion-detection result is available.",
            id="R5-density-only",
        ),
        pytest.param(
            _doc(lesion_status=AlgorithmStatus.FAILED),
            "R5",
            None,
            "Recommendation to be made by the radiologist.",
            "No BI-RADS category drafted: no AI lesion-detection result is available.",
            id="R5-detector-failed",
        ),
    ],
)
def test_rule_table(
    doc: Mapping[str, Any], rule: str, birads: str | None, recommendation: str, first_impression: str
) -> None:
    draft = build_draft(doc)
    assert (draft.rule, draft.birads, draft.recommendation) == (rule, birads, recommendation)
    assert draft.impression[0] == first_impression
    assert draft.rules_version == RULES_VERSION
    assert draft.status == ReportStatus.DRAFT and draft.label == DRAFT_LABEL


def test_impression_names_the_findings_and_positioning() -> None:
    doc = _doc(_finding("a", FindingKind.MASS), _finding("b", FindingKind.MASS, "L"))
    doc["quality"] = {"verdict": "inadequate", "checks": []}
    assert build_draft(doc).impression[1:] == (
        "AI finding(s) at the operating point need additional evaluation: 1, 2.",
        "Positioning checks failed: review image quality before interpretation.",
    )


def test_an_ai_draft_never_carries_3_to_6() -> None:
    draft = build_draft(_doc(_finding("m", FindingKind.MASS, score=0.99)))
    fields = {f: getattr(draft, f) for f in draft.__dataclass_fields__}
    for category in ("3", "4", "4A", "5", "6"):
        with pytest.raises(InvalidInputError):
            ReportDraft(**{**fields, "birads": category})
    with pytest.raises(InvalidInputError):
        ReportDraft(**{**fields, "label": "final report"})


# --- comparison ----------------------------------------------------------------------------------


def test_no_priors_sentence() -> None:
    draft = build_draft(_doc(_finding("m", FindingKind.MASS)))
    assert draft.comparison == (NO_PRIORS,) == ("No prior studies available for comparison.",)


def test_comparison_wording_per_change() -> None:
    findings = [_finding(f"m{i}", FindingKind.MASS, score=0.9 - i / 10) for i in range(5)]
    doc = _doc(*findings)
    _with_comparison(doc, 0, prior_study_instance_uid="9.1", change="new")
    _with_comparison(doc, 1, prior_study_instance_uid="9.2", change="stable")
    _with_comparison(doc, 2, prior_study_instance_uid="9.1", change="increased", size_change_mm=3.0)
    _with_comparison(doc, 3, prior_study_instance_uid="9.3", change="decreased")
    draft = build_draft(
        doc,
        prior_study_dates=[date(2023, 2, 14)],
        prior_dates_by_study={"9.1": date(2024, 3, 1), "9.2": date(2022, 1, 5)},
    )
    assert draft.comparison == (
        "Compared with prior studies of 2024-03-01, 2023-02-14 and 2022-01-05.",
        "Finding 1 is new versus the prior of 2024-03-01.",
        "Finding 2 is stable versus the prior of 2022-01-05.",
        "Finding 3 has increased in size by 3 mm versus the prior of 2024-03-01.",
        "Finding 4 has decreased in size versus the prior of 2024-03-01.",
        "Finding 5 was not compared with a prior by the algorithms.",
    )
    assert [f.change for f in draft.findings] == [
        Change.NEW,
        Change.STABLE,
        Change.INCREASED,
        Change.DECREASED,
        None,
    ]
    assert draft.findings[1].prior_date == date(2022, 1, 5)
    assert draft.prior_study_dates == (date(2024, 3, 1), date(2023, 2, 14), date(2022, 1, 5))


def test_comparison_with_one_prior_and_without_a_date() -> None:
    doc = _with_comparison(_doc(_finding("m", FindingKind.MASS)), 0, change="stable")
    assert build_draft(doc, prior_study_dates=[date(2025, 6, 30)]).comparison == (
        "Compared with prior study of 2025-06-30.",
        "Finding 1 is stable versus the prior of 2025-06-30.",
    )
    assert build_draft(doc).comparison == (
        "Compared with a prior study (date not available).",
        "Finding 1 is stable versus the prior study.",
    )
    assert build_draft(_doc(), prior_study_dates=[date(2025, 6, 30)]).comparison == (
        "Compared with prior study of 2025-06-30.",
    )


# --- input handling ------------------------------------------------------------------------------


def test_draft_reads_build_results_output_and_its_json_alike() -> None:
    headers = four_view_study(STUDY)
    finding = _finding("m", FindingKind.MASS, size=11.0, location=UOQ_10, shape="oval")
    lesions = AlgorithmResult(
        "breastgate.masses", "0.9.0", STUDY, AlgorithmStatus.OK, findings=(finding,), operating_threshold=0.5
    )
    doc = build_results(STUDY, [density_result(headers), lesions])
    draft = build_draft(doc)
    assert draft == build_draft(json.loads(json.dumps(doc)))
    assert draft.study_instance_uid == STUDY
    assert [(a.id, a.version, a.status) for a in draft.algorithms] == [
        ("breastgate.density", "1.0.0", "ok"),
        ("breastgate.masses", "0.9.0", "ok"),
    ]
    assert draft.findings[0].algorithm == "breastgate.masses"
    assert draft.findings[0].descriptors == {"shape": "oval"}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["density"].update(category="e"),
        lambda d: d["findings"][0].update(kind="tumour"),
        lambda d: d["findings"][0].update(laterality="B"),
        lambda d: d["findings"][0].update(comparison={"change": "vanished"}),
        lambda d: d.pop("study_instance_uid"),
    ],
)
def test_malformed_documents_are_input_errors(change: Any) -> None:
    doc = _doc(_finding("m", FindingKind.MASS))
    change(doc)
    with pytest.raises(InvalidInputError):
        build_draft(doc)


# --- text ----------------------------------------------------------------------------------------


def _full_draft() -> ReportDraft:
    findings = [
        _finding(
            "c",
            FindingKind.CALCIFICATION_CLUSTER,
            "L",
            0.9,
            size=8.0,
            location=FindingLocation(2, "UOQ", "middle", 61.0),
            calcification_type="fine_linear_branching",
            distribution="segmental",
        ),
        _finding("m", FindingKind.MASS, "R", 0.7, size=14.0, location=UOQ_10, shape="irregular"),
    ]
    for n in range(10):  # numbering past 9 keeps the hanging indent
        location = FindingLocation(2, "UOQ", "anterior", 30.0)
        findings.append(_finding(f"x{n}", FindingKind.ASYMMETRY, "L", 0.6, size=20.0, location=location))
    doc = _with_comparison(_doc(*findings, category="c"), 0, change="new")
    doc["algorithms"][0]["version"] = "1.0.0-" + "x" * 90  # an over-long word still fits the width
    return build_draft(doc, prior_study_dates=[date(2024, 3, 1)])


def test_render_text_sections_width_and_ascii() -> None:
    draft = _full_draft()
    text = render_text(draft)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert text.isascii()
    headings = [line for line in lines if line.endswith(":") and line.isupper()]
    assert headings == [
        "COMPOSITION:",
        "FINDINGS:",
        "COMPARISON:",
        "IMPRESSION:",
        "RECOMMENDATION:",
        "ALGORITHMS:",
    ]
    assert lines[0] == "BREAST IMAGING REPORT - DRAFT"
    assert lines[-2:] == [
        "STATUS: DRAFT",
        "AI-generated draft - not for diagnostic use unless validated by the site",
    ]
    body = " ".join(line.strip() for line in lines)
    assert DENSITY_SENTENCES["c"] in body
    for finding in draft.findings:
        assert f"{finding.number}. {finding.sentence}" in body
    assert (
        "\n2. Fine linear branching calcifications in a segmental distribution in the upper\n"
        "   outer quadrant of the left breast at 2 o'clock, middle depth, 6.1 cm from the\n"
        "   nipple, spanning 8 mm.\n"
    ) in text
    assert (
        "\n12. Asymmetry in the upper outer quadrant of the left breast at 2 o'clock,\n    anterior" in text
    )
    assert "Finding 2 is new versus the prior of 2024-03-01." in body
    assert "BI-RADS 0: Incomplete - Need Additional Imaging Evaluation." in body
    assert "Recall for additional imaging and/or comparison with prior examination(s)." in body
    assert "breastgate.density 1.0.0-" in body and "(ok)" in body


def test_render_text_of_a_negative_and_of_an_unassessed_study() -> None:
    negative = render_text(build_draft(_doc(category="a")))
    assert "FINDINGS:\nNo findings at the AI operating point.\n" in negative
    assert "COMPARISON:\nNo prior studies available for comparison.\n" in negative
    assert "IMPRESSION:\nBI-RADS 1: Negative.\n" in negative
    unassessed = render_text(build_draft(_doc(category=None, lesion_status=None)))
    assert "COMPOSITION:\nBreast composition not assessed by AI.\n" in unassessed
    assert "FINDINGS:\nNot assessed: no AI lesion-detection result.\n" in unassessed
    assert "RECOMMENDATION:\nRecommendation to be made by the radiologist.\n" in unassessed


# --- comparison from the document itself (priors, density change) and DCE-MRI sentences ----------


def _prior_results(
    *findings: Finding, status: PriorStatus = PriorStatus.HELD, density_change: DensityChange | None = None
) -> dict[str, Any]:
    """Density and masses results as the prior-reading algorithms return them, JSON round-tripped."""
    headers = four_view_study(STUDY)
    priors = PriorUse(status, ("9.1",) if status == PriorStatus.HELD else ())
    density = replace(density_result(headers, category="b"), priors=priors, density_change=density_change)
    masses = AlgorithmResult(
        "breastgate.masses", "1.3.0", STUDY, AlgorithmStatus.OK, findings=findings,
        operating_threshold=0.5, priors=priors,
    )  # fmt: skip
    doc: dict[str, Any] = json.loads(json.dumps(build_results(STUDY, [density, masses])))
    return doc


def test_comparison_sentences_come_from_the_document() -> None:
    new = replace(
        _finding("m", FindingKind.MASS, "L", 0.9, size=12.0, location=FindingLocation(2)),
        comparison=FindingComparison("9.1", ChangeKind.NEW, prior_study_date="20251201"),
    )
    stable = replace(
        _finding("c", FindingKind.CALCIFICATION_CLUSTER, "R", 0.7, size=6.0),
        comparison=FindingComparison("9.1", ChangeKind.STABLE, 0.2, 5.8, "20251201"),
    )
    grown = replace(
        _finding("g", FindingKind.MASS, "L", 0.6, size=14.0),
        comparison=FindingComparison("9.1", ChangeKind.INCREASED, 4.0, 10.0, "20251201"),
    )
    unchanged = DensityChange("9.1", "b", 31.0, 1.2, "20251201")
    draft = build_draft(_prior_results(new, stable, grown, density_change=unchanged))
    assert draft.comparison == (
        "Compared with prior study of 2025-12-01.",
        "Finding 1 is stable versus the prior of 2025-12-01.",
        "Finding 2 is new versus the prior of 2025-12-01.",
        "Finding 3 has increased in size by 4 mm (10 to 14 mm) versus the prior of 2025-12-01.",
        "Breast density unchanged (category b).",
    )
    assert draft.prior_status == "held" and draft.prior_composition_category == "b"
    assert draft.findings[2].prior_size_mm == 10.0 and draft.density_change_pp == 1.2
    denser = build_draft(_prior_results(new, density_change=DensityChange("9.1", "a", 20.0, 8.04)))
    assert denser.comparison[-1] == (
        "Breast density changed from category a to b (percent density +8.0 percentage points)."
    )
    assert "COMPARISON:\nCompared with prior study of 2025-12-01.\nFinding 1 is new" in render_text(denser)


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        (PriorStatus.NONE_AVAILABLE, "No prior available for comparison."),
        (PriorStatus.NOT_IN_TIME, "Prior not fetched in time; no comparison was made."),
        (PriorStatus.NOT_SOUGHT, "No prior studies available for comparison."),
    ],
)
def test_without_a_comparison_the_prior_status_says_why(status: PriorStatus, sentence: str) -> None:
    draft = build_draft(_prior_results(_finding("m", FindingKind.MASS), status=status))
    assert draft.comparison == (sentence,)
    assert draft.prior_status == status.value


def test_enhancing_lesion_in_the_mri_lexicon_with_its_change() -> None:
    lesion = Finding(
        "e1",
        FindingKind.ENHANCING_LESION,
        "L",
        0.8,
        (_mark("L"),),
        size_mm=14.2,
        location=FindingLocation(2, None, None, 35.0),
        comparison=FindingComparison("9.2", ChangeKind.INCREASED, 3.2, 11.0, "20250615"),
        kinetics=FindingKinetics(InitialPhase.FAST, DelayedPhase.WASHOUT, 180.0, 0.4, 0.3, 0.3),
        diameters_mm=(10.04, 14.2, 8.0),
        volume_mm3=600.0,
    )
    doc = json.loads(json.dumps(build_results(STUDY, [
        AlgorithmResult("vendor.dce", "1.0.0", STUDY, AlgorithmStatus.OK, findings=(lesion,),
                        operating_threshold=0.5, priors=PriorUse(PriorStatus.HELD, ("9.2",))),
    ])))  # fmt: skip
    draft = build_draft(doc)
    (drafted,) = draft.findings
    assert drafted.sentence == (
        "Enhancing lesion in the left breast at 2 o'clock, 3.5 cm from the nipple, measuring "
        "14 x 10 x 8 mm, kinetics: fast initial phase, washout delayed phase, type III curve."
    )
    assert (drafted.initial_phase, drafted.delayed_phase, drafted.curve_type) == ("fast", "washout", "III")
    assert drafted.peak_enhancement_pct == 180.0 and drafted.diameters_mm == (14.2, 10.04, 8.0)
    assert draft.comparison == (
        "Compared with prior study of 2025-06-15.",
        "Finding 1 has increased in size by 3.2 mm (11 to 14 mm) versus the prior of 2025-06-15.",
    )
    # Breast MRI: no category 0 from kinetics alone; the curve types are named for the radiologist.
    assert (draft.rule, draft.birads) == ("R1M", None)
    assert "1 type III" in draft.impression[0] and "radiologist" in draft.impression[0]
    assert draft.recommendation == "Recommendation to be made by the radiologist."


# --- ultrasound and one lesion across modalities (issue 19) -------------------------------------


def test_ultrasound_lesion_in_the_bi_rads_us_lexicon() -> None:
    lesion = _finding(
        "us-1",
        FindingKind.US_LESION,
        size=12.4,
        location=FindingLocation(10, "UOQ", None, 30.0),
        shape="irregular",
        orientation="not_parallel",
        margin="not_circumscribed",
        echo_pattern="hypoechoic",
        posterior="shadowing",
    )
    doc = _doc(lesion)
    doc["findings"][0]["attributes"].update({"width_mm": 12.4, "depth_mm": 9.1})
    (drafted,) = build_draft(doc).findings
    assert drafted.sentence == (
        "Irregular hypoechoic mass on ultrasound with not circumscribed margins, not parallel orientation, "
        "posterior shadowing, in the upper outer quadrant of the right breast at 10 o'clock, 3 cm from the "
        "nipple, measuring 12 x 9.1 mm."
    )
    assert drafted.descriptors["orientation"] == "not_parallel"


def test_ultrasound_descriptors_outside_the_lexicon_are_left_out() -> None:
    lesion = _finding("us-1", FindingKind.US_LESION, size=8.0, shape="blobby", posterior="none")
    (drafted,) = build_draft(_doc(lesion)).findings
    assert (
        drafted.sentence
        == "Mass on ultrasound with no posterior features, in the right breast, measuring 8 mm."
    )


def test_the_same_lesion_in_other_studies_is_named_oldest_first() -> None:
    lesion = _finding("us-1", FindingKind.US_LESION, size=11.0, location=UOQ_10)
    rows = [
        {
            "modality": "MR",
            "study_date": "20260320",
            "kind": "enhancing_lesion",
            "size_mm": 12.0,
            "clock": 10,
        },
        {"modality": "MG", "study_date": "2026-03-01", "kind": "mass", "size_mm": 10.0, "clock": 10},
    ]
    draft = build_draft(_doc(lesion), correspondences={("breastgate.calcifications", "us-1"): rows})
    (drafted,) = draft.findings
    assert drafted.correspondences == (
        "the 10 mm mass at 10 o'clock on the mammogram of 2026-03-01",
        "the 12 mm enhancing lesion at 10 o'clock on the MRI of 2026-03-20",
    )
    assert drafted.sentence.endswith(
        "It corresponds to the 10 mm mass at 10 o'clock on the mammogram of 2026-03-01 and the 12 mm "
        "enhancing lesion at 10 o'clock on the MRI of 2026-03-20."
    )
    assert "corresponds to" in render_text(draft)
    other = build_draft(_doc(lesion), correspondences={("breastgate.masses", "us-1"): rows})
    assert other.findings[0].correspondences == ()  # keyed by (algorithm, finding id)
