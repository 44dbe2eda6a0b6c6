"""Webhook events out (``BG_WEBHOOKS``): written as JSON files and owed through the outbox.

Events and their ``data`` (no patient name or identifier: the accession number and the Study
Instance UID are what a receiver looks a study up by):

- ``study.results``: a study's results are complete (summary step): triage, assessment draft,
  density, the shown findings per kind, the algorithms and their status;
- ``worklist.changed``: a study's worklist priority, flags or queue changed, with the policy;
- ``report.confirmed``: a radiologist confirmed the report draft (category and density decided).

Each event's key derives from what it reports, so a re-run owes nothing new (the receiver also
gets it in ``X-Breastgate-Delivery`` to de-duplicate retries).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from breastgate.delivery.webhooks import webhook_body, webhook_key
from breastgate.store import outbox
from breastgate.store.blobs import BlobStore

LOGGER = logging.getLogger(__name__)

KIND = "webhook"


def enqueue_event(
    session: Session,
    blobs: BlobStore,
    folder: Path,
    destinations: Sequence[str],
    event: str,
    data: Mapping[str, Any],
    *,
    study_uid: str,
    key_parts: Sequence[object],
    now: datetime | None = None,
) -> str | None:
    """Write the event and owe it to every webhook destination; returns its key (None when none)."""
    if not destinations:
        return None
    key = webhook_key(event, *key_parts)
    path = folder / f"{key}.json"  # the sender reads the delivery id from the file name
    blobs.write_bytes(path, webhook_body(event, data, occurred_at=now or datetime.now(UTC)))
    for destination in destinations:
        outbox.enqueue(
            session, destination=destination, kind=KIND, sop_instance_uid=key, study_instance_uid=study_uid,
            path=str(path),
        )  # fmt: skip
    LOGGER.info("study %s: webhook %s owed to %d destination(s)", study_uid, event, len(destinations))
    return key
