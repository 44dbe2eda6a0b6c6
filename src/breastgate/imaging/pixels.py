"""Load mammograms from stored DICOM files as float arrays, and say whether one can be used.

Pixel values go through the Modality LUT (Rescale Slope/Intercept, PS3.3 C.11.1) and MONOCHROME1
images are inverted (PS3.3 C.7.6.3.1.2), so that in every returned array *bright = dense*.
Decoding uses pydicom's pixel backends (numpy, pylibjpeg + libjpeg/openjpeg/rle), which cover
implicit/explicit VR little endian, deflate, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000 and RLE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from breastgate.imaging.errors import ImagingError, PixelDecodeError

LOGGER = logging.getLogger(__name__)

#: Digital Mammography X-Ray Image Storage - For Presentation / For Processing (PS3.4 B.5).
MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
MG_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
#: Breast Tomosynthesis Image Storage (PS3.4 B.5): not a 2-D mammogram.
BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
#: Smallest usable side in pixels.
MIN_SIDE = 256

#: View Code Sequence codes (PS3.16 CID 4014) → ACR abbreviation; SNOMED CT and legacy SRT.
_VIEW_CODES: dict[str, str] = {
    "399162004": "CC",
    "R-10242": "CC",
    "399368009": "MLO",
    "R-10226": "MLO",
    "399260004": "ML",
    "R-10224": "ML",
    "399352003": "LM",
    "R-10228": "LM",
    "399192003": "XCCL",
    "R-1024A": "XCCL",
    "399101009": "CCID",
    "R-1024B": "CCID",
    "399099002": "LMO",
    "R-10230": "LMO",
    "441555000": "SIO",
    "R-40AAA": "SIO",
    "399196000": "FB",
    "R-10234": "FB",
}

#: What to install for a transfer syntax that pydicom cannot decode here.
_INSTALL_HINT: dict[str, str] = {
    "JPEG": "pylibjpeg and pylibjpeg-libjpeg",
    "JPEG-LS": "pylibjpeg and pylibjpeg-libjpeg",
    "JPEG 2000": "pylibjpeg and pylibjpeg-openjpeg",
    "RLE": "pylibjpeg and pylibjpeg-rle (or numpy)",
    "HTJ2K": "pylibjpeg and pylibjpeg-openjpeg >= 2.4",
}


@dataclass(frozen=True)
class MammoImage:
    """A decoded mammogram: float32 pixels (bright = dense) and the metadata density needs.

    ``spacing_mm`` is (row spacing, column spacing) from Pixel Spacing, else Imager Pixel Spacing.
    """

    pixels: npt.NDArray[np.float32]
    spacing_mm: tuple[float, float]
    laterality: str
    view: str | None
    photometric: str
    patient_orientation: tuple[str, ...]
    manufacturer: str
    sop_instance_uid: str
    transfer_syntax: str


def read_header(path: str | Path) -> Dataset:
    """Read a DICOM file without its Pixel Data (fast eligibility checks).

    Tolerant of a missing preamble (raw datasets some tools write), but bytes that carry no DICOM
    attributes at all are refused with :class:`ImagingError`.
    """
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=True)
    except InvalidDicomError:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True, force=True)
        if "SOPClassUID" not in ds and "Modality" not in ds:
            raise ImagingError("not a DICOM file (no preamble and no DICOM attributes)") from None
        return ds


def _str(ds: Dataset, keyword: str) -> str:
    value: Any = ds.get(keyword, "")
    return str(value).strip() if value is not None else ""


def laterality_of(ds: Dataset) -> str | None:
    """Image Laterality (0020,0062), else Laterality (0020,0060), else the Frame Laterality
    (0020,9072) of the Frame Anatomy functional group of enhanced images such as Breast
    Tomosynthesis (shared, else first frame); L or R, else None."""
    for keyword in ("ImageLaterality", "Laterality"):
        value = _str(ds, keyword).upper()
        if value in ("L", "R"):
            return value
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        seq = ds.get(groups)
        anatomy = seq[0].get("FrameAnatomySequence") if seq else None
        if anatomy:
            value = _str(anatomy[0], "FrameLaterality").upper()
            if value in ("L", "R"):
                return value
    return None


def view_of(ds: Dataset) -> str | None:
    """ACR view abbreviation from View Code Sequence (CID 4014), else View Position (0018,5101)."""
    seq = ds.get("ViewCodeSequence")
    if seq:
        code = str(seq[0].get("CodeValue", "")).strip()
        if code in _VIEW_CODES:
            return _VIEW_CODES[code]
    position = _str(ds, "ViewPosition").upper()
    return position or None


def spacing_of(ds: Dataset) -> tuple[float, float] | None:
    """(row, column) spacing in mm: Pixel Spacing, else Imager Pixel Spacing (PS3.3 10.7.1.3)."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        try:
            if value is not None and len(value) == 2:
                row, col = float(value[0]), float(value[1])
                if row > 0 and col > 0:
                    return row, col
        except (TypeError, ValueError):
            continue
    return None


def density_eligibility(ds: Dataset) -> str | None:
    """Why this image cannot be used for area density, or None when it can.

    Checks modality and SOP class, Presentation Intent, photometric interpretation, frames,
    size, pixel spacing and laterality. Pixel decoding is checked by :func:`load_mammogram`.
    """
    modality = _str(ds, "Modality").upper()
    sop_class = _str(ds, "SOPClassUID")
    if sop_class == BREAST_TOMOSYNTHESIS:
        return "not a 2-D mammogram (Breast Tomosynthesis)"
    if modality != "MG":
        return f"not a mammogram (modality {modality or 'missing'})"
    intent = _str(ds, "PresentationIntentType").upper()
    if sop_class == MG_FOR_PROCESSING or intent == "FOR PROCESSING":
        return "For Processing image; density runs on For Presentation images"
    if "PixelData" not in ds and "Rows" not in ds:
        return "no pixel data"
    photometric = _str(ds, "PhotometricInterpretation").upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return f"unsupported photometric interpretation {photometric or 'missing'} (need MONOCHROME1/2)"
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        return "more than one sample per pixel"
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        return "multi-frame image; density runs on single-frame 2-D mammograms"
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if min(rows, cols) < MIN_SIDE:
        return f"image too small ({rows}x{cols} pixels, need at least {MIN_SIDE} a side)"
    if spacing_of(ds) is None:
        return "missing Pixel Spacing and Imager Pixel Spacing; areas cannot be measured"
    if laterality_of(ds) is None:
        return "unknown laterality (Image Laterality and Laterality absent or not L/R)"
    return None


def _decode_hint(ts: UID) -> str:
    name = ts.name if ts.is_valid else str(ts)
    if ts.is_deflated or not ts.is_compressed:
        return f"pixel data could not be decoded ({name}); the file may be corrupt"
    key = "JPEG"
    lowered = name.lower()
    if "jpeg-ls" in lowered or "jpeg ls" in lowered:
        key = "JPEG-LS"
    elif "high-throughput" in lowered or "htj2k" in lowered:
        key = "HTJ2K"
    elif "2000" in lowered:
        key = "JPEG 2000"
    elif "rle" in lowered:
        key = "RLE"
    return f"pixel data could not be decoded ({name}); install {_INSTALL_HINT[key]}, or the file is corrupt"


def decode_pixels(ds: Dataset) -> npt.NDArray[np.float32]:
    """Decode Pixel Data, apply Rescale Slope/Intercept and invert MONOCHROME1 (bright = dense)."""
    ts = UID(str(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2")))
    try:
        raw = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for bad or undecodable data
        raise PixelDecodeError(f"{_decode_hint(ts)}: {exc}") from exc
    if raw.ndim != 2:
        raise ImagingError(f"expected a 2-D single-sample image, got shape {raw.shape}")
    pixels = raw.astype(np.float32)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    if slope != 1.0 or intercept != 0.0:
        pixels = pixels * np.float32(slope) + np.float32(intercept)
    if _str(ds, "PhotometricInterpretation").upper() == "MONOCHROME1":
        pixels = np.float32(pixels.max()) - pixels
    return pixels


def load_mammogram(path: str | Path) -> MammoImage:
    """Read, check and decode one mammogram.

    Raises
    ------
    ImagingError
        The image is not usable for density (the message says why).
    PixelDecodeError
        Pixel Data cannot be decoded here (names the transfer syntax and what to install).
    """
    try:
        ds = pydicom.dcmread(str(path), force=True)
    except Exception as exc:
        raise ImagingError(f"file cannot be read as DICOM: {exc}") from exc
    reason = density_eligibility(ds)
    if reason:
        raise ImagingError(reason)
    pixels = decode_pixels(ds)
    spacing = spacing_of(ds)
    laterality = laterality_of(ds)
    assert spacing is not None and laterality is not None  # checked by density_eligibility
    orientation = tuple(str(v).strip().upper() for v in (ds.get("PatientOrientation") or []))
    return MammoImage(
        pixels=pixels,
        spacing_mm=spacing,
        laterality=laterality,
        view=view_of(ds),
        photometric=_str(ds, "PhotometricInterpretation").upper(),
        patient_orientation=orientation,
        manufacturer=_str(ds, "Manufacturer"),
        sop_instance_uid=_str(ds, "SOPInstanceUID"),
        transfer_syntax=str(ds.file_meta.get("TransferSyntaxUID", "")),
    )
