"""DICOM headers of the ultrasound phantom: US Image (PS3.3 A.6) and US Multi-frame Image (A.7).

* US Region Calibration (PS3.3 C.8.5.5): one Sequence of Ultrasound Regions item per image region
  (2-D tissue, Region Data Type 1) and one for a colour Doppler box (Color Flow, type 2), with
  Physical Units 3 (cm) and Physical Delta X/Y in cm per pixel, or units 0 (none) for the
  "uncalibrated" test case. Region boxes are inclusive (Min X0 .. Max X1).
* Structured location: Image Comments (0020,4000), e.g. ``RT 10:00 3 CM FN`` (no coded
  clock-face attribute of the US IODs holds it).
* A cine's elevational frame step has no standard attribute in the US Multi-frame IOD: it is in
  the truth only; Frame Increment Pointer -> Frame Time (0018,1063).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.sequence import Sequence as DicomSequence

from breastgate.phantoms.headers import file_meta

__all__ = ["US_IMAGE", "US_MULTIFRAME", "UsHeaderContext", "region_item", "region_truth", "us_dataset"]

#: US Image Storage and US Multi-frame Image Storage (PS3.4 B.5).
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
_DATA_TYPES = {"tissue": 1, "color_flow": 2}


@dataclass(frozen=True)
class UsHeaderContext:
    """Study-level facts every image of one US study repeats."""

    seed: int
    patient_id: str
    patient_name: str
    birth_date: str
    age: int
    study_uid: str
    study_start: dt.datetime
    accession: str
    model: str
    probe: str
    frequency_khz: int


def region_item(box: list[int], pixel_mm: float | None, data_type: str = "tissue") -> pydicom.Dataset:
    """One Sequence of Ultrasound Regions item (PS3.3 C.8.5.5.1); ``pixel_mm`` None = no units."""
    item = pydicom.Dataset()
    item.RegionSpatialFormat = 1  # 2D
    item.RegionDataType = _DATA_TYPES[data_type]
    item.RegionFlags = 0
    item.RegionLocationMinX0, item.RegionLocationMinY0, item.RegionLocationMaxX1, item.RegionLocationMaxY1 = (
        box
    )
    units = 0 if pixel_mm is None else 3
    item.PhysicalUnitsXDirection = units
    item.PhysicalUnitsYDirection = units
    delta = 0.0 if pixel_mm is None else pixel_mm / 10.0
    item.PhysicalDeltaX = delta
    item.PhysicalDeltaY = delta
    item.ReferencePixelX0 = (box[2] - box[0] + 1) // 2
    item.ReferencePixelY0 = 0
    item.ReferencePixelPhysicalValueX = 0.0
    item.ReferencePixelPhysicalValueY = 0.0
    return item


def _patient_study(ds: pydicom.Dataset, ctx: UsHeaderContext) -> None:
    """Patient, General Study, Patient Study, General Equipment (PS3.3 C.7)."""
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = ctx.patient_name
    ds.PatientID = ctx.patient_id
    ds.PatientBirthDate = ctx.birth_date
    ds.PatientSex = "F"
    ds.PatientAge = f"{ctx.age:03d}Y"
    ds.StudyInstanceUID = ctx.study_uid
    ds.StudyDate = ctx.study_start.strftime("%Y%m%d")
    ds.StudyTime = ctx.study_start.strftime("%H%M%S")
    ds.AccessionNumber = ctx.accession
    ds.ReferringPhysicianName = "REFERRER^PHANTOM"
    ds.StudyID = f"{ctx.seed % 10**8}"
    ds.StudyDescription = "US BREAST (PHANTOM)"
    ds.Manufacturer = "breastgate phantom"
    ds.ManufacturerModelName = ctx.model
    ds.InstitutionName = "breastgate phantom site"
    ds.StationName = "PHANTOMUS"
    ds.DeviceSerialNumber = "SN-US-PHANTOM"
    ds.SoftwareVersions = "breastgate-phantom-1"


def us_dataset(
    ctx: UsHeaderContext,
    *,
    series_uid: str,
    series_number: int,
    sop_uid: str,
    instance_number: int,
    acquired: dt.datetime,
    laterality: str,
    pixels: npt.NDArray[np.uint8],
    regions: list[pydicom.Dataset],
    doppler: bool = False,
    comments: str | None = None,
    frame_time_ms: float | None = None,
) -> pydicom.Dataset:
    """A US Image or, for ``pixels`` (frames, rows, cols[, 3]) with ``frame_time_ms``, a US
    Multi-frame Image; MONOCHROME2 when the pixels are grey, RGB (colour-by-pixel) otherwise."""
    multi = frame_time_ms is not None
    sop_class = US_MULTIFRAME if multi else US_IMAGE
    ds = pydicom.Dataset()
    ds.file_meta = file_meta(sop_class, sop_uid)
    _patient_study(ds, ctx)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.InstanceCreationDate = ds.ContentDate = acquired.strftime("%Y%m%d")
    ds.AcquisitionDateTime = acquired.strftime("%Y%m%d%H%M%S")
    ds.InstanceCreationTime = ds.ContentTime = acquired.strftime("%H%M%S")
    ds.SeriesDate, ds.SeriesTime = ctx.study_start.strftime("%Y%m%d"), ctx.study_start.strftime("%H%M%S")
    ds.Modality = "US"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = str(series_number)
    ds.SeriesDescription = "BREAST US CINE" if multi else "BREAST US"
    ds.BodyPartExamined = "BREAST"
    ds.OperatorsName = "SONOGRAPHER^PHANTOM"
    ds.InstanceNumber = str(instance_number)
    ds.PatientOrientation = ""
    ds.ImageLaterality = laterality
    ds.ImageType = ["ORIGINAL", "PRIMARY", "BREAST", "0011" if doppler else "0001"]
    if comments is not None:
        ds.ImageComments = comments
    ds.TransducerData = [ctx.probe]
    ds.TransducerType = "LINEAR"
    ds.SequenceOfUltrasoundRegions = DicomSequence(regions)
    _pixels(ds, pixels, frame_time_ms)
    return ds


def _pixels(ds: pydicom.Dataset, pixels: npt.NDArray[np.uint8], frame_time_ms: float | None) -> None:
    """Image Pixel (PS3.3 C.7.6.3) with the US Image constraints (C.8.5.6), and Multi-frame / Cine
    (C.7.6.6, C.7.6.5) for a cine: Frame Increment Pointer -> Frame Time."""
    multi = frame_time_ms is not None
    rgb = pixels.ndim == (4 if multi else 3)
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = "RGB" if rgb else "MONOCHROME2"
    if rgb:
        ds.PlanarConfiguration = 0
    shape = pixels.shape[1:3] if multi else pixels.shape[:2]
    ds.Rows, ds.Columns = int(shape[0]), int(shape[1])
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "00"
    if frame_time_ms is not None:
        ds.NumberOfFrames = str(pixels.shape[0])
        ds.FrameIncrementPointer = 0x00181063
        ds.FrameTime = f"{frame_time_ms:.1f}"
        ds.CineRate = str(round(1000 / frame_time_ms))
        ds.RecommendedDisplayFrameRate = str(round(1000 / frame_time_ms))
    data = np.ascontiguousarray(pixels).tobytes()
    ds.add_new(0x7FE00010, "OB", data + b"\0" * (len(data) % 2))


def region_truth(item: pydicom.Dataset, index: int, plane: str | None) -> dict[str, Any]:
    """The truth entry of one region item."""
    calibrated = int(item.PhysicalUnitsXDirection) == 3
    delta_mm = round(float(item.PhysicalDeltaX) * 10.0, 6)
    return {
        "index": index,
        "box": [
            int(item.RegionLocationMinX0),
            int(item.RegionLocationMinY0),
            int(item.RegionLocationMaxX1),
            int(item.RegionLocationMaxY1),
        ],
        "data_type": "tissue" if int(item.RegionDataType) == 1 else "color_flow",
        "calibrated": calibrated,
        "mm_per_pixel": [delta_mm, delta_mm] if calibrated else None,
        "plane": plane,
    }
