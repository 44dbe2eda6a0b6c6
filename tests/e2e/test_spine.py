"""The spine end to end: a 4-view study in over DICOM, a density CAD SR back in the PACS (Orthanc).

Real processes throughout: ``breastgate serve`` / ``breastgate worker``, Orthanc as the PACS, dcmtk
``storescu`` as the modality, dciodvfy and PixelMed on what arrives.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from breastgate.phantoms import write_phantoms
from breastgate.results.mammo_cad_sr import MammographyCADSR
from tests.support.e2e import gateway_with_pacs
from tests.support.gateway import GatewayProcess, storescu, wait_for
from tests.support.orthanc import OrthancServer
from tests.support.validators import dciodvfy, dsrdump, pixelmed_sr

pytestmark = [pytest.mark.peers, pytest.mark.slow]


@pytest.fixture
def phantom(tmp_path: Path) -> tuple[Path, dict]:
    folder = write_phantoms(tmp_path / "phantoms", 1, seed=2024)[0]
    return folder, json.loads((folder / "truth.json").read_text())


@pytest.fixture
def gateway_and_pacs(tmp_path: Path) -> Iterator[tuple[GatewayProcess, OrthancServer]]:
    # The spine is about density; the lesion detectors have their own end-to-end test (test_findings).
    with gateway_with_pacs(tmp_path, BG_ALGORITHMS="breastgate.density") as pair:
        yield pair


def _sr_ids(pacs: OrthancServer, study_uid: str) -> list[str]:
    return pacs.find_instances(study_uid, modality="SR")


def test_density_sr_arrives_in_pacs_and_matches_truth(
    gateway_and_pacs: tuple[GatewayProcess, OrthancServer], phantom: tuple[Path, dict], tmp_path: Path
) -> None:
    gateway, pacs = gateway_and_pacs
    folder, truth = phantom
    study_uid = truth["study_instance_uid"]
    pacs.start()
    gateway.start()

    storescu(gateway.dicom_port, sorted(folder.glob("*.dcm")))
    ids = wait_for(lambda: _sr_ids(pacs, study_uid), timeout=120, what="CAD SR in Orthanc")
    assert len(ids) == 1

    sr_path = tmp_path / "received-sr.dcm"
    sr_path.write_bytes(pacs.download(ids[0]))
    assert dciodvfy(sr_path).errors == []
    assert pixelmed_sr(sr_path).errors == []
    assert "Mammography CAD Report" in dsrdump(sr_path)

    sr = pydicom.dcmread(sr_path)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.50"
    assert sr.StudyInstanceUID == study_uid
    assert sr.PatientID == pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True).PatientID
    decoded = MammographyCADSR.from_dataset(sr)
    assert decoded.density.category == truth["density"]["category"]

    results = gateway.get(f"/api/studies/{study_uid}/results")
    assert results["schema"] == "breastgate.results/1"
    assert results["study_instance_uid"] == study_uid
    assert results["density"]["category"] == truth["density"]["category"]
    assert set(results["density"]["per_breast"]) == {"L", "R"}
    assert [(a["id"], a["status"]) for a in results["algorithms"]] == [("breastgate.density", "ok")]

    listed = {s["study_instance_uid"]: s for s in gateway.get("/api/studies")["items"]}
    assert listed[study_uid]["state"] == "stable"
    assert [j["state"] for j in listed[study_uid]["jobs"]] == ["done"]
    header = pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True)
    log = gateway.log("serve.log")
    for phi in (str(header.PatientName), header.PatientID, header.AccessionNumber, header.PatientBirthDate):
        assert phi and phi not in log  # no patient name, ID, accession or birth date in INFO logs


def test_pacs_down_then_up_gets_the_sr_exactly_once(
    gateway_and_pacs: tuple[GatewayProcess, OrthancServer], phantom: tuple[Path, dict]
) -> None:
    gateway, pacs = gateway_and_pacs
    folder, truth = phantom
    study_uid = truth["study_instance_uid"]
    gateway.start()  # the PACS is down: Orthanc not started yet

    storescu(gateway.dicom_port, sorted(folder.glob("*.dcm")))

    def retried() -> bool:
        items = gateway.get("/api/health")["outbox"]
        return items.get("pending", 0) == 1 and _job_states(gateway, study_uid) == ["done"]

    wait_for(retried, timeout=120, what="the result owed to the PACS")
    time.sleep(3)  # several retries with backoff while the PACS is down
    assert gateway.get("/api/health")["outbox"].get("sent", 0) == 0

    pacs.start()
    ids = wait_for(lambda: _sr_ids(pacs, study_uid), timeout=60, what="CAD SR after the PACS came back")
    time.sleep(3)  # nothing more may arrive
    assert _sr_ids(pacs, study_uid) == ids and len(ids) == 1
    assert pacs.statistics()["CountInstances"] == 1
    assert gateway.get("/api/health")["outbox"] == {
        "pending": 0,
        "sent": 1,
        "failed": 0,
        "held": 0,
        "withheld": 0,
    }


def _job_states(gateway: GatewayProcess, study_uid: str) -> list[str]:
    for study in gateway.get("/api/studies")["items"]:
        if study["study_instance_uid"] == study_uid:
            return [j["state"] for j in study["jobs"]]
    return []


def test_worker_killed_mid_job_completes_after_lease_expiry(
    gateway_and_pacs: tuple[GatewayProcess, OrthancServer], phantom: tuple[Path, dict]
) -> None:
    gateway, pacs = gateway_and_pacs
    folder, truth = phantom
    study_uid = truth["study_instance_uid"]
    gateway.env["BG_JOB_LEASE_SECONDS"] = "3"
    pacs.start()
    gateway.start("--no-workers")
    first = gateway.start_worker()

    storescu(gateway.dicom_port, sorted(folder.glob("*.dcm")))
    wait_for(
        lambda: _job_states(gateway, study_uid) == ["running"],
        timeout=60,
        interval=0.05,
        what="the job to be running",
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert _job_states(gateway, study_uid) == ["running"]  # killed mid-job: the lease is still held

    gateway.start_worker()
    ids = wait_for(lambda: _sr_ids(pacs, study_uid), timeout=120, what="CAD SR after the re-run")
    time.sleep(2)
    assert len(_sr_ids(pacs, study_uid)) == 1 and len(ids) == 1
    study = next(s for s in gateway.get("/api/studies")["items"] if s["study_instance_uid"] == study_uid)
    (job,) = study["jobs"]
    assert job["state"] == "done" and job["attempts"] >= 2
    assert gateway.get("/api/health")["outbox"] == {
        "pending": 0,
        "sent": 1,
        "failed": 0,
        "held": 0,
        "withheld": 0,
    }
