"""TID 1500 reports of real detector results on phantoms, checked by the real validators: dciodvfy
(IOD), PixelMed DicomSRValidator (templates) and dsrdump; and their content against the findings.

Studies: an MG phantom with a mass (R) and a calcification cluster (L), read by breastgate.masses
and breastgate.calcifications; a DBT phantom with a mass, read by breastgate.masses (marks on
volume frames and on the synthesized 2-D views).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread, dcmwrite

from breastgate.algorithms.calcifications import CalcificationAlgorithm
from breastgate.algorithms.masses import MassAlgorithm
from breastgate.domain.model import AlgorithmResult, FindingKind
from breastgate.phantoms import generate_dbt_study, generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from breastgate.pipeline.analysis import source_headers
from breastgate.results import codes as c
from breastgate.results.tid1500 import MeasurementReport, shown_findings
from breastgate.results.tid4000_findings import bbox_rectangle, closed_polyline
from tests.support.validators import PIXELMED_JAR, dciodvfy, dsrdump, pixelmed_sr_many
from tests.unit.test_findings import run, study_ref

pytestmark = pytest.mark.peers

SMALL = "profile-b-100um"
MASS = LesionRequest("mass", shape="round", size_mm=18.0, contrast=1.0, laterality="R")
CLUSTER = LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality="L")


@dataclass(frozen=True)
class Built:
    """One report on disk with the result it encodes."""

    path: Path
    result: AlgorithmResult
    report: MeasurementReport


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (make test installs the peers)")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    folder = tmp_path_factory.mktemp("tid1500")
    mg = generate_mg_study(21, category="b", vendor=SMALL, lesions=[CLUSTER, MASS])
    dbt = generate_dbt_study(21, category="b", vendor=SMALL, pixel_mm=0.8, lesions=[MASS])
    jobs = (
        ("mg_masses", mg, MassAlgorithm()),
        ("mg_calcifications", mg, CalcificationAlgorithm()),
        ("dbt_masses", dbt, MassAlgorithm()),
    )
    out = {}
    for name, study, algorithm in jobs:
        (folder / name).mkdir()
        ref = study_ref(study, folder / name)
        result = run(algorithm, ref)
        headers = source_headers(ref, result.input_sop_instance_uids)
        report = MeasurementReport.from_result(result, algorithm.manifest, headers)
        path = folder / f"{name}.dcm"
        dcmwrite(path, report.dataset, enforce_file_format=True)
        out[name] = Built(path, result, report)
    return out


def test_the_detectors_found_what_the_phantoms_hold(built: dict[str, Built]) -> None:
    kinds = {name: {f.kind for f in shown_findings(b.result)} for name, b in built.items()}
    assert FindingKind.MASS in kinds["mg_masses"] and FindingKind.MASS in kinds["dbt_masses"]
    assert kinds["mg_calcifications"] == {FindingKind.CALCIFICATION_CLUSTER}
    frames = [m.frame for f in shown_findings(built["dbt_masses"].result) for m in f.marks]
    assert any(f is not None for f in frames), "DBT marks on volume frames"


def test_dciodvfy_reports_no_errors(built: dict[str, Built]) -> None:
    _require("dciodvfy")
    for b in built.values():
        report = dciodvfy(b.path)
        assert "ComprehensiveSR" in report.output
        assert report.errors == [], report.output
        assert [w for w in report.output.splitlines() if w.startswith("Warning")] == [], report.output


def test_pixelmed_sr_validator_reports_no_errors(built: dict[str, Built]) -> None:
    _require("java")
    if not Path(PIXELMED_JAR).exists():
        pytest.fail(f"{PIXELMED_JAR} missing")
    reports = pixelmed_sr_many([b.path for b in built.values()])  # one JVM for the three reports
    for report in reports:
        assert "Found Root Template TID_1500" in report.output, report.output
        assert "Root Template Validation Complete" in report.output, report.output
        assert report.errors == [], "\n".join(report.errors)
        assert [w for w in report.output.splitlines() if w.startswith("Warning")] == [], report.output


def test_groups_and_regions_are_the_shown_marks(built: dict[str, Built]) -> None:
    for name, b in built.items():
        shown = shown_findings(b.result)
        marks = [(f, m) for f in shown for m in f.marks]
        decoded = MeasurementReport.from_dataset(dcmread(b.path))
        assert len(decoded.groups) == len(marks), name
        assert len({g.tracking_uid for g in decoded.groups}) == len(shown), name
        for group, (finding, mark) in zip(decoded.groups, marks, strict=True):
            assert group.tracking_identifier == finding.id
            assert (group.sop_instance_uid, group.frame) == (mark.sop_instance_uid, mark.frame)
            ring = closed_polyline(mark.outline if len(mark.outline) >= 3 else bbox_rectangle(mark.bbox))
            assert tuple(v for p in group.points for v in p) == pytest.approx(ring, abs=1e-3)
            assert group.finding == c.FINDING_BY_KIND[finding.kind.value]
            assert group.laterality == c.LATERALITY_BY_SIDE[finding.laterality]


def test_rebuilt_reports_are_identical(built: dict[str, Built]) -> None:
    for b in built.values():
        headers = list(reversed(b.report.sources))
        again = MeasurementReport.from_result(b.result, b.report.manifest, headers)
        assert again.sop_instance_uid == b.report.sop_instance_uid
        assert again.series_instance_uid == b.report.series_instance_uid
        buffer = BytesIO()
        dcmwrite(buffer, again.dataset, enforce_file_format=True)
        assert buffer.getvalue() == b.path.read_bytes()


def test_dsrdump_renders_the_tree(built: dict[str, Built]) -> None:
    _require("dsrdump")
    text = dsrdump(built["dbt_masses"].path)
    assert "Comprehensive SR Document" in text
    assert 'CONTAINER:(,,"Imaging Measurement Report")' in text
    assert '<has obs context CODE:(,,"Observer Type")=(121007,DCM,"Device")>' in text
    assert '<contains CODE:(,,"Finding")=(129788004,SCT,"Mammographic breast mass")>' in text
    frame = next(m.frame for f in shown_findings(built["dbt_masses"].result) for m in f.marks if m.frame)
    # highdicom names the SELECTED FROM image (260753009, SCT, "Source"), which PixelMed accepts
    assert f'<selected from IMAGE:(,,"Source")=(BT image,,{frame})>' in text
    calc = dsrdump(built["mg_calcifications"].path)
    assert '=(129769006,SCT,"Calcification Cluster")' in calc
