"""A job whose engine is down is retried with a growing delay, not failed at once (real SQLite ledger)."""

from __future__ import annotations

from pathlib import Path

from breastgate.algorithms.base import Selection
from breastgate.algorithms.registry import Registry
from breastgate.domain.errors import EngineUnavailableError
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult, JobState, StudyRef
from breastgate.jobs import ledger
from breastgate.phantoms import generate_mg_study
from breastgate.pipeline.handlers import JobRunner, RunnerConfig
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from tests.integration.test_pipeline import Gateway


class DownEngine:
    manifest = AlgorithmManifest(
        id="vendor.down", version="1", name="down", intended_use="test", modalities=("MG",), sop_class_uids=()
    )

    def __init__(self) -> None:
        self.calls = 0

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        return Selection(study, study.instances)

    def run(self, selection: Selection) -> AlgorithmResult:
        self.calls += 1
        raise EngineUnavailableError("engine VENDOR@127.0.0.1:1 is unreachable")


def test_retry_delays_double_up_to_the_maximum() -> None:
    config = RunnerConfig(Path("/x"), (), 30, 5, retry_base_seconds=2, retry_max_seconds=5)
    assert [config.retry_delay(a) for a in (1, 2, 3, 4)] == [2, 4, 5, 5]
    assert RunnerConfig(Path("/x"), (), 30, 5).retry_delay(3) == 0


def test_unreachable_engine_is_retried_with_backoff_then_failed(tmp_path: Path) -> None:
    gateway = Gateway(tmp_path)
    for ds in generate_mg_study(41, category="b").datasets:
        gateway.receive(ds)
    engine = DownEngine()
    delays: list[float] = []
    queued: list[int] = []

    def requeue(job_id: int, delay: float) -> None:
        queued.append(job_id)
        delays.append(delay)

    runner = JobRunner(
        gateway.db,
        Registry([engine]),
        BlobStore(tmp_path / "store"),
        RunnerConfig(tmp_path / "results", (), 30, 3, retry_base_seconds=1.5, retry_max_seconds=60),
        owner="test",
        requeue=requeue,
    )
    db: Database = gateway.db
    uid = generate_mg_study(41, category="b").study_instance_uid
    with db.session() as s:
        job_id = ledger.schedule(s, uid, engine.manifest.id, 1)
    runner.run(job_id)
    runner.run(queued.pop())
    runner.run(queued.pop())
    assert delays == [1.5, 3.0] and queued == [] and engine.calls == 3
    with db.session() as s:
        job = ledger.get(s, job_id)
    assert job is not None and job.state == JobState.FAILED and job.attempts == 3
    assert job.last_error is not None and job.last_error.startswith("EngineUnavailableError")
