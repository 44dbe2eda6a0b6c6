"""Prior pre-fetch worker: claim owed pre-fetches, query the PACS, retrieve the priors, record the outcome.

One mechanism, any trigger: an order that arrives before its images and a current study routed to
an algorithm that wants priors both owe a ``prior_fetch`` row; this worker drains them alike.
Runs in its own background thread (never in the MLLP round trip: the order is ACKed as soon as it
and the owed pre-fetch are committed). Network I/O happens outside database transactions; each
study is flagged as a prior, committed, before it is retrieved, so the assembler never routes
it. Retryable failures (PACS down or busy) are retried with backoff, never dropped; a permanent
one (the PACS refuses, e.g. it does not know our AE title) marks the row ``failed`` with the reason.
Logs name the pre-fetch and order ids, never the patient.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from breastgate.domain.errors import PermanentDeliveryError, RetryableDeliveryError
from breastgate.jobs.polling import PollingWorker
from breastgate.jobs.retry import RetryPolicy
from breastgate.routing.priors import StudyMatch, select_priors, window
from breastgate.routing.retrieve import PriorSource
from breastgate.store import prefetch
from breastgate.store.db import Database
from breastgate.store.prefetch import FetchEntry

LOGGER = logging.getLogger(__name__)


class PrefetchWorker(PollingWorker):
    """Drains ``prior_fetch``: the pre-fetches owed by orders and by current studies alike.

    Parameters
    ----------
    db
        The gateway database.
    source
        Where priors come from (:mod:`breastgate.routing.retrieve`: C-MOVE, C-GET or DICOMweb).
    count
        How many priors at most per pre-fetch (``BG_PRIOR_COUNT``).
    years
        Priors no older than this many years before the current study (``BG_PRIOR_YEARS``;
        0: any age).
    modalities
        What a prior must hold when the pre-fetch does not say (an order's: MG).
    policy
        Backoff between attempts.
    """

    def __init__(
        self,
        db: Database,
        source: PriorSource,
        *,
        count: int = 2,
        years: float = 0.0,
        modalities: Sequence[str] = ("MG",),
        policy: RetryPolicy | None = None,
        owner_id: str | None = None,
        lease_seconds: float = 600.0,
        batch: int = 4,
    ) -> None:
        self.db = db
        self.source = source
        self.count = count
        self.years = years
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

    def select(self, entry: FetchEntry, matches: Sequence[StudyMatch]) -> list[StudyMatch]:
        """The priors ``entry`` wants among the PACS's ``matches`` (:func:`select_priors`)."""
        before, after = window(entry.before_date, self.years)
        current = StudyMatch(entry.requested_study_uid or "", None, (), entry.accession_number)
        return select_priors(
            matches,
            before,
            modalities=entry.modalities or self.modalities,
            limit=self.count,
            current=current,
            after_date=entry.after_date or after,
            issuer_of_patient_id=entry.issuer_of_patient_id,
        )

    def _fetch(self, entry: FetchEntry, now: datetime | None) -> None:
        found = moved = 0
        try:
            priors = self.select(entry, self.source.query(entry.patient_id, entry.issuer_of_patient_id))
            found = len(priors)
            with self.db.session() as session:
                have = prefetch.known_studies(session, [p.study_instance_uid for p in priors])
                todo = [p for p in priors if p.study_instance_uid not in have]
                prefetch.flag_priors(session, entry.id, [(p.study_instance_uid, p.study_date) for p in todo])
            for prior in todo:
                self.source.retrieve(prior.study_instance_uid)
                with self.db.session() as session:
                    prefetch.mark_retrieved(session, prior.study_instance_uid)
                moved += 1
        except PermanentDeliveryError as exc:
            self._record_failed(entry, f"{type(exc).__name__}: {exc}")
        except RetryableDeliveryError as exc:
            self._record_retry(entry, f"{type(exc).__name__}: {exc}", now)
        except Exception as exc:  # a bug must not lose the pre-fetch: retry, loudly
            LOGGER.exception("prior fetch %d (%s): unexpected error", entry.id, entry.trigger)
            self._record_retry(entry, f"{type(exc).__name__}: {exc}", now)
        else:
            with self.db.session() as session:
                prefetch.mark_done(session, entry.id, owner=self.owner_id, found=found, moved=moved, now=now)
            LOGGER.info(
                "prior fetch %d (%s): %d prior(s) found on %s, %d retrieved, %d already here",
                entry.id, entry.trigger, found, self.source.label, moved, found - moved,
            )  # fmt: skip

    def _record_retry(self, entry: FetchEntry, error: str, now: datetime | None) -> None:
        attempts = entry.attempts + 1
        when = self.policy.next_attempt_at(attempts, now or datetime.now(UTC))
        with self.db.session() as session:
            kept = prefetch.mark_retry(
                session, entry.id, owner=self.owner_id, error=error, next_attempt_at=when
            )
        LOGGER.warning(
            "prior fetch %d (%s) failed (attempt %d), retry at %s: %s%s",
            entry.id, entry.trigger, attempts, when.isoformat(timespec="seconds"), error,
            "" if kept else " (lease lost; not recorded)",
        )  # fmt: skip

    def _record_failed(self, entry: FetchEntry, error: str) -> None:
        with self.db.session() as session:
            kept = prefetch.mark_failed(session, entry.id, owner=self.owner_id, error=error)
        LOGGER.error(
            "prior fetch %d (%s) failed permanently: %s%s",
            entry.id, entry.trigger, error, "" if kept else " (lease lost; not recorded)",
        )  # fmt: skip
