"""The DICOM objects a job produces, as the pipeline stores, gates and delivers them."""

from __future__ import annotations

from dataclasses import dataclass

import pydicom
from pydicom.dataset import Dataset

from breastgate.domain.model import StudyRef


@dataclass(frozen=True)
class OutputObject:
    """A DICOM object produced for a study (to be stored and delivered).

    ``kind`` is an :class:`~breastgate.domain.outputs.OutputKind` value (``cad-sr``, ``gsps``,
    ``csps``, ``kos``, ``tid1500``, ``sc``, ``report-sr``, ``kinetic-map``, ``seg``, ``pmap``).
    """

    kind: str
    sop_instance_uid: str
    dataset: Dataset


def source_headers(study: StudyRef, sop_instance_uids: tuple[str, ...]) -> list[Dataset]:
    """Headers (no pixel data) of the given instances, read from the stored files."""
    wanted = set(sop_instance_uids)
    return [
        pydicom.dcmread(i.path, stop_before_pixels=True)
        for i in study.instances
        if i.sop_instance_uid in wanted
    ]
