"""A third-party CAD engine as a DICOM node: breastgate de-identifies, sends, waits for the engine's
own Mammography CAD SR, re-identifies and decodes it (a real separate engine process on loopback)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from breastgate.domain.errors import EngineUnavailableError
from breastgate.domain.model import AlgorithmStatus, FindingKind, InstanceRef, StudyRef
from breastgate.engines.dicom_node import DicomNodeEngine, make_dicom_engine
from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from breastgate.pipeline.analysis import run_algorithm
from tests.support.ports import free_port
from tests.support.validators import dciodvfy

pytestmark = [pytest.mark.peers, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "tests" / "support" / "vendor_engine.py"
SECRET = b"engine-test-secret"


IDENTIFYING = (
    "PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "StudyDate", "ContentDate",
    "AcquisitionDate", "InstitutionName", "StationName", "DeviceSerialNumber", "ReferringPhysicianName",
    "OperatorsName", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
)  # fmt: skip


class Phantom:
    def __init__(self, folder: Path, seed: int = 42) -> None:
        study = generate_mg_study(
            seed, category="b", lesions=[LesionRequest("mass", size_mm=14, contrast=1.0, laterality="L")]
        )
        self.datasets = study.datasets
        self.truth = {v["sop_instance_uid"]: v for v in study.truth["lesions"][0]["views"]}
        refs = []
        for ds in study.datasets:
            path = folder / f"{ds.SOPInstanceUID}.dcm"
            ds.save_as(path, enforce_file_format=True)
            refs.append(
                InstanceRef(
                    study_instance_uid=str(ds.StudyInstanceUID),
                    series_instance_uid=str(ds.SeriesInstanceUID),
                    sop_instance_uid=str(ds.SOPInstanceUID),
                    sop_class_uid=str(ds.SOPClassUID),
                    modality=str(ds.Modality),
                    path=str(path),
                    laterality=str(ds.ImageLaterality),
                    view=str(ds.ViewPosition),
                    presentation_intent=str(ds.PresentationIntentType),
                )
            )
        self.study = StudyRef(
            study.study_instance_uid, tuple(refs), patient_id=str(study.datasets[0].PatientID)
        )

    def identifying(self) -> set[str]:
        """Original values that must never reach the engine."""
        values: set[str] = set()
        for ds in self.datasets:
            for kw in IDENTIFYING:
                if ds.get(kw):
                    values.add(str(ds.get(kw)))
            values.add(str(ds.SourceImageSequence[0].ReferencedSOPInstanceUID))
        return values


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Phantom:
    return Phantom(tmp_path_factory.mktemp("study"))


class Vendor:
    def __init__(self, folder: Path, *flags: str) -> None:
        self.port = free_port()
        self.return_port = free_port()
        self.record = folder / f"received-{self.port}.jsonl"
        cmd = [
            *(sys.executable, str(VENDOR), "--ae", "VENDORCAD", "--port", str(self.port)),
            *("--return-ae", "BGRETURN", "--return-host", "127.0.0.1"),
            *("--return-port", str(self.return_port)),
            *("--record", str(self.record), *flags),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "READY"

    def config(self, **overrides: Any) -> dict[str, Any]:
        return {
            "id": "vendorcad.blobfinder",
            "version": "2.3.1",
            "name": "VendorCAD BlobFinder",
            "manufacturer": "VendorCAD Inc.",
            "node": f"VENDORCAD@127.0.0.1:{self.port}",
            "return_ae": "BGRETURN",
            "return_port": self.return_port,
            "timeout_seconds": 60,
            "score_scale": [0, 100],
            **overrides,
        }

    def received(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def vendor(tmp_path: Path) -> Iterator[Vendor]:
    peer = Vendor(tmp_path)
    yield peer
    peer.stop()


@pytest.fixture
def engine(vendor: Vendor) -> Iterator[DicomNodeEngine]:
    adapter = make_dicom_engine(vendor.config(), SECRET)
    yield adapter
    adapter.close()


def test_engine_sees_nothing_identifying_and_findings_come_back_on_the_original_images(
    phantom: Phantom, vendor: Vendor, engine: DicomNodeEngine, tmp_path: Path
) -> None:
    assert engine.is_available() == (True, "")
    assert engine.reachable() == (True, "")
    selection = engine.select(phantom.study)
    assert len(selection.inputs) == 4 and selection.skipped == ()

    started = time.monotonic()
    run = engine.run_with_objects(selection)
    elapsed = time.monotonic() - started
    result = run.result
    assert result.status == AlgorithmStatus.OK, result.message
    assert "(decoded)" in result.message
    assert result.study_instance_uid == phantom.study.study_instance_uid

    # 1. Nothing identifying reached the engine (every element, nested ones and file meta).
    secrets = phantom.identifying()
    received = vendor.received()
    assert len(received) == 4
    for instance in received:
        assert instance["calling_ae"] == "BREASTGATE"
        values = {kw: value for _, kw, _, value in instance["elements"]}
        assert values["PatientIdentityRemoved"] == "YES"
        for where, kw, _, value in instance["elements"]:
            leaked = [s for s in secrets if s in value]
            assert not leaked, f"{where} {kw} = {value!r} leaked {leaked}"

    # 2. Findings reference the ORIGINAL images; the marks sit on the lesion where there is one.
    originals = {ds.SOPInstanceUID: ds for ds in phantom.datasets}
    assert len(result.findings) == 4
    for finding in result.findings:
        (mark,) = finding.marks
        assert mark.sop_instance_uid in originals
        assert finding.kind == FindingKind.MASS
        assert finding.laterality == originals[mark.sop_instance_uid].ImageLaterality
        raw = finding.attributes["raw_score"]
        assert isinstance(raw, float) and 0 < raw <= 100
        assert finding.score == pytest.approx(raw / 100.0)
        truth = phantom.truth.get(mark.sop_instance_uid)
        if truth is not None:
            c0, r0, c1, r1 = truth["bbox"]
            assert c0 <= mark.point[0] <= c1 and r0 <= mark.point[1] <= r1, (mark.point, truth)
    lesion_scores = [f.score for f in result.findings if f.marks[0].sop_instance_uid in phantom.truth]
    other_scores = [f.score for f in result.findings if f.marks[0].sop_instance_uid not in phantom.truth]
    assert min(lesion_scores) > max(other_scores)

    # 3. The re-identified CAD SR belongs to the original study and validates.
    (sr,) = run.objects
    first = phantom.datasets[0]
    for kw in (
        "StudyInstanceUID",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "AccessionNumber",
        "StudyDate",
    ):
        assert sr.get(kw) == first.get(kw), kw
    assert "PatientIdentityRemoved" not in sr
    evidence = {r.ReferencedSOPInstanceUID for s in sr.CurrentRequestedProcedureEvidenceSequence
                for series in s.ReferencedSeriesSequence for r in series.ReferencedSOPSequence}  # fmt: skip
    assert evidence == set(originals)
    path = tmp_path / "vendor-sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    report = dciodvfy(path)
    assert "MammographyCADSR" in report.output
    assert report.errors == [], report.output
    print(
        f"\nengine round trip (4 x 17 MB MG, de-id + C-STORE + vendor CAD + return + decode): {elapsed:.2f} s"
    )

    # 4. A retry sends the same de-identified UIDs (the engine can de-duplicate) and gets the same answer.
    again = engine.run_with_objects(engine.select(phantom.study))
    uids = [{v for _, kw, _, v in r["elements"] if kw == "SOPInstanceUID"} for r in vendor.received()]
    assert uids[:4] == uids[4:]
    assert [f.marks[0].point for f in again.result.findings] == [f.marks[0].point for f in result.findings]


def test_engine_not_running_is_unavailable(phantom: Phantom, tmp_path: Path) -> None:
    config = {
        "id": "vendorcad.blobfinder",
        "version": "2.3.1",
        "node": f"VENDORCAD@127.0.0.1:{free_port()}",
        "return_ae": "BGRETURN",
        "return_port": free_port(),
        "connect_timeout": 2,
    }
    adapter = make_dicom_engine(config, SECRET)
    try:
        assert adapter.is_available() == (True, "")  # down is a retry, not a missing dependency
        reachable, why = adapter.reachable()
        assert not reachable and "unreachable" in why
        with pytest.raises(EngineUnavailableError, match="unreachable"):
            adapter.run(adapter.select(phantom.study))
        with pytest.raises(EngineUnavailableError):  # the job runner retries rather than records
            run_algorithm(adapter, phantom.study)
    finally:
        adapter.close()


def test_engine_that_never_answers_times_out(phantom: Phantom, tmp_path: Path) -> None:
    silent = Vendor(tmp_path, "--never-answer")
    adapter = make_dicom_engine(silent.config(timeout_seconds=3), SECRET)
    try:
        started = time.monotonic()
        with pytest.raises(EngineUnavailableError, match="no result from the engine within 3 s"):
            adapter.run(adapter.select(phantom.study))
        assert 3.0 <= time.monotonic() - started < 30.0
        assert len(silent.received()) == 4  # the images did arrive
    finally:
        adapter.close()
        silent.stop()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [("broken", "cannot be decoded: not a TID 4000"), ("sc-only", "returned no Mammography CAD SR")],
)
def test_result_that_cannot_be_decoded_is_a_failed_result(
    phantom: Phantom, tmp_path: Path, answer: str, reason: str
) -> None:
    odd = Vendor(tmp_path, "--answer", answer)
    adapter = make_dicom_engine(odd.config(timeout_seconds=5), SECRET)
    try:
        run = adapter.run_with_objects(adapter.select(phantom.study))
        assert run.result.status == AlgorithmStatus.FAILED
        assert reason in run.result.message
        assert run.result.findings == ()
        (returned,) = run.objects  # kept (re-identified) even though not decoded
        assert returned.StudyInstanceUID == phantom.study.study_instance_uid
    finally:
        adapter.close()
        odd.stop()


def test_concurrent_jobs_get_their_own_study_back(
    phantom: Phantom, vendor: Vendor, engine: DicomNodeEngine, tmp_path: Path
) -> None:
    second = Phantom(tmp_path, seed=43)
    results: dict[str, Any] = {}

    def job(study: StudyRef) -> None:
        results[study.study_instance_uid] = engine.run(engine.select(study))

    threads = [threading.Thread(target=job, args=(p.study,)) for p in (phantom, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for study in (phantom, second):
        result = results[study.study.study_instance_uid]
        assert result.status == AlgorithmStatus.OK, result.message
        mine = {i.sop_instance_uid for i in study.study.instances}
        assert {f.marks[0].sop_instance_uid for f in result.findings} == mine
