"""Frame-by-frame access to multi-frame images (Breast Tomosynthesis volumes, PS3.3 A.55) without
loading the whole Pixel Data.

Frames follow :func:`breastgate.imaging.pixels.decode_pixels`: float32, Modality LUT applied
(Rescale Slope/Intercept from the Pixel Value Transformation functional group of the frame, else
the shared one, else the top-level attributes; PS3.3 C.7.6.16.2.9), MONOCHROME1 inverted so that
bright = dense. Unlike ``decode_pixels``, which inverts against the image's own maximum, frames are
inverted against the largest storable value, so that all frames of a volume share one scale.

Each frame's plane in patient coordinates (:class:`FramePlane`, PS3.3 C.7.6.2.1.1) comes from the
Plane Position, Plane Orientation and Pixel Measures functional groups (the frame's own item, else
the shared one; PS3.3 C.7.6.16.2.3-2.5), else the top-level Image Position / Orientation (Patient)
and Pixel Spacing of a single-frame image.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.pixels.utils import iter_pixels
from pydicom.uid import UID

from breastgate.imaging.errors import ImagingError, PixelDecodeError
from breastgate.imaging.pixels import _decode_hint, laterality_of, read_header, spacing_of, view_of

__all__ = ["FrameInfo", "FramePlane", "frame_info", "functional_group", "iter_frames"]

LOGGER = logging.getLogger(__name__)

Vector = tuple[float, float, float]
#: Largest departure of an Image Orientation (Patient) triplet from unit length, and largest
#: cosine between the two triplets, still read as a valid orientation (DS values carry few digits).
_UNIT_TOLERANCE = 0.01
_ORTHOGONAL_TOLERANCE = 0.01


@dataclass(frozen=True)
class FramePlane:
    """Where one frame lies in DICOM patient coordinates (LPS, mm), PS3.3 C.7.6.2.1.1.

    ``position_mm`` is Image Position (Patient), the centre of the frame's top-left pixel;
    ``row_cosines`` is the first triplet of Image Orientation (Patient), the direction of increasing
    column index; ``column_cosines`` the second, the direction of increasing row index;
    ``spacing_mm`` is Pixel Spacing, (row spacing, column spacing).
    """

    position_mm: Vector
    row_cosines: Vector
    column_cosines: Vector
    spacing_mm: tuple[float, float]

    def patient_mm(self, point: tuple[float, float]) -> Vector:
        """Patient coordinates of ``point`` (column, row) in DICOM image coordinates.

        Image coordinates start at the top-left corner of the top-left pixel (as SR SCOORD), so
        pixel (column i, row j) has its centre at (i + 0.5, j + 0.5) and

        ``P = S + X · Δi · (column − 0.5) + Y · Δj · (row − 0.5)``

        with S the Image Position (Patient), X and Y the row and column direction cosines, Δi the
        column spacing (Pixel Spacing value 2) and Δj the row spacing (value 1).
        """
        row_spacing, column_spacing = self.spacing_mm
        di = (point[0] - 0.5) * column_spacing
        dj = (point[1] - 0.5) * row_spacing
        s, x, y = self.position_mm, self.row_cosines, self.column_cosines
        return (s[0] + x[0] * di + y[0] * dj, s[1] + x[1] * di + y[1] * dj, s[2] + x[2] * di + y[2] * dj)


@dataclass(frozen=True)
class FrameInfo:
    """What a reader needs before decoding frames.

    ``spacing_mm`` is (row spacing, column spacing) from the Pixel Measures functional group (shared,
    else first frame), else Pixel Spacing / Imager Pixel Spacing; ``slice_thickness_mm`` likewise.
    ``planes`` holds one :class:`FramePlane` per frame, None for a frame whose position,
    orientation or Pixel Spacing is missing or unreadable (projection images have none).
    """

    number_of_frames: int
    rows: int
    columns: int
    spacing_mm: tuple[float, float] | None
    slice_thickness_mm: float | None
    laterality: str | None
    view: str | None
    photometric: str
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    frame_of_reference_uid: str = ""
    planes: tuple[FramePlane | None, ...] = ()

    def plane(self, frame: int | None) -> FramePlane | None:
        """The plane of 1-based ``frame`` (None: the only frame of a single-frame image)."""
        index = (frame if frame is not None else 1) - 1
        if frame is None and self.number_of_frames != 1:
            return None
        return self.planes[index] if 0 <= index < len(self.planes) else None


def functional_group(ds: Dataset, sequence: str, index: int | None = None) -> Dataset | None:
    """The first item of functional group ``sequence`` for frame ``index`` (0-based; per-frame
    groups first) or from the shared groups (``index`` None: shared, else first frame)."""
    holders: list[Any] = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    if per_frame and index is not None and index < len(per_frame):
        holders.append(per_frame[index])
    if shared:
        holders.append(shared[0])
    if per_frame and index is None:
        holders.append(per_frame[0])
    for holder in holders:
        items = holder.get(sequence)
        if items:
            item: Dataset = items[0]
            return item
    return None


def _spacing(ds: Dataset) -> tuple[float, float] | None:
    measures = functional_group(ds, "PixelMeasuresSequence")
    if measures is not None:
        found = spacing_of(measures)
        if found is not None:
            return found
    return spacing_of(ds)


def _thickness(ds: Dataset) -> float | None:
    measures = functional_group(ds, "PixelMeasuresSequence")
    for holder in (measures, ds):
        value = holder.get("SliceThickness") if holder is not None else None
        try:
            if value not in (None, ""):
                return float(value)
        except (TypeError, ValueError):
            continue
    return None


def _numbers(value: Any, count: int) -> tuple[float, ...] | None:
    """``count`` finite numbers from a multi-valued DS, else None."""
    try:
        numbers = tuple(float(v) for v in value) if value is not None else ()
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(math.isfinite(v) for v in numbers) else None


def _unit(values: Sequence[float]) -> Vector | None:
    norm = math.sqrt(sum(v * v for v in values))
    if abs(norm - 1.0) > _UNIT_TOLERANCE:
        return None
    return values[0] / norm, values[1] / norm, values[2] / norm


def _orientation(value: Any) -> tuple[Vector, Vector] | None:
    """(row, column) direction cosines of an Image Orientation (Patient), normalised; None when it
    is not two unit vectors at a right angle."""
    numbers = _numbers(value, 6)
    if numbers is None:
        return None
    row, column = _unit(numbers[:3]), _unit(numbers[3:])
    if row is None or column is None:
        return None
    if abs(sum(a * b for a, b in zip(row, column, strict=True))) > _ORTHOGONAL_TOLERANCE:
        return None
    return row, column


def _pixel_spacing(holder: Dataset | None) -> tuple[float, float] | None:
    """Pixel Spacing (row, column) of ``holder``; Imager Pixel Spacing is at the detector, not in
    the patient, so it does not place a point."""
    numbers = _numbers(holder.get("PixelSpacing"), 2) if holder is not None else None
    return (numbers[0], numbers[1]) if numbers is not None and min(numbers) > 0 else None


def _plane(ds: Dataset, index: int, frames: int) -> FramePlane | None:
    """The plane of 0-based frame ``index``: functional groups (the frame's, else shared), else
    the top-level attributes of a single-frame image."""
    position = functional_group(ds, "PlanePositionSequence", index)
    orientation = functional_group(ds, "PlaneOrientationSequence", index)
    # One top-level Image Position (Patient) cannot place the frames of a multi-frame image.
    fallback = ds if frames == 1 else Dataset()
    xyz = _numbers((position if position is not None else fallback).get("ImagePositionPatient"), 3)
    cosines = _orientation(
        (orientation if orientation is not None else fallback).get("ImageOrientationPatient")
    )
    spacing = _pixel_spacing(functional_group(ds, "PixelMeasuresSequence", index)) or _pixel_spacing(ds)
    if xyz is None or cosines is None or spacing is None:
        return None
    return FramePlane((xyz[0], xyz[1], xyz[2]), cosines[0], cosines[1], spacing)


def _rescale(ds: Dataset, index: int) -> tuple[float, float]:
    """(slope, intercept) of 0-based frame ``index``."""
    transform = functional_group(ds, "PixelValueTransformationSequence", index) or ds
    try:
        slope = float(transform.get("RescaleSlope", 1) or 1)
        intercept = float(transform.get("RescaleIntercept", 0) or 0)
    except (TypeError, ValueError) as exc:
        raise ImagingError(f"unreadable Rescale Slope/Intercept: {exc}") from exc
    return slope, intercept


def _read(path: str | Path) -> Dataset:
    try:
        return read_header(path)
    except ImagingError:
        raise
    except Exception as exc:  # pydicom raises many types for unreadable files
        raise ImagingError(f"file cannot be read as DICOM: {exc}") from exc


def _checked(ds: Dataset) -> tuple[int, int, int]:
    """(frames, rows, columns) of an image iter_frames can decode, else ImagingError."""
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if rows <= 0 or cols <= 0:
        raise ImagingError("no pixel data (Rows/Columns missing)")
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise ImagingError("more than one sample per pixel; frames are read as grayscale only")
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ImagingError(f"unsupported photometric interpretation {photometric or 'missing'}")
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError) as exc:
        raise ImagingError(f"unreadable Number of Frames: {exc}") from exc
    if frames < 1:
        raise ImagingError(f"Number of Frames is {frames}")
    return frames, rows, cols


def frame_info(path: str | Path) -> FrameInfo:
    """Frame count, matrix, spacing, laterality, view and frame planes of a (multi-frame) image,
    header only.

    Raises
    ------
    ImagingError
        Not DICOM, or not a grayscale image.
    """
    ds = _read(path)
    frames, rows, cols = _checked(ds)
    return FrameInfo(
        number_of_frames=frames,
        rows=rows,
        columns=cols,
        spacing_mm=_spacing(ds),
        slice_thickness_mm=_thickness(ds),
        laterality=laterality_of(ds),
        view=view_of(ds),
        photometric=str(ds.get("PhotometricInterpretation", "")).strip().upper(),
        sop_class_uid=str(ds.get("SOPClassUID", "")),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        transfer_syntax=str(getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID", "")),
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "") or ""),
        planes=tuple(_plane(ds, index, frames) for index in range(frames)),
    )


def iter_frames(path: str | Path) -> Iterator[tuple[int, npt.NDArray[np.float32]]]:
    """Yield (1-based frame number, float32 frame) one frame at a time, bright = dense.

    Only one frame is decoded at a time (pydicom reads frames from the file as needed), so a
    volume of any size can be processed in the memory of a few frames.

    Raises
    ------
    ImagingError
        Not DICOM, not a grayscale image, or fewer frames than Number of Frames says.
    PixelDecodeError
        A frame cannot be decoded (names the transfer syntax and what to install).
    """
    ds = _read(path)
    frames, rows, cols = _checked(ds)
    ts = UID(str(getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID", "1.2.840.10008.1.2")))
    invert = str(ds.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1"
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    top = float(2 ** (bits - 1) - 1 if signed else 2**bits - 1)
    decoded = iter_pixels(str(path))
    number = 0
    while True:
        try:
            raw = next(decoded)
        except StopIteration:
            break
        except Exception as exc:  # pydicom raises many types for bad or undecodable data
            raise PixelDecodeError(f"frame {number + 1}: {_decode_hint(ts)}: {exc}") from exc
        number += 1
        if raw.shape != (rows, cols):
            raise ImagingError(f"frame {number} has shape {raw.shape}, expected ({rows}, {cols})")
        pixels = raw.astype(np.float32)
        slope, intercept = _rescale(ds, number - 1)
        if slope != 1.0 or intercept != 0.0:
            pixels = pixels * np.float32(slope) + np.float32(intercept)
        if invert:
            pixels = np.float32(top * slope + intercept) - pixels
        yield number, pixels
    if number != frames:
        raise ImagingError(f"file has {number} frames, Number of Frames says {frames}")
