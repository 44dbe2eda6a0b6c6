"""Lease sweeper: re-queues jobs whose worker died, and queue messages that went missing."""

from __future__ import annotations

import logging
from collections.abc import Callable

from breastgate.jobs import ledger
from breastgate.store.db import Database

LOGGER = logging.getLogger(__name__)


class LeaseSweeper:
    """Call :meth:`tick` periodically (the runtime does, once a second by default)."""

    def __init__(self, db: Database, enqueue: Callable[[int], None], requeue_after_seconds: float = 60.0):
        self._db = db
        self._enqueue = enqueue
        self._requeue_after = requeue_after_seconds

    def tick(self) -> list[int]:
        with self._db.session() as session:
            expired = ledger.requeue_expired(session)
            lost = ledger.queued_older_than(session, self._requeue_after)
        for job_id in expired:
            LOGGER.warning("job %s lease expired; re-queued", job_id)
        for job_id in [*expired, *lost]:
            self._enqueue(job_id)
        return [*expired, *lost]
