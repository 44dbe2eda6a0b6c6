"""Mammography CAD SR checked by the real validators: dciodvfy, PixelMed DicomSRValidator, dsrdump."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from pydicom import dcmread, dcmwrite

from breastgate.results.mammo_cad_sr import MammographyCADSR
from tests.support.mg_headers import density_manifest, density_result, four_view_study
from tests.support.validators import PIXELMED_JAR, dciodvfy, dsrdump, pixelmed_sr_many
from tests.unit.test_results_cad_sr import compared_study, findings_study

pytestmark = pytest.mark.peers

CREATED = datetime(2026, 1, 10, 10, 0, 0)


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (make test installs the peers)")


@pytest.fixture(scope="module")
def sr_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three representative objects: a complete 4-view study, one with a skipped view, and one with
    findings (a 2-view calcification cluster with members, a mass with outline below the operating
    threshold, a DBT mass on frame 17), quality checks and density."""
    folder = tmp_path_factory.mktemp("cadsr")
    out = {}
    for name, failed in (("complete", False), ("partial", True)):
        headers = four_view_study()
        uids = [h.SOPInstanceUID for h in headers]
        percents = {uids[0]: 31.5, uids[1]: 36.0, uids[2]: 30.5, uids[3]: 38.0}
        skipped = {uids[3]: "breast not fully imaged"} if failed else None
        result = density_result(headers, percents=percents, failed=skipped)
        sr = MammographyCADSR(headers, result, density_manifest(), CREATED)
        path = folder / f"{name}.dcm"
        dcmwrite(path, sr.to_dataset(), enforce_file_format=True)
        out[name] = path
    headers, result = findings_study()
    path = folder / "findings.dcm"
    dcmwrite(
        path,
        MammographyCADSR(headers, result, density_manifest(), CREATED).to_dataset(),
        enforce_file_format=True,
    )
    out["findings"] = path
    # Compared with a prior: change codes, a temporal Composite Feature over the prior's marks.
    headers, result, prior = compared_study()
    path = folder / "compared.dcm"
    sr = MammographyCADSR(headers, result, density_manifest(), CREATED, prior_sources=prior)
    dcmwrite(path, sr.to_dataset(), enforce_file_format=True)
    out["compared"] = path
    return out


def test_dciodvfy_reports_no_errors(sr_files: dict[str, Path]) -> None:
    _require("dciodvfy")
    for path in sr_files.values():
        report = dciodvfy(path)
        assert "MammographyCADSR" in report.output
        assert report.errors == [], report.output


def _without_summary_of_analyses(source: Path, target: Path) -> Path:
    """A copy of a CAD SR missing TID 4000's required "Summary of Analyses" (a known template error)."""
    ds = dcmread(source)
    ds.ContentSequence = [
        item
        for item in ds.ContentSequence
        if item.ConceptNameCodeSequence[0].CodeMeaning != "Summary of Analyses"
    ]
    ds.save_as(target, enforce_file_format=True)
    return target


def test_pixelmed_sr_validator_reports_no_errors(sr_files: dict[str, Path]) -> None:
    _require("java")
    if not Path(PIXELMED_JAR).exists():
        pytest.fail(f"{PIXELMED_JAR} missing")
    # One JVM for all: the four objects, then a broken copy as a positive control (the validator
    # and the per-file split of its output do report an error, and only for that file).
    broken = _without_summary_of_analyses(sr_files["partial"], sr_files["partial"].with_name("broken.dcm"))
    *reports, control = pixelmed_sr_many([*sr_files.values(), broken])
    for report in reports:
        assert "Found Root Template TID_4000" in report.output, report.output
        assert "Root Template Validation Complete" in report.output, report.output
        assert report.errors == [], "\n".join(report.errors)
    assert len(control.errors) == 1 and "Summary of Analyses" in control.errors[0], control.output
    assert "Missing required content item" in control.errors[0]


def test_dsrdump_renders_the_density(sr_files: dict[str, Path]) -> None:
    _require("dsrdump")
    os.environ.setdefault("TCP_NODELAY", "1")
    text = dsrdump(sr_files["complete"])
    assert "Mammography CAD SR Document" in text
    assert 'NUM:(,,"Breast tissue density")="36" (%,UCUM,"Percent")' in text
    assert '(129718006,SCT,"Heterogeneously dense")' in text
    assert '(73056007,SCT,"Right breast")' in text and '(80248007,SCT,"Left breast")' in text
    assert '"Summary of Analyses")=(111222,DCM,"Succeeded")' in text
    partial = dsrdump(sr_files["partial"])
    assert '(111223,DCM,"Partially Succeeded")' in partial
    assert 'CONTAINER:(,,"Failed Analyses")' in partial


def test_dsrdump_renders_the_findings(sr_files: dict[str, Path]) -> None:
    _require("dsrdump")
    text = dsrdump(sr_files["findings"])
    assert "<contains IMAGE:=(BT image,,17)>" in text
    assert 'CODE:(,,"Composite Feature")=(129769006,SCT,"Calcification Cluster")' in text
    assert text.count('=(129770007,SCT,"Individual Calcification")') == 10
    assert 'NUM:(,,"CAD Operating Point")="1"' in text
    assert '"Summary of Detections")=(111222,DCM,"Succeeded")' in text


def test_dsrdump_renders_the_comparison_with_the_prior(sr_files: dict[str, Path]) -> None:
    _require("dsrdump")
    text = dsrdump(sr_files["compared"])
    assert '"Differential Diagnosis/Impression")=(129721008,SCT,"New finding")' in text
    assert '"Composite type")=(111153,DCM,"Target content items are related temporally")' in text
    assert 'NUM:(,,"Difference in size")="2" (mm,UCUM,"millimeter")' in text
    assert '"Change since last mammogram")=(15454001,SCT,"Increase in size")' in text
    assert '"Analysis Performed")=(133886009,SCT,"Temporal correlation")' in text
