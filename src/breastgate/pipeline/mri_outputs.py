"""DICOM objects of a DCE-MRI kinetics result (issue 18), built from its voxel maps and findings.

What an MRI result always yields (:func:`build_mri_outputs`):

- ``kinetic-map`` (series 9907): the colour kinetic map fused on the first post-contrast phase,
  a Multi-frame True Color SC (:class:`~breastgate.results.kinetic_map.KineticColourMap`), also
  when no lesion was found;
- ``pmap`` (9909): percent enhancement as a Parametric Map, when the result carries it;
- ``seg`` (9908): the lesions as a binary SEG, one segment per lesion with voxels;
- ``tid1500`` (9906): one TID 1500 report with a volumetric group per lesion, referencing the SEG;
  always built for MRI (it is the measurement record of the lesions); whether a PACS node
  receives it follows ``BG_PACS_OBJECTS`` (not a default kind), like the mammography one;
- ``kos`` (9905): a Key Object Selection of the key slices (each shown lesion's central slice,
  frame for an Enhanced MR).

No Mammography CAD SR (its IOD is for mammograms) and no GSPS: the colour map and the SEG show
the lesions. Pixel data of the first post-contrast phase is read slice by slice while the map is
rendered, never as a whole volume.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pixel_array

from breastgate.algorithms.base import Algorithm
from breastgate.domain.errors import EncodingError
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult, FindingKind, StudyRef
from breastgate.domain.outputs import OutputKind
from breastgate.pipeline.objects import OutputObject
from breastgate.results.kinetic_map import KineticColourMap
from breastgate.results.kos import KeyObjectSelectionDocument
from breastgate.results.lesion_seg import LesionSegmentation, lesions
from breastgate.results.mri_grid import (
    KINETIC_CLASS,
    LESION_LABELS,
    PERCENT_ENHANCEMENT,
    SourceGrid,
    find_volume,
    volume_array,
)
from breastgate.results.mri_report import LesionMeasurementReport
from breastgate.results.parametric_map import EnhancementParametricMap
from breastgate.results.tid1500 import shown_findings

LOGGER = logging.getLogger(__name__)


def is_mri_result(result: AlgorithmResult, manifest: AlgorithmManifest) -> bool:
    """A result for the MRI encoders, never the mammography ones: it carries voxel maps or
    enhancing-lesion findings, or its algorithm reads MR and not MG."""
    mr_only = "MR" in manifest.modalities and "MG" not in manifest.modalities
    return (
        mr_only
        or bool(result.volumes)
        or any(f.kind is FindingKind.ENHANCING_LESION for f in result.findings)
    )


class SliceReader(Sequence[npt.NDArray[np.float32]]):
    """Slice k of a grid as float32 modality values (Rescale Slope / Intercept applied: the frame's
    Pixel Value Transformation, PS3.3 C.7.6.16.2.9, else the top-level ones), decoded from the
    stored file on access, one frame at a time (``pydicom.pixels.pixel_array(path, index=...)``)."""

    def __init__(self, grid: SourceGrid, paths: dict[str, str]) -> None:
        self.grid, self.paths = grid, paths

    def __len__(self) -> int:
        return self.grid.slices

    @overload
    def __getitem__(self, k: int) -> npt.NDArray[np.float32]: ...
    @overload
    def __getitem__(self, k: slice) -> Sequence[npt.NDArray[np.float32]]: ...
    def __getitem__(self, k: int | slice) -> Any:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        header, frame = self.grid.source_reference(k)
        path = self.paths[str(header.SOPInstanceUID)]
        raw = pixel_array(path, index=None if frame is None else frame - 1)
        slope, intercept = _rescale(header, frame)
        return (raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)).astype(np.float32)


def _rescale(header: Dataset, frame: int | None) -> tuple[float, float]:
    holder: Dataset = header
    if frame is not None:
        for groups, index in (
            ("PerFrameFunctionalGroupsSequence", frame - 1),
            ("SharedFunctionalGroupsSequence", 0),
        ):
            items = header.get(groups)
            if (
                items is not None
                and 0 <= index < len(items)
                and "PixelValueTransformationSequence" in items[index]
            ):
                holder = items[index].PixelValueTransformationSequence[0]
                break
    return float(holder.get("RescaleSlope", 1) or 1), float(holder.get("RescaleIntercept", 0) or 0)


def build_mri_outputs(study: StudyRef, algorithm: Algorithm, result: AlgorithmResult) -> list[OutputObject]:
    """The DICOM objects of an MRI kinetics result (see the module docstring).

    A result without a ``kinetic_class`` map (an MR algorithm that found nothing to map) yields
    nothing.

    Raises
    ------
    EncodingError
        The result has enhancing lesions but no kinetic map, or a map does not fit its sources.
    """
    manifest = algorithm.manifest
    kinetic = find_volume(result, KINETIC_CLASS)
    if kinetic is None:
        if lesions(result):
            raise EncodingError(
                "an MRI result with lesions needs a kinetic_class volume for its DICOM outputs"
            )
        LOGGER.info("%s: MRI result without voxel maps; no DICOM outputs", result.algorithm_id)
        return []
    wanted = {uid for v in result.volumes for uid in v.source_sop_instance_uids}
    wanted |= {m.sop_instance_uid for f in result.findings for m in f.marks}
    paths = {i.sop_instance_uid: i.path for i in study.instances if i.sop_instance_uid in wanted}
    headers = [pydicom.dcmread(path, stop_before_pixels=True) for path in paths.values()]
    grid = SourceGrid.of(kinetic, headers)
    outputs: list[OutputObject] = []

    def add(kind: OutputKind, ds: Dataset) -> None:
        outputs.append(OutputObject(kind, str(ds.SOPInstanceUID), ds))

    add(OutputKind.KINETIC_MAP, KineticColourMap(result, manifest, headers, SliceReader(grid, paths)).dataset)
    if find_volume(result, PERCENT_ENHANCEMENT) is not None:
        add(OutputKind.PARAMETRIC_MAP, EnhancementParametricMap(result, manifest, headers).dataset)
    labels = find_volume(result, LESION_LABELS)
    if lesions(result) and labels is not None and volume_array(labels).any():
        seg = LesionSegmentation(result, manifest, headers)
        seg_dataset = seg.dataset
        add(OutputKind.SEG, seg_dataset)
        add(OutputKind.TID1500, LesionMeasurementReport(seg, seg_dataset).dataset)
    elif lesions(result):
        LOGGER.warning(
            "%s: enhancing lesions without lesion_labels voxels; no SEG or TID 1500", result.algorithm_id
        )
    shown = [f for f in shown_findings(result) if f.kind is FindingKind.ENHANCING_LESION]
    if shown:
        kos = KeyObjectSelectionDocument(
            shown, headers, result.algorithm_id, result.algorithm_version
        ).dataset
        add(OutputKind.KOS, kos)
    return outputs
