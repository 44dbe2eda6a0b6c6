"""Third-party engines inside the real gateway, treated like built-in algorithms.

A vendor CAD that is a DICOM node (``tests/support/vendor_engine.py``), a vendor HTTP service
(``tests/support/vendor_http_engine.py``) and an ONNX model folder (``tests/support/onnx_models.py``)
are configured in an engines TOML file (``BG_ENGINES``); studies go in with dcmtk ``storescu``;
breastgate's own CAD SR and GSPS for the engines' results reach Orthanc in the original study;
the worklist, results API and audit trail treat them as they treat built-ins; a silent engine's
objects stay home.

Real processes: ``breastgate serve``, Orthanc, dcmtk ``storescu``, dciodvfy, the vendor engines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest

from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from tests.integration.test_dicom_engine import IDENTIFYING
from tests.integration.test_http_engine import wait_for_port
from tests.support.e2e import gateway_with_pacs
from tests.support.gateway import BREASTGATE, GatewayProcess, storescu, wait_for
from tests.support.onnx_models import DETECTION_MANIFEST, detection_graph, model_folder
from tests.support.orthanc import OrthancServer
from tests.support.ports import free_port
from tests.support.validators import dciodvfy

pytestmark = [pytest.mark.peers, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# The gateway process must import the breastgate under test (this worktree's src/).
SRC = ROOT / "src"
VENDOR = ROOT / "tests" / "support" / "vendor_engine.py"
SECRET_ENV = "BG_TEST_DEID_SECRET"
SECRET = "e2e-deid-secret-0123456789abcdefghijklmn"  # 40 characters
DICOM_ENGINE = ("vendorcad.blobfinder", "2.3.1")
HTTP_ENGINE = ("acme.cloud", "3.2.0")
ONNX_ENGINE = ("acme.brightest", "1.0.0")
CAD_SR = "1.2.840.10008.5.1.4.1.1.88.50"
GSPS = "1.2.840.10008.5.1.4.1.1.11.1"
KOS = "1.2.840.10008.5.1.4.1.1.88.59"


class Study:
    """A small phantom screening study with a mass in the right breast, written to ``folder``."""

    def __init__(self, folder: Path, seed: int) -> None:
        study = generate_mg_study(
            seed,
            category="b",
            vendor="profile-b-100um",
            lesions=[LesionRequest("mass", size_mm=14, contrast=1.0, laterality="R")],
        )
        self.uid = str(study.truth["study_instance_uid"])
        self.datasets = study.datasets
        folder.mkdir(parents=True)
        self.files = []
        for i, ds in enumerate(study.datasets):
            self.files.append(folder / f"{i}.dcm")
            ds.save_as(self.files[-1], enforce_file_format=True)
        self.sop_uids = {str(ds.SOPInstanceUID) for ds in study.datasets}

    def identifying(self) -> set[str]:
        """Original values that must never reach a DICOM engine."""
        values: set[str] = set()
        for ds in self.datasets:
            values |= {str(ds.get(kw)) for kw in IDENTIFYING if ds.get(kw)}
            values.add(str(ds.SourceImageSequence[0].ReferencedSOPInstanceUID))
        return values


class DicomVendor:
    """The vendor CAD node on fixed ports, started (and restarted) on demand."""

    def __init__(self, folder: Path) -> None:
        self.port, self.return_port = free_port(), free_port()
        self.record = folder / "vendor-received.jsonl"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        cmd = [
            *(sys.executable, str(VENDOR), "--ae", "VENDORCAD", "--port", str(self.port)),
            *("--return-ae", "BGRETURN", "--return-host", "127.0.0.1"),
            *("--return-port", str(self.return_port), "--record", str(self.record)),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "READY"

    def table(self) -> str:
        engine_id, version = DICOM_ENGINE
        return f"""
[[engine]]
kind = "dicom"
id = "{engine_id}"
version = "{version}"
name = "VendorCAD BlobFinder"
manufacturer = "VendorCAD Inc."
node = "VENDORCAD@127.0.0.1:{self.port}"
return_ae = "BGRETURN"
return_port = {self.return_port}
secret_env = "{SECRET_ENV}"
score_scale = [0, 100]
timeout_seconds = 60
connect_timeout = 2
"""

    def received(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


@contextmanager
def dicom_vendor(folder: Path) -> Iterator[DicomVendor]:
    vendor = DicomVendor(folder)
    try:
        yield vendor
    finally:
        vendor.stop()


@contextmanager
def engine_gateway(
    folder: Path, engines: str, algorithms: str, **env: str
) -> Iterator[tuple[GatewayProcess, OrthancServer]]:
    """A started Orthanc and a (not yet started) gateway that loads ``engines`` from a TOML file."""
    path = folder / "engines.toml"
    path.write_text(engines, encoding="utf-8")
    settings = {
        "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p),
        "BG_ENGINES": str(path),
        "BG_ALGORITHMS": algorithms,
        **env,
    }
    if SECRET_ENV in engines:  # a BG_* variable the engines file does not name is refused
        settings[SECRET_ENV] = SECRET
    with gateway_with_pacs(folder, **settings) as (gateway, pacs):
        pacs.start()
        yield gateway, pacs


def cli(gateway: GatewayProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BREASTGATE, *args], env=gateway.env, capture_output=True, text=True, timeout=120, check=False
    )


def token(gateway: GatewayProcess, name: str, role: str) -> dict[str, str]:
    made = cli(gateway, "users", "add", name, "--role", role)
    assert made.returncode == 0, made.stderr
    return {"Authorization": f"Bearer {made.stdout.strip()}"}


def jobs(gateway: GatewayProcess, uid: str) -> list[dict[str, Any]]:
    items = gateway.get("/api/studies?limit=100")["items"]
    return next((i["jobs"] for i in items if i["study_instance_uid"] == uid), [])


def jobs_finished(gateway: GatewayProcess, uid: str, count: int) -> list[dict[str, Any]] | None:
    found = jobs(gateway, uid)
    if len(found) == count and all(j["state"] in ("done", "failed") for j in found):
        return found
    return None


def audit_events(gateway: GatewayProcess, uid: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = httpx.get(f"{gateway.url}/api/audit?study={uid}", headers=headers, timeout=10)
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def instances_by_class(pacs: OrthancServer, uid: str, folder: Path) -> dict[str, list[pydicom.Dataset]]:
    """Everything Orthanc holds for the study other than the images, by SOP Class (files kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[pydicom.Dataset]] = {}
    for instance in pacs.find_instances(uid):
        path = folder / f"{instance}.dcm"
        path.write_bytes(pacs.download(instance))
        ds = pydicom.dcmread(path)
        ds.filename = str(path)
        found.setdefault(str(ds.SOPClassUID), []).append(ds)
    return found


def test_dicom_engine_result_is_treated_like_a_builtin(tmp_path: Path) -> None:
    study = Study(tmp_path / "study", 7301)
    with (
        dicom_vendor(tmp_path) as vendor,
        engine_gateway(tmp_path, vendor.table(), DICOM_ENGINE[0]) as (gateway, pacs),
    ):
        vendor.start()
        gateway.start()
        storescu(gateway.dicom_port, study.files)
        (job,) = wait_for(lambda: jobs_finished(gateway, study.uid, 1), timeout=120, what="engine job")
        assert job["algorithm_id"] == DICOM_ENGINE[0] and job["state"] == "done", job

        # (a) Nothing identifying reached the vendor: every element, nested ones and file meta.
        received = vendor.received()
        assert len(received) == len(study.files)
        secrets = study.identifying()
        assert study.uid in secrets and study.sop_uids <= secrets
        for instance in received:
            values = {kw: value for _, kw, _, value in instance["elements"]}
            assert values["PatientIdentityRemoved"] == "YES"
            for where, kw, _, value in instance["elements"]:
                leaked = [s for s in secrets if s in value]
                assert not leaked, f"{where} {kw} = {value!r} leaked {leaked}"

        # (b) The results API: the engine's findings on the ORIGINAL images, raw score kept.
        results = gateway.get(f"/api/studies/{study.uid}/results")
        assert [(a["id"], a["version"], a["status"]) for a in results["algorithms"]] == [
            (*DICOM_ENGINE, "ok")
        ]
        findings = [f for f in results["findings"] if f["algorithm"] == DICOM_ENGINE[0]]
        assert len(findings) == len(study.files)  # the vendor reports one blob per image
        assert {m["sop_instance_uid"] for f in findings for m in f["marks"]} == study.sop_uids
        for finding in findings:
            raw = finding["attributes"]["raw_score"]
            assert 0 < raw <= 100
            assert 0 < finding["score"] <= 1 and finding["score"] == pytest.approx(raw / 100)
        by_side = {f["laterality"]: f["score"] for f in findings}
        assert by_side["R"] > by_side["L"]  # the mass is on the right

        # (c) breastgate's own CAD SR and GSPS for the engine result, in the ORIGINAL study.
        wait_for(
            lambda: {CAD_SR, GSPS} <= set(instances_by_class(pacs, study.uid, tmp_path / "pacs")),
            timeout=60,
            what="CAD SR and GSPS in Orthanc",
        )
        objects = instances_by_class(pacs, study.uid, tmp_path / "pacs")
        (sr,) = objects[CAD_SR]
        (gsps,) = objects[GSPS]
        for ds in (sr, gsps):
            assert ds.StudyInstanceUID == study.uid
            assert ds.PatientID == study.datasets[0].PatientID
            assert dciodvfy(ds.filename).errors == [], ds.filename
        evidence = {
            r.ReferencedSOPInstanceUID
            for s in sr.CurrentRequestedProcedureEvidenceSequence
            for series in s.ReferencedSeriesSequence
            for r in series.ReferencedSOPSequence
        }
        assert evidence == study.sop_uids
        assert sr.Manufacturer != "VendorCAD Inc."  # breastgate's encoder, not the vendor's object

        # (d) Integrated: the study is on the worklist.
        worklist = gateway.get("/api/worklist")["items"]
        assert [w["study_instance_uid"] for w in worklist] == [study.uid]

        # (e) The audit trail: an inference event with the engine's version and the original inputs.
        events = audit_events(gateway, study.uid, token(gateway, "audrey", "auditor"))
        (inference,) = [e for e in events if e["kind"] == "inference"]
        data = inference["data"]
        assert (data["algorithm_id"], data["version"], data["status"]) == (*DICOM_ENGINE, "ok")
        assert set(data["inputs"]) == study.sop_uids
        assert data["findings"] == len(findings)
        assert set(data["modes"].values()) == {"integrated"}
        assert {str(sr.SOPInstanceUID), str(gsps.SOPInstanceUID)} <= set(data["outputs"])


def test_dicom_engine_down_at_first(tmp_path: Path) -> None:
    """The engine is down when the study arrives: the job is not failed for good but retried with
    a growing delay (EngineUnavailableError, BG_JOB_RETRY_BASE_SECONDS); once the engine is up the
    next attempt gets the results, and nothing was sent while it was down."""
    study = Study(tmp_path / "study", 7302)
    with (
        dicom_vendor(tmp_path) as vendor,
        engine_gateway(
            tmp_path, vendor.table(), DICOM_ENGINE[0], BG_JOB_MAX_ATTEMPTS="10", BG_JOB_RETRY_BASE_SECONDS="1"
        ) as (gateway, pacs),
    ):
        gateway.start()
        storescu(gateway.dicom_port, study.files)
        (job,) = wait_for(
            lambda: [j for j in jobs(gateway, study.uid) if j["attempts"] >= 1 and j["last_error"]],
            timeout=60,
            what="a first failed attempt",
        )
        assert job["state"] in ("queued", "running") and job["attempts"] < 10, job
        assert job["last_error"].startswith("EngineUnavailableError: engine VENDORCAD@"), job
        assert pacs.find_instances(study.uid) == [] and gateway.get("/api/worklist")["items"] == []
        assert "job 1 retried in" in gateway.log("serve.log")

        vendor.start()  # the engine comes back; the next attempt reaches it
        (job,) = wait_for(
            lambda: [j for j in jobs(gateway, study.uid) if j["state"] == "done"],
            timeout=120,
            what="retried job",
        )
        assert 2 <= job["attempts"] < 10, job
        wait_for(lambda: pacs.find_instances(study.uid, modality="SR"), timeout=60, what="CAD SR")
        results = gateway.get(f"/api/studies/{study.uid}/results")
        marked = {m["sop_instance_uid"] for f in results["findings"] for m in f["marks"]}
        assert marked == study.sop_uids
        assert [w["study_instance_uid"] for w in gateway.get("/api/worklist")["items"]] == [study.uid]
        assert len(vendor.received()) == len(study.files)  # nothing was sent while it was down


def onnx_folder(root: Path) -> Path:
    """The brightest-spot detector with a 14-bit score scale (the phantom images are 14-bit)."""
    manifest = DETECTION_MANIFEST.replace("score_scale = [0, 4095]", "score_scale = [0, 16383]")
    assert manifest != DETECTION_MANIFEST
    return model_folder(root, detection_graph(), manifest)


@contextmanager
def http_vendor(folder: Path) -> Iterator[tuple[str, Path]]:
    """The vendor HTTP service; yields its URL and the file its requests are recorded in."""
    port, record = free_port(), folder / "http-requests.jsonl"
    command = [sys.executable, "-m", "tests.support.vendor_http_engine", "--port", str(port)]
    command += ["--record", str(record), "--point", "1000,1200"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/v1/analyse", record
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_http_and_onnx_engines_side_by_side_one_silent(tmp_path: Path) -> None:
    study = Study(tmp_path / "study", 7303)
    models = onnx_folder(tmp_path / "models")
    with http_vendor(tmp_path) as (url, record):
        engines = f"""
[[engine]]
kind = "http"
id = "{HTTP_ENGINE[0]}"
version = "{HTTP_ENGINE[1]}"
name = "ACME cloud CAD"
intended_use = "Mass and calcification detection on screening mammograms"
manufacturer = "ACME"
url = "{url}"
score_scale = [0, 10]
timeout_seconds = 30

[[engine]]
kind = "onnx"
folder = "{models.relative_to(tmp_path)}"
"""
        algorithms = f"{HTTP_ENGINE[0]},{ONNX_ENGINE[0]}"
        with engine_gateway(tmp_path, engines, algorithms) as (gateway, pacs):
            gateway.start()
            registered = {(a["id"], a["version"]): a for a in gateway.get("/api/algorithms")["items"]}
            for engine in (HTTP_ENGINE, ONNX_ENGINE):
                assert registered[engine]["available"], registered[engine]
                assert registered[engine]["modes"]["pacs"]["mode"] == "integrated"

            # The ONNX model goes silent (an AI administrator, with a reason) before the study comes.
            admin = token(gateway, "ada", "ai_admin")
            path = f"/api/algorithms/{ONNX_ENGINE[0]}/versions/{ONNX_ENGINE[1]}/modes/*"
            body = {"mode": "silent", "reason": "site validation of the model pending"}
            changed = httpx.put(f"{gateway.url}{path}", json=body, headers=admin, timeout=10)
            assert changed.status_code == 200, changed.text
            assert {i["mode"] for i in changed.json()["items"]} == {"silent"}

            storescu(gateway.dicom_port, study.files)
            done = wait_for(lambda: jobs_finished(gateway, study.uid, 2), timeout=120, what="two jobs")
            assert {(j["algorithm_id"], j["state"]) for j in done} == {
                (HTTP_ENGINE[0], "done"),
                (ONNX_ENGINE[0], "done"),
            }, done

            # The results API shows the integrated engine; the silent one only to an auditor.
            shown = gateway.get(f"/api/studies/{study.uid}/results")
            assert [(a["id"], a["version"], a["status"]) for a in shown["algorithms"]] == [
                (*HTTP_ENGINE, "ok")
            ]
            assert shown["governance"]["hidden"] == 1
            http_findings = {f["kind"]: f for f in shown["findings"]}
            assert {f["algorithm"] for f in shown["findings"]} == {HTTP_ENGINE[0]}
            mass = http_findings["mass"]
            assert mass["attributes"]["raw_score"] == 7.5 and mass["score"] == pytest.approx(0.75)
            assert mass["marks"][0]["sop_instance_uid"] in study.sop_uids
            assert http_findings["calcification_cluster"]["score"] == pytest.approx(0.2)
            assert shown["density"]["category"] == "c"
            auditor = token(gateway, "audrey", "auditor")
            everything = httpx.get(
                f"{gateway.url}/api/studies/{study.uid}/results?include_silent=true",
                headers=auditor,
                timeout=10,
            ).json()
            assert {(a["id"], a["version"], a["status"]) for a in everything["algorithms"]} == {
                (*HTTP_ENGINE, "ok"),
                (*ONNX_ENGINE, "ok"),
            }
            onnx_findings = [f for f in everything["findings"] if f["algorithm"] == ONNX_ENGINE[0]]
            assert onnx_findings and {m["sop_instance_uid"] for f in onnx_findings for m in f["marks"]} == (
                study.sop_uids
            )
            for finding in onnx_findings:
                assert finding["score"] == pytest.approx(finding["attributes"]["raw_score"] / 16383, abs=1e-6)
            assert everything["governance"]["modes"]["@".join(ONNX_ENGINE)]["pacs"] == "silent"

            # What each produced (audit), and what reached Orthanc: the integrated engine's CAD SR and
            # GSPS, none of the silent model's objects.
            events = [e for e in audit_events(gateway, study.uid, auditor) if e["kind"] == "inference"]
            outputs = {e["data"]["algorithm_id"]: set(e["data"]["outputs"]) for e in events}
            versions = {e["data"]["algorithm_id"]: e["data"]["version"] for e in events}
            assert versions == {HTTP_ENGINE[0]: HTTP_ENGINE[1], ONNX_ENGINE[0]: ONNX_ENGINE[1]}
            assert (
                len(outputs[HTTP_ENGINE[0]]) == 3 and len(outputs[ONNX_ENGINE[0]]) == 3
            )  # CAD SR, GSPS, KOS
            wait_for(
                lambda: outputs[HTTP_ENGINE[0]] <= pacs_sop_uids(pacs, study.uid),
                timeout=60,
                what="the HTTP engine's CAD SR and GSPS in Orthanc",
            )
            time.sleep(2)  # the outbox polls every 0.5 s: anything owed would have gone by now
            in_pacs = pacs_sop_uids(pacs, study.uid)
            assert not outputs[ONNX_ENGINE[0]] & in_pacs
            objects = instances_by_class(pacs, study.uid, tmp_path / "pacs")
            assert len(objects[CAD_SR]) == 1 and len(objects[GSPS]) == 1 and len(objects[KOS]) == 1, {
                k: len(v) for k, v in objects.items()
            }
            for ds in (*objects[CAD_SR], *objects[GSPS], *objects[KOS]):
                assert ds.StudyInstanceUID == study.uid
                assert dciodvfy(ds.filename).errors == [], ds.filename
            assert [w["study_instance_uid"] for w in gateway.get("/api/worklist")["items"]] == [study.uid]

    # The HTTP vendor was asked once, about this study's four images, with nothing identifying.
    (request,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert request["body"]["study_instance_uid"] == study.uid
    assert {i["sop_instance_uid"] for i in request["body"]["instances"]} == study.sop_uids
    first = study.datasets[0]
    for value in (str(first.PatientName), str(first.PatientID), str(first.AccessionNumber)):
        assert value not in request["raw"]


def pacs_sop_uids(pacs: OrthancServer, uid: str) -> set[str]:
    return {str(pacs.instance_tags(i).get("SOPInstanceUID", "")) for i in pacs.find_instances(uid)}
