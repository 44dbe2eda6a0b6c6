"""The DICOM objects a job produces, as the pipeline stores, gates and delivers them."""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset


@dataclass(frozen=True)
class OutputObject:
    """A DICOM object produced for a study (to be stored and delivered).

    ``kind`` is an :class:`~breastgate.domain.outputs.OutputKind` value (``cad-sr``, ``gsps``,
    ``kos``, ``tid1500``, ``sc``, ``report-sr``, ``kinetic-map``, ``seg``, ``pmap``).
    """

    kind: str
    sop_instance_uid: str
    dataset: Dataset
