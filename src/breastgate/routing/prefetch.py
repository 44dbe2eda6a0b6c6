"""Prior pre-fetch worker: claim owed pre-fetches, query the PACS, retrieve the priors, record the outcome.

Runs in its own background thread (never in the MLLP round trip: the order is ACKed as soon as it
and the owed pre-fetch are committed). Network I/O happens outside database transactions; each
study is flagged as a prior, committed, before its C-MOVE is sent, so the assembler never routes
it. Retryable failures (PACS down or busy) are retried with backoff, never dropped; a permanent
one (the PACS refuses, e.g. it does not know our AE title) marks the row ``failed`` with the reason.
Logs name the pre-fetch and order ids, never the patient.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from breastgate.domain.errors import PermanentDeliveryError, RetryableDeliveryError
from breastgate.domain.model import DicomNode
from breastgate.jobs.polling import PollingWorker
from breastgate.jobs.retry import RetryPolicy
from breastgate.routing.priors import StudyMatch
from breastgate.store import prefetch
from breastgate.store.db import Database
from breastgate.store.prefetch import FetchEntry

LOGGER = logging.getLogger(__name__)


class Fetcher(Protocol):
    """What the worker needs from :class:`~breastgate.routing.qr.PriorFetcher` (a test seam)."""

    def find_priors(
        self,
        node: DicomNode,
        patient_id: str,
        before_date: str | None,
        modalities: Sequence[str] = ("MG",),
        limit: int = 2,
        current: StudyMatch | None = None,
    ) -> list[StudyMatch]: ...

    def move(self, node: DicomNode, study_uid: str, destination_ae: str | None = None) -> int: ...


class PrefetchWorker(PollingWorker):
    """Drains ``prior_fetch``.

    Parameters
    ----------
    db
        The gateway database.
    fetcher
        C-FIND / C-MOVE SCU.
    node
        The PACS to ask (the first ``BG_PACS`` node).
    destination_ae
        Our Storage SCP's AE title (C-MOVE destination).
    count
        How many priors per order (``BG_PRIOR_COUNT``).
    policy
        Backoff between attempts.
    """

    def __init__(
        self,
        db: Database,
        fetcher: Fetcher,
        node: DicomNode,
        destination_ae: str,
        *,
        count: int = 2,
        modalities: Sequence[str] = ("MG",),
        policy: RetryPolicy | None = None,
        owner_id: str | None = None,
        lease_seconds: float = 600.0,
        batch: int = 4,
    ) -> None:
        self.db = db
        self.fetcher = fetcher
        self.node = node
        self.destination_ae = destination_ae
        self.count = count
        self.modalities = tuple(modalities)
        self.policy = policy or RetryPolicy()
        self.owner_id = owner_id or f"prefetch-{uuid.uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.thread_name = "prior-fetch"
        super().__init__()

    def run_once(self, now: datetime | None = None) -> int:
        """Claim due pre-fetches and try each once; return how many were tried."""
        with self.db.session() as session:
            entries = prefetch.claim_due(
                session, owner=self.owner_id, now=now, lease_seconds=self.lease_seconds, limit=self.batch
            )
        for entry in entries:
            self._fetch(entry, now)
        return len(entries)

    def _fetch(self, entry: FetchEntry, now: datetime | None) -> None:
        found = moved = 0
        try:
            current = StudyMatch(entry.requested_study_uid or "", None, (), entry.accession_number)
            priors = self.fetcher.find_priors(
                self.node, entry.patient_id, entry.before_date, self.modalities, self.count, current
            )
            found = len(priors)
            with self.db.session() as session:
                have = prefetch.known_studies(session, [p.study_instance_uid for p in priors])
                todo = [p for p in priors if p.study_instance_uid not in have]
                prefetch.flag_priors(session, entry.id, [(p.study_instance_uid, p.study_date) for p in todo])
            for prior in todo:
                self.fetcher.move(self.node, prior.study_instance_uid, self.destination_ae)
                with self.db.session() as session:
                    prefetch.mark_retrieved(session, prior.study_instance_uid)
                moved += 1
        except PermanentDeliveryError as exc:
            self._record_failed(entry, f"{type(exc).__name__}: {exc}")
        except RetryableDeliveryError as exc:
            self._record_retry(entry, f"{type(exc).__name__}: {exc}", now)
        except Exception as exc:  # a bug must not lose the pre-fetch: retry, loudly
            LOGGER.exception("prior fetch %d (order %d): unexpected error", entry.id, entry.order_id)
            self._record_retry(entry, f"{type(exc).__name__}: {exc}", now)
        else:
            with self.db.session() as session:
                prefetch.mark_done(session, entry.id, owner=self.owner_id, found=found, moved=moved, now=now)
            LOGGER.info(
                "prior fetch %d (order %d): %d prior(s) found on %s, %d retrieved, %d already here",
                entry.id, entry.order_id, found, self.node.ae_title, moved, found - moved,
            )  # fmt: skip

    def _record_retry(self, entry: FetchEntry, error: str, now: datetime | None) -> None:
        attempts = entry.attempts + 1
        when = self.policy.next_attempt_at(attempts, now or datetime.now(UTC))
        with self.db.session() as session:
            kept = prefetch.mark_retry(
                session, entry.id, owner=self.owner_id, error=error, next_attempt_at=when
            )
        LOGGER.warning(
            "prior fetch %d (order %d) failed (attempt %d), retry at %s: %s%s",
            entry.id, entry.order_id, attempts, when.isoformat(timespec="seconds"), error,
            "" if kept else " (lease lost; not recorded)",
        )  # fmt: skip

    def _record_failed(self, entry: FetchEntry, error: str) -> None:
        with self.db.session() as session:
            kept = prefetch.mark_failed(session, entry.id, owner=self.owner_id, error=error)
        LOGGER.error(
            "prior fetch %d (order %d) failed permanently: %s%s",
            entry.id, entry.order_id, error, "" if kept else " (lease lost; not recorded)",
        )  # fmt: skip
