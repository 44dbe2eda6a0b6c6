"""The voxel grid of a DCE-MRI result: its maps as arrays and the source slice behind each plane.

A kinetics result carries voxel maps (:class:`~breastgate.domain.model.ResultVolume`) on the grid
of the first post-contrast phase: slice k is ``source_sop_instance_uids[k]``, frame
``source_frames[k]`` of it when the phase is one multi-frame Enhanced MR object. The encoders of
:mod:`breastgate.results` (kinetic colour map, Parametric Map, SEG, TID 1500) share
:class:`SourceGrid`, which pairs each slice with its header and frame and reads the slice's plane
(Image Position / Orientation (Patient), Pixel Spacing) from the Plane Position, Plane Orientation
and Pixel Measures functional groups of a multi-frame object (PS3.3 C.7.6.16.2.3-2.5) or the Image
Plane module of a single-frame one (PS3.3 C.7.6.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence

from breastgate.domain.errors import EncodingError
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult, ResultVolume

__all__ = [
    "KINETIC_CLASS",
    "LESION_LABELS",
    "PERCENT_ENHANCEMENT",
    "SourceGrid",
    "Vector",
    "add_frame_anatomy",
    "find_volume",
    "highdicom_geometry",
    "pin_derivation_sources",
    "required_volume",
    "volume_array",
]

KINETIC_CLASS = "kinetic_class"
LESION_LABELS = "lesion_labels"
PERCENT_ENHANCEMENT = "percent_enhancement"
_DTYPES = {KINETIC_CLASS: ("uint8",), LESION_LABELS: ("uint8", "uint16"), PERCENT_ENHANCEMENT: ("float32",)}

Vector = tuple[float, float, float]


def find_volume(result: AlgorithmResult, name: str) -> ResultVolume | None:
    """The result's voxel map called ``name``, or None."""
    return next((v for v in result.volumes if v.name == name), None)


def required_volume(result: AlgorithmResult, manifest: AlgorithmManifest, name: str) -> ResultVolume:
    """The voxel map ``name`` an encoder needs; EncodingError when it is missing or when the
    manifest and the result name different algorithms or versions."""
    volume = find_volume(result, name)
    if volume is None:
        raise EncodingError(f"no {name} volume to encode")
    if (manifest.id, manifest.version) != (result.algorithm_id, result.algorithm_version):
        raise EncodingError("manifest and result name different algorithms or versions")
    return volume


def volume_array(volume: ResultVolume) -> npt.NDArray[Any]:
    """The map as a read-only (slices, rows, columns) array (no copy); EncodingError when its
    bytes, shape and dtype disagree or the dtype is not the one its name promises."""
    allowed = _DTYPES.get(volume.name)
    if allowed is not None and volume.dtype not in allowed:
        raise EncodingError(f"volume {volume.name}: dtype {volume.dtype} (expected {', '.join(allowed)})")
    try:
        dtype = np.dtype(volume.dtype)
    except TypeError as exc:
        raise EncodingError(f"volume {volume.name}: unknown dtype {volume.dtype!r}") from exc
    if len(volume.shape) != 3 or min(volume.shape) < 1:
        raise EncodingError(f"volume {volume.name}: shape {volume.shape} is not (slices, rows, columns)")
    if len(volume.data) != math.prod(volume.shape) * dtype.itemsize:
        raise EncodingError(f"volume {volume.name}: {len(volume.data)} bytes do not fill {volume.shape}")
    return np.frombuffer(volume.data, dtype=dtype).reshape(volume.shape)


def _numbers(value: Any, count: int, what: str) -> tuple[float, ...]:
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        numbers = ()
    if len(numbers) != count:
        raise EncodingError(f"source slice has no readable {what}")
    return numbers


def _group(ds: Dataset, sequence: str, frame: int | None) -> Dataset | None:
    """The ``sequence`` item of a frame's functional groups (its own, else the shared one)."""
    if frame is None:
        return None
    for groups, index in (
        ("PerFrameFunctionalGroupsSequence", frame - 1),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        items = ds.get(groups)
        if items is not None and 0 <= index < len(items) and sequence in items[index]:
            return items[index][sequence][0]  # type: ignore[no-any-return]
    return None


@dataclass(frozen=True)
class SourceGrid:
    """The source slices of a voxel map, in slice order.

    ``headers[k]`` is the object holding slice k, ``frames[k]`` its 1-based frame (None for a
    single-frame object); ``positions[k]`` is Image Position (Patient) of the slice,
    ``orientation`` the shared Image Orientation (Patient) and ``spacing`` (row, column) Pixel
    Spacing, ``thickness`` Slice Thickness (mm) when known.
    """

    headers: tuple[Dataset, ...]
    frames: tuple[int | None, ...]
    positions: tuple[Vector, ...]
    orientation: tuple[float, float, float, float, float, float]
    spacing: tuple[float, float]
    thickness: float | None
    rows: int
    columns: int

    @classmethod
    def of(cls, volume: ResultVolume, headers: Sequence[Dataset]) -> SourceGrid:
        """The grid of ``volume`` from the study's ``headers`` (any order, extra ones ignored).

        Raises
        ------
        EncodingError
            A slice's source is missing, a frame is out of range, the sources differ in matrix,
            orientation or spacing, or a plane cannot be read.
        """
        slices, rows, columns = volume.shape
        if len(volume.source_sop_instance_uids) != slices:
            raise EncodingError(
                f"volume {volume.name}: {slices} slices but {len(volume.source_sop_instance_uids)} sources"
            )
        if volume.source_frames and len(volume.source_frames) != slices:
            raise EncodingError(
                f"volume {volume.name}: {slices} slices but {len(volume.source_frames)} frames"
            )
        by_uid = {str(h.SOPInstanceUID): h for h in headers}
        picked, frames = [], []
        for k, uid in enumerate(volume.source_sop_instance_uids):
            header = by_uid.get(uid)
            if header is None:
                raise EncodingError(f"volume {volume.name}: slice {k} source image is not in the study")
            count = int(header.get("NumberOfFrames", 1) or 1)
            frame = volume.source_frames[k] if volume.source_frames else None
            if frame is None and count > 1:
                raise EncodingError(f"volume {volume.name}: slice {k} on a multi-frame image without a frame")
            if frame is not None and not 1 <= frame <= count:
                raise EncodingError(f"volume {volume.name}: slice {k} on frame {frame} of {count}")
            if (int(header.Rows), int(header.Columns)) != (rows, columns):
                raise EncodingError(f"volume {volume.name}: slice {k} source is not {rows} x {columns}")
            picked.append(header)
            frames.append(frame if count > 1 else None)
        planes = [cls._plane(h, f) for h, f in zip(picked, frames, strict=True)]
        orientations = {p[1] for p in planes}
        spacings = {p[2] for p in planes}
        if len(orientations) != 1 or len(spacings) != 1:
            raise EncodingError(f"volume {volume.name}: source slices differ in orientation or pixel spacing")
        thickness = cls._thickness(picked[0], frames[0])
        return cls(
            headers=tuple(picked),
            frames=tuple(frames),
            positions=tuple(p[0] for p in planes),
            orientation=orientations.pop(),
            spacing=spacings.pop(),
            thickness=thickness,
            rows=rows,
            columns=columns,
        )

    @staticmethod
    def _plane(ds: Dataset, frame: int | None) -> tuple[Vector, Any, tuple[float, float]]:
        position = _group(ds, "PlanePositionSequence", frame) or ds
        orientation = _group(ds, "PlaneOrientationSequence", frame) or ds
        measures = _group(ds, "PixelMeasuresSequence", frame) or ds
        xyz = _numbers(position.get("ImagePositionPatient"), 3, "Image Position (Patient)")
        cosines = _numbers(orientation.get("ImageOrientationPatient"), 6, "Image Orientation (Patient)")
        spacing = _numbers(measures.get("PixelSpacing"), 2, "Pixel Spacing")
        rounded = tuple(round(c, 4) for c in cosines)
        return (xyz[0], xyz[1], xyz[2]), rounded, (round(spacing[0], 6), round(spacing[1], 6))

    @staticmethod
    def _thickness(ds: Dataset, frame: int | None) -> float | None:
        measures = _group(ds, "PixelMeasuresSequence", frame) or ds
        try:
            value = float(measures.get("SliceThickness", 0) or 0)
        except (TypeError, ValueError):
            return None
        return value if value > 0 else None

    @property
    def slices(self) -> int:
        return len(self.headers)

    @property
    def sources(self) -> tuple[Dataset, ...]:
        """The distinct source objects, in order of their first slice."""
        seen: dict[str, Dataset] = {}
        for header in self.headers:
            seen.setdefault(str(header.SOPInstanceUID), header)
        return tuple(seen.values())

    @property
    def study_instance_uid(self) -> str:
        studies = {str(h.get("StudyInstanceUID", "")) for h in self.headers}
        if len(studies) != 1 or "" in studies:
            raise EncodingError("source slices do not all belong to one study")
        return studies.pop()

    @property
    def input_uids(self) -> list[str]:
        """SOP Instance UIDs of the sources (sorted, distinct): the inputs of derived UIDs."""
        return sorted({str(h.SOPInstanceUID) for h in self.headers})

    @property
    def normal(self) -> Vector:
        """Unit normal of the slices (row cosines × column cosines)."""
        r, c = self.orientation[:3], self.orientation[3:]
        n = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
        length = math.sqrt(sum(v * v for v in n)) or 1.0
        return (n[0] / length, n[1] / length, n[2] / length)

    def slice_locations(self) -> list[float]:
        """Each slice's position along the normal (mm), for Slice Location Vector."""
        n = self.normal
        return [round(p[0] * n[0] + p[1] * n[1] + p[2] * n[2], 4) for p in self.positions]

    def spacing_between_slices(self) -> float | None:
        """Distance between adjacent slices (mm) when it is one distance, else None."""
        locations = self.slice_locations()
        steps = {round(abs(b - a), 3) for a, b in pairwise(locations)}
        return steps.pop() if len(steps) == 1 and 0 not in steps else None

    def source_reference(self, k: int) -> tuple[Dataset, int | None]:
        """(header, frame) of slice k."""
        return self.headers[k], self.frames[k]


def highdicom_geometry(grid: SourceGrid, slices: Sequence[int]) -> dict[str, Any]:
    """``plane_positions``, ``plane_orientation`` and ``pixel_measures`` keyword arguments of
    highdicom's SEG and Parametric Map constructors for the given slices of ``grid``: the frames
    of the new object then lie exactly on the source planes (PS3.3 C.7.6.16.2.3-2.5), whatever
    the order of the source objects or the other frames (phases) a multi-frame source holds."""
    import highdicom as hd  # local: keep this module importable without highdicom's start-up cost

    return {
        "plane_positions": [hd.PlanePositionSequence("PATIENT", grid.positions[k]) for k in slices],
        "plane_orientation": hd.PlaneOrientationSequence("PATIENT", grid.orientation),
        "pixel_measures": hd.PixelMeasuresSequence(
            grid.spacing, grid.thickness or 1.0, grid.spacing_between_slices()
        ),
    }


def add_frame_anatomy(ds: Dataset) -> None:
    """Frame Anatomy (PS3.3 C.7.6.16.2.8) in the shared functional groups: Breast (76752008, SCT),
    Frame Laterality B, as a breast MRI shows both breasts. With it the General Series Laterality
    (Type 2C, required only when no frame carries laterality) is left out rather than empty."""
    region = Dataset()
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = "76752008", "SCT", "Breast"
    anatomy = Dataset()
    anatomy.AnatomicRegionSequence = DicomSequence([region])
    anatomy.FrameLaterality = "B"
    ds.SharedFunctionalGroupsSequence[0].FrameAnatomySequence = DicomSequence([anatomy])
    if "Laterality" in ds:
        del ds.Laterality


def pin_derivation_sources(ds: Dataset, grid: SourceGrid) -> None:
    """Keep, in each frame's Derivation Image Sequence (PS3.3 C.7.6.16.2.6), only the source slice
    the map was computed on.

    highdicom matches frames to source frames by position; a multi-frame source holding every
    phase of the dynamic series has one frame per phase at each position, so it names them all.
    The map was computed on one of them (``grid``'s frame at that position)."""
    by_position = {tuple(round(v, 3) for v in p): k for k, p in enumerate(grid.positions)}
    for item in ds.get("PerFrameFunctionalGroupsSequence", []):
        if "PlanePositionSequence" not in item:
            continue
        position = tuple(round(float(v), 3) for v in item.PlanePositionSequence[0].ImagePositionPatient)
        k = by_position.get(position)
        if k is None:
            continue
        wanted = (str(grid.headers[k].SOPInstanceUID), grid.frames[k])
        for derivation in item.get("DerivationImageSequence", []):
            keep = [
                source
                for source in derivation.get("SourceImageSequence", [])
                if (str(source.ReferencedSOPInstanceUID), _frame_number(source)) == wanted
            ]
            if keep:
                derivation.SourceImageSequence = DicomSequence(keep)


def _frame_number(reference: Dataset) -> int | None:
    """The (first) Referenced Frame Number of an image reference; None for a whole image."""
    value = reference.get("ReferencedFrameNumber")
    if value in (None, ""):
        return None
    return int(value[0]) if isinstance(value, MultiValue) else int(value)
