"""HTTP engine adapter against a vendor engine running as a separate process
(``tests/support/vendor_http_engine.py``): what is sent, what comes back, and each way it fails."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from breastgate.algorithms.base import Algorithm
from breastgate.domain.errors import EngineUnavailableError
from breastgate.domain.model import (
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    FindingKind,
    InstanceRef,
    StudyRef,
)
from breastgate.engines._scores import ScoreScale
from breastgate.engines.http_engine import HttpEngine, HttpEngineConfig
from breastgate.pipeline.analysis import build_outputs, run_algorithm
from breastgate.results.json import build_results
from tests.support.dicom_factory import MG_FOR_PRESENTATION, make_ct, make_screening_study, write
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "vendor-token-4f1c"

MANIFEST = AlgorithmManifest(
    id="acme.cloud",
    version="3.2.0",
    name="ACME cloud CAD",
    intended_use="test engine",
    modalities=("MG",),
    sop_class_uids=(MG_FOR_PRESENTATION,),
    manufacturer="ACME",
    label="ACME CAD 3.2, CE class IIa; site-validated for screening.",
)


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vendor engine exited with {process.returncode}: {process.stderr!r}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"vendor engine did not listen on {port}")


Vendor = Callable[..., str]


@pytest.fixture
def vendor(tmp_path: Path) -> Iterator[Vendor]:
    """Start the vendor engine process in a mode; returns its URL.

    Requests land in tmp_path/requests.jsonl."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(mode: str = "ok", point: str = "128,96") -> str:
        port = free_port()
        command = [sys.executable, "-m", "tests.support.vendor_http_engine", "--port", str(port)]
        command += ["--mode", mode, "--record", str(tmp_path / "requests.jsonl"), "--point", point]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append(process)
        wait_for_port(port, process)
        return f"http://127.0.0.1:{port}/v1/analyse"

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def requests_sent(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "requests.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def study(tmp_path: Path) -> StudyRef:
    """The four screening views (indexed with side and view, as ingest does) and a CT the engine skips."""
    refs = []
    for i, ds in enumerate(make_screening_study()):
        path = write(ds, tmp_path / "study" / f"{i}.dcm")
        refs.append(
            InstanceRef(
                ds.StudyInstanceUID,
                ds.SeriesInstanceUID,
                ds.SOPInstanceUID,
                ds.SOPClassUID,
                "MG",
                str(path),
                laterality=ds.ImageLaterality,
                view=("CC", "CC", "MLO", "MLO")[i],
                presentation_intent="FOR PRESENTATION",
            )
        )
    ct = make_ct(study_uid=refs[0].study_instance_uid)
    ct_path = write(ct, tmp_path / "study" / "ct.dcm")
    refs.append(
        InstanceRef(
            ct.StudyInstanceUID, ct.SeriesInstanceUID, ct.SOPInstanceUID, ct.SOPClassUID, "CT", str(ct_path)
        )
    )
    return StudyRef(
        refs[0].study_instance_uid, tuple(refs), patient_id="BG-TEST-1", accession_number="ACC0001"
    )


def engine(url: str, **overrides: object) -> HttpEngine:
    settings: dict[str, object] = {
        "manifest": MANIFEST,
        "url": url,
        "timeout_seconds": 5.0,
        "token": TOKEN,
        "dicomweb_url": "https://pacs.example/dicom-web/",
        "score_scale": ScoreScale(0.0, 1.0),
        "operating_threshold": 5.0 if "score_scale" in overrides else None,
    }
    settings.update(overrides)
    return HttpEngine(HttpEngineConfig(**settings))  # type: ignore[arg-type]


def run(algorithm: HttpEngine, study: StudyRef) -> AlgorithmResult:
    return algorithm.run(algorithm.select(study))


def test_request_carries_references_only_and_findings_are_converted(
    vendor: Vendor, study: StudyRef, tmp_path: Path
) -> None:
    algorithm = engine(vendor(point="128,96"))
    assert isinstance(algorithm, Algorithm)
    assert algorithm.is_available() == (True, "")

    result = run(algorithm, study)

    (sent,) = requests_sent(tmp_path)
    raw = str(sent["raw"])
    for identifier in ("Synthetic", "Jane", "BG-TEST-1", "19700101", "ACC0001"):
        assert identifier not in raw, identifier
    body = sent["body"]
    assert isinstance(body, dict)
    assert set(body) == {"schema", "study_instance_uid", "dicomweb_url", "instances"}
    assert body["schema"] == "breastgate.engine-request/1"
    assert body["dicomweb_url"] == f"https://pacs.example/dicom-web/studies/{study.study_instance_uid}"
    mg = [i for i in study.instances if i.modality == "MG"]
    assert [i["sop_instance_uid"] for i in body["instances"]] == [i.sop_instance_uid for i in mg]
    assert set(body["instances"][0]) == {
        "sop_instance_uid", "series_instance_uid", "sop_class_uid", "modality", "laterality", "view",
        "number_of_frames",
    }  # fmt: skip
    assert [(i["laterality"], i["view"]) for i in body["instances"]] == [
        ("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"),
    ]  # fmt: skip
    headers = {k.lower(): v for k, v in dict(sent["headers"]).items()}  # type: ignore[call-overload]
    assert headers["authorization"] == f"Bearer {TOKEN}"

    assert result.status == AlgorithmStatus.OK, result.message
    mass, calc = result.findings
    assert (mass.id, mass.kind, mass.laterality) == ("vendor-mass-1", FindingKind.MASS, "R")
    assert mass.score == pytest.approx(0.75) and mass.attributes["raw_score"] == 7.5
    assert mass.size_mm == 9.5 and mass.location is not None and mass.location.clock == 2
    (mark,) = mass.marks
    assert mark.sop_instance_uid == mg[0].sop_instance_uid
    assert (mark.point, mark.bbox) == ((128.0, 96.0), (118.0, 86.0, 138.0, 106.0))
    assert (mark.laterality, mark.view, mark.score) == ("R", "CC", 0.75)
    # No laterality in the answer: taken from the marked image (R MLO); bbox from the point.
    assert (calc.id, calc.kind, calc.laterality) == (
        "calcification_cluster-2",
        FindingKind.CALCIFICATION_CLUSTER,
        "R",
    )
    assert calc.score == pytest.approx(0.2) and calc.attributes["raw_score"] == 2.0
    assert calc.marks[0].bbox == (50.0, 60.0, 50.0, 60.0)
    assert result.density is not None and result.density.category == "c"
    assert result.density.per_breast["L"].percent_dense == 41.0
    statuses = {o.sop_instance_uid: o.status for o in result.images}
    assert [statuses[i.sop_instance_uid] for i in study.instances] == [AlgorithmStatus.OK] * 4 + [
        AlgorithmStatus.SKIPPED
    ]
    document = build_results(study.study_instance_uid, [result])
    assert [f["score"] for f in document["findings"]] == [0.75, 0.2]
    # The same encoders as the built-ins': a CAD SR, and a GSPS with the marks shown.
    assert [o.kind for o in build_outputs(study, algorithm, result)] == ["cad-sr", "gsps", "kos"]


def test_operating_threshold_is_on_the_raw_scale(vendor: Vendor, study: StudyRef) -> None:
    result = run(engine(vendor(), score_scale=ScoreScale(0.0, 10.0), operating_threshold=5.0), study)
    assert result.operating_threshold == 0.5
    assert [f["shown"] for f in build_results(study.study_instance_uid, [result])["findings"]] == [
        True,
        False,
    ]


def test_no_token_no_authorization_header(vendor: Vendor, study: StudyRef, tmp_path: Path) -> None:
    run(engine(vendor(), token=None, dicomweb_url=None), study)
    (sent,) = requests_sent(tmp_path)
    assert "authorization" not in {k.lower() for k in dict(sent["headers"])}  # type: ignore[call-overload]
    assert "dicomweb_url" not in dict(sent["body"])  # type: ignore[call-overload]


@pytest.mark.parametrize("code", [503, 500, 429, 408])
def test_retryable_status_raises_engine_unavailable(vendor: Vendor, study: StudyRef, code: int) -> None:
    algorithm = engine(vendor(f"status:{code}"))
    with pytest.raises(EngineUnavailableError, match=f"HTTP {code}: vendor says {code}"):
        run(algorithm, study)
    with pytest.raises(EngineUnavailableError):  # the pipeline re-raises it: the job is retried
        run_algorithm(algorithm, study)


def test_timeout_raises_engine_unavailable(vendor: Vendor, study: StudyRef) -> None:
    algorithm = engine(vendor("sleep"), timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(EngineUnavailableError, match=r"did not answer within 0.5 s"):
        run(algorithm, study)
    assert time.monotonic() - started < 4.0


def test_refused_connection_raises_engine_unavailable(study: StudyRef) -> None:
    algorithm = engine(f"http://127.0.0.1:{free_port()}/v1/analyse")
    with pytest.raises(EngineUnavailableError, match="cannot be reached"):
        run(algorithm, study)
    assert TOKEN not in str(algorithm.config)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("garbage", "engine answer is not JSON"),
        ("status:400", "engine answered HTTP 400: vendor says 400"),
        ("status:404", "engine answered HTTP 404: vendor says 404"),
        ("bad-kind", "findings[0].kind 'tumour' is not one of"),
        ("bad-score", "findings[0].score: score 12 outside the declared scale [0, 10]"),
        (
            "unknown-uid",
            "findings[0].marks[0] references SOP Instance UID '1.2.3.999', which was not in the request",
        ),
    ],
)
def test_bad_answers_fail_the_result_with_a_message(
    vendor: Vendor, study: StudyRef, mode: str, expected: str
) -> None:
    result = run_algorithm(engine(vendor(mode)), study)
    assert result.status == AlgorithmStatus.FAILED
    assert expected in result.message, result.message
    assert not result.findings
    mg = [o for o in result.images if o.status == AlgorithmStatus.FAILED]
    assert len(mg) == 4 and all(expected in o.message for o in mg)


def test_nothing_to_send_is_skipped_without_a_request(
    vendor: Vendor, tmp_path: Path, study: StudyRef
) -> None:
    ct_only = StudyRef(study.study_instance_uid, tuple(i for i in study.instances if i.modality == "CT"))
    result = run(engine(vendor()), ct_only)
    assert result.status == AlgorithmStatus.SKIPPED
    assert "modality CT is not one the engine takes" in result.message
    assert requests_sent(tmp_path) == []
