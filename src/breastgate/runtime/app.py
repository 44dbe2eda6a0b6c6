"""Wiring: build every part from the Settings and start/stop them (the composition root)."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path

from breastgate import __version__
from breastgate.algorithms.registry import Registry
from breastgate.delivery.dicom import CStoreSender
from breastgate.delivery.folder import FolderSender
from breastgate.delivery.mllp import MllpSender
from breastgate.delivery.service import OutboxWorker, Sender
from breastgate.delivery.webhooks import WebhookSender
from breastgate.domain.governance import Mode
from breastgate.domain.model import AlgorithmManifest
from breastgate.domain.outputs import Endpoint, SenderKind
from breastgate.engines.config import load_engines
from breastgate.governance.configuration import record_configuration
from breastgate.governance.registry import register_algorithms
from breastgate.hl7.oru import MessageParties
from breastgate.hl7.profile import load_profile
from breastgate.ingest.messages import Hl7Service
from breastgate.ingest.mllp import MllpServer
from breastgate.ingest.scp import StorageSCP
from breastgate.ingest.service import IngestService
from breastgate.integrations.sectra.config import SectraConfig
from breastgate.jobs.queue import JobQueue, make_huey
from breastgate.jobs.retry import RetryPolicy
from breastgate.jobs.sweeper import LeaseSweeper
from breastgate.pipeline.drift_watch import DriftWatch
from breastgate.pipeline.handlers import JobRunner, RunnerConfig
from breastgate.pipeline.letters import LetterConfig
from breastgate.pipeline.publish.hl7 import Hl7Outbound
from breastgate.pipeline.reprioritise import reapply_policy
from breastgate.reporting.letters import LetterTemplate, SiteLetterhead
from breastgate.routing.assembly import StudyAssembler
from breastgate.routing.attach import PriorPolicy
from breastgate.routing.prefetch import PrefetchWorker
from breastgate.routing.qr import PriorFetcher
from breastgate.routing.retrieve import Intake, RetrieveSpec, build_source
from breastgate.routing.rules import rules_from_manifests
from breastgate.runtime.identity import auth_config, first_user, oidc_client
from breastgate.runtime.periodic import Periodic
from breastgate.runtime.settings import Settings
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.migrate import upgrade
from breastgate.web.api.deps import AppContext
from breastgate.worklist.policy import DEFAULT_POLICY, load_policy

LOGGER = logging.getLogger(__name__)


def letter_config(settings: Settings) -> LetterConfig | None:
    """Patient letters: where they go and the site's letterhead (None when no folder is set)."""
    if not settings.letters_to:
        return None
    letterhead = SiteLetterhead(
        site_name=settings.site_name,
        address_lines=tuple(line.strip() for line in settings.site_address.split("|") if line.strip()),
        phone=settings.site_phone,
        logo_path=Path(settings.site_logo) if settings.site_logo else None,
    )
    template = LetterTemplate.from_file(settings.letter_template) if settings.letter_template else None
    return LetterConfig(settings.letters_to, letterhead, template)


def configuration_snapshot(settings: Settings, policy: str) -> dict[str, object]:
    """The effective configuration as audited: every setting (secrets redacted by the recorder; list
    settings as the text an operator writes, :mod:`breastgate.runtime.setting_values`), the triage
    policy in force, and digests of the files read at start-up."""
    snapshot: dict[str, object] = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in settings.model_dump().items()
    }
    snapshot["triage_policy_in_force"] = policy
    for key in ("triage_policy", "engines", "letter_template", "hl7_profile", "sectra_launch_certificate"):
        path = Path(str(getattr(settings, key) or ""))
        if getattr(settings, key) and path.is_file():
            snapshot[f"{key}_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return snapshot


def configured_endpoints(settings: Settings, letters: LetterConfig | None) -> list[Endpoint]:
    """Every endpoint the outbox may deliver to, parsed once (the outbox worker looks rows up here)."""
    return [
        *settings.pacs,
        *settings.hl7_results_to,
        *settings.hl7_priority_to,
        *settings.webhooks,
        *(letters.to if letters is not None else ()),
    ]


def hl7_outbound(settings: Settings) -> Hl7Outbound:
    """Where HL7 results and priority updates go, and how they are written."""
    return Hl7Outbound(
        results_to=settings.hl7_results_to,
        priority_to=settings.hl7_priority_to,
        priority_style=settings.hl7_priority_style,
        profile=load_profile(settings.hl7_profile),
        parties=MessageParties(
            settings.ae_title,
            settings.hl7_facility,
            settings.hl7_receiving_application,
            settings.hl7_receiving_facility,
        ),
    )


def owner_id(role: str) -> str:
    """Lease owner: host, process and role, so a lease names who holds it."""
    return f"{socket.gethostname()}:{os.getpid()}:{role}"


def prior_policy(settings: Settings, manifests: Sequence[AlgorithmManifest]) -> PriorPolicy:
    """What each algorithm wants (manifest ``prior_modalities``), the selection rules and the wait."""
    return PriorPolicy(
        wanted={m.id: tuple(m.prior_modalities) for m in manifests if m.prior_modalities},
        count=settings.prior_count,
        years=settings.prior_years,
        wait_seconds=settings.prior_wait_seconds,
        fetching=settings.prior_count > 0 and bool(settings.pacs),
    )


def prefetch_worker(settings: Settings, db: Database, blobs: BlobStore) -> PrefetchWorker | None:
    """The prior pre-fetch worker: priors come from the first BG_PACS node, retrieved the way
    ``BG_PRIOR_RETRIEVE`` names for it (C-MOVE to our own AE title by default).

    None (no pre-fetch owed, none run) when ``BG_PRIOR_COUNT`` is 0 or there is no PACS."""
    if settings.prior_count <= 0 or not settings.pacs:
        return None
    node = settings.pacs[0]
    fetcher = PriorFetcher(calling_ae=settings.ae_title)
    intake = Intake(db, blobs, settings.home_path / "tmp" / "priors")
    spec = settings.prior_retrieve.get(node.ae_title, RetrieveSpec())
    return PrefetchWorker(
        db,
        build_source(spec, node, fetcher, intake),
        count=settings.prior_count,
        years=settings.prior_years,
        policy=RetryPolicy(settings.delivery_retry_base_seconds, settings.delivery_retry_max_seconds),
        owner_id=owner_id("prefetch"),
    )


class Core:
    """Database, blobs, algorithms and the job queue: what both ``serve`` and ``worker`` need."""

    def __init__(self, settings: Settings, role: str) -> None:
        self.settings = settings
        home = settings.home_path
        for path in (home, settings.store_path, settings.results_path, home / "tmp"):
            path.mkdir(parents=True, exist_ok=True)
        upgrade(settings.effective_database_url)
        self.policy = load_policy(Path(settings.triage_policy)) if settings.triage_policy else DEFAULT_POLICY
        self.db = Database(settings.effective_database_url)
        self.blobs = BlobStore(settings.store_path)
        self.registry = Registry.from_entry_points()
        self.sectra = SectraConfig.from_settings(settings)
        if settings.engines:
            for engine in load_engines(Path(settings.engines)):
                self.registry.add(engine)
        self.huey = make_huey(settings.effective_queue_url)
        self.runner = JobRunner(
            self.db,
            self.registry,
            self.blobs,
            RunnerConfig(
                results_path=settings.results_path,
                destinations=settings.pacs,
                objects=settings.pacs_objects,
                lease_seconds=settings.job_lease_seconds,
                max_attempts=settings.job_max_attempts,
                webhooks=settings.webhooks,
                launch=self.sectra.launch_refs(absolute=True),
                policy=self.policy,
                default_mode=Mode(settings.initial_mode),
                retry_base_seconds=settings.job_retry_base_seconds,
                retry_max_seconds=settings.job_retry_max_seconds,
                priors=prior_policy(settings, [a.manifest for a in self.registry.all()]),
                hl7=hl7_outbound(settings),
            ),
            owner=owner_id(role),
            requeue=self._requeue,
        )
        self.queue = JobQueue(self.huey, self.runner)
        register_algorithms(self.db, self.registry, Mode(settings.initial_mode))
        changed = record_configuration(self.db, configuration_snapshot(settings, self.policy.name))
        if changed:
            LOGGER.info("configuration changed since the last start: %s", ", ".join(sorted(changed)))

    def _requeue(self, job_id: int, delay: float = 0.0) -> None:
        self.queue.enqueue(job_id, delay=delay)

    def close(self) -> None:
        self.db.dispose()


class Gateway:
    """``breastgate serve``: DICOM SCP, assembly, sweeper, outbox sender and (optionally) workers."""

    def __init__(self, settings: Settings, *, workers_in_process: bool = True) -> None:
        self.settings = settings
        self.core = Core(settings, "serve")
        self.workers_in_process = workers_in_process and settings.workers > 0
        manifests = [a.manifest for a in self.core.registry.all()]
        rules = rules_from_manifests(manifests, settings.algorithms)
        self.assembler = StudyAssembler(
            self.core.db,
            rules,
            settings.stable_seconds,
            self.core.queue.enqueue,
            prior_policy(settings, manifests),
        )
        self.sweeper = LeaseSweeper(self.core.db, self.core.queue.enqueue)
        self.ingest = IngestService(self.core.db, self.core.blobs)
        self.scp = StorageSCP(
            self.ingest,
            ae_title=settings.ae_title,
            host=settings.dicom_host,
            port=settings.dicom_port,
            allowed_calling_aes=settings.allowed_calling_aes,
            max_pdu=settings.dicom_max_pdu,
            temp_dir=settings.home_path / "tmp",
        )
        self.prefetch = prefetch_worker(settings, self.core.db, self.core.blobs)
        self.hl7 = Hl7Service(
            self.core.db,
            application=settings.ae_title,
            processing_ids=settings.hl7_processing_ids,
            prefetch_priors=self.prefetch is not None,
        )
        self.mllp = MllpServer(
            self.hl7.handle,
            self.hl7.oversize,
            host=settings.hl7_host,
            port=settings.hl7_port,
            max_frame_bytes=self.hl7.max_frame_bytes,
        )
        senders: dict[SenderKind, Sender] = {
            SenderKind.DICOM: CStoreSender(calling_ae=settings.ae_title),
            SenderKind.HL7: MllpSender(),
            SenderKind.LETTER: FolderSender(),
        }
        if settings.webhook_secret:  # load_settings refuses webhooks without one
            senders[SenderKind.WEBHOOK] = WebhookSender(
                secret=settings.webhook_secret, timeout=settings.webhook_timeout_seconds
            )
        self.letters = letter_config(settings)
        self.outbox = OutboxWorker(
            self.core.db,
            senders,
            RetryPolicy(settings.delivery_retry_base_seconds, settings.delivery_retry_max_seconds),
            owner_id=owner_id("outbox"),
            endpoints=configured_endpoints(settings, self.letters),
        )
        self.ticker = Periodic(
            "assembly", settings.sweep_interval_seconds, [self.assembler.tick, self.sweeper.tick]
        )
        self.drift = DriftWatch(
            self.core.db, self.core.blobs, results_path=settings.results_path,
            webhooks=settings.webhooks, baseline_days=settings.drift_baseline_days,
            current_days=settings.drift_current_days,
        )  # fmt: skip
        seconds = settings.drift_check_seconds
        self.drift_ticker = Periodic("drift", seconds, [self.drift.tick]) if seconds > 0 else None
        self.oidc = oidc_client(settings)

    def context(self) -> AppContext:
        return AppContext(
            db=self.core.db,
            version=__version__,
            ae_title=self.settings.ae_title,
            dicom_port=self.scp.port,
            hl7_port=self.mllp.port,
            workers_in_process=self.workers_in_process,
            letters=self.letters,
            blobs=self.core.blobs,
            results_path=self.settings.results_path,
            webhooks=self.settings.webhooks,
            policy=self.core.policy,
            initial_mode=Mode(self.settings.initial_mode),
            sectra=self.core.sectra,
            auth=auth_config(self.settings),
            hl7=hl7_outbound(self.settings),
            oidc=self.oidc,
        )

    def start(self) -> None:
        first_user(self.core.db, self.settings)
        changed = reapply_policy(self.core.db, self.core.policy, Mode(self.settings.initial_mode))
        if changed:
            LOGGER.info("worklist: %d open studies re-ranked under %s", changed, self.core.policy.name)
        self.scp.start()
        self.mllp.start()
        if self.workers_in_process:
            self.core.queue.start_consumer(self.settings.workers)
        self.outbox.start(interval=0.5)
        if self.prefetch is not None:
            self.prefetch.start(interval=1.0)
        self.ticker.start()
        if self.drift_ticker is not None:
            self.drift_ticker.start()

    def stop(self) -> None:
        self.ticker.stop()
        if self.drift_ticker is not None:
            self.drift_ticker.stop()
        self.scp.stop()
        self.mllp.stop()
        if self.prefetch is not None:
            self.prefetch.stop()
        self.outbox.stop()
        if self.workers_in_process:
            self.core.queue.stop_consumer()
        self.core.close()
