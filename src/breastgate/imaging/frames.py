"""Frame-by-frame access to multi-frame images (Breast Tomosynthesis volumes, PS3.3 A.55) without
loading the whole Pixel Data.

Frames follow :func:`breastgate.imaging.pixels.decode_pixels`: float32, Modality LUT applied
(Rescale Slope/Intercept from the Pixel Value Transformation functional group of the frame, else
the shared one, else the top-level attributes; PS3.3 C.7.6.16.2.9), MONOCHROME1 inverted so that
bright = dense. Unlike ``decode_pixels``, which inverts against the image's own maximum, frames are
inverted against the largest storable value, so that all frames of a volume share one scale.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
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

__all__ = ["FrameInfo", "frame_info", "iter_frames"]

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameInfo:
    """What a reader needs before decoding frames.

    ``spacing_mm`` is (row spacing, column spacing) from the Pixel Measures functional group (shared,
    else first frame), else Pixel Spacing / Imager Pixel Spacing; ``slice_thickness_mm`` likewise.
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


def _group(ds: Dataset, sequence: str, index: int | None = None) -> Dataset | None:
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
    measures = _group(ds, "PixelMeasuresSequence")
    if measures is not None:
        found = spacing_of(measures)
        if found is not None:
            return found
    return spacing_of(ds)


def _thickness(ds: Dataset) -> float | None:
    measures = _group(ds, "PixelMeasuresSequence")
    for holder in (measures, ds):
        value = holder.get("SliceThickness") if holder is not None else None
        try:
            if value not in (None, ""):
                return float(value)
        except (TypeError, ValueError):
            continue
    return None


def _rescale(ds: Dataset, index: int) -> tuple[float, float]:
    """(slope, intercept) of 0-based frame ``index``."""
    transform = _group(ds, "PixelValueTransformationSequence", index) or ds
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
    """Frame count, matrix, spacing, laterality and view of a (multi-frame) image, header only.

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
