"""The one durable path into the store: a Part 10 temp file becomes a committed, indexed instance.

C-STORE ingest (:mod:`breastgate.ingest.service`) and the prior retrievals that receive objects
themselves (C-GET, WADO-RS: :mod:`breastgate.routing.retrieve`) both end here, so every instance is
fsynced and renamed into place before it is indexed (DESIGN §5: success only after both), a
duplicate SOP Instance UID changes nothing, and each new instance writes one audit event.
"""

from __future__ import annotations

import logging
from pathlib import Path

from breastgate.domain.audit import AuditKind
from breastgate.store import audit
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.headers import HeaderInfo, read_header
from breastgate.store.orders import link_study
from breastgate.store.studies import RecordOutcome, instance_exists, record_instance

LOGGER = logging.getLogger(__name__)


def commit_instance(
    db: Database, blobs: BlobStore, temp_path: Path, header: HeaderInfo, *, source: str, actor: str
) -> RecordOutcome | None:
    """Move ``temp_path`` into the store and index it; None when the instance was already indexed.

    Parameters
    ----------
    source
        Who sent it, as indexed (``calling_ae`` of the instance): the peer's AE title.
    actor
        The audit actor, e.g. ``dicom:MODALITY`` or ``prior:ORTHANC``.

    Raises
    ------
    StorageError, OSError, SQLAlchemyError
        The file or index could not be written (nothing is indexed; the caller reports it).
    """
    with db.session() as session:
        if instance_exists(session, header.sop_instance_uid):
            return None
    size = temp_path.stat().st_size
    path = blobs.commit_file(
        temp_path, header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid
    )
    with db.session() as session:
        outcome = record_instance(session, header.to_instance_info(path, size, source))
        if not outcome.duplicate:
            audit.append(
                session,
                AuditKind.INSTANCE_RECEIVED,
                actor=actor,
                study_instance_uid=header.study_instance_uid,
                subject=header.sop_instance_uid,
                data={
                    "sop_class_uid": header.sop_class_uid,
                    "calling_ae": source,
                    "size_bytes": size,
                    "generation": outcome.generation,
                    "reopened": outcome.reopened,
                },
            )
        if outcome.study_created:
            # The order may have come first (DESIGN §4: accession number links orders and studies).
            link_study(session, header.study_instance_uid)
        return outcome


def store_file(
    db: Database, blobs: BlobStore, temp_path: Path, *, source: str, actor: str
) -> RecordOutcome | None:
    """Read the header of ``temp_path`` (checking its pixel data arrived whole) and commit it.

    Raises
    ------
    InvalidInputError
        Undecodable, truncated or missing UIDs (the file is left to the caller).
    StorageError, OSError, SQLAlchemyError
        As :func:`commit_instance`.
    """
    return commit_instance(db, blobs, temp_path, read_header(temp_path), source=source, actor=actor)
