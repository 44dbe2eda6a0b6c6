"""What the publishers share: writing result files, owing them through the outbox, and the state of
one study's publication (its gated results, cached summaries, what earlier publishers decided)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydicom.filewriter import dcmwrite
from sqlalchemy.orm import Session

from breastgate.domain.governance import Destination
from breastgate.domain.model import StudyRef
from breastgate.domain.outputs import Endpoint, SenderKind
from breastgate.governance.gate import Gated, StudyResults, version_key
from breastgate.pipeline.analysis import OutputObject
from breastgate.pipeline.summary import StudySummary, summarise
from breastgate.store import outbox
from breastgate.store.blobs import BlobStore
from breastgate.worklist.policy import DEFAULT_POLICY, TriagePolicy

if TYPE_CHECKING:
    from breastgate.pipeline.publish.report import DraftOutput

LOGGER = logging.getLogger(__name__)


class ResultFiles:
    """Result objects and messages as files under ``results_path/<Study Instance UID>/`` (blob store)."""

    def __init__(self, blobs: BlobStore, results_path: Path) -> None:
        self.blobs = blobs
        self.results_path = results_path

    def folder(self, study_uid: str) -> Path:
        return self.results_path / study_uid

    def dicom(self, study_uid: str, output: OutputObject) -> Path:
        """Write one DICOM object as a Part 10 file named after its kind and SOP Instance UID."""
        buffer = BytesIO()
        dcmwrite(buffer, output.dataset, enforce_file_format=True)
        return self.file(study_uid, f"{output.kind}-{output.sop_instance_uid}.dcm", buffer.getvalue())

    def file(self, study_uid: str, name: str, data: bytes) -> Path:
        path = self.folder(study_uid) / name
        self.blobs.write_bytes(path, data)
        return path


def owe(
    session: Session,
    *,
    kind: SenderKind,
    key: str,
    study_uid: str,
    path: Path,
    destinations: Iterable[Endpoint],
    held: bool = False,
) -> int:
    """Owe the file at ``path`` (outbox key ``key``) to every destination; idempotent per
    (destination, key). With ``held`` the rows wait for a radiologist's approval. Returns how many
    destinations were named."""
    count = 0
    for destination in destinations:
        outbox.enqueue(
            session,
            destination=str(destination),
            kind=kind,
            sop_instance_uid=key,
            study_instance_uid=study_uid,
            path=str(path),
            held=held,
        )
        count += 1
    return count


@dataclass
class StudyStep:
    """One study's publication: its gated results and what the publishers decided so far.

    Publishers run in order (PACS, worklist, report, HL7, webhooks); later ones read what earlier
    ones recorded: whether the worklist took the results (the HL7 priority update may follow) and
    whether the entry changed (``worklist.changed``), and the report draft (its text goes in the ORU).
    """

    session: Session
    study: StudyRef
    generation: int
    results: StudyResults
    policy: TriagePolicy = DEFAULT_POLICY
    worklist_ranked: bool = False
    worklist_changed: bool = False
    report: DraftOutput | None = None
    _summaries: dict[tuple[str, ...], StudySummary | None] = field(default_factory=dict)

    @property
    def uid(self) -> str:
        return self.study.study_instance_uid

    def summary(self, gated: Gated, *, render: bool) -> StudySummary | None:
        """The summary (assessment, triage and, with ``render``, the SC image) of the gated results;
        None when no result reaches the destination. Made once per set of results."""
        if not gated:
            return None
        key = (*sorted(version_key(r) for r in gated.results), str(render))
        if key not in self._summaries:
            self._summaries[key] = self._summarise(gated, render)
        return self._summaries[key]

    def _summarise(self, gated: Gated, render: bool) -> StudySummary | None:
        try:
            return summarise(self.study, gated.results, self.policy, render=render)
        except Exception:  # the summary image must never cost the study its results
            LOGGER.exception("study summary failed")
            try:
                return summarise(self.study, gated.results, self.policy, render=False)
            except Exception:
                return None


class Publisher(Protocol):
    """Publishes what one destination receives of a finished study."""

    destination: Destination

    def publish(self, step: StudyStep) -> None: ...
