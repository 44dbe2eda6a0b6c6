"""Breast Imaging Report SR (TID 4200) of a report draft, checked by dciodvfy, PixelMed and dsrdump,
and decoded back with pydicom."""

from __future__ import annotations

import json
import shutil
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    Finding,
    FindingKind,
    FindingLocation,
    Mark,
)
from breastgate.reporting.draft import build_draft
from breastgate.results.breast_report_sr import (
    ENHANCED_SR_STORAGE,
    BreastImagingReportSR,
    DecodedBreastReport,
)
from breastgate.results.json import build_results
from breastgate.worklist.policy import TriagePolicy, triage
from tests.support.mg_headers import density_result, four_view_study
from tests.support.validators import PIXELMED_JAR, Report, dciodvfy, dsrdump, pixelmed_sr_many

pytestmark = [pytest.mark.peers]

#: What the Debian PixelMed jar (2022) warns about, on purpose (see breast_report_sr docstring):
#: its CID 6052 predates the LOINC section codes and names 111424 "Comparison to previous exams".
EXPECTED_WARNINGS = ("Content Item not in template", "has different code meaning")


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (make test installs the peers)")


def _mark(header: Dataset, point: tuple[float, float], score: float) -> Mark:
    c, r = point
    return Mark(
        str(header.SOPInstanceUID),
        point,
        (c - 30, r - 30, c + 30, r + 30),
        score,
        str(header.ImageLaterality),
        "CC",
        sop_class_uid=str(header.SOPClassUID),
    )


def _phantom_study(kind: str) -> tuple[list[Dataset], dict[str, Any]]:
    """Four MG views and the results document the pipeline would write for them.

    ``suspicious``: a calcification cluster and an irregular spiculated mass (R1, BI-RADS 0), plus
    an asymmetry, an architectural distortion and an enhancing lesion (narrative only), with prior
    comparisons; ``negative``: no finding at the operating point (R4); ``benign``: vascular
    calcifications only (R3); ``unassessed``: no density and no lesion detector (R5).
    """
    headers = four_view_study()
    rcc, lcc, _, _ = headers
    study = str(rcc.StudyInstanceUID)
    findings: tuple[Finding, ...] = ()
    if kind == "suspicious":
        findings = (
            Finding(
                "calc-1",
                FindingKind.CALCIFICATION_CLUSTER,
                "R",
                0.86,
                (_mark(rcc, (1200.0, 1500.0), 0.86),),
                size_mm=7.0,
                location=FindingLocation(10, "UOQ", "middle", 42.5),
                attributes={"calcification_type": "fine_pleomorphic", "distribution": "linear"},
            ),
            Finding(
                "mass-1",
                FindingKind.MASS,
                "L",
                0.74,
                (_mark(lcc, (800.0, 900.0), 0.74),),
                size_mm=14.2,
                location=FindingLocation(2, "UOQ", "posterior", 61.0),
                attributes={"shape": "irregular", "margin": "spiculated"},
            ),
            Finding("asym-1", FindingKind.ASYMMETRY, "L", 0.61, (_mark(lcc, (700.0, 600.0), 0.61),)),
            Finding(
                "ad-1", FindingKind.ARCHITECTURAL_DISTORTION, "R", 0.58, (_mark(rcc, (900.0, 800.0), 0.58),)
            ),
            Finding("mri-1", FindingKind.ENHANCING_LESION, "R", 0.55, (_mark(rcc, (500.0, 500.0), 0.55),)),
            Finding("low-1", FindingKind.MASS, "R", 0.2, (_mark(rcc, (300.0, 300.0), 0.2),), size_mm=5.0),
        )
    elif kind == "negative":
        findings = (Finding("low-1", FindingKind.MASS, "R", 0.2, (_mark(rcc, (300.0, 300.0), 0.2),)),)
    elif kind == "benign":
        findings = (
            Finding(
                "vasc-1",
                FindingKind.CALCIFICATION_CLUSTER,
                "L",
                0.9,
                (_mark(lcc, (400.0, 400.0), 0.9),),
                size_mm=25.0,
                attributes={"calcification_type": "vascular", "distribution": "linear"},
            ),
        )
    results = []
    if kind != "unassessed":
        results.append(density_result(headers, category={"negative": "d", "benign": "a"}.get(kind, "c")))
        results.append(
            AlgorithmResult(
                "breastgate.calcifications",
                "1.1.0",
                study,
                AlgorithmStatus.OK,
                findings=findings,
                operating_threshold=0.5,
            )
        )
    assessment, case_triage = triage(results, TriagePolicy())
    doc = json.loads(json.dumps(build_results(study, results, assessment, case_triage)))
    if kind == "suspicious":
        changes = ["new", "increased", "stable", "decreased"]
        for finding, change in zip(doc["findings"], changes, strict=False):
            finding["comparison"] = {
                "prior_study_instance_uid": "1.2.3.9",
                "change": change,
                "size_change_mm": 2.0,
            }
    return headers, doc


EXPECTED = {  # kind: (BI-RADS code, composition code, follow-up code)
    "suspicious": ("397138000", "129718006", "111135"),
    "negative": ("397140005", "129719003", "111140"),
    "benign": ("397141009", "129716005", "111140"),
    "unassessed": (None, None, None),
}


@pytest.fixture(scope="module")
def sr_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reportsr")
    out = {}
    for kind in EXPECTED:
        headers, doc = _phantom_study(kind)
        draft = build_draft(doc, prior_study_dates=[date(2024, 3, 1)] if kind == "suspicious" else ())
        path = folder / f"{kind}.dcm"
        dcmwrite(path, BreastImagingReportSR(headers, draft).to_dataset(), enforce_file_format=True)
        out[kind] = path
    return out


def _warnings(report: Report) -> list[str]:
    return [line for line in report.output.splitlines() if line.startswith("Warning")]


def test_dciodvfy_reports_no_errors(sr_files: dict[str, Path]) -> None:
    _require("dciodvfy")
    for path in sr_files.values():
        report = dciodvfy(path)
        assert "EnhancedSR" in report.output, report.output
        assert report.errors == [], report.output
        assert _warnings(report) == [], report.output


def test_pixelmed_sr_validator_reports_no_errors(sr_files: dict[str, Path]) -> None:
    _require("java")
    if not Path(PIXELMED_JAR).exists():
        pytest.fail(f"{PIXELMED_JAR} missing")
    reports = pixelmed_sr_many(list(sr_files.values()))  # one JVM for every report
    for report in reports:
        assert "Found EnhancedSR IOD" in report.output, report.output
        assert "Found Root Template TID_4200 (BreastImagingReport)" in report.output, report.output
        assert "Root Template Validation Complete" in report.output, report.output
        assert report.errors == [], "\n".join(report.errors)
        unexpected = [w for w in _warnings(report) if not any(e in w for e in EXPECTED_WARNINGS)]
        assert unexpected == [], "\n".join(unexpected)


def test_dsrdump_renders_the_report(sr_files: dict[str, Path]) -> None:
    _require("dsrdump")
    text = dsrdump(sr_files["suspicious"])
    assert "Enhanced SR Document" in text
    assert "Completion Flag     : PARTIAL" in text and "Verification Flag   : UNVERIFIED" in text
    assert '(129718006,SCT,"Heterogeneously dense")' in text
    assert '"Assessment Category")=(397138000,SCT,' in text
    assert '"Finding")=(129788004,SCT,"Mammographic breast mass")' in text
    assert '"Change since last mammogram")=(15454001,SCT,"Increase in size")' in text


def _decode(path: Path) -> tuple[Dataset, DecodedBreastReport]:
    ds = dcmread(BytesIO(path.read_bytes()))
    return ds, BreastImagingReportSR.from_dataset(ds)


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_decoded_codes_are_the_expected_ones(sr_files: dict[str, Path], kind: str) -> None:
    ds, decoded = _decode(sr_files[kind])
    birads, composition, follow_up = EXPECTED[kind]
    assert ds.SOPClassUID == ENHANCED_SR_STORAGE
    assert (decoded.completion_flag, decoded.verification_flag) == ("PARTIAL", "UNVERIFIED")
    assert decoded.preliminary_flag == "PRELIMINARY"
    assert ds.AuthorObserverSequence[0].ObserverType == "DEV"
    assert (decoded.assessment.value if decoded.assessment else None) == birads
    assert (decoded.assessment.scheme if decoded.assessment else "SCT") == "SCT"
    assert (decoded.composition.value if decoded.composition else None) == composition
    assert [c.value for c in decoded.follow_up] == ([follow_up] if follow_up else [])
    impressions = decoded.narrative["Impressions"]
    assert impressions[0] == (
        "AI-generated draft — not for diagnostic use unless validated by the site. Status: DRAFT."
    )
    assert "not for diagnostic use" in ds.SeriesDescription


def test_decoded_findings_and_narrative(sr_files: dict[str, Path]) -> None:
    _, decoded = _decode(sr_files["suspicious"])
    assert decoded.birads == "0" and decoded.composition_category == "c"
    assert [c.value for c in decoded.procedures] == ["36626-0", "111411"]
    # the enhancing lesion has no CID 6054 code: narrative only; the below-threshold mass is absent
    coded = [(f.code.value, f.laterality) for f in decoded.findings]
    assert coded == [
        ("129769006", "R"),
        ("129792006", "R"),
        ("129788004", "L"),
        ("129790003", "L"),
    ]
    calcs, _, mass, _ = decoded.findings
    assert calcs.diameter_mm == 7.0 and mass.diameter_mm == 14.2
    assert calcs.properties["Calcification Type"].value == "111344"
    assert calcs.properties["Calcification Distribution"].value == "129765000"
    assert calcs.properties["Change since last mammogram"].value == "129721008"
    assert mass.properties["Shape"].value == "49608001"
    assert mass.properties["Margins"].value == "129742005"
    findings_text = decoded.narrative["Findings"]
    assert len(findings_text) == 5
    assert findings_text[0] == (
        "1. Fine pleomorphic calcifications in a linear distribution in the upper outer quadrant of "
        "the right breast at 10 o'clock, middle depth, 4.3 cm from the nipple, spanning 7 mm."
    )
    assert decoded.narrative["Breast composition"] == (
        "The breasts are heterogeneously dense, which may obscure small masses.",
    )
    assert (
        decoded.narrative["Comparison to previous studies"][0] == "Compared with prior study of 2024-03-01."
    )
    assert decoded.narrative["Recommendations"] == (
        "Recall for additional imaging and/or comparison with prior examination(s).",
    )


def test_unassessed_study_has_no_composition_no_findings_no_assessment(sr_files: dict[str, Path]) -> None:
    _, decoded = _decode(sr_files["unassessed"])
    assert decoded.composition is None and decoded.birads is None and decoded.findings == ()
    assert decoded.narrative["Findings"] == ("Not assessed by AI.",)
