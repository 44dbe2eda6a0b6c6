"""The job handler: claim → run → encode → store → gate → publish → complete, in one transaction.

At-least-once is safe because outputs have deterministic UIDs and the outbox is unique per
(destination, key): a job re-run after a worker died writes the same objects and owes nothing new.
The last job of a study's generation also publishes the study (summary, worklist, report, HL7,
webhooks), one publisher per destination (:mod:`breastgate.pipeline.publish`), each fed the
results the governance gate lets reach it (:mod:`breastgate.governance.gate`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from breastgate.algorithms.registry import Registry
from breastgate.domain.audit import AuditKind, canonical_data
from breastgate.domain.errors import AlgorithmUnavailableError, JobError, LeaseLostError
from breastgate.domain.governance import Destination, Mode
from breastgate.domain.model import AlgorithmResult, DicomNode, Job, JobState, StudyRef
from breastgate.domain.outputs import HttpEndpoint, OutputKind
from breastgate.domain.payload import result_to_payload
from breastgate.governance import approvals
from breastgate.governance.gate import StudyResults, version_key
from breastgate.governance.modes import ModeBook
from breastgate.integrations.sectra.refs import LaunchRefs
from breastgate.jobs import ledger
from breastgate.jobs.retry import RetryPolicy
from breastgate.pipeline.analysis import OutputObject, analyse
from breastgate.pipeline.publish.base import Publisher, ResultFiles, StudyStep
from breastgate.pipeline.publish.hl7 import Hl7Outbound, Hl7Publisher
from breastgate.pipeline.publish.pacs import PacsPublisher
from breastgate.pipeline.publish.report import ReportPublisher
from breastgate.pipeline.publish.webhooks import WebhookPublisher
from breastgate.pipeline.publish.worklist import WorklistPublisher
from breastgate.routing.attach import PriorPolicy, priors_for
from breastgate.store import audit, outbox, studies
from breastgate.store import results as result_store
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.outbox import OutboxState
from breastgate.worklist.policy import DEFAULT_POLICY, TriagePolicy

LOGGER = logging.getLogger(__name__)
PACS = Destination.PACS


@dataclass(frozen=True)
class RunnerConfig:
    """What the job runner needs from the settings."""

    results_path: Path
    #: The PACS nodes results go to (``BG_PACS``).
    destinations: Sequence[DicomNode | str]
    lease_seconds: float
    max_attempts: int
    hl7: Hl7Outbound = field(default_factory=Hl7Outbound)
    webhooks: Sequence[HttpEndpoint | str] = ()
    #: Absolute launch references (Sectra URL launch + BG_PUBLIC_URL) for webhooks and the ORU.
    launch: LaunchRefs | None = None
    policy: TriagePolicy = DEFAULT_POLICY
    #: Mode of an algorithm version with no recorded mode (new versions start silent).
    default_mode: Mode = Mode.SILENT
    #: Backoff between attempts of a failed job (an engine that is down comes back later):
    #: ``base * 2 ** (attempt - 1)`` seconds, at most ``max``; 0 re-queues at once.
    retry_base_seconds: float = 0.0
    retry_max_seconds: float = 300.0
    #: Object kinds each PACS node receives (BG_PACS_OBJECTS, by ``str(node)``); a node not listed
    #: gets DEFAULT_PACS_OBJECTS.
    objects: Mapping[str, frozenset[OutputKind]] = field(default_factory=dict)
    #: Prior selection and the wait for priors (BG_PRIOR_COUNT / _YEARS / _WAIT_SECONDS).
    priors: PriorPolicy = field(default_factory=PriorPolicy)

    def retry_delay(self, attempts: int) -> float:
        if self.retry_base_seconds <= 0:
            return 0.0
        policy = RetryPolicy(self.retry_base_seconds, max(self.retry_max_seconds, self.retry_base_seconds))
        return policy.delay(attempts).total_seconds()

    def nodes(self) -> list[DicomNode]:
        return [d if isinstance(d, DicomNode) else DicomNode.parse(d) for d in self.destinations]

    def webhook_endpoints(self) -> list[HttpEndpoint]:
        return [w if isinstance(w, HttpEndpoint) else HttpEndpoint.parse(w) for w in self.webhooks]


class _Heartbeat:
    """Renews the job lease every third of its length while the job runs."""

    def __init__(self, db: Database, job_id: int, owner: str, lease_seconds: float) -> None:
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(
            target=self._loop, args=(db, job_id, owner, lease_seconds), daemon=True, name=f"lease-{job_id}"
        )

    def _loop(self, db: Database, job_id: int, owner: str, lease_seconds: float) -> None:
        while not self._stop.wait(max(lease_seconds / 3.0, 0.2)):
            with db.session() as session:
                if not ledger.renew(session, job_id, owner, lease_seconds):
                    self.lost = True
                    return

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class JobRunner:
    """Runs one job by id; bound as the Huey task through :class:`~breastgate.jobs.queue.JobQueue`."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        blobs: BlobStore,
        config: RunnerConfig,
        owner: str,
        requeue: Callable[[int, float], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._db, self._registry, self._config = db, registry, config
        self._owner = owner
        self._requeue = requeue
        self._clock = clock or (lambda: datetime.now(UTC))
        self._files = ResultFiles(blobs, config.results_path)
        self._pacs = PacsPublisher(self._files, config.nodes(), config.objects)
        #: Study publishers, in order: later ones read what earlier ones decided (StudyStep).
        self._publishers: tuple[Publisher, ...] = (
            self._pacs,
            WorklistPublisher(),
            ReportPublisher(self._files),
            Hl7Publisher(self._files, config.hl7, config.launch),
            WebhookPublisher(self._files, config.webhook_endpoints(), config.launch),
        )

    def __call__(self, job_id: int) -> None:
        self.run(job_id)

    def run(self, job_id: int) -> None:
        if self._waits_for_priors(job_id):
            return
        with self._db.session() as session:
            job = ledger.claim(session, job_id, self._owner, self._config.lease_seconds)
        if job is None:
            LOGGER.debug("job %s not claimable (done or leased elsewhere)", job_id)
            return
        LOGGER.info("job %s started: %s attempt %s", job.id, job.algorithm_id, job.attempts)
        try:
            with _Heartbeat(self._db, job.id, self._owner, self._config.lease_seconds) as beat:
                self._execute(job)
                if beat.lost:
                    raise LeaseLostError(f"job {job.id} lost its lease")
        except Exception as exc:
            self._record_failure(job, exc)
            return
        LOGGER.info("job %s done", job.id)

    def _prior_modalities(self, algorithm_id: str) -> tuple[str, ...]:
        try:
            return tuple(self._registry.get(algorithm_id).manifest.prior_modalities)
        except AlgorithmUnavailableError:
            return ()

    def _waits_for_priors(self, job_id: int) -> bool:
        """True when the job's algorithm wants priors still being fetched within the wait: it is
        queued again (unclaimed, no attempt spent) to look later (:func:`routing.attach.priors_for`)."""
        with self._db.session() as session:
            job = ledger.get(session, job_id)
            if job is None or job.state is not JobState.QUEUED:
                return False
            modalities = self._prior_modalities(job.algorithm_id)
            study = studies.get_study_ref(session, job.study_instance_uid) if modalities else None
            if study is None:
                return False
            answer = priors_for(session, study, modalities, self._config.priors, self._clock())
        if answer.study is not None:
            return False
        LOGGER.debug("job %s waits %.1f s for its priors", job_id, answer.wait_seconds)
        if self._requeue is not None:
            with self._db.session() as session:
                ledger.touch_waiting(session, job_id, now=self._clock())
            self._requeue(job_id, answer.wait_seconds)
        return True

    def _execute(self, job: Job) -> None:
        algorithm = self._registry.get(job.algorithm_id)
        with self._db.session() as session:
            study = studies.get_study_ref(session, job.study_instance_uid)
            if study is not None:
                modalities = tuple(algorithm.manifest.prior_modalities)
                # Past the wait (checked before the claim): run with what is held, and say so.
                study = priors_for(session, study, modalities, self._config.priors, None).study
        if study is None:
            raise JobError(f"study of job {job.id} is not indexed")
        result, outputs = analyse(algorithm, study, self._pacs.built_kinds)
        paths = [self._files.dicom(job.study_instance_uid, o) for o in outputs]
        with self._db.session() as session:
            payload = self._store(session, job, result)
            results = StudyResults.load(session, job.study_instance_uid, self._config.default_mode)
            self._audit_inference(session, job, result, payload, outputs, results.book)
            self._pacs.publish_result(session, result, outputs, paths, results.book)
            # The last job of the study's generation publishes the study in the same transaction
            # (writers are serialised, so exactly one job sees all others finished).
            if self._last_of_generation(session, job):
                self._publish_study(session, study, results, job.generation)
            if not ledger.complete(session, job.id, self._owner):
                # Re-opened study or expired lease: roll back so only the current generation counts.
                raise LeaseLostError(f"job {job.id} lost its lease before completion")

    @staticmethod
    def _store(session: Session, job: Job, result: AlgorithmResult) -> dict[str, Any]:
        payload = result_to_payload(result)
        result_store.save(
            session,
            study_instance_uid=job.study_instance_uid,
            algorithm_id=result.algorithm_id,
            algorithm_version=result.algorithm_version,
            status=result.status.value,
            generation=job.generation,
            payload=payload,
        )
        return payload

    def _publish_study(
        self, session: Session, study: StudyRef, results: StudyResults, generation: int
    ) -> None:
        """Every destination gets what its gate lets through (DESIGN §6): a silent algorithm changes
        nothing anywhere, an assistive one only what breastgate shows."""
        step = StudyStep(session, study, generation, results, self._config.policy)
        for publisher in self._publishers:
            publisher.publish(step)
        uid = study.study_instance_uid
        if outbox.list_items(session, OutboxState.HELD, uid):
            approvals.request(session, uid, generation)
        reached = {
            version_key(r)
            for p in self._publishers
            for r in results.at(p.destination, OutputKind.SC if p.destination is PACS else None).results
        }
        silent = sorted({version_key(r) for r in results.stored} - reached)
        if silent:
            LOGGER.info("study summary: %s silent everywhere (stored and audited only)", ", ".join(silent))

    @staticmethod
    def _audit_inference(
        session: Session,
        job: Job,
        result: AlgorithmResult,
        payload: dict[str, Any],
        outputs: Sequence[OutputObject],
        book: ModeBook,
    ) -> None:
        """The inference event: who ran, on which inputs, what it said (digest) and where it may go."""
        digest = hashlib.sha256(canonical_data(payload).encode("utf-8")).hexdigest()
        audit.append(
            session,
            AuditKind.INFERENCE,
            actor=f"algorithm:{result.algorithm_id}",
            study_instance_uid=job.study_instance_uid,
            subject=f"{result.algorithm_id}@{result.algorithm_version}",
            data={
                "algorithm_id": result.algorithm_id,
                "version": result.algorithm_version,
                "status": result.status.value,
                "job": job.id,
                "attempt": job.attempts,
                "generation": job.generation,
                "inputs": list(result.input_sop_instance_uids),
                "output_digest": digest,
                "outputs": [o.sop_instance_uid for o in outputs],
                "findings": len(result.findings),
                "modes": {
                    d.value: book.mode(result.algorithm_id, result.algorithm_version, d).value
                    for d in Destination
                },
            },
        )

    @staticmethod
    def _last_of_generation(session: Session, job: Job) -> bool:
        others = [
            j
            for j in ledger.list_for_study(session, job.study_instance_uid)
            if j.generation == job.generation and j.id != job.id
        ]
        return all(j.state in (JobState.DONE, JobState.FAILED) for j in others)

    def _record_failure(self, job: Job, exc: Exception) -> None:
        permanent = isinstance(exc, AlgorithmUnavailableError)
        LOGGER.error("job %s failed: %s: %s", job.id, type(exc).__name__, exc)
        with self._db.session() as session:
            state = ledger.fail(
                session,
                job.id,
                self._owner,
                f"{type(exc).__name__}: {exc}",
                1 if permanent else self._config.max_attempts,
            )
        if state is not None and state.value == "queued" and self._requeue is not None:
            delay = self._config.retry_delay(job.attempts)
            if delay > 0:
                LOGGER.info("job %s retried in %.1f s (attempt %d failed)", job.id, delay, job.attempts)
            self._requeue(job.id, delay)
