"""Lesion findings end to end: a study with a spiculated mass and a calcification cluster, and a
normal study, in over DICOM; CAD SR, GSPS, key images (KOS) and the secondary-capture summary back in the PACS
(Orthanc); marks inside the true lesions; triage flags from the results API.

Real processes: ``breastgate serve``, Orthanc, dcmtk ``storescu``, dciodvfy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from breastgate.results.gsps import decode_gsps
from breastgate.results.kos import KeyObjectSelectionDocument
from breastgate.results.mammo_cad_sr import decode_cad_sr
from tests.support.e2e import gateway_with_pacs
from tests.support.gateway import GatewayProcess, storescu, wait_for
from tests.support.orthanc import OrthancServer
from tests.support.validators import dciodvfy

pytestmark = [pytest.mark.peers, pytest.mark.slow]

SMALL = "profile-b-100um"


def _write(folder: Path, seed: int, **kwargs: Any) -> tuple[list[Path], dict[str, Any]]:
    study = generate_mg_study(seed, category="b", vendor=SMALL, distractors=True, **kwargs)
    folder.mkdir(parents=True)
    paths = []
    for i, ds in enumerate(study.datasets):
        path = folder / f"{i}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    (folder / "truth.json").write_text(json.dumps(study.truth))
    return paths, study.truth


@pytest.fixture
def gateway_and_pacs(tmp_path: Path) -> Iterator[tuple[GatewayProcess, OrthancServer]]:
    with gateway_with_pacs(tmp_path) as pair:
        yield pair


def _inside(point: tuple[float, float], bbox: list[float]) -> bool:
    return bbox[0] <= point[0] <= bbox[2] and bbox[1] <= point[1] <= bbox[3]


def _received(pacs: OrthancServer, study_uid: str, modality: str, folder: Path) -> list[Path]:
    paths = []
    for instance in pacs.find_instances(study_uid, modality=modality):
        path = folder / f"{modality}-{instance}.dcm"
        path.write_bytes(pacs.download(instance))
        paths.append(path)
    return paths


def test_marks_of_a_mass_and_a_cluster_reach_the_pacs(
    gateway_and_pacs: tuple[GatewayProcess, OrthancServer], tmp_path: Path
) -> None:
    gateway, pacs = gateway_and_pacs
    lesion_files, truth = _write(
        tmp_path / "lesion",
        4242,
        lesions=[
            LesionRequest("mass", shape="spiculated", size_mm=20.0, contrast=1.0, laterality="L"),
            LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality="R"),
        ],
    )
    normal_files, normal_truth = _write(tmp_path / "normal", 4243)
    assert {t["kind"] for t in truth["lesions"]} == {"mass", "calcification_cluster"}
    study_uid, normal_uid = truth["study_instance_uid"], normal_truth["study_instance_uid"]
    pacs.start()
    gateway.start()
    storescu(gateway.dicom_port, lesion_files + normal_files)

    for uid in (study_uid, normal_uid):  # three CAD SRs (density, calcifications, masses) + the summary
        wait_for(lambda u=uid: len(pacs.find_instances(u, modality="SR")) == 3, timeout=240, what="3 CAD SRs")
        wait_for(lambda u=uid: pacs.find_instances(u, modality="OT"), timeout=60, what="summary SC")

    received = tmp_path / "received"
    received.mkdir()
    srs = _received(pacs, study_uid, "SR", received)
    gsps = _received(pacs, study_uid, "PR", received)
    (sc,) = _received(pacs, study_uid, "OT", received)
    assert gsps, "the marks must also arrive as a presentation state"
    wait_for(
        lambda: len(pacs.find_instances(study_uid, modality="KO")) == len(gsps),
        timeout=60,
        what="key images (KOS) beside every GSPS",
    )
    kos = _received(pacs, study_uid, "KO", received)
    for path in [*srs, *gsps, *kos, sc]:
        assert dciodvfy(path).errors == [], path.name

    shown = []
    for path in srs:
        decoded = decode_cad_sr(pydicom.dcmread(path))
        threshold = decoded.operating_threshold if decoded.operating_threshold is not None else 0.0
        shown += [f for f in decoded.findings if f.score >= threshold]
    for lesion in truth["lesions"]:
        hits = [
            (f, m)
            for f in shown
            if f.kind == lesion["kind"]
            for m in f.marks
            for v in lesion["views"]
            if m.sop_instance_uid == v["sop_instance_uid"] and _inside(m.point, v["bbox"])
        ]
        assert hits, f"no CAD SR mark inside the true {lesion['kind']}"
        assert {f.laterality for f, _ in hits} == {lesion["laterality"]}

    drawn = [g for path in gsps for g in decode_gsps(pydicom.dcmread(path))]
    marked_images = {m.sop_instance_uid for f in shown for m in f.marks}
    assert marked_images <= {g.sop_instance_uid for g in drawn}
    keyed = [KeyObjectSelectionDocument.from_dataset(pydicom.dcmread(path)) for path in kos]
    assert {uid for k in keyed for uid, _ in k.images} == marked_images
    summary = pydicom.dcmread(sc)
    assert summary.StudyInstanceUID == study_uid and summary.BurnedInAnnotation == "YES"

    results = gateway.get(f"/api/studies/{study_uid}/results")
    assert "suspicious_finding" in results["triage"]["flags"]
    assert results["triage"]["priority"] == "urgent"
    assert results["assessment"]["birads"] == "0"
    kinds = {f["kind"] for f in results["findings"] if f["shown"]}
    assert {"mass", "calcification_cluster"} <= kinds

    normal = gateway.get(f"/api/studies/{normal_uid}/results")
    assert "suspicious_finding" not in normal["triage"]["flags"]
    assert normal["triage"]["priority"] == "routine"
    assert not [f for f in normal["findings"] if f["shown"] and f["kind"] == "calcification_cluster"]
