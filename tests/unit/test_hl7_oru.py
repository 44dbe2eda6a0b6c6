"""ORU^R01 and the priority update: their content read back with python-hl7 and with our own parser."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import hl7
import pytest

from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    CaseAssessment,
    ChangeKind,
    DelayedPhase,
    DensityAssessment,
    DensityChange,
    Finding,
    FindingComparison,
    FindingKind,
    FindingKinetics,
    FindingLocation,
    InitialPhase,
    Mark,
    Priority,
    PriorStatus,
    PriorUse,
    Triage,
)
from breastgate.domain.orders import PatientDemographics
from breastgate.hl7.codec import read_message
from breastgate.hl7.oru import StudyOrderRef, build_oru, build_priority_update, finding_text

NOW = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
REF = StudyOrderRef(
    "1.2.826.0.1.3680043.10.1403.1",
    PatientDemographics("PAT|1", "HOSP", "O'NEIL^ANN^M", "19640312", "F"),
    accession_number="ACC^1",
    placer_order_number="PLC1",
    procedure_code="77067",
    procedure_text="SCREENING MAMMOGRAPHY",
)
TRIAGE = Triage(Priority.URGENT, 81.5, ("suspicious_finding", "dense_breast"), "breastgate.triage@1.0.0")
FINDING = Finding(
    "f1",
    FindingKind.CALCIFICATION_CLUSTER,
    "R",
    0.815,
    (Mark("1.2.3.4", (100.0, 200.0), (90.0, 190.0, 110.0, 210.0), 0.815),),
    size_mm=7.6,
    location=FindingLocation(10, "UOQ", "posterior", 62.0),
)
RESULTS = [
    AlgorithmResult("breastgate.density", "1.0.0", REF.study_instance_uid, AlgorithmStatus.OK,
                    density=DensityAssessment("d", 81.0)),
    AlgorithmResult("breastgate.calcifications", "1.1.0", REF.study_instance_uid, AlgorithmStatus.OK,
                    findings=(FINDING,), operating_threshold=0.5),
]  # fmt: skip


def _oru() -> hl7.Message:
    text = build_oru(
        REF,
        control_id="CTRL1",
        triage=TRIAGE,
        assessment=CaseAssessment(81.5, "0", "Recall for additional imaging (draft)."),
        results=RESULTS,
        findings=[FINDING],
        report_lines=["COMPOSITION: extremely dense.", "IMPRESSION: BI-RADS 0."],
        now=NOW,
    )
    assert "\n" not in text and text.endswith("\r")
    return hl7.parse(text)


def _obx(message: hl7.Message) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for seg in message.segments("OBX"):
        out.setdefault(str(seg[3][0][0]), []).append(str(seg[5]))
        assert str(seg[11]) == "P"  # preliminary: an AI draft until a radiologist confirms
    return out


def test_oru_header_patient_and_order() -> None:
    m = _oru()
    assert str(m.segment("MSH")[9]) == "ORU^R01^ORU_R01" and str(m.segment("MSH")[10]) == "CTRL1"
    assert m.extract_field("PID", 1, 3, 1, 1) == "PAT|1"  # escaped on the way out, read back
    assert m.extract_field("PID", 1, 5, 1, 1) == "O'NEIL" and m.extract_field("PID", 1, 5, 1, 2) == "ANN"
    assert m.extract_field("OBR", 1, 18, 1, 1) == "ACC^1"
    assert m.extract_field("OBR", 1, 2, 1, 1) == "PLC1"
    assert str(m.segment("OBR")[25]) == "P" and str(m.segment("OBR")[24]) == "MG"
    assert m.extract_field("ZDS", 1, 1, 1, 1) == REF.study_instance_uid


def test_oru_observations() -> None:
    obx = _obx(_oru())
    assert obx["TRIAGE_SCORE"] == ["81.5"]
    assert obx["TRIAGE_PRIORITY"] == ["A^urgent^HL70027"]
    assert [v.split("^")[0] for v in obx["TRIAGE_FLAG"]] == ["suspicious_finding", "dense_breast"]
    assert obx["TRIAGE_POLICY"] == ["breastgate.triage@1.0.0"]
    assert obx["DENSITY"] == [
        "d^The breasts are extremely dense, which lowers the sensitivity of mammography.^99BG"
    ]
    assert obx["BIRADS_DRAFT"][0].startswith("0^")
    assert obx["FINDING"] == [
        "grouped calcifications, right breast, 10 o'clock, posterior depth, 6.2 cm from the nipple, 8 mm, "
        "AI score 0.81"
    ]
    assert obx["ALGORITHM"] == ["breastgate.density 1.0.0 ok", "breastgate.calcifications 1.1.0 ok"]
    assert obx["REPORT_DRAFT"] == ["COMPOSITION: extremely dense.~IMPRESSION: BI-RADS 0."]
    assert "not for diagnostic use" in obx["DISCLAIMER"][0]


@pytest.mark.parametrize(("style", "kind"), [("orm", "ORM^O01"), ("omi", "OMI^O23")])
def test_priority_update_reads_back_as_a_change_of_the_same_order(style: str, kind: str) -> None:
    text = build_priority_update(REF, control_id="P1", priority=Priority.STAT, style=style, now=NOW)
    message = read_message(text.encode())
    assert message.header.message_type == kind
    (order,) = message.orders
    assert (order.control, order.priority, order.placer_order_number) == ("XO", "S", "PLC1")
    assert order.accession_number == "ACC^1" and order.study_instance_uid == REF.study_instance_uid
    assert order.patient.patient_id == "PAT|1"


def test_priority_update_needs_an_order_and_a_known_style() -> None:
    bare = StudyOrderRef("1.2.3", PatientDemographics("P"))
    with pytest.raises(ValueError, match="placer order number"):
        build_priority_update(bare, control_id="X", priority=Priority.URGENT)
    with pytest.raises(ValueError, match="style"):
        build_priority_update(REF, control_id="X", priority=Priority.URGENT, style="fax")


@pytest.mark.parametrize(
    ("ai", "order", "expected"),
    [("A", "R", True), ("S", "R", True), ("S", "A", True), ("A", None, True), ("R", "S", False),
     ("R", "A", False), ("A", "A", False), ("A", "S", False), ("R", "P", False), ("A", "T", False)],
)  # fmt: skip
def test_the_ai_only_ever_raises_an_order_priority(ai: str, order: str | None, expected: bool) -> None:
    from breastgate.pipeline.publish.hl7 import raises_priority

    assert raises_priority(ai, order) is expected


def _compared_oru() -> hl7.Message:
    uid = REF.study_instance_uid
    prior = PriorUse(PriorStatus.HELD, ("9.1",))
    calcs = replace(FINDING, comparison=FindingComparison("9.1", ChangeKind.INCREASED, 2.5, 5.1, "20251201"))
    new_mass = Finding(
        "f2", FindingKind.MASS, "L", 0.7, (Mark("1.2.3.5", (50.0, 60.0), (40.0, 50.0, 60.0, 70.0), 0.7),),
        size_mm=12.0, comparison=FindingComparison("9.1", ChangeKind.NEW, prior_study_date="20251201"),
    )  # fmt: skip
    lesion = Finding(
        "e1", FindingKind.ENHANCING_LESION, "R", 0.9, (Mark("1.2.3.6", (5.0, 6.0), (1, 2, 9, 9), 0.9),),
        kinetics=FindingKinetics(InitialPhase.FAST, DelayedPhase.WASHOUT, 212.4),
        diameters_mm=(14.2, 10.0, 8.4),
    )  # fmt: skip
    results = [
        AlgorithmResult("breastgate.density", "1.1.0", uid, AlgorithmStatus.OK, priors=prior,
                        density=DensityAssessment("b", 40.0),
                        density_change=DensityChange("9.1", "c", 52.0, -12.0, "20251201")),
        AlgorithmResult("breastgate.calcifications", "1.1.0", uid, AlgorithmStatus.OK, priors=prior,
                        findings=(calcs, new_mass), operating_threshold=0.5),
    ]  # fmt: skip
    text = build_oru(
        REF, control_id="C2", triage=TRIAGE, assessment=None, results=results,
        findings=[calcs, new_mass, lesion], now=NOW,
    )  # fmt: skip
    return hl7.parse(text)


def test_oru_comparison_and_kinetics_rows() -> None:
    message = _compared_oru()
    obx = _obx(message)
    assert obx["PRIOR_STATUS"] == ["held^compared with prior^99BG"]
    assert obx["PRIOR_STUDY"] == ["9.1"] and obx["PRIOR_STUDY_DATE"] == ["20251201"]
    assert obx["DENSITY_PRIOR"] == [
        "c^The breasts are heterogeneously dense, which may obscure small masses.^99BG"
    ]
    assert obx["DENSITY_CHANGE"] == ["-12.0"]
    assert obx["FINDING_CHANGE"] == [
        "15454001^Increase in size^SCT^increased^increased^99BG",
        "129721008^New finding^SCT^new^new^99BG",
    ]
    assert obx["FINDING_SIZE_CHANGE"] == ["+2.5"] and obx["FINDING_PRIOR_SIZE"] == ["5.1"]
    assert obx["FINDING"][0].endswith("AI score 0.81, increased by 2.5 mm since prior of 20251201")
    assert obx["FINDING"][1].endswith("12 mm, AI score 0.70, new since prior of 20251201")
    assert obx["FINDING"][2].endswith(
        "14 x 10 x 8 mm, AI score 0.90, kinetics: initial phase fast, delayed phase washout (type III curve)"
    )
    assert obx["KINETIC_INITIAL_PHASE"] == ["fast^fast^99BG"]
    assert obx["KINETIC_DELAYED_PHASE"] == ["washout^washout^99BG"]
    assert obx["KINETIC_CURVE_TYPE"] == ["III^type III (washout)^99BG"]
    assert obx["PEAK_ENHANCEMENT"] == ["212"]
    # The rows of one finding share OBX-4; sizes and percentages carry UCUM units in OBX-6.
    rows = {(str(s[3][0][0]), str(s[4])): s for s in message.segments("OBX")}
    assert {sub for code, sub in rows if code.startswith(("FINDING", "KINETIC", "PEAK"))} == {"1", "2", "3"}
    assert ("FINDING_SIZE_CHANGE", "1") in rows and ("KINETIC_CURVE_TYPE", "3") in rows
    assert str(rows[("FINDING_SIZE_CHANGE", "1")][6]) == "mm^millimeter^UCUM"
    assert str(rows[("DENSITY_CHANGE", "")][6]) == "%^percent^UCUM"


@pytest.mark.parametrize(
    ("status", "value"),
    [
        (PriorStatus.NONE_AVAILABLE, "none_available^no prior available^99BG"),
        (PriorStatus.NOT_IN_TIME, "not_in_time^prior not fetched in time^99BG"),
    ],
)
def test_oru_says_why_there_was_no_comparison(status: PriorStatus, value: str) -> None:
    results = [replace(r, priors=PriorUse(status)) for r in RESULTS]
    text = build_oru(REF, control_id="C3", triage=TRIAGE, assessment=None, results=results,
                     findings=[FINDING], now=NOW)  # fmt: skip
    obx = _obx(hl7.parse(text))
    assert obx["PRIOR_STATUS"] == [value]
    assert not {"PRIOR_STUDY", "DENSITY_CHANGE", "FINDING_CHANGE"} & set(obx)
    assert "PRIOR_STATUS" not in _obx(_oru())  # no algorithm read priors: no row


def test_a_stable_finding_is_not_said_to_change_by_its_measurement_noise() -> None:
    stable = replace(FINDING, comparison=FindingComparison("9.1", ChangeKind.STABLE, 0.1, 7.5))
    assert finding_text(stable).endswith("AI score 0.81, stable since prior")
