"""GSPS and summary Secondary Capture checked by dciodvfy (dicom3tools): no errors, known warnings only."""

from __future__ import annotations

import shutil
from copy import deepcopy
from pathlib import Path

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

from breastgate.domain.model import CaseAssessment, Finding, FindingKind, Mark, Priority, Triage
from breastgate.phantoms import generate_dbt_study
from breastgate.phantoms.dbt import dbt_file_name
from breastgate.phantoms.lesions import LesionRequest
from breastgate.phantoms.mg import generate_mg_study
from breastgate.results.gsps import GrayscaleSoftcopyPresentationState, decode_gsps
from breastgate.results.summary_sc import SecondaryCaptureSummary
from tests.support.validators import dciodvfy

pytestmark = pytest.mark.peers

ALGO, VERSION = "breastgate.cad", "1.0.0"
BTO = "1.2.840.10008.5.1.4.1.1.13.1.3"
#: dciodvfy warns when Laterality (0020,0060) is empty; an output covering both breasts has no
#: valid value (R or L only) and leaving it out is an error (Type 2C), so empty is the least bad.
BOTH_BREASTS_WARNING = "attribute <Laterality>"


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (make test installs the peers)")


def _unexpected_warnings(output: str, allowed: tuple[str, ...]) -> list[str]:
    warnings = [line for line in output.splitlines() if line.startswith("Warning")]
    return [w for w in warnings if not any(a in w for a in allowed)]


def _bto_like(mg: Dataset) -> Dataset:
    """A Breast Tomosynthesis header (no pixels) in the phantom's study, for frame references."""
    ds = Dataset()
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
               "AccessionNumber", "ReferringPhysicianName", "StudyID", "StudyInstanceUID"):  # fmt: skip
        setattr(ds, kw, mg.get(kw))
    ds.SOPClassUID = BTO
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[mg.SOPInstanceUID, "bto"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[mg.SeriesInstanceUID, "bto"])
    ds.Rows, ds.Columns, ds.NumberOfFrames = 2000, 1500, 60
    ds.ImageLaterality = "L"
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth = 2048, 4096
    group = Dataset()
    group.FrameVOILUTSequence = DicomSequence([voi])
    ds.SharedFunctionalGroupsSequence = DicomSequence([group])
    return ds


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[Finding]]]:
    folder = tmp_path_factory.mktemp("gsps_sc")
    study = generate_mg_study(7)
    rcc, lcc, rmlo, _ = study.datasets
    headers = []
    for ds in study.datasets:
        header = deepcopy(ds)
        del header.PixelData
        headers.append(header)
    outline = ((1000.0, 1500.0), (1100.0, 1380.0), (1220.0, 1480.0), (1150.0, 1620.0), (1020.0, 1600.0))
    mass = Finding(
        "f1",
        FindingKind.MASS,
        "R",
        0.87,
        (
            Mark(rcc.SOPInstanceUID, (1100, 1500), (1000, 1380, 1220, 1620), 0.85, outline=outline),
            Mark(rmlo.SOPInstanceUID, (1150, 1700), (1050, 1600, 1250, 1800), 0.8),
        ),
    )
    members = ((1470.0, 1570.0), (1500.0, 1600.0), (1530.0, 1620.0))
    calc = Finding(
        "f2",
        FindingKind.CALCIFICATION_CLUSTER,
        "L",
        0.42,
        (Mark(lcc.SOPInstanceUID, (1500, 1600), (1450, 1550, 1550, 1650), 0.42, members=members),),
    )
    bto = _bto_like(lcc)
    dbt = Finding(
        "f3",
        FindingKind.ARCHITECTURAL_DISTORTION,
        "L",
        0.66,
        (Mark(bto.SOPInstanceUID, (800, 1200), (700, 1100, 900, 1300), 0.6, frame=12),),
    )
    out: dict[str, tuple[Path, list[Finding]]] = {}
    objects = {
        "gsps_both": ([mass, calc], GrayscaleSoftcopyPresentationState([mass, calc], headers, ALGO, VERSION)),
        "gsps_right": ([mass], GrayscaleSoftcopyPresentationState([mass], headers, ALGO, VERSION)),
        "gsps_dbt": ([dbt], GrayscaleSoftcopyPresentationState([dbt], [*headers, bto], ALGO, VERSION)),
    }
    for name, (findings, gsps) in objects.items():
        path = folder / f"{name}.dcm"
        dcmwrite(path, gsps.dataset, enforce_file_format=True)
        out[name] = (path, findings)
    sc = SecondaryCaptureSummary(
        [(ds, ds.pixel_array) for ds in study.datasets],
        [mass, calc],
        CaseAssessment(87.0, "4", "biopsy"),
        Triage(Priority.URGENT, 80.0, ("suspicious_mass",), "policy@1"),
        ALGO,
        VERSION,
    )
    path = folder / "summary_sc.dcm"
    dcmwrite(path, sc.dataset, enforce_file_format=True)
    out["sc"] = (path, [mass, calc])
    return out


@pytest.mark.parametrize("name", ["gsps_both", "gsps_right", "gsps_dbt"])
def test_gsps_dciodvfy_no_errors(outputs: dict[str, tuple[Path, list[Finding]]], name: str) -> None:
    _require("dciodvfy")
    path, findings = outputs[name]
    report = dciodvfy(path)
    assert "GrayscaleSoftcopyPresentationState" in report.output
    assert report.errors == [], report.output
    allowed = (BOTH_BREASTS_WARNING,) if name == "gsps_both" else ()
    assert _unexpected_warnings(report.output, allowed) == [], report.output
    # and the file read back still carries every mark on its image and frame

    drawn = {(g.sop_instance_uid, g.frame) for g in decode_gsps(dcmread(path))}
    assert {(m.sop_instance_uid, m.frame) for f in findings for m in f.marks} <= drawn


def test_summary_sc_dciodvfy_no_errors(outputs: dict[str, tuple[Path, list[Finding]]]) -> None:
    _require("dciodvfy")
    report = dciodvfy(outputs["sc"][0])
    assert "SCImage" in report.output
    assert report.errors == [], report.output
    assert _unexpected_warnings(report.output, (BOTH_BREASTS_WARNING,)) == [], report.output


@pytest.fixture(scope="module")
def dbt_summaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Summaries of a DBT study: with synthesized views (a volume mark mapped onto one), and of its
    volumes alone (one frame per slot, referenced with its frame number)."""
    folder = tmp_path_factory.mktemp("sc_dbt")
    mass = LesionRequest("mass", shape="round", size_mm=18.0, contrast=1.0, laterality="R")
    out = {}
    for name, synthesized in (("sc_dbt_synthesized", True), ("sc_dbt_volumes", False)):
        study = generate_dbt_study(
            21,
            category="b",
            vendor="profile-b-100um",
            pixel_mm=0.8,
            lesions=[mass],
            synthesized_2d=synthesized,
        )
        (folder / name).mkdir()
        volumes = []
        for ds in study.datasets:
            if ds.SOPClassUID == BTO:
                volumes.append(folder / name / dbt_file_name(ds))
                ds.save_as(volumes[-1], enforce_file_format=True)
        lesion = next(v for v in study.truth["lesions"][0]["views"] if v["image"] == "dbt")
        c0, r0, c1, r1 = lesion["bbox"]
        mark = Mark(
            lesion["sop_instance_uid"],
            (lesion["centre"][0], lesion["centre"][1]),
            (c0, r0, c1, r1),
            0.65,
            frame=lesion["focus_frame"],
            sop_class_uid=BTO,
        )
        sc = SecondaryCaptureSummary(
            [(ds, ds.pixel_array) for ds in study.datasets if ds.SOPClassUID != BTO],
            [Finding("mass-1", FindingKind.MASS, "R", 0.65, (mark,))],
            CaseAssessment(65.0, "0", "recall"),
            Triage(Priority.URGENT, 65.0, ("suspicious_finding",), "policy@1"),
            ALGO,
            VERSION,
            volumes=volumes,
        )
        out[name] = folder / f"{name}.dcm"
        dcmwrite(out[name], sc.dataset, enforce_file_format=True)
    return out


@pytest.mark.parametrize("name", ["sc_dbt_synthesized", "sc_dbt_volumes"])
def test_dbt_summary_sc_dciodvfy_no_errors(dbt_summaries: dict[str, Path], name: str) -> None:
    _require("dciodvfy")
    report = dciodvfy(dbt_summaries[name])
    assert "SCImage" in report.output
    assert report.errors == [], report.output
    assert _unexpected_warnings(report.output, (BOTH_BREASTS_WARNING,)) == [], report.output
    if name == "sc_dbt_volumes":
        frames = [item.ReferencedFrameNumber for item in dcmread(dbt_summaries[name]).SourceImageSequence]
        assert len(frames) == 4 and all(frames)
