"""Breast DCE-MRI end to end: a dynamic study arrives over DICOM (as one series per phase, and as
one Enhanced MR multi-frame object); ``breastgate serve`` reads its kinetics and the PACS (a real
Orthanc) receives the colour kinetic map, the lesion SEG, the Parametric Map and the TID 1500
report, each dciodvfy-clean; the lesion's curve type and size in the results JSON match the
phantom's truth. The same woman's next MRI, with the first one in the PACS as her prior, tracks the
lesion (prior fetched by C-MOVE before the kinetics run).

Real processes: ``breastgate serve``, Orthanc, dcmtk ``storescu``, dciodvfy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from breastgate.phantoms.mri import DceLesionRequest, generate_dce_study
from tests.support.e2e import gateway_with_pacs, outputs_by_series, write_study
from tests.support.gateway import GatewayProcess, storescu, wait_for
from tests.support.priors import gateway_with_prior_pacs, upload
from tests.support.validators import dciodvfy

pytestmark = [pytest.mark.peers, pytest.mark.slow]

SIZE = (128, 128, 40)
LESION = DceLesionRequest(curve_type="III", diameter_mm=16.0, laterality="L", heterogeneous=False)
#: Series numbers of the MRI objects (DESIGN §4 "DICOM out"): map, SEG, Parametric Map, TID 1500.
SERIES = {9907: "kinetic map", 9908: "SEG", 9909: "Parametric Map", 9906: "TID 1500"}


def _near(findings: list[dict[str, Any]], truth: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        f
        for f in findings
        if f["kind"] == "enhancing_lesion"
        and np.linalg.norm(np.subtract(f["location"]["patient_mm"], truth["patient_mm"])) < 12.0
    ]


def _results(gateway: GatewayProcess, study_uid: str) -> dict[str, Any] | None:
    document: dict[str, Any] = gateway.get(f"/api/studies/{study_uid}/results")
    done = [a for a in document.get("algorithms", []) if a["id"] == "breastgate.kinetics"]
    return document if done else None


@pytest.mark.parametrize("form", ["series-per-phase", "enhanced"])
def test_a_dce_study_gets_its_kinetic_map_seg_and_report_in_the_pacs(tmp_path: Path, form: str) -> None:
    with generate_dce_study(23, size=SIZE, form=form, lesions=[LESION], patient_id="DCEE2E1") as study:
        files = write_study(study, tmp_path / "dce")
        truth = study.truth
    study_uid = truth["study_instance_uid"]
    with gateway_with_pacs(tmp_path, BG_ALGORITHMS="breastgate.kinetics") as (gateway, pacs):
        gateway.env["BG_PACS_OBJECTS"] = f"{pacs.dicom_node}=all"
        pacs.start()
        gateway.start()
        storescu(gateway.dicom_port, files)
        objects = wait_for(
            lambda: outputs_by_series(pacs, study_uid, SERIES),
            timeout=300,
            what="the MRI objects in the PACS",
        )
        for number, instance in objects.items():
            path = tmp_path / f"{number}.dcm"
            path.write_bytes(pacs.download(instance))
            assert dciodvfy(path).errors == [], SERIES[number]
            assert pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID == study_uid
        document = wait_for(lambda: _results(gateway, study_uid), timeout=60, what="the results")
    (kinetics,) = [a for a in document["algorithms"] if a["id"] == "breastgate.kinetics"]
    assert kinetics["status"] == "ok", kinetics
    (lesion,) = truth["lesions"]
    (found,) = _near(document["findings"], lesion)
    assert found["laterality"] == lesion["laterality"] == "L"
    assert found["kinetics"]["curve_type"] == lesion["curve_type"] == "III"
    assert found["size_mm"] == pytest.approx(lesion["diameters_mm"][0], abs=4.0)


def test_the_next_mri_of_the_same_woman_tracks_the_lesion(tmp_path: Path) -> None:
    seed, patient = 32, "DCEE2E2"  # the phantom makes this lesion larger than a year before
    with generate_dce_study(seed, size=SIZE, lesions=[LESION], patient_id=patient) as current:
        files = write_study(current, tmp_path / "current")
        truth = current.truth
    with generate_dce_study(
        seed + 7919, size=SIZE, lesions=[LESION], patient_id=patient, prior_of=seed
    ) as prior:
        prior_datasets = list(prior.datasets)
        prior_truth = prior.truth
    prior_uid = prior_truth["study_instance_uid"]
    study_uid = truth["study_instance_uid"]
    with gateway_with_prior_pacs(tmp_path, "move", BG_ALGORITHMS="breastgate.kinetics") as (gateway, pacs):
        pacs.start()
        upload(pacs, prior_datasets)
        gateway.start()
        storescu(gateway.dicom_port, files)
        document = wait_for(lambda: _results(gateway, study_uid), timeout=300, what="the results")
    (kinetics,) = [a for a in document["algorithms"] if a["id"] == "breastgate.kinetics"]
    assert kinetics["priors"]["status"] == "held" and kinetics["priors"]["study_instance_uids"] == [prior_uid]
    (lesion,) = truth["lesions"]
    (found,) = _near(document["findings"], lesion)
    links = {link["current_id"]: link for link in prior_truth["prior"]["lesion_links"]}
    expected = links[lesion["id"]]["change"]
    assert found["comparison"]["prior_study_instance_uid"] == prior_uid
    assert found["comparison"]["change"] == expected == "increased"
