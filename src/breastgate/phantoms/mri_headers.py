"""DICOM headers of the DCE-MRI phantom: classic MR Image (PS3.3 A.4) per slice and phase.

Timing attributes, as sites write them (PS3.3 C.7.6.18, C.8.3.1):

* Temporal Position Identifier 1..N and Number of Temporal Positions on every image;
* Acquisition Time / Content Time: the clock time at which the phase's acquisition starts, and
  Contrast/Bolus Start Time the clock time of the injection, so time from injection is their
  difference;
* no Trigger Time: many vendors write it on DCE series, but in the MR Image module it is Type 2C,
  present only with cardiac or pulse gating (Scan Options CG/PPG), and dciodvfy rejects it
  otherwise; readers must not depend on it.

The enhanced (multi-frame) form is in :mod:`breastgate.phantoms.mri_enhanced`.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass

import pydicom

from breastgate.phantoms.dce_physics import Sequence
from breastgate.phantoms.headers import file_meta
from breastgate.phantoms.mri_render import DceGeometry

__all__ = [
    "MR_IMAGE",
    "DceHeaderContext",
    "classic_dataset",
    "classic_slice",
    "classic_template",
    "ds_str",
    "patient_and_study",
    "series_description",
]

#: MR Image Storage (PS3.4 B.5).
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
ORIENTATION = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def ds_str(value: float) -> str:
    """A Decimal String (≤ 16 characters) for ``value``."""
    text = f"{value:.6g}"
    return "0" if text in ("-0", "0") else text


@dataclass(frozen=True)
class DceHeaderContext:
    """The study-level facts every header of one DCE study repeats."""

    seed: int
    patient_id: str
    patient_name: str
    birth_date: str
    age: int
    study_uid: str
    frame_of_reference_uid: str
    study_start: dt.datetime
    injection: dt.datetime
    accession: str
    geometry: DceGeometry
    sequence: Sequence
    times_s: tuple[float, ...]
    temporal_resolution_s: float
    manufacturer: str
    model: str

    def acquired(self, phase: int) -> dt.datetime:
        """Clock time at which the phase's acquisition starts."""
        return self.injection + dt.timedelta(seconds=self.times_s[phase] - self.temporal_resolution_s / 2)


def series_description(phase: int, pre_index: int = 0) -> str:
    """``DYN_PRE``, ``DYN_POST1``, ``DYN_POST2``... (the names the kinetics selector looks for)."""
    return "DYN_PRE" if phase == pre_index else f"DYN_POST{phase - pre_index}"


def patient_and_study(ds: pydicom.Dataset, ctx: DceHeaderContext) -> None:
    """Patient, General Study, Patient Study, General Equipment, Frame of Reference (PS3.3 C.7)."""
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = ctx.patient_name
    ds.PatientID = ctx.patient_id
    ds.PatientBirthDate = ctx.birth_date
    ds.PatientSex = "F"
    ds.PatientAge = f"{ctx.age:03d}Y"
    ds.PatientWeight = "68"
    ds.StudyInstanceUID = ctx.study_uid
    ds.StudyDate = ctx.study_start.strftime("%Y%m%d")
    ds.StudyTime = ctx.study_start.strftime("%H%M%S")
    ds.AccessionNumber = ctx.accession
    ds.ReferringPhysicianName = "REFERRER^PHANTOM"
    ds.StudyID = f"{ctx.seed % 10**8}"
    ds.StudyDescription = "MRI BREAST BILATERAL W/WO CONTRAST (PHANTOM)"
    ds.Manufacturer = ctx.manufacturer
    ds.ManufacturerModelName = ctx.model
    ds.InstitutionName = "breastgate phantom site"
    ds.StationName = "PHANTOMMR"
    ds.DeviceSerialNumber = "SN-MR-PHANTOM"
    ds.SoftwareVersions = "breastgate-phantom-1"
    ds.FrameOfReferenceUID = ctx.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.BodyPartExamined = "BREAST"
    ds.PatientPosition = "FFP"  # prone, feet first (PS3.3 C.7.3.1.1.2)


def _mr_acquisition(ds: pydicom.Dataset, ctx: DceHeaderContext) -> None:
    """MR Image module acquisition attributes (PS3.3 C.8.3.1) of a 3-D spoiled gradient echo."""
    seq = ctx.sequence
    geo = ctx.geometry
    ds.ScanningSequence = "GR"
    ds.SequenceVariant = ["SP", "SS"]
    ds.ScanOptions = "PER"  # elliptic-centric phase-encode reordering; Trigger Time is 2C on it (C.8.3.1)
    ds.MRAcquisitionType = "3D"
    ds.SequenceName = "*fl3d1"
    ds.AngioFlag = "N"
    ds.RepetitionTime = ds_str(seq.tr_ms)
    ds.EchoTime = ds_str(seq.te_ms)
    ds.EchoTrainLength = "1"
    ds.NumberOfAverages = "1"
    ds.ImagingFrequency = ds_str(42.577478 * seq.field_t)
    ds.ImagedNucleus = "1H"
    ds.EchoNumbers = "1"
    ds.MagneticFieldStrength = ds_str(seq.field_t)
    ds.SpacingBetweenSlices = ds_str(geo.slice_mm)
    ds.NumberOfPhaseEncodingSteps = str(geo.rows)
    ds.PercentSampling = "100"
    ds.PercentPhaseFieldOfView = ds_str(100.0 * geo.rows / geo.cols)
    ds.PixelBandwidth = "400"
    ds.ReceiveCoilName = "BreastCoil16"
    ds.TransmitCoilName = "Body"
    ds.AcquisitionMatrix = [0, geo.cols, geo.rows, 0]
    ds.InPlanePhaseEncodingDirection = "ROW"
    ds.FlipAngle = ds_str(seq.flip_deg)
    ds.VariableFlipAngleFlag = "N"
    ds.SAR = "0.5"
    ds.dBdt = "0"
    ds.ContrastBolusAgent = "gadobutrol 0.1 mmol/kg"
    ds.ContrastBolusRoute = "IV"
    ds.ContrastBolusVolume = "7"
    ds.ContrastBolusStartTime = ctx.injection.strftime("%H%M%S")
    ds.ContrastBolusTotalDose = "6.8"
    ds.ContrastBolusIngredient = "GADOLINIUM"


def classic_template(
    ctx: DceHeaderContext,
    phase: int,
    series_uid: str,
    series_number: int,
    description: str,
    series_phase: int,
) -> pydicom.Dataset:
    """Everything of an MR Image (PS3.3 A.4) of phase ``phase`` but what differs between slices
    (see :func:`classic_slice`); the series started with phase ``series_phase``."""
    geo = ctx.geometry
    ds = pydicom.Dataset()
    patient_and_study(ds, ctx)
    acquired = ctx.acquired(phase)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.ImageLaterality = "B"  # both breasts (General Image, PS3.3 C.7.6.1)
    ds.SOPClassUID = MR_IMAGE
    ds.InstanceCreationDate = ds.ContentDate = ds.AcquisitionDate = acquired.strftime("%Y%m%d")
    ds.SeriesDate = ds.AcquisitionDate
    ds.InstanceCreationTime = ds.ContentTime = ds.AcquisitionTime = acquired.strftime("%H%M%S.%f")[:13]
    ds.SeriesTime = ctx.acquired(series_phase).strftime("%H%M%S")
    ds.Modality = "MR"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = str(series_number)
    ds.SeriesDescription = description
    ds.ProtocolName = "DYN_T1_FL3D_TRA"
    ds.OperatorsName = "OPERATOR^PHANTOM"
    ds.AcquisitionNumber = str(phase + 1)
    ds.TemporalPositionIdentifier = str(phase + 1)
    ds.NumberOfTemporalPositions = str(len(ctx.times_s))
    ds.TemporalResolution = ds_str(1000.0 * ctx.temporal_resolution_s)
    ds.ImageOrientationPatient = [ds_str(v) for v in ORIENTATION]
    ds.PixelSpacing = [ds_str(geo.pixel_mm), ds_str(geo.pixel_mm)]
    ds.SliceThickness = ds_str(geo.slice_mm)
    _mr_acquisition(ds, ctx)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = geo.rows, geo.cols
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = "1000"
    ds.WindowWidth = "2000"
    ds.LossyImageCompression = "00"
    return ds


def classic_slice(
    template: pydicom.Dataset, geo: DceGeometry, k: int, sop_uid: str, instance_number: int, pixels: bytes
) -> pydicom.Dataset:
    """Slice ``k`` of a phase: a copy of its :func:`classic_template` (elements copied, so the
    datasets share nothing mutable) with its UID, number, position and uint16 MONOCHROME2 pixels."""
    ds = pydicom.Dataset()
    for elem in template:
        ds[elem.tag] = copy.copy(elem)
    ds.file_meta = file_meta(MR_IMAGE, sop_uid)
    ds.SOPInstanceUID = sop_uid
    ds.InstanceNumber = str(instance_number)
    position = geo.slice_position(k)
    ds.ImagePositionPatient = [ds_str(v) for v in position]
    ds.SliceLocation = ds_str(position[2])
    ds.add_new(0x7FE00010, "OW", pixels)
    return ds


def classic_dataset(
    ctx: DceHeaderContext,
    phase: int,
    k: int,
    pixels: bytes,
    series_uid: str,
    sop_uid: str,
    series_number: int,
    instance_number: int,
    description: str,
    series_phase: int,
) -> pydicom.Dataset:
    """One slice of one phase as an MR Image (PS3.3 A.4): uint16 MONOCHROME2 ``pixels``."""
    template = classic_template(ctx, phase, series_uid, series_number, description, series_phase)
    return classic_slice(template, ctx.geometry, k, sop_uid, instance_number, pixels)
