"""Masses on tomosynthesis end to end: a DBT study (four Breast Tomosynthesis volumes and their
synthesized 2-D views) with a mass in over DICOM; the CAD SR and GSPS back in the PACS (Orthanc)
mark the mass on its volume, on a frame where it is in focus; the GSPS FINDING_SLICES layer and the
key images (KOS) cover exactly the frames the finding spans, the SCROLLBAR every frame; the
finding's launch link opens UniView at its volume and frame (Sectra URL launch, shared secret).

Real processes: ``breastgate serve``, Orthanc, dcmtk ``storescu`` (``-R``: its default presentation
contexts have no Breast Tomosynthesis entry), dciodvfy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest

from breastgate.integrations.sectra.launch import LaunchDecoderConfig, decode_launch
from breastgate.phantoms import generate_dbt_study
from breastgate.phantoms.dbt import dbt_file_name
from breastgate.phantoms.lesions import LesionRequest
from breastgate.results.gsps import SCROLL_LAYER, SLICE_LAYER, decode_gsps
from breastgate.results.kos import KeyObjectSelectionDocument
from breastgate.results.mammo_cad_sr import decode_cad_sr
from tests.support.e2e import gateway_with_pacs
from tests.support.gateway import GatewayProcess, storescu, wait_for
from tests.support.orthanc import OrthancServer
from tests.support.validators import dciodvfy

pytestmark = [pytest.mark.peers, pytest.mark.slow]

SEED, CATEGORY, VENDOR, PIXEL = 21, "b", "profile-b-100um", 0.3
MASS = LesionRequest("mass", shape="round", size_mm=18.0, contrast=1.0, laterality="R")
BTO = "1.2.840.10008.5.1.4.1.1.13.1.3"
SLACK = 2  # frames either side of the true range
LAUNCH_SECRET = bytes(range(50, 82))


@pytest.fixture
def gateway_and_pacs(tmp_path: Path) -> Iterator[tuple[GatewayProcess, OrthancServer]]:
    with gateway_with_pacs(
        tmp_path,
        BG_ALGORITHMS="breastgate.masses",
        BG_SECTRA_LAUNCH_MODE="shared_secret",
        BG_SECTRA_UNIVIEW_URL="https://pacs.example.org/uniview/#/apiLaunch",
        BG_SECTRA_LAUNCH_SECRET=LAUNCH_SECRET.hex(),
    ) as pair:
        yield pair


def _write(folder: Path) -> tuple[list[Path], dict[str, Any]]:
    folder.mkdir(parents=True)
    paths = []
    with generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, lesions=[MASS]) as study:
        for ds in study.datasets:
            path = folder / dbt_file_name(ds)
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    (folder / "truth.json").write_text(json.dumps(study.truth))
    return paths, study.truth


def _received(pacs: OrthancServer, study_uid: str, modality: str, folder: Path) -> list[Path]:
    paths = []
    for instance in pacs.find_instances(study_uid, modality=modality):
        path = folder / f"{modality}-{instance}.dcm"
        path.write_bytes(pacs.download(instance))
        paths.append(path)
    return paths


def _on_slices(uid: str, frame: int | None, point: tuple[float, float], view: dict[str, Any]) -> bool:
    c0, r0, c1, r1 = view["bbox"]
    first, last = view["frames"]
    return (
        uid == view["sop_instance_uid"]
        and frame is not None
        and first - SLACK <= frame <= last + SLACK
        and c0 <= point[0] <= c1
        and r0 <= point[1] <= r1
    )


def test_mass_marked_on_its_tomosynthesis_volume_reaches_the_pacs(
    gateway_and_pacs: tuple[GatewayProcess, OrthancServer], tmp_path: Path
) -> None:
    gateway, pacs = gateway_and_pacs
    files, truth = _write(tmp_path / "dbt")
    study_uid = truth["study_instance_uid"]
    volumes = [v["sop_instance_uid"] for v in truth["volumes"]]
    on_volumes = [v for v in truth["lesions"][0]["views"] if v["image"] == "dbt"]
    pacs.start()
    gateway.start()
    storescu(gateway.dicom_port, files)

    wait_for(lambda: pacs.find_instances(study_uid, modality="SR"), timeout=300, what="the masses CAD SR")
    wait_for(lambda: pacs.find_instances(study_uid, modality="PR"), timeout=60, what="the masses GSPS")
    wait_for(lambda: pacs.find_instances(study_uid, modality="KO"), timeout=60, what="the masses KOS")
    received = tmp_path / "received"
    received.mkdir()
    (sr,) = _received(pacs, study_uid, "SR", received)
    (gsps,) = _received(pacs, study_uid, "PR", received)
    (kos,) = _received(pacs, study_uid, "KO", received)
    for path in (sr, gsps, kos):
        assert dciodvfy(path).errors == [], path.name

    decoded = decode_cad_sr(pydicom.dcmread(sr))
    threshold = decoded.operating_threshold if decoded.operating_threshold is not None else 0.0
    shown = [f for f in decoded.findings if f.score >= threshold]
    hits = [
        (f, m)
        for f in shown
        for m in f.marks
        for v in on_volumes
        if _on_slices(m.sop_instance_uid, m.frame, m.point, v)
    ]
    assert hits, "no CAD SR mark on the mass's volume, inside it, on its slices"
    assert {f.laterality for f, _ in hits} == {"R"}
    assert all(
        m.frame is not None for f in decoded.findings for m in f.marks if m.sop_instance_uid in volumes
    )

    drawn = decode_gsps(pydicom.dcmread(gsps))
    assert any(
        g.sop_instance_uid == m.sop_instance_uid and g.frame == m.frame for _, m in hits for g in drawn
    ), "the GSPS draws the mark on the frame it was found on"

    results = gateway.get(f"/api/studies/{study_uid}/results")
    (masses,) = [a for a in results["algorithms"] if a["id"] == "breastgate.masses"]
    assert masses["status"] == "ok"
    frames = {(m["sop_instance_uid"], m.get("frame")) for f in results["findings"] for m in f["marks"]}
    assert any(uid in volumes and frame for uid, frame in frames)
    # Every shown volume mark spans frames around its own; the GSPS FINDING_SLICES layer marks
    # exactly those frames (the SCROLLBAR every frame of the volume), and the KOS flags exactly
    # those frames as key images.
    extents: dict[str, set[int]] = {}
    for finding in results["findings"]:
        for mark in finding["marks"]:
            if finding["shown"] and mark["sop_instance_uid"] in volumes:
                first, last = mark["frames"]
                assert first <= mark["frame"] <= last, finding["id"]
                extents.setdefault(mark["sop_instance_uid"], set()).update(range(first, last + 1))
    assert extents, "no shown finding on a volume"
    slices: dict[str, set[int]] = {}
    scroll: dict[str, set[int]] = {}
    for g in drawn:
        if g.layer in (SLICE_LAYER, SCROLL_LAYER) and g.frame is not None:
            (slices if g.layer == SLICE_LAYER else scroll).setdefault(g.sop_instance_uid, set()).add(g.frame)
    assert slices == extents
    counts = {str(v["sop_instance_uid"]): int(v["frames"]) for v in truth["volumes"]}
    assert set(scroll) == set(extents)
    assert all(scroll[uid] == set(range(1, counts[uid] + 1)) for uid in scroll)
    keyed = KeyObjectSelectionDocument.from_dataset(pydicom.dcmread(kos)).images
    assert {uid: set(frames) for uid, frames in keyed if uid in volumes} == extents
    # A finding's launch link opens UniView at its volume and at the frame it was found on.
    (finding, mark) = next(
        (f, f["marks"][0])
        for f in results["findings"]
        if f["shown"] and f["marks"][0]["sop_instance_uid"] in volumes
    )
    launch = httpx.get(
        f"{gateway.url}{finding['launch']['uniview']}",
        headers=gateway.headers,
        timeout=30,
        follow_redirects=False,
    )
    assert launch.status_code == 307
    opened = decode_launch(
        LaunchDecoderConfig("shared_secret", secret=LAUNCH_SECRET), launch.headers["location"]
    )
    assert opened.parameters.sop_instance_uid == mark["sop_instance_uid"]
    assert (
        opened.parameters.frame_number == mark["frame"]
        and opened.parameters.frame_number in extents[mark["sop_instance_uid"]]
    )
    for finding in results["findings"]:  # DESIGN §4: patient_mm for 3-D modalities only
        on_volume = any(m["sop_instance_uid"] in volumes for m in finding["marks"])
        assert (finding["location"]["patient_mm"] is not None) == on_volume, finding["id"]
        for mark in finding["marks"]:
            assert (mark["patient_mm"] is not None) == (mark["sop_instance_uid"] in volumes), finding["id"]
