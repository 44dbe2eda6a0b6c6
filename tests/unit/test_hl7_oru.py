"""ORU^R01 and the priority update: their content read back with python-hl7 and with our own parser."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7
import pytest

from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    CaseAssessment,
    DensityAssessment,
    Finding,
    FindingKind,
    FindingLocation,
    Mark,
    Priority,
    Triage,
)
from breastgate.domain.orders import PatientDemographics
from breastgate.hl7.codec import read_message
from breastgate.hl7.oru import StudyOrderRef, build_oru, build_priority_update

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
