"""One algorithm whose result cannot be encoded is reported failed; the others and the other studies go on.

Found while measuring: a per-image percent dense of 100 plus rounding (100.00000000000001) made
the TID 4000 encoder raise, ``breastgate analyze`` stopped the batch and the gateway's job failed
without a density result. The encoder keeps rejecting out-of-range values; what changed is that the
rejection becomes that algorithm's ``failed`` result with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from breastgate.algorithms.base import Selection
from breastgate.algorithms.calcifications import CalcificationAlgorithm
from breastgate.algorithms.registry import Registry
from breastgate.domain.model import (
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    BreastDensity,
    DensityAssessment,
    ImageOutcome,
    JobState,
    StudyRef,
)
from breastgate.jobs import ledger
from breastgate.phantoms import generate_mg_study
from breastgate.pipeline.handlers import JobRunner, RunnerConfig
from breastgate.pipeline.offline import analyze_folder
from breastgate.store import results as result_store
from breastgate.store.blobs import BlobStore
from tests.integration.test_pipeline import Gateway

OVERFULL = 100.00000000000001


class OverfullDensity:
    """Says every breast is 100.00000000000001 % dense (what an unclamped ratio gave)."""

    manifest = AlgorithmManifest(
        id="test.overfull",
        version="1",
        name="overfull density",
        intended_use="test",
        modalities=("MG",),
        sop_class_uids=(),
        outputs=("density",),
    )

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        return Selection(study, study.instances)

    def run(self, selection: Selection) -> AlgorithmResult:
        images = tuple(
            ImageOutcome(
                i.sop_instance_uid, AlgorithmStatus.OK, "", i.laterality, i.view, {"percent_dense": 100.0}
            )
            for i in selection.inputs
        )
        per_breast = {side: BreastDensity(side, "d", OVERFULL, _uids(images, side)) for side in ("L", "R")}
        return AlgorithmResult(
            self.manifest.id,
            self.manifest.version,
            selection.study.study_instance_uid,
            AlgorithmStatus.OK,
            images=images,
            density=DensityAssessment("d", OVERFULL, per_breast),
        )


def _uids(images: tuple[ImageOutcome, ...], side: str) -> tuple[str, ...]:
    return tuple(o.sop_instance_uid for o in images if o.laterality == side)


def _write_studies(folder: Path, seeds: tuple[int, ...]) -> list[str]:
    uids = []
    for seed in seeds:
        study = generate_mg_study(seed, category="b")
        for i, ds in enumerate(study.datasets):
            (folder / study.study_instance_uid).mkdir(parents=True, exist_ok=True)
            ds.save_as(folder / study.study_instance_uid / f"{i}.dcm", enforce_file_format=True)
        uids.append(study.study_instance_uid)
    return uids


def test_offline_batch_reports_the_failed_algorithm_and_analyses_every_study(tmp_path: Path) -> None:
    uids = _write_studies(tmp_path / "in", (71, 72))
    registry = Registry([OverfullDensity(), CalcificationAlgorithm()])
    report = analyze_folder(tmp_path / "in", tmp_path / "out", registry)
    assert sorted(report.studies) == sorted(uids) and report.failed == 2
    for uid in uids:
        document = json.loads((tmp_path / "out" / uid / "results.json").read_text())
        by_id = {r["id"]: r for r in document["algorithms"]}
        assert by_id["test.overfull"]["status"] == "failed"
        assert "outside 0-100" in by_id["test.overfull"]["message"]
        assert by_id["breastgate.calcifications"]["status"] == "ok"
        # The calcification detector's CAD SR is written; the failed algorithm writes no object.
        written = [p.name for p in (tmp_path / "out" / uid).glob("cad-sr-*.dcm")]
        assert len(written) == 1


def test_gateway_job_completes_with_the_failure_recorded(tmp_path: Path) -> None:
    gateway = Gateway(tmp_path)
    study = generate_mg_study(73, category="b")
    for ds in study.datasets:
        gateway.receive(ds)
    runner = JobRunner(
        gateway.db,
        Registry([OverfullDensity()]),
        BlobStore(tmp_path / "store"),
        RunnerConfig(tmp_path / "results", (), 30, 3),
        owner="test",
    )
    with gateway.db.session() as s:
        job_id = ledger.schedule(s, study.study_instance_uid, "test.overfull", 1)
    runner.run(job_id)
    with gateway.db.session() as s:
        job = ledger.get(s, job_id)
        stored = result_store.for_study(s, study.study_instance_uid)
    assert job is not None and job.state == JobState.DONE and job.attempts == 1
    assert [(r.algorithm_id, r.status) for r in stored] == [("test.overfull", "failed")]
    assert "outside 0-100" in stored[0].payload["message"]
