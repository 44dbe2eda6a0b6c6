"""Ingest use-case: a received Part 10 temp file becomes a durable, indexed instance.

Failures map once, here, to DICOM C-STORE statuses (PS3.4 Annex B.2.3, Table B.2-1):
0x0000 success (also for a duplicate), 0xC210 cannot understand (truncated, undecodable,
missing UIDs), 0xA700 out of resources (the file or index could not be written).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from breastgate.domain.errors import InvalidInputError, StorageError
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.headers import HeaderInfo, read_header
from breastgate.store.intake import commit_instance
from breastgate.store.studies import RecordOutcome

LOGGER = logging.getLogger(__name__)

SUCCESS = 0x0000
CANNOT_UNDERSTAND = 0xC210
OUT_OF_RESOURCES = 0xA700


class IngestService:
    """Store received instances durably and index them (DESIGN §5: success only after both)."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def store_received(
        self,
        temp_path: Path,
        *,
        calling_ae: str,
        command_sop_instance_uid: str | None,
        actor: str | None = None,
    ) -> int:
        """Commit and index one received Part 10 file; return the C-STORE status.

        ``temp_path`` is moved into the store on success; on failure it is left for the
        caller (pynetdicom unlinks it after the handler returns). ``actor`` names the sender in
        the audit trail (default ``dicom:<calling_ae>``; STOW-RS: the signed-in user).
        """
        try:
            header = read_header(temp_path)
        except InvalidInputError as exc:
            LOGGER.warning(
                "C-STORE from %s refused (0xC210): %s [sop=%s]", calling_ae, exc, command_sop_instance_uid
            )
            return CANNOT_UNDERSTAND
        except OSError as exc:
            LOGGER.error("cannot read received file from %s: %s", calling_ae, exc.strerror)
            return OUT_OF_RESOURCES
        if command_sop_instance_uid and command_sop_instance_uid.strip("\x00 ") != header.sop_instance_uid:
            # Read tolerantly: the dataset's UID is the one the object carries everywhere else.
            LOGGER.warning(
                "Affected SOP Instance UID %s differs from the dataset's %s; indexing the dataset's",
                command_sop_instance_uid,
                header.sop_instance_uid,
            )
        try:
            outcome = self._commit(temp_path, header, calling_ae, actor or f"dicom:{calling_ae}")
        except (StorageError, OSError, SQLAlchemyError) as exc:
            LOGGER.error("cannot store %s (0xA700): %s", header.sop_instance_uid, exc)
            return OUT_OF_RESOURCES
        if outcome is None or outcome.duplicate:
            LOGGER.info("duplicate %s ignored", header.sop_instance_uid)
        else:
            LOGGER.info(
                "stored %s study=%s generation=%d instances=%d%s",
                header.sop_instance_uid,
                header.study_instance_uid,
                outcome.generation,
                outcome.instance_count,
                " (study re-opened)" if outcome.reopened else "",
            )
        return SUCCESS

    def _commit(
        self, temp_path: Path, header: HeaderInfo, calling_ae: str, actor: str
    ) -> RecordOutcome | None:
        return commit_instance(self.db, self.blobs, temp_path, header, source=calling_ae, actor=actor)
