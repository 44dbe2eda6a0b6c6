"""Key Object Selection (MG and DBT) and the GSPS per-slice layers of a tomosynthesis phantom checked
by dciodvfy (dicom3tools): no errors; the FINDING_SLICES outlines cover exactly the finding's
frames, the SCROLLBAR every frame of its volume."""

from __future__ import annotations

import shutil
from copy import deepcopy
from pathlib import Path

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from breastgate.domain.model import Finding, FindingKind, Mark
from breastgate.phantoms import generate_dbt_study
from breastgate.phantoms.lesions import LesionRequest
from breastgate.phantoms.mg import generate_mg_study
from breastgate.results.gsps import SCROLL_LAYER, SLICE_LAYER, GrayscaleSoftcopyPresentationState
from breastgate.results.kos import KeyObjectSelectionDocument
from tests.support.validators import dciodvfy, pixelmed_sr

pytestmark = pytest.mark.peers

ALGO, VERSION = "breastgate.masses", "1.1.0"
BTO = "1.2.840.10008.5.1.4.1.1.13.1.3"


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (make test installs the peers)")


def _headers(datasets: list[Dataset]) -> list[Dataset]:
    out = []
    for ds in datasets:
        header = deepcopy(ds)
        del header.PixelData
        out.append(header)
    return out


@pytest.fixture(scope="module")
def dbt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A DBT phantom with a mass, its finding marked on both volumes with the truth's frame extent."""
    folder = tmp_path_factory.mktemp("kos_dbt")
    mass = LesionRequest("mass", shape="round", size_mm=18.0, contrast=1.0, laterality="R")
    study = generate_dbt_study(21, category="b", vendor="profile-b-100um", pixel_mm=0.8, lesions=[mass])
    views = [v for v in study.truth["lesions"][0]["views"] if v["image"] == "dbt"]
    marks = tuple(
        Mark(
            v["sop_instance_uid"],
            (v["centre"][0], v["centre"][1]),
            (v["bbox"][0], v["bbox"][1], v["bbox"][2], v["bbox"][3]),
            0.65,
            laterality="R",
            view=v["view"],
            frame=v["focus_frame"],
            frames=(v["frames"][0], v["frames"][1]),
            sop_class_uid=BTO,
        )
        for v in views
    )
    finding = Finding("mass-1", FindingKind.MASS, "R", 0.65, marks)
    headers = _headers(study.datasets)
    paths = {
        "gsps": folder / "gsps.dcm",
        "kos": folder / "kos.dcm",
    }
    dcmwrite(
        paths["gsps"],
        GrayscaleSoftcopyPresentationState([finding], headers, ALGO, VERSION).dataset,
        enforce_file_format=True,
    )
    dcmwrite(
        paths["kos"],
        KeyObjectSelectionDocument([finding], headers, ALGO, VERSION).dataset,
        enforce_file_format=True,
    )
    counts = {str(h.SOPInstanceUID): int(h.get("NumberOfFrames", 1)) for h in headers}
    return {"paths": paths, "finding": finding, "frames": counts}


def test_dbt_gsps_with_scrollbar_dciodvfy_no_errors(dbt: dict[str, object]) -> None:
    _require("dciodvfy")
    paths = dbt["paths"]
    assert isinstance(paths, dict)
    report = dciodvfy(paths["gsps"])
    assert "GrayscaleSoftcopyPresentationState" in report.output
    assert report.errors == [], report.output
    assert [w for w in report.output.splitlines() if w.startswith("Warning")] == [], report.output


def test_slice_annotations_cover_exactly_the_findings_frames(dbt: dict[str, object]) -> None:
    paths, finding = dbt["paths"], dbt["finding"]
    assert isinstance(paths, dict) and isinstance(finding, Finding)
    expected = set()
    for mark in finding.marks:
        assert mark.frames is not None
        expected |= {(mark.sop_instance_uid, f) for f in range(mark.frames[0], mark.frames[1] + 1)}
    decoded = GrayscaleSoftcopyPresentationState.from_dataset(dcmread(paths["gsps"]))
    drawn = {(g.sop_instance_uid, g.frame) for g in decoded.graphics if g.layer == SLICE_LAYER}
    assert drawn == expected
    # the scroll bar on every frame of each marked volume (Sectra pydicomutils' convention)
    volumes = {m.sop_instance_uid for m in finding.marks}
    scroll = {(g.sop_instance_uid, g.frame) for g in decoded.graphics if g.layer == SCROLL_LAYER}
    assert {uid for uid, _ in scroll} == volumes
    counts = dbt["frames"]
    assert isinstance(counts, dict)
    for uid in volumes:
        assert counts[uid] > 1
        assert {f for u, f in scroll if u == uid} == set(range(1, counts[uid] + 1))
    # the outline stays on the mark's own frame
    outlines = {(g.sop_instance_uid, g.frame) for g in decoded.graphics if g.layer == "MASS"}
    assert outlines == {(m.sop_instance_uid, m.frame) for m in finding.marks}


def test_dbt_kos_dciodvfy_no_errors_and_frame_level(dbt: dict[str, object]) -> None:
    _require("dciodvfy")
    paths, finding = dbt["paths"], dbt["finding"]
    assert isinstance(paths, dict) and isinstance(finding, Finding)
    report = dciodvfy(paths["kos"])
    assert "KeyObjectSelectionDocument" in report.output
    assert report.errors == [], report.output
    assert [w for w in report.output.splitlines() if w.startswith("Warning")] == [], report.output
    images = dict(KeyObjectSelectionDocument.from_dataset(dcmread(paths["kos"])).images)
    for mark in finding.marks:
        assert mark.frames is not None
        assert images[mark.sop_instance_uid] == tuple(range(mark.frames[0], mark.frames[1] + 1))
    template = pixelmed_sr(paths["kos"])
    assert "TID_2010" in template.output and template.errors == [], template.output


def test_mg_kos_dciodvfy_no_errors(tmp_path: Path) -> None:
    _require("dciodvfy")
    study = generate_mg_study(7)
    rcc, lcc, rmlo, _ = study.datasets
    mass = Finding(
        "f1",
        FindingKind.MASS,
        "R",
        0.87,
        (
            Mark(rcc.SOPInstanceUID, (1100, 1500), (1000, 1380, 1220, 1620), 0.85),
            Mark(rmlo.SOPInstanceUID, (1150, 1700), (1050, 1600, 1250, 1800), 0.8),
        ),
    )
    calc = Finding(
        "f2",
        FindingKind.CALCIFICATION_CLUSTER,
        "L",
        0.42,
        (Mark(lcc.SOPInstanceUID, (1500, 1600), (1450, 1550, 1550, 1650), 0.42),),
    )
    path = tmp_path / "kos.dcm"
    dcmwrite(
        path,
        KeyObjectSelectionDocument([mass, calc], _headers(study.datasets), ALGO, VERSION).dataset,
        enforce_file_format=True,
    )
    report = dciodvfy(path)
    assert "KeyObjectSelectionDocument" in report.output
    assert report.errors == [], report.output
    assert [w for w in report.output.splitlines() if w.startswith("Warning")] == [], report.output
    decoded = KeyObjectSelectionDocument.from_dataset(dcmread(path))
    assert {uid for uid, _ in decoded.images} == {rcc.SOPInstanceUID, rmlo.SOPInstanceUID, lcc.SOPInstanceUID}
    assert all(frames == () for _, frames in decoded.images)
