"""A job whose algorithm wants priors waits for them (bounded by BG_PRIOR_WAIT_SECONDS, on an
injected clock), then runs with what is held and says so: ``StudyRef.priors`` (most recent first,
with instances and study date) and ``StudyRef.prior_status`` reach the algorithm, its
``AlgorithmResult.priors`` the stored result and the results JSON. Real files, real SQLite, and a
PACS that is really down (nothing listens on its port); algorithms that want no priors run at once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydicom
import pytest

from breastgate.algorithms.registry import Registry
from breastgate.domain.governance import Mode
from breastgate.domain.model import DicomNode, JobState, PriorStatus
from breastgate.domain.payload import result_from_payload
from breastgate.ingest.service import IngestService
from breastgate.jobs import ledger
from breastgate.pipeline.handlers import JobRunner, RunnerConfig
from breastgate.results.json import build_results
from breastgate.routing.assembly import StudyAssembler
from breastgate.routing.attach import PriorPolicy
from breastgate.routing.prefetch import PrefetchWorker
from breastgate.routing.priors import StudyMatch
from breastgate.routing.qr import PriorFetcher
from breastgate.routing.retrieve import MoveSource
from breastgate.routing.rules import Rule
from breastgate.store import prefetch
from breastgate.store import results as result_store
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.prefetch import FetchState
from tests.support.db import upgrade
from tests.support.orthanc import free_port
from tests.support.priors import PriorEcho, prior_study, restamp

PATIENT = "PRIORWAIT1"
WAIT = 120.0


class NoPriors(PriorEcho):
    """The same echo, wanting no priors."""

    manifest = replace(PriorEcho.manifest, id="test.no_priors", prior_modalities=())


class Answers:
    """A PACS that answers from a list (for the statuses that need an answer, not a transfer)."""

    label = "ANSWERS"

    def __init__(self, matches: list[StudyMatch]) -> None:
        self.matches = matches

    def query(self, patient_id: str, issuer: str | None) -> list[StudyMatch]:
        return list(self.matches)

    def retrieve(self, study_uid: str) -> int:
        raise AssertionError("nothing to retrieve in these tests")


class Site:
    def __init__(self, home: Path) -> None:
        url = f"sqlite:///{home / 'bg.db'}"
        upgrade(url)
        self.db = Database(url)
        self.blobs = BlobStore(home / "store")
        self.ingest = IngestService(self.db, self.blobs)
        self.echo, self.plain = PriorEcho(), NoPriors()
        registry = Registry([self.echo, self.plain])
        self.policy = PriorPolicy(
            wanted={self.echo.manifest.id: ("MG",)}, count=2, years=5, wait_seconds=WAIT, fetching=True
        )
        rules = [Rule(a.manifest.id, modalities=("MG",)) for a in (self.echo, self.plain)]
        self.queued: list[tuple[int, float]] = []
        self.assembler = StudyAssembler(
            self.db, rules, 10, lambda i: self.queued.append((i, 0.0)), self.policy
        )
        self.now = datetime.now(UTC)
        config = RunnerConfig(
            results_path=home / "results", destinations=[], lease_seconds=30, max_attempts=3,
            default_mode=Mode.INTEGRATED, priors=self.policy,
        )  # fmt: skip
        self.runner = JobRunner(
            self.db, registry, self.blobs, config, owner="t",
            requeue=lambda i, d: self.queued.append((i, d)), clock=lambda: self.now,
        )  # fmt: skip
        self.incoming = home / "in"
        self.incoming.mkdir()

    def receive(self, datasets: list[pydicom.Dataset]) -> str:
        for ds in datasets:
            path = self.incoming / f"{ds.SOPInstanceUID}.dcm"
            ds.save_as(path, enforce_file_format=True)
            assert self.ingest.store_received(path, calling_ae="MOD", command_sop_instance_uid=None) == 0
        return str(datasets[0].StudyInstanceUID)

    def run_queued(self) -> None:
        pending, self.queued = self.queued, []
        for job_id, _delay in pending:
            self.runner.run(job_id)

    def jobs(self, uid: str) -> dict[str, JobState]:
        with self.db.session() as s:
            return {j.algorithm_id: j.state for j in ledger.list_for_study(s, uid)}

    def stored_priors(self, uid: str) -> dict[str, object]:
        with self.db.session() as s:
            (stored,) = [r for r in result_store.for_study(s, uid) if r.algorithm_id == self.echo.manifest.id]
        document = build_results(uid, [result_from_payload(stored.payload)])
        (echo,) = [a for a in document["algorithms"] if a["id"] == self.echo.manifest.id]
        priors: dict[str, object] = echo["priors"]
        assert priors == stored.payload["priors"] | {"text": priors["text"]}
        return priors


def _issued(datasets: list[pydicom.Dataset], issuer: str) -> list[pydicom.Dataset]:
    for ds in datasets:
        ds.IssuerOfPatientID = issuer
    return datasets


@pytest.fixture(scope="module")
def base() -> list[pydicom.Dataset]:
    return prior_study(800, PATIENT, "20261120", shrink=16)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path)
    yield site
    site.db.dispose()


def test_a_current_study_whose_prior_never_comes_runs_after_the_wait_and_says_so(
    site: Site, base: list[pydicom.Dataset]
) -> None:
    uid = site.receive(restamp(base, PATIENT, "20261120", "A801"))
    assert len(site.assembler.tick()) == 2
    # The PACS is down: nothing listens on its port (a real connection refused, retried later).
    down = DicomNode("DOWNPACS", "127.0.0.1", free_port())
    fetcher = PriorFetcher("BREASTGATE", connect_timeout=2)
    worker = PrefetchWorker(site.db, MoveSource(fetcher, down, "BREASTGATE"), count=2, years=5)
    assert worker.run_once() == 1
    with site.db.session() as s:
        entry = prefetch.for_study(s, uid)
    assert entry is not None and entry.state is FetchState.PENDING and entry.attempts == 1

    site.run_queued()  # the plain algorithm runs at once; the echo waits, queued again, unclaimed
    assert site.jobs(uid) == {"test.prior_echo": JobState.QUEUED, "test.no_priors": JobState.DONE}
    assert [d for _i, d in site.queued] == [2.0]
    assert site.plain.seen[0].prior_status is PriorStatus.NOT_SOUGHT and site.echo.seen == []
    with site.db.session() as s:
        (echo_job,) = [j for j in ledger.list_for_study(s, uid) if j.algorithm_id == "test.prior_echo"]
    assert echo_job.attempts == 0  # waiting spends no attempt

    site.now += timedelta(seconds=WAIT / 2)
    site.run_queued()
    assert site.jobs(uid)["test.prior_echo"] is JobState.QUEUED and site.echo.seen == []

    site.now += timedelta(seconds=WAIT)  # the wait ran out
    site.run_queued()
    assert site.jobs(uid)["test.prior_echo"] is JobState.DONE
    (seen,) = site.echo.seen
    assert (seen.prior_status, seen.priors, seen.study_date) == (PriorStatus.NOT_IN_TIME, (), "20261120")
    assert site.stored_priors(uid) == {
        "status": "not_in_time",
        "text": "prior not fetched in time",
        "study_instance_uids": [],
        "message": "prior not fetched in time",
    }


def test_held_priors_reach_the_algorithm_most_recent_first_within_the_years(
    site: Site, base: list[pydicom.Dataset]
) -> None:
    older = site.receive(restamp(base, PATIENT, "20230301", "A802"))
    newer = site.receive(restamp(base, PATIENT, "20250301", "A803"))
    site.receive(restamp(base, PATIENT, "20180301", "A804"))  # older than 5 years
    site.receive(restamp(base, "SOMEONEELSE", "20250601", "A805"))
    site.receive(_issued(restamp(base, PATIENT, "20250901", "A808"), "HOSP-B"))  # same id, other issuer
    site.assembler.tick()  # the earlier studies were routed in their day
    site.queued.clear()
    uid = site.receive(_issued(restamp(base, PATIENT, "20261120", "A806"), "HOSP-A"))
    site.assembler.tick()
    # The PACS answered; it has nothing the gateway does not hold already.
    worker = PrefetchWorker(site.db, Answers([]), count=2, years=5)
    while worker.run_once():
        pass
    site.run_queued()
    seen = [s for s in site.echo.seen if s.study_instance_uid == uid]
    assert len(seen) == 1 and seen[0].prior_status is PriorStatus.HELD
    assert [(p.study_instance_uid, p.study_date, len(p.instances)) for p in seen[0].priors] == [
        (newer, "20250301", 4),
        (older, "20230301", 4),
    ]
    assert site.stored_priors(uid)["study_instance_uids"] == [newer, older]


def test_the_pacs_answered_nothing_fits_none_available(site: Site, base: list[pydicom.Dataset]) -> None:
    uid = site.receive(restamp(base, PATIENT, "20261120", "A807"))
    site.assembler.tick()
    answers = Answers([StudyMatch("1.2.3.4", "20261001", ("US",))])  # a prior, but not MG
    assert PrefetchWorker(site.db, answers, count=2, years=5).run_once() == 1
    site.run_queued()
    (seen,) = site.echo.seen
    assert (seen.prior_status, seen.priors) == (PriorStatus.NONE_AVAILABLE, ())
    assert site.stored_priors(uid)["text"] == "no prior available"
