"""Segmentation (PS3.3 A.51, SOP Class 1.2.840.10008.5.1.4.1.1.66.4) of the lesions of a DCE-MRI result.

:class:`LesionSegmentation` encodes a kinetics result's ``lesion_labels`` voxel map (0 background,
n = the n-th finding) with highdicom's :class:`highdicom.seg.Segmentation`: BINARY, one segment per
enhancing-lesion finding that has voxels, segment n = finding n, on the source geometry (plane
positions, orientation and pixel measures of the first post-contrast phase; each frame's Derivation
Image Sequence names its source slice and, for an Enhanced MR source, frame). Only slices holding
lesion voxels are encoded, so a 512 × 512 × 160 grid costs a few frames, not 160 per segment.

Each segment (PS3.3 C.8.20.4, Segment Description): category (49755003, SCT, "Morphologically
Abnormal Structure") and type (52988006, SCT, "Lesion") (CID 7150 / 7151; an enhancing lesion may be
a mass or non-mass enhancement, so the generic "Lesion"), anatomic region Breast with the finding's
side as modifier (CID 244), algorithm type AUTOMATIC with the algorithm's id and version (Segmentation
Algorithm Identification, family (DCM, "Morphological Operations", CID 7162): thresholded kinetics,
connected components), and the finding id as Tracking ID with a deterministic Tracking UID shared
by the TID 1500 report (:func:`tracking_uid`), so the two name one lesion (IHE AIR).

Placement as every breastgate output: same study, Patient and General Study copied, series 9908,
deterministic UIDs (kinds ``seg``, ``seg-series``). The SEG IOD has no Frame Anatomy; each
segment's anatomic region carries its side instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult, Finding, FindingKind
from breastgate.results import codes as c
from breastgate.results.mri_grid import (
    LESION_LABELS,
    SourceGrid,
    highdicom_geometry,
    pin_derivation_sources,
    required_volume,
    volume_array,
)
from breastgate.results.placement import (
    creation_datetime,
    finish_instance,
    highdicom_fields,
    highdicom_refusal,
)
from breastgate.results.uids import derive_uid

LOGGER = logging.getLogger(__name__)

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
DEFAULT_SERIES_NUMBER = 9908
MORPHOLOGICAL_OPERATIONS = codes.DCM.MorphologicalOperations


def tracking_uid(result: AlgorithmResult, finding: Finding) -> str:
    """Tracking UID of a lesion, the same in the SEG segment and the TID 1500 group."""
    return derive_uid(
        "mri-lesion-tracking",
        result.algorithm_id,
        result.algorithm_version,
        [result.study_instance_uid, f"finding={finding.id}"],
    )


def lesions(result: AlgorithmResult) -> tuple[tuple[int, Finding], ...]:
    """(label, finding) of the enhancing lesions: label n is the n-th finding of the result (1-based)."""
    return tuple(
        (n, f) for n, f in enumerate(result.findings, start=1) if f.kind is FindingKind.ENHANCING_LESION
    )


@dataclass(frozen=True)
class DecodedSegment:
    """One segment read back."""

    number: int
    label: str
    tracking_id: str
    tracking_uid: str
    laterality: str


@dataclass(frozen=True)
class DecodedSegmentation:
    """What :meth:`LesionSegmentation.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    segments: tuple[DecodedSegment, ...]
    #: segment number → {(source SOP Instance UID, frame or None): mask of that source slice}
    masks: dict[int, dict[tuple[str, int | None], npt.NDArray[np.bool_]]]


class LesionSegmentation:
    """The enhancing lesions of a kinetics result as a binary DICOM SEG.

    Parameters
    ----------
    result
        A result with a ``lesion_labels`` volume and its enhancing-lesion findings.
    manifest
        The algorithm's manifest (id, version, name, manufacturer).
    headers
        Headers of the study's images (pixel data not needed); must hold every source slice.
    created
        Content Date/Time; default: the study date and time (deterministic output).

    Raises
    ------
    EncodingError
        No label volume, no lesion with voxels, a label naming no finding, or a grid mismatch.
    """

    def __init__(
        self,
        result: AlgorithmResult,
        manifest: AlgorithmManifest,
        headers: Sequence[Dataset],
        *,
        created: datetime | None = None,
        series_number: int = DEFAULT_SERIES_NUMBER,
        instance_number: int = 1,
    ) -> None:
        volume = required_volume(result, manifest, LESION_LABELS)
        labels = volume_array(volume)
        self.grid = SourceGrid.of(volume, headers)
        if self.grid.study_instance_uid != result.study_instance_uid:
            raise EncodingError("source images do not belong to the result's study")
        present = {int(v) for v in np.unique(labels)} - {0}
        known = dict(lesions(result))
        stray = present - set(known)
        if stray:
            raise EncodingError(f"lesion_labels holds labels {sorted(stray)} that name no enhancing lesion")
        #: (label, finding) of the lesions encoded, in label order; segment i+1 is the i-th of them
        self.lesions = tuple((n, known[n]) for n in sorted(present))
        if not self.lesions:
            raise EncodingError("no lesion has voxels in lesion_labels")
        for n, finding in known.items():
            if n not in present:
                LOGGER.warning("SEG: finding %r has no voxels; no segment", finding.id)
        # Only slices with lesion voxels, relabelled 1..S in segment order (highdicom's label map).
        self.slices = tuple(int(k) for k in np.flatnonzero(labels.reshape(labels.shape[0], -1).any(axis=1)))
        relabel = np.zeros(max(present) + 1, dtype=np.uint8 if len(present) < 256 else np.uint16)
        for segment, (n, _) in enumerate(self.lesions, start=1):
            relabel[n] = segment
        self.mask = relabel[labels[list(self.slices)]]
        self.result, self.manifest = result, manifest
        self.series_number, self.instance_number = series_number, instance_number
        self.created = creation_datetime(self.grid.sources, created)
        study, algo, version = result.study_instance_uid, result.algorithm_id, result.algorithm_version
        self.sop_instance_uid = derive_uid("seg", algo, version, [study, *self.grid.input_uids])
        self.series_instance_uid = derive_uid("seg-series", algo, version, [study])

    def segment_number(self, finding: Finding) -> int | None:
        """The segment of ``finding`` (1-based), None when it has no voxels."""
        return next((i for i, (_, f) in enumerate(self.lesions, start=1) if f.id == finding.id), None)

    def _description(self, segment: int, finding: Finding) -> hd.seg.SegmentDescription:
        curve = f" type {finding.kinetics.curve_type}" if finding.kinetics is not None else ""
        algorithm = hd.AlgorithmIdentificationSequence(
            name=self.manifest.id[:64], version=self.manifest.version[:64], family=MORPHOLOGICAL_OPERATIONS
        )
        return hd.seg.SegmentDescription(
            segment_number=segment,
            segment_label=f"{finding.id} {finding.laterality}{curve}"[:64],
            segmented_property_category=c.MORPHOLOGICALLY_ABNORMAL_STRUCTURE.coded(),
            segmented_property_type=c.LESION.coded(),
            algorithm_type="AUTOMATIC",
            algorithm_identification=algorithm,
            tracking_uid=tracking_uid(self.result, finding),
            tracking_id=finding.id[:64] or f"lesion {segment}",
            anatomic_regions=[c.BREAST.coded()],
        )

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def to_dataset(self) -> Dataset:
        """The complete SEG instance with file meta (Explicit VR Little Endian)."""
        descriptions = [self._description(i, f) for i, (_, f) in enumerate(self.lesions, start=1)]
        description = f"breastgate {self.manifest.id} lesions - not for diagnostic use"
        fields = highdicom_fields(self.created, description, self.manifest.id, self.manifest.version)
        for key in ("content_date", "content_time", "series_date", "series_time"):
            fields.pop(key)  # the constructor takes none of these; finish_instance pins highdicom's
        with highdicom_refusal("Segmentation"):
            ds = hd.seg.Segmentation(
                source_images=list(self.grid.sources),
                pixel_array=self.mask,
                segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
                segment_descriptions=descriptions,
                series_instance_uid=self.series_instance_uid,
                series_number=self.series_number,
                sop_instance_uid=self.sop_instance_uid,
                instance_number=self.instance_number,
                device_serial_number=self.manifest.id[:64],
                content_label="LESIONS",
                content_description="Enhancing lesions, first post-contrast phase",
                **highdicom_geometry(self.grid, self.slices),
                **fields,
            )
        finish_instance(ds, self.grid.sources[0], self.created)
        pin_derivation_sources(ds, self.grid)
        for item, (_, finding) in zip(ds.SegmentSequence, self.lesions, strict=True):
            side = c.LATERALITY_BY_SIDE[finding.laterality]
            modifier = Dataset()
            modifier.CodeValue, modifier.CodingSchemeDesignator, modifier.CodeMeaning = side
            item.AnatomicRegionSequence[0].AnatomicRegionModifierSequence = DicomSequence([modifier])
        return ds

    @staticmethod
    def from_dataset(ds: Dataset) -> DecodedSegmentation:
        """Decode a SEG written by this class (through :func:`highdicom.seg.segread`'s model)."""
        if str(ds.get("SOPClassUID", "")) != SEGMENTATION_STORAGE:
            raise InvalidInputError("not a Segmentation")
        seg = hd.seg.Segmentation.from_dataset(ds, copy=False)
        segments = []
        for item in ds.SegmentSequence:
            region = item.get("AnatomicRegionSequence", [Dataset()])[0]
            modifier = region.get("AnatomicRegionModifierSequence", [Dataset()])[0]
            segments.append(
                DecodedSegment(
                    number=int(item.SegmentNumber),
                    label=str(item.SegmentLabel),
                    tracking_id=str(item.get("TrackingID", "")),
                    tracking_uid=str(item.get("TrackingUID", "")),
                    laterality=str(modifier.get("CodeMeaning", "")),
                )
            )
        masks: dict[int, dict[tuple[str, int | None], npt.NDArray[np.bool_]]] = {}
        frames = seg.get_stored_frames() if hasattr(seg, "get_stored_frames") else None
        pixels = np.asarray(seg.pixel_array if frames is None else frames, dtype=bool)
        if pixels.ndim == 2:
            pixels = pixels[None]
        for index, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
            number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
            source = item.DerivationImageSequence[0].SourceImageSequence[0]
            frame = source.get("ReferencedFrameNumber")
            key = (str(source.ReferencedSOPInstanceUID), int(frame) if frame else None)
            masks.setdefault(number, {})[key] = pixels[index]
        return DecodedSegmentation(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            segments=tuple(segments),
            masks=masks,
        )
