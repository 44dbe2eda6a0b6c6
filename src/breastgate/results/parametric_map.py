"""Parametric Map (PS3.3 A.75, SOP Class 1.2.840.10008.5.1.4.1.1.30) of DCE-MRI percent enhancement.

:class:`EnhancementParametricMap` encodes a kinetics result's ``percent_enhancement`` voxel map
(float32, percent over the pre-contrast baseline) with highdicom's :class:`highdicom.pm.ParametricMap`:
one frame per source slice, on the source geometry (plane positions, orientation and pixel
measures of the first post-contrast phase, PS3.3 C.7.6.16.2.3-2.5; Derivation Image and Source
Image Sequences per frame), Float Pixel Data, and a Real World Value Mapping (PS3.3 C.7.6.16.2.11)
of slope 1 whose Quantity Definition is (113059, DCM, "Signal change", CID 7180) in UCUM ``%``.
A viewer shows it as a grey map (window 0-200 %) or fuses it in colour on the source.

Placement as every breastgate output: same study, Patient and General Study copied, series 9909,
deterministic UIDs (kinds ``pmap``, ``pmap-series``). A breast MRI shows both breasts: Frame
Anatomy (Breast, Frame Laterality B) in the shared functional groups, General Series Laterality
absent (PS3.3 C.7.3.1 Type 2C). Content Qualification RESEARCH: the
built-in kinetics is a reference implementation, not a cleared product.
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
from pydicom.sr.coding import Code as PydicomCode

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult
from breastgate.results.mri_grid import (
    PERCENT_ENHANCEMENT,
    SourceGrid,
    add_frame_anatomy,
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

PARAMETRIC_MAP_STORAGE = "1.2.840.10008.5.1.4.1.1.30"
DEFAULT_SERIES_NUMBER = 9909
#: CID 7180 quantity of the map and its unit.
SIGNAL_CHANGE = PydicomCode("113059", "DCM", "Signal change")
PERCENT = PydicomCode("%", "UCUM", "Percent")
LUT_LABEL = "PE_PERCENT"
LUT_EXPLANATION = "Percent enhancement over the pre-contrast baseline"
WINDOW = (100.0, 200.0)


@dataclass(frozen=True)
class DecodedParametricMap:
    """What :meth:`EnhancementParametricMap.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    lut_label: str
    unit: str
    quantity: str
    #: (frames, rows, columns) real-world values, frames in the object's order
    values: npt.NDArray[np.float32]
    #: Image Position (Patient) of each frame
    positions: tuple[tuple[float, float, float], ...]
    #: (SOP Instance UID, frame or None) each frame was derived from
    sources: tuple[tuple[str, int | None], ...]


class EnhancementParametricMap:
    """Percent enhancement of a kinetics result as a Parametric Map on the source grid.

    Parameters
    ----------
    result
        A result with a ``percent_enhancement`` volume (float32).
    manifest
        The algorithm's manifest (id, version, manufacturer).
    headers
        Headers of the study's images (pixel data not needed); must hold every source slice.
    created
        Content Date/Time; default: the study date and time (deterministic output).

    Raises
    ------
    EncodingError
        No percent-enhancement volume, or its grid does not match the sources.
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
        volume = required_volume(result, manifest, PERCENT_ENHANCEMENT)
        self.values = volume_array(volume)
        if not np.isfinite(self.values).all():
            raise EncodingError("percent_enhancement holds NaN or infinite values")
        self.grid = SourceGrid.of(volume, headers)
        study = self.grid.study_instance_uid
        if study != result.study_instance_uid:
            raise EncodingError("source images do not belong to the result's study")
        self.manifest = manifest
        self.series_number, self.instance_number = series_number, instance_number
        self.created = creation_datetime(self.grid.sources, created)
        algo, version = result.algorithm_id, result.algorithm_version
        self.sop_instance_uid = derive_uid("pmap", algo, version, [study, *self.grid.input_uids])
        self.series_instance_uid = derive_uid("pmap-series", algo, version, [study])

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def to_dataset(self) -> Dataset:
        """The complete Parametric Map instance with file meta (Explicit VR Little Endian)."""
        low, high = float(self.values.min()), float(self.values.max())
        mapping = hd.pm.RealWorldValueMapping(
            lut_label=LUT_LABEL,
            lut_explanation=LUT_EXPLANATION,
            unit=PERCENT,
            value_range=(low, high if high > low else low + 1.0),
            slope=1,
            intercept=0,
            quantity_definition=SIGNAL_CHANGE,
        )
        description = f"breastgate {self.manifest.id} enhancement % - not for diagnostic use"
        fields = highdicom_fields(self.created, description, self.manifest.id, self.manifest.version)
        for key in ("content_date", "content_time", "series_date", "series_time"):
            fields.pop(key)  # the constructor takes none of these; finish_instance pins highdicom's
        with highdicom_refusal("Parametric Map"):
            ds = hd.pm.ParametricMap(
                source_images=list(self.grid.sources),
                pixel_array=self.values,
                series_instance_uid=self.series_instance_uid,
                series_number=self.series_number,
                sop_instance_uid=self.sop_instance_uid,
                instance_number=self.instance_number,
                device_serial_number=self.manifest.id[:64],
                contains_recognizable_visual_features=False,
                real_world_value_mappings=[mapping],
                voi_lut_transformations=[
                    hd.VOILUTTransformation(window_center=WINDOW[0], window_width=WINDOW[1])
                ],
                content_label="ENHANCEMENT",
                content_description="Percent enhancement, first post-contrast phase",
                **highdicom_geometry(self.grid, range(self.grid.slices)),
                **fields,
            )
        finish_instance(ds, self.grid.sources[0], self.created)
        add_frame_anatomy(ds)  # both breasts: Frame Laterality B, no General Series Laterality
        pin_derivation_sources(ds, self.grid)
        return ds

    @staticmethod
    def from_dataset(ds: Dataset) -> DecodedParametricMap:
        """Decode a Parametric Map written by this class (real-world values = stored × slope + intercept)."""
        if str(ds.get("SOPClassUID", "")) != PARAMETRIC_MAP_STORAGE:
            raise InvalidInputError("not a Parametric Map")
        frames, rows, cols = int(ds.NumberOfFrames), int(ds.Rows), int(ds.Columns)
        if "FloatPixelData" not in ds:
            raise InvalidInputError("parametric map without Float Pixel Data")
        stored = np.frombuffer(ds.FloatPixelData, dtype="<f4").reshape(frames, rows, cols)
        shared = ds.SharedFunctionalGroupsSequence[0]
        per_frame = ds.PerFrameFunctionalGroupsSequence
        mapping_item = per_frame[0] if "RealWorldValueMappingSequence" in per_frame[0] else shared
        rwvm = mapping_item.RealWorldValueMappingSequence[0]
        slope, intercept = float(rwvm.RealWorldValueSlope), float(rwvm.RealWorldValueIntercept)
        quantity = rwvm.get("QuantityDefinitionSequence", DicomSequence([]))
        quantity_code = quantity[0].ConceptCodeSequence[0].CodeValue if quantity else ""
        positions, sources = [], []
        for item in per_frame:
            xyz = item.PlanePositionSequence[0].ImagePositionPatient
            positions.append((float(xyz[0]), float(xyz[1]), float(xyz[2])))
            derivation = item.get("DerivationImageSequence", [])
            source = derivation[0].SourceImageSequence[0] if derivation else None
            frame = source.get("ReferencedFrameNumber") if source is not None else None
            sources.append(
                (
                    str(source.ReferencedSOPInstanceUID) if source is not None else "",
                    int(frame) if frame else None,
                )
            )
        return DecodedParametricMap(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            lut_label=str(rwvm.LUTLabel),
            unit=str(rwvm.MeasurementUnitsCodeSequence[0].CodeValue),
            quantity=str(quantity_code),
            values=(stored * np.float32(slope) + np.float32(intercept)).astype(np.float32),
            positions=tuple(positions),
            sources=tuple(sources),
        )
