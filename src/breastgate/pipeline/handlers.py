"""The job handler: claim → run algorithm → store result + outputs + outbox → done, in one transaction.

At-least-once is safe because outputs have deterministic UIDs and the outbox is unique per
(destination, SOP Instance UID): a job re-run after a worker died writes the same objects and
owes nothing new.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom.filewriter import dcmwrite
from sqlalchemy.orm import Session

from breastgate.algorithms.registry import Registry
from breastgate.domain.audit import AuditKind, canonical_data
from breastgate.domain.errors import AlgorithmUnavailableError, JobError, LeaseLostError
from breastgate.domain.governance import Destination, Mode
from breastgate.domain.model import DEFAULT_PACS_OBJECTS, AlgorithmResult, Job, JobState, StudyRef
from breastgate.governance import approvals
from breastgate.governance.modes import ModeBook
from breastgate.integrations.sectra.refs import LaunchRefs
from breastgate.jobs import ledger
from breastgate.pipeline.analysis import OutputObject, build_outputs, run_algorithm
from breastgate.pipeline.events import enqueue_event
from breastgate.pipeline.hl7_out import Hl7Outbound, enqueue_hl7
from breastgate.pipeline.report import DraftOutput, draft_report
from breastgate.pipeline.reprioritise import rank
from breastgate.pipeline.summary import StudySummary, shown_findings, summarise, summary_version
from breastgate.results.json import result_from_payload, result_to_payload
from breastgate.store import audit, outbox, studies
from breastgate.store import reports as report_store
from breastgate.store import results as result_store
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.outbox import OutboxState
from breastgate.worklist.policy import DEFAULT_POLICY, TriagePolicy, queue_for

LOGGER = logging.getLogger(__name__)
PACS = Destination.PACS


@dataclass(frozen=True)
class RunnerConfig:
    """What the job runner needs from the settings."""

    results_path: Path
    destinations: Sequence[str]
    lease_seconds: float
    max_attempts: int
    hl7: Hl7Outbound = field(default_factory=Hl7Outbound)
    webhooks: Sequence[str] = ()
    #: Absolute launch references (Sectra URL launch + BG_PUBLIC_URL) for webhooks and the ORU.
    launch: LaunchRefs | None = None
    policy: TriagePolicy = DEFAULT_POLICY
    #: Mode of an algorithm version with no recorded mode (new versions start silent).
    default_mode: Mode = Mode.SILENT
    #: Backoff between attempts of a failed job (an engine that is down comes back later):
    #: ``base * 2 ** (attempt - 1)`` seconds, at most ``max``; 0 re-queues at once.
    retry_base_seconds: float = 0.0
    retry_max_seconds: float = 300.0
    #: Object kinds each destination receives (BG_PACS_OBJECTS); a destination not listed gets
    #: DEFAULT_PACS_OBJECTS.
    objects: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def kinds_for(self, destination: str) -> frozenset[str]:
        return self.objects.get(destination, DEFAULT_PACS_OBJECTS)

    @property
    def built_kinds(self) -> frozenset[str]:
        """Object kinds worth building: every default kind (they are also kept beside the
        results), plus any kind a destination asks for."""
        return DEFAULT_PACS_OBJECTS.union(*self.objects.values())

    def retry_delay(self, attempts: int) -> float:
        if self.retry_base_seconds <= 0:
            return 0.0
        return float(min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(0, attempts - 1)))


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
    ) -> None:
        self._db, self._registry, self._blobs, self._config = db, registry, blobs, config
        self._owner = owner
        self._requeue = requeue

    def __call__(self, job_id: int) -> None:
        self.run(job_id)

    def run(self, job_id: int) -> None:
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

    def _execute(self, job: Job) -> None:
        with self._db.session() as session:
            study = studies.get_study_ref(session, job.study_instance_uid)
        if study is None:
            raise JobError(f"study of job {job.id} is not indexed")
        algorithm = self._registry.get(job.algorithm_id)
        result = run_algorithm(algorithm, study)
        outputs = build_outputs(study, algorithm, result, self._config.built_kinds)
        paths = [self._write(job.study_instance_uid, o) for o in outputs]
        payload = result_to_payload(result)
        with self._db.session() as session:
            book = ModeBook.load(session, self._config.default_mode)
            result_store.save(
                session,
                study_instance_uid=job.study_instance_uid,
                algorithm_id=result.algorithm_id,
                algorithm_version=result.algorithm_version,
                status=result.status.value,
                generation=job.generation,
                payload=payload,
            )
            self._audit_inference(session, job, result, payload, outputs, book)
            held = book.needs_approval(result.algorithm_id, result.algorithm_version, PACS)
            owed = [
                (o, p)
                for o, p in zip(outputs, paths, strict=True)
                if book.allows(result.algorithm_id, result.algorithm_version, PACS, o.kind)
            ]
            self._enqueue(session, job.study_instance_uid, [o for o, _ in owed], [p for _, p in owed], held)
            if not ledger.complete(session, job.id, self._owner):
                # Re-opened study or expired lease: roll back so only the current generation counts.
                raise LeaseLostError(f"job {job.id} lost its lease before completion")
            # The last job of the study's generation writes the study summary in the same
            # transaction (writers are serialised, so exactly one job sees all others finished).
            if self._last_of_generation(session, job):
                stored = [
                    result_from_payload(r.payload)
                    for r in result_store.for_study(session, study.study_instance_uid)
                ]
                self._summary_step(session, study, stored, job.generation, book)

    def _summary_step(
        self,
        session: Session,
        study: StudyRef,
        stored: list[AlgorithmResult],
        generation: int,
        book: ModeBook,
    ) -> None:
        """The study summary, gated per destination: each destination sees only the results whose
        algorithm version's mode lets them reach it (DESIGN §6), so a silent algorithm changes
        nothing anywhere and an assistive one only what breastgate shows."""
        uid = study.study_instance_uid
        folder = self._config.results_path / uid
        summaries: dict[tuple[str, ...], StudySummary | None] = {}

        def summary_of(results: list[AlgorithmResult], render: bool) -> StudySummary | None:
            key = (*sorted(f"{r.algorithm_id}@{r.algorithm_version}" for r in results), str(render))
            if key not in summaries:
                summaries[key] = self._summary(study, results, render) if results else None
            return summaries[key]

        pacs = book.select(stored, PACS, "sc")
        summary = summary_of(pacs, True)
        if summary is not None and summary.outputs:
            outputs = list(summary.outputs)
            paths = [self._write(uid, o) for o in outputs]
            self._enqueue(session, uid, outputs, paths, book.any_needs_approval(pacs, PACS))
        changed = False
        for_worklist = book.select(stored, Destination.WORKLIST)
        worklist_summary = summary_of(for_worklist, False)
        if worklist_summary is not None:
            changed = self._worklist(session, study, worklist_summary)
        for_report = book.select(stored, Destination.REPORT)
        report_summary = summary_of(for_report, False)
        report = None
        if report_summary is not None:
            report = self._report(session, study, for_report, report_summary, generation)
        for_hl7 = book.select(stored, Destination.HL7)
        hl7_summary = summary_of(for_hl7, False)
        if hl7_summary is not None:
            enqueue_hl7(
                session,
                self._config.hl7,
                self._blobs,
                folder,
                study,
                for_hl7,
                hl7_summary,
                generation,
                report_lines=report.text.splitlines() if report is not None else (),
                priority_update=worklist_summary is not None,
                held=book.any_needs_approval(for_hl7, Destination.HL7),
                links=self._config.launch.pairs(uid, [f.id for f in shown_findings(for_hl7)])
                if self._config.launch is not None
                else (),
            )
        for_hooks = book.select(stored, Destination.WEBHOOK)
        hooks_summary = summary_of(for_hooks, False)
        if hooks_summary is not None:
            self._events(session, folder, study, for_hooks, hooks_summary, generation, changed)
        if outbox.list_items(session, OutboxState.HELD, uid):
            approvals.request(session, uid, generation)
        silent = sorted(
            {f"{r.algorithm_id}@{r.algorithm_version}" for r in stored}
            - {
                f"{r.algorithm_id}@{r.algorithm_version}"
                for r in (*pacs, *for_worklist, *for_report, *for_hl7, *for_hooks)
            }
        )
        if silent:
            LOGGER.info("study summary: %s silent everywhere (stored and audited only)", ", ".join(silent))

    @staticmethod
    def _audit_inference(
        session: Session,
        job: Job,
        result: AlgorithmResult,
        payload: dict[str, Any],
        outputs: list[OutputObject],
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

    def _report(
        self,
        session: Session,
        study: StudyRef,
        results: list[AlgorithmResult],
        summary: StudySummary,
        generation: int,
    ) -> DraftOutput | None:
        """Draft the report, write its SR beside the results (not sent: a draft) and store both."""
        report = draft_report(study, results, summary)
        if report is None:
            return None
        sr_path = None
        if report.sr is not None:
            output = OutputObject("report-sr", str(report.sr.SOPInstanceUID), report.sr)
            sr_path = str(self._write(study.study_instance_uid, output))
        draft = report.draft
        report_store.save_draft(
            session,
            study.study_instance_uid,
            generation=generation,
            birads=draft.birads,
            density=draft.composition_category,
            text=report.text,
            draft_json=report.draft_json(),
            sr_path=sr_path,
        )
        return report

    def _events(
        self,
        session: Session,
        folder: Path,
        study: StudyRef,
        results: list[AlgorithmResult],
        summary: StudySummary,
        generation: int,
        worklist_changed: bool,
    ) -> None:
        """``study.results`` and, when the worklist entry changed, ``worklist.changed`` webhooks."""
        hooks = self._config.webhooks
        if not hooks:
            return
        uid, decision = study.study_instance_uid, summary.triage
        triage = {
            "priority": decision.priority.value,
            "score": decision.score,
            "flags": list(decision.flags),
            "policy": decision.policy,
        }
        version = summary_version(results)
        density = next((r.density for r in results if r.density is not None), None)
        kinds: dict[str, int] = {}
        for finding in shown_findings(results):
            kinds[finding.kind.value] = kinds.get(finding.kind.value, 0) + 1
        assessment = summary.assessment
        data = {
            "study_instance_uid": uid,
            "accession_number": study.accession_number,
            "generation": generation,
            "triage": triage,
            "assessment": None
            if assessment is None
            else {"birads": assessment.birads, "suspicion_score": assessment.suspicion_score},
            "density": density.category if density is not None else None,
            "findings": kinds,
            "algorithms": [
                {"id": r.algorithm_id, "version": r.algorithm_version, "status": r.status.value}
                for r in results
            ],
        }
        if self._config.launch is not None:
            data["launch"] = self._config.launch.document(uid, [f.id for f in shown_findings(results)])
        parts = (uid, generation, version)
        enqueue_event(
            session, self._blobs, folder, hooks, "study.results", data, study_uid=uid, key_parts=parts
        )
        if worklist_changed:
            change = {"study_instance_uid": uid, "accession_number": study.accession_number, **triage}
            change["queue"] = queue_for(decision)
            enqueue_event(
                session, self._blobs, folder, hooks, "worklist.changed", change, study_uid=uid,
                key_parts=(*parts, decision.priority.value, *decision.flags),
            )  # fmt: skip

    @staticmethod
    def _worklist(session: Session, study: StudyRef, summary: StudySummary) -> bool:
        """Put the study on the worklist (or re-rank it) with the policy's priority and flags."""
        decision = summary.triage
        modalities = sorted({i.modality for i in study.instances if i.modality})
        return rank(
            session,
            study.study_instance_uid,
            decision,
            reason="; ".join(decision.reasons) or f"results of generation {study.generation}",
            modality="MG" if "MG" in modalities else (modalities[0] if modalities else None),
            accession_number=study.accession_number,
            arrived_at=studies.first_received_at(session, study.study_instance_uid),
        )

    def _summary(self, study: StudyRef, results: list[AlgorithmResult], render: bool) -> StudySummary | None:
        policy = self._config.policy
        try:
            return summarise(study, results, policy, render=render)
        except Exception:  # the summary image must never cost the study its results
            LOGGER.exception("study summary failed")
            try:
                return summarise(study, results, policy, render=False)
            except Exception:
                return None

    def _enqueue(
        self,
        session: Session,
        study_uid: str,
        outputs: list[OutputObject],
        paths: list[Path],
        held: bool,
    ) -> None:
        for output, path in zip(outputs, paths, strict=True):
            for destination in self._config.destinations:
                if output.kind not in self._config.kinds_for(destination):
                    continue
                outbox.enqueue(
                    session,
                    destination=destination,
                    kind="dicom",
                    sop_instance_uid=output.sop_instance_uid,
                    study_instance_uid=study_uid,
                    path=str(path),
                    held=held,
                )

    def _write(self, study_uid: str, output: OutputObject) -> Path:
        buffer = BytesIO()
        dcmwrite(buffer, output.dataset, enforce_file_format=True)
        path = self._config.results_path / study_uid / f"{output.kind}-{output.sop_instance_uid}.dcm"
        self._blobs.write_bytes(path, buffer.getvalue())
        return path

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
