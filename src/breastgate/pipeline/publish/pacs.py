"""PACS objects (destination ``pacs``): each result's CAD SR, GSPS, KOS and TID 1500 (and, for a
DCE-MRI result, its kinetic map, SEG and Parametric Map), and the study's secondary-capture summary,
to every ``BG_PACS`` node that takes their kind (``BG_PACS_OBJECTS``).

Overlays (GSPS) need the algorithm version assistive at ``pacs``, every other object integrated
(:meth:`~breastgate.governance.modes.ModeBook.allows`); objects of a version that needs approval
wait in the outbox (``held``) for a radiologist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from breastgate.domain.governance import Destination
from breastgate.domain.model import AlgorithmResult, DicomNode
from breastgate.domain.outputs import DEFAULT_PACS_OBJECTS, OutputKind, SenderKind
from breastgate.governance.modes import ModeBook
from breastgate.pipeline.analysis import OutputObject
from breastgate.pipeline.publish.base import ResultFiles, StudyStep, owe

PACS = Destination.PACS


class PacsPublisher:
    """Owes result objects to the PACS nodes.

    Parameters
    ----------
    files
        Where objects are written.
    nodes
        The ``BG_PACS`` nodes.
    objects
        Object kinds per node (``str(node)``); a node not listed gets ``DEFAULT_PACS_OBJECTS``.
    """

    destination = PACS

    def __init__(
        self,
        files: ResultFiles,
        nodes: Sequence[DicomNode],
        objects: Mapping[str, frozenset[OutputKind]] | None = None,
    ) -> None:
        self.files = files
        self.nodes = tuple(nodes)
        self.objects = dict(objects or {})

    def kinds_for(self, node: DicomNode) -> frozenset[OutputKind]:
        return self.objects.get(str(node), DEFAULT_PACS_OBJECTS)

    @property
    def built_kinds(self) -> frozenset[OutputKind]:
        """Object kinds worth building: every default kind (they are also kept beside the
        results), plus any kind a node asks for."""
        return DEFAULT_PACS_OBJECTS.union(*self.objects.values())

    def publish_result(
        self,
        session: Session,
        result: AlgorithmResult,
        outputs: Sequence[OutputObject],
        paths: Sequence[Path],
        book: ModeBook,
    ) -> None:
        """One job's objects, as far as the version's mode at ``pacs`` lets each kind go."""
        version = (result.algorithm_id, result.algorithm_version)
        owed = [(o, p) for o, p in zip(outputs, paths, strict=True) if book.allows(*version, PACS, o.kind)]
        self._owe(session, result.study_instance_uid, owed, book.needs_approval(*version, PACS))

    def publish(self, step: StudyStep) -> None:
        """The study's secondary-capture summary of the results that may reach the PACS as objects."""
        gated = step.results.at(PACS, OutputKind.SC)
        summary = step.summary(gated, render=True)
        if summary is None or not summary.outputs:
            return
        owed = [(o, self.files.dicom(step.uid, o)) for o in summary.outputs]
        self._owe(step.session, step.uid, owed, gated.held)

    def _owe(
        self, session: Session, study_uid: str, owed: Sequence[tuple[OutputObject, Path]], held: bool
    ) -> None:
        for output, path in owed:
            nodes = [n for n in self.nodes if output.kind in self.kinds_for(n)]
            owe(
                session, kind=SenderKind.DICOM, key=output.sop_instance_uid, study_uid=study_uid,
                path=path, destinations=nodes, held=held,
            )  # fmt: skip
