"""Outbox worker: claim due rows, send each with the sender for its kind, record the outcome.

Network I/O happens outside database transactions (SQLite takes its write lock at BEGIN), each
outcome in its own short transaction. Retryable failures are retried with backoff forever; a
permanent failure marks the row ``failed`` with the reason (DESIGN §5).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from breastgate.domain.errors import PermanentDeliveryError, RetryableDeliveryError
from breastgate.domain.outputs import Endpoint, SenderKind, parse_endpoint
from breastgate.jobs.polling import PollingWorker
from breastgate.jobs.retry import RetryPolicy
from breastgate.store import outbox
from breastgate.store.db import Database
from breastgate.store.outbox import OutboxEntry

LOGGER = logging.getLogger(__name__)

SENDER_KINDS = frozenset(k.value for k in SenderKind)


class Sender(Protocol):
    """Delivers one object to one endpoint or raises a ``DeliveryError``.

    Raise :class:`~breastgate.domain.errors.RetryableDeliveryError` for failures that may pass and
    :class:`~breastgate.domain.errors.PermanentDeliveryError` for refusals; anything else is
    treated as retryable. The endpoint is of the sender's kind
    (:func:`~breastgate.domain.outputs.parse_endpoint`).
    """

    def send(self, destination: Any, path: Path) -> None: ...


class OutboxWorker(PollingWorker):
    """Drains the outbox.

    Parameters
    ----------
    db
        The gateway database.
    senders
        Sender per outbox ``kind`` (e.g. ``{SenderKind.DICOM: CStoreSender(...)}``).
    endpoints
        The configured endpoints by their canonical text (the outbox row's ``destination``), parsed
        once at start-up; a row naming another endpoint (configured before a change) is parsed.
    policy
        Backoff between attempts.
    owner_id
        Lease owner name, unique per worker (default: random).
    lease_seconds
        How long a claim stays valid; a row whose worker died is claimed again after it.
    batch
        Rows claimed per :meth:`run_once`.
    """

    def __init__(
        self,
        db: Database,
        senders: Mapping[SenderKind, Sender],
        policy: RetryPolicy | None = None,
        owner_id: str | None = None,
        lease_seconds: float = 300.0,
        *,
        batch: int = 16,
        endpoints: Iterable[Endpoint] = (),
    ) -> None:
        self.db = db
        self.senders = dict(senders)
        self.endpoints = {str(e): e for e in endpoints}
        self.policy = policy or RetryPolicy()
        self.owner_id = owner_id or f"outbox-{uuid.uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.thread_name = f"outbox-{self.owner_id}"
        super().__init__()

    # One pass --------------------------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> int:
        """Claim due rows and try each once; return how many were tried.

        ``now`` fixes the clock for claiming and scheduling (tests); default is the current time.
        """
        with self.db.session() as session:
            entries = outbox.claim_due(
                session,
                owner=self.owner_id,
                now=self._now(now),
                lease_seconds=self.lease_seconds,
                limit=self.batch,
            )
        for entry in entries:
            self._deliver(entry, now)
        return len(entries)

    @staticmethod
    def _now(now: datetime | None) -> datetime:
        return now if now is not None else datetime.now(UTC)

    def _deliver(self, entry: OutboxEntry, now: datetime | None) -> None:
        sender = self.senders.get(SenderKind(entry.kind)) if entry.kind in SENDER_KINDS else None
        try:
            if sender is None:
                raise PermanentDeliveryError(f"no sender configured for kind {entry.kind!r}")
            sender.send(self._endpoint(entry), Path(entry.path))
        except PermanentDeliveryError as exc:
            self._record_failed(entry, f"{type(exc).__name__}: {exc}")
        except RetryableDeliveryError as exc:
            self._record_retry(entry, f"{type(exc).__name__}: {exc}", now)
        except Exception as exc:  # a sender bug must not drop the object: retry, loudly
            LOGGER.exception("outbox %s: unexpected error sending %s", entry.id, entry.sop_instance_uid)
            self._record_retry(entry, f"{type(exc).__name__}: {exc}", now)
        else:
            with self.db.session() as session:
                outbox.mark_sent(session, entry.id, now=self._now(now))
            LOGGER.info(
                "outbox %s: sent %s to %s (attempt %d)",
                entry.id,
                entry.sop_instance_uid,
                outbox.redact_destination(entry.destination),
                entry.attempts + 1,
            )

    def _endpoint(self, entry: OutboxEntry) -> Endpoint:
        known = self.endpoints.get(entry.destination)
        return known if known is not None else parse_endpoint(SenderKind(entry.kind), entry.destination)

    def _record_retry(self, entry: OutboxEntry, error: str, now: datetime | None) -> None:
        attempts = entry.attempts + 1
        when = self.policy.next_attempt_at(attempts, self._now(now))
        with self.db.session() as session:
            kept = outbox.mark_retry(
                session, entry.id, error=error, next_attempt_at=when, owner=self.owner_id
            )
        LOGGER.warning(
            "outbox %s: %s to %s failed (attempt %d), retry at %s: %s%s",
            entry.id,
            entry.sop_instance_uid,
            outbox.redact_destination(entry.destination),
            attempts,
            when.isoformat(timespec="seconds"),
            error,
            "" if kept else " (lease lost; not recorded)",
        )

    def _record_failed(self, entry: OutboxEntry, error: str) -> None:
        with self.db.session() as session:
            kept = outbox.mark_failed(session, entry.id, error=error, owner=self.owner_id)
        LOGGER.error(
            "outbox %s: %s to %s failed permanently: %s%s",
            entry.id,
            entry.sop_instance_uid,
            outbox.redact_destination(entry.destination),
            error,
            "" if kept else " (lease lost; not recorded)",
        )
